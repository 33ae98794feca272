// The commands that verify what `sign` and `attest` pushed, per target: cosign (v3, bundles as
// referrers: `--new-bundle-format`) for the signature and the provenance, and GitHub's CLI for
// the provenance (from the attestations API, and from the registry with `--bundle-from-oci`).
// Pure. Each argument is quoted for a POSIX shell when it holds anything but safe characters,
// and the line is sanitized: registry and certificate text can neither break the line nor run.
import { sanitizeLine } from '../base/redact.js';
import type { SigningReport } from './model.js';

/** Where a verifier finds the trusted root of a Sigstore other than the public-good one. */
export const TRUSTED_ROOT_FILE = 'trusted_root.json';

export interface TargetVerification {
  repository: string;
  /** `repository@digest`, what every command names */
  image: string;
  commands: string[];
}

/** An argument as a POSIX shell reads it back unchanged. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9@%+=:,./_-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function command(args: string[]): string {
  return sanitizeLine(args.map(shellQuote).join(' '));
}

/** The owner (and host, when not github.com) of a GitHub workflow identity (https://HOST/OWNER/REPO/.github/workflows/…@REF). */
export function workflowOwner(identity: string): { host: string; owner: string } | undefined {
  const match = /^https:\/\/([^/]+)\/([^/]+)\/[^/]+\/\.github\/workflows\//.exec(identity);
  return match ? { host: match[1], owner: match[2] } : undefined;
}

/**
 * For each target: `cosign verify` when anything was signed, `cosign verify-attestation` and
 * `gh attestation verify` when the index was attested. The signatures have no Rekor entry unless
 * the report says so (`--insecure-ignore-tlog=true`); cosign checks the TSA's timestamp
 * (`--use-signed-timestamps`; a Rekor v2 entry has no time of its own) against the trusted root; a certificate without a
 * signed certificate timestamp (a Fulcio with no CT log) needs `--insecure-ignore-sct=true`.
 */
export function verifyCommands(signing: SigningReport, digest: string): TargetVerification[] {
  const identity = ['--certificate-identity', signing.identity, '--certificate-oidc-issuer', signing.issuer];
  const trust = [
    '--new-bundle-format',
    // Rekor v2 entries carry no time of their own: the TSA's timestamp is the proof of time either way
    '--use-signed-timestamps',
    ...(signing.tlog ? [] : ['--insecure-ignore-tlog=true']),
    ...(signing.noSct ? ['--insecure-ignore-sct=true'] : []),
    '--trusted-root',
    TRUSTED_ROOT_FILE,
  ];
  const owner = workflowOwner(signing.identity);
  return signing.targets.map((t) => {
    const image = `${t.repository}@${digest}`;
    const commands: string[] = [];
    if (t.signatures.length > 0) commands.push(command(['cosign', 'verify', image, ...identity, ...trust]));
    if (t.attestation) {
      commands.push(command(['cosign', 'verify-attestation', '--type', 'slsaprovenance1', image, ...identity, ...trust]));
      if (owner) {
        const gh = [
          'gh',
          'attestation',
          'verify',
          `oci://${image}`,
          '--owner',
          owner.owner,
          ...(owner.host === 'github.com' ? [] : ['--hostname', owner.host]),
          ...(signing.instance === 'custom' ? ['--custom-trusted-root', TRUSTED_ROOT_FILE] : []),
        ];
        if (signing.githubAttestations?.length) commands.push(command(gh));
        commands.push(command([...gh, '--bundle-from-oci']));
      }
    }
    return { repository: t.repository, image, commands };
  });
}

/** Where the trusted root named in the commands comes from. */
export function trustedRootNote(signing: SigningReport): string {
  return signing.instance === 'github'
    ? `${TRUSTED_ROOT_FILE}: the trusted root of GitHub's Sigstore instance (gh attestation verify fetches it itself)`
    : `${TRUSTED_ROOT_FILE}: the trusted root of the Sigstore at ${signing.fulcioUrl} (its Fulcio and timestamp authority certificates)`;
}
