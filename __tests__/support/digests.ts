// Digests for fixtures: well-formed and distinct, readable in a failure message. (Real ones, of
// real bytes: sha256Digest in src/oci/digest.ts.)

/** `n` as 64 lower-case hex digits: hex(1) = 000…001. */
export const hex = (n: number): string => n.toString(16).padStart(64, '0');

/** `sha256:` then `c` 64 times: filledDigest('a') = sha256:aaa…a. */
export const filledDigest = (c: string): string => `sha256:${c.repeat(64)}`;
