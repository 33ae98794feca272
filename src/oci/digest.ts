// Content digests (OCI image spec, descriptor.md#digests): the grammar, hashing and checking. Pure.
import { createHash, type Hash } from 'node:crypto';
import { DigestMismatchError, UnsupportedMediaTypeError } from '../base/errors.js';

const DIGEST_PATTERN = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const SHA256_PATTERN = /^sha256:[a-f0-9]{64}$/;
/** Encodings the OCI image spec fixes for its registered algorithms. */
const REGISTERED_ENCODING: Record<string, RegExp> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};
/** Algorithms this tool can verify. */
const VERIFIABLE = new Set(['sha256', 'sha512']);

/**
 * True for a digest as the OCI image spec defines it: `algorithm:encoded` by the
 * grammar, and for the registered algorithms (sha256, sha512) the exact lower-case
 * hex length. Unregistered algorithms pass on the grammar alone, as the spec asks.
 */
export function isDigest(value: string): boolean {
  if (!DIGEST_PATTERN.test(value)) return false;
  const at = value.indexOf(':');
  const encoding = REGISTERED_ENCODING[value.slice(0, at)];
  return !encoding || encoding.test(value.slice(at + 1));
}

export function isSha256Digest(value: string): boolean {
  return SHA256_PATTERN.test(value);
}

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** The algorithm of `digest`, refused unless this tool can verify it; `subject` names what it is the digest of. */
export function digestAlgorithm(digest: string, subject: string): string {
  const algorithm = digest.slice(0, Math.max(0, digest.indexOf(':')));
  if (!VERIFIABLE.has(algorithm)) {
    throw new UnsupportedMediaTypeError(
      `${subject}: digest "${digest}" uses an algorithm this tool cannot verify (supported: sha256, sha512)`,
    );
  }
  return algorithm;
}

/** A running hash in the algorithm of `expected`, for streams. */
export function createDigester(expected: string, subject: string): { hash: Hash; algorithm: string } {
  const algorithm = digestAlgorithm(expected, subject);
  return { hash: createHash(algorithm), algorithm };
}

/** Throws DigestMismatchError unless `bytes` hash to `expected` (sha256 or sha512). */
export function verifyDigest(subject: string, expected: string, bytes: Uint8Array): void {
  const algorithm = digestAlgorithm(expected, subject);
  const actual = `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
  if (actual !== expected) throw new DigestMismatchError(subject, expected, actual);
}
