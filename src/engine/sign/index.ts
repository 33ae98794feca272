// `sign` and `attest`: once the index is in every target by digest and before any tag, it is
// signed and attested keyless, and each bundle is pushed next to it in every target repository
// as a referrer (referrers API, or the fallback tag merged). A failure here fails the merge with
// no tag written. Loaded only when asked (merge.ts imports it dynamically): a plain merge never
// runs any of it.
//
// Requests: one token request (Actions runtime) or none (a token given), one Fulcio certificate
// per merge, one TSA timestamp per bundle (one attestation; one signature per signed manifest),
// then per target and bundle: the bundle blob, the manifest, and the listing or fallback tag;
// with a GitHub token, one POST to the attestations API.
import { mapLimit } from '../../base/concurrency.js';
import { SigningError } from '../../base/errors.js';
import { inGroup } from '../../base/logger.js';
import { registerSecret } from '../../base/redact.js';
import { sha256Digest } from '../../oci/digest.js';
import { type Descriptor, MediaType } from '../../oci/manifest.js';
import { type RepositoryRef, formatRepository } from '../../oci/reference.js';
import type { ServiceSender } from '../../registry/client-types.js';
import { fallbackTag, mergeFallbackIndex, referrerDescriptor } from '../../registry/referrers.js';
import { actionsIdToken, storeAttestation } from '../../registry/sigstore/services.js';
import type { MergePlan, ResolvedSource, SignedTarget, SigningReport, SigningSettings, TargetPlan } from '../model.js';
import { readFallbackTag } from '../referrer-finder.js';
import type { MergeRun } from '../run.js';
import {
  BUNDLE_MEDIA_TYPE,
  IN_TOTO_PAYLOAD_TYPE,
  KeylessSigner,
  type SigstoreBundle,
  type SigstoreEndpoints,
  tokenClaims,
} from './keyless.js';
import {
  COSIGN_SIGN_PREDICATE,
  EMPTY_CONFIG,
  SLSA_PROVENANCE_V1,
  bundleManifest,
  cosignSignStatement,
  provenanceStatement,
} from './statements.js';

/** GitHub's Sigstore instance (private repositories): Fulcio and a timestamp authority, no transparency log. */
export const GITHUB_FULCIO_URL = 'https://fulcio.githubapp.com';
export const GITHUB_TSA_URL = 'https://timestamp.githubapp.com';
const PERMISSION_HINT =
  'In GitHub Actions grant the job the `id-token` permission set to `write`; elsewhere set SIGSTORE_ID_TOKEN to an OIDC token with audience `sigstore`';

/** One bundle to push: its bytes, the manifest it is about and its predicate type. */
interface Signed {
  bundle: Buffer;
  subject: Descriptor;
  predicateType: string;
}

export async function signAndAttest(
  run: MergeRun,
  plan: MergePlan,
  targets: TargetPlan[],
  sources: ResolvedSource[],
): Promise<SigningReport> {
  const { request, logger } = run;
  const settings = run.signing ?? {};
  const sender = run.client.hostedApis()?.services;
  if (!sender) throw new SigningError('Signing needs a network client: this client has none');
  return inGroup(logger, request.attest ? (request.sign ? 'Sign and attest' : 'Attest') : 'Sign', async () => {
    const token = await identityToken(sender, settings);
    const claims = tokenClaims(token);
    const endpoints = chooseEndpoints(settings, claims);
    const signer = await KeylessSigner.start(sender, endpoints, token);
    logger.info(
      `Signing as ${signer.identity.san} (issuer ${signer.identity.issuer}) with ${endpoints.fulcioUrl} and ${endpoints.tsaUrl}${endpoints.rekorUrl ? `, logged in ${endpoints.rekorUrl}` : ''}`,
    );

    const index: Descriptor = { mediaType: plan.mediaType, digest: plan.digest, size: plan.bytes.byteLength };
    const signed: Signed[] = [];
    if (request.sign) {
      const manifests = request.sign === 'recursive' ? [index, ...plan.entries.map((e) => e.descriptor)] : [index];
      const unique = [...new Map(manifests.map((m) => [m.digest, m])).values()];
      for (const m of unique) signed.push(await sign(signer, cosignSignStatement(m.digest), m, COSIGN_SIGN_PREDICATE));
    }
    let provenance: SigstoreBundle | undefined;
    if (request.attest) {
      const subjects = targets.map((t) => ({ name: formatRepository(t.repository), digest: plan.digest }));
      const statement = provenanceStatement(subjects, claims, settings.github?.serverUrl ?? 'https://github.com', sources);
      provenance = await signer.signDsse(IN_TOTO_PAYLOAD_TYPE, statement);
      signed.push({ bundle: Buffer.from(JSON.stringify(provenance)), subject: index, predicateType: SLSA_PROVENANCE_V1 });
    }

    const created = new Date();
    const reports = await mapLimit(targets, run.concurrency, (t) => publish(run, t.repository, signed, created));
    const report: SigningReport = { identity: signer.identity.san, issuer: signer.identity.issuer, ...urls(endpoints), targets: reports };
    if (!signer.hasSct) report.noSct = true;
    if (provenance) {
      const id = await toGithub(run, sender, settings, claims, provenance);
      if (id !== undefined) report.githubAttestations = [id];
    }
    return report;
  });
}

async function sign(signer: KeylessSigner, statement: Buffer, subject: Descriptor, predicateType: string): Promise<Signed> {
  const bundle = await signer.signDsse(IN_TOTO_PAYLOAD_TYPE, statement);
  return { bundle: Buffer.from(JSON.stringify(bundle)), subject, predicateType };
}

function urls(e: SigstoreEndpoints): Pick<SigningReport, 'fulcioUrl' | 'tsaUrl' | 'rekorUrl' | 'tlog' | 'instance'> {
  return { fulcioUrl: e.fulcioUrl, tsaUrl: e.tsaUrl, ...(e.rekorUrl ? { rekorUrl: e.rekorUrl, tlog: true } : {}), instance: e.instance };
}

/** SIGSTORE_ID_TOKEN as given, else the Actions runtime's token for audience `sigstore`. */
async function identityToken(sender: ServiceSender, settings: SigningSettings): Promise<string> {
  let token = settings.idToken?.trim();
  if (!token && settings.actions)
    token = await actionsIdToken(sender, settings.actions.requestUrl, settings.actions.requestToken, 'sigstore');
  if (!token)
    throw new SigningError(
      'Signing needs an OIDC identity token, and there is none: ACTIONS_ID_TOKEN_REQUEST_URL is unset and so is SIGSTORE_ID_TOKEN',
      {
        hint: PERMISSION_HINT,
      },
    );
  registerSecret(token);
  return token;
}

/**
 * The endpoints given, else as GitHub's attest action decides: GitHub's instance for a private
 * (or internal) repository. The public-good instance (public repositories) is Fulcio + Rekor v1,
 * and this version writes Rekor v2 entries only: for those, give a Sigstore (`fulcio-url` and
 * `tsa-url`, `rekor-url`, or `signing-config`).
 */
function chooseEndpoints(settings: SigningSettings, claims: Record<string, unknown>): SigstoreEndpoints {
  if (settings.fulcioUrl || settings.tsaUrl || settings.rekorUrl) {
    if (!settings.fulcioUrl || !settings.tsaUrl)
      throw new SigningError(
        'Keyless signing needs both a Fulcio and a timestamp authority: give `fulcio-url` and `tsa-url` together (or a `signing-config` naming both)',
        { hint: settings.rekorUrl ? "`rekor-url` is for a private Sigstore: GitHub's instance has no transparency log" : undefined },
      );
    return {
      fulcioUrl: settings.fulcioUrl,
      tsaUrl: settings.tsaUrl,
      ...(settings.rekorUrl ? { rekorUrl: settings.rekorUrl } : {}),
      instance: 'custom',
    };
  }
  if (claims.repository_visibility === 'public')
    throw new SigningError(
      "This repository is public: GitHub's attest action signs it with Sigstore's public-good instance (Fulcio and the Rekor v1 transparency log), and this version writes Rekor v2 entries only",
      {
        hint: "Give `fulcio-url` and `tsa-url` of a Sigstore with a timestamp authority (GitHub's: https://fulcio.githubapp.com and https://timestamp.githubapp.com)",
      },
    );
  return { fulcioUrl: GITHUB_FULCIO_URL, tsaUrl: GITHUB_TSA_URL, instance: 'github' };
}

/** Pushes every bundle into `repository` as a referrer of its subject, then makes each findable. */
async function publish(run: MergeRun, repository: RepositoryRef, signed: Signed[], created: Date): Promise<SignedTarget> {
  const { client, logger } = run;
  const report: SignedTarget = { repository: formatRepository(repository), signatures: [] };
  // the empty config every bundle manifest names: there already after the first signing in a repository
  if (!(await client.hasBlob(repository, EMPTY_CONFIG.descriptor.digest)))
    await client.uploadBlob(repository, repository, EMPTY_CONFIG.descriptor, () => Promise.resolve(EMPTY_CONFIG.bytes));
  const pushed: Array<{ subject: string; descriptor: Descriptor }> = [];
  for (const s of signed) {
    const blob = { mediaType: BUNDLE_MEDIA_TYPE, digest: sha256Digest(s.bundle), size: s.bundle.byteLength };
    await client.uploadBlob(repository, repository, blob, () => Promise.resolve(s.bundle));
    const bytes = bundleManifest({ bytes: s.bundle, digest: blob.digest }, s.subject, s.predicateType, created);
    const digest = sha256Digest(bytes);
    await client.putManifest(repository, digest, { bytes, mediaType: MediaType.OciManifest });
    pushed.push({
      subject: s.subject.digest,
      descriptor: referrerDescriptor(JSON.parse(bytes.toString('utf8')), MediaType.OciManifest, digest, bytes.byteLength),
    });
    if (s.predicateType === SLSA_PROVENANCE_V1) report.attestation = digest;
    else report.signatures.push({ subject: s.subject.digest, referrer: digest });
    logger.info(
      `${report.repository}: ${s.predicateType === SLSA_PROVENANCE_V1 ? 'provenance' : 'signature'} of ${s.subject.digest} pushed as ${digest}`,
    );
  }
  const bySubject = new Map<string, Descriptor[]>();
  for (const p of pushed) bySubject.set(p.subject, [...(bySubject.get(p.subject) ?? []), p.descriptor]);
  for (const [subject, descriptors] of bySubject) await makeFindable(run, repository, subject, descriptors);
  return report;
}

/** The referrers API lists them (else the merge fails), or the fallback tag is merged to hold them. */
async function makeFindable(
  { client, logger }: MergeRun,
  repository: RepositoryRef,
  subject: string,
  descriptors: Descriptor[],
): Promise<void> {
  const label = `Referrers of ${formatRepository(repository)}@${subject}`;
  const listing = await client.listReferrers(repository, subject);
  if (listing.api) {
    const listed = new Set(listing.descriptors.map((d) => d.digest));
    const missing = descriptors.filter((d) => !listed.has(d.digest));
    if (missing.length > 0)
      throw new SigningError(
        `${label}: the registry's referrers API does not list ${missing.map((d) => d.digest).join(', ')}, pushed by this run`,
        {
          registry: repository.registry,
          repository: repository.repository,
          reference: subject,
          hint: 'The registry serves the referrers API but did not index the signature; report it to the registry operator',
        },
      );
    return;
  }
  const existing = await readFallbackTag(client, repository, subject, label);
  const merged = mergeFallbackIndex(existing, descriptors);
  if (!merged.changed) return;
  await client.putManifest(repository, fallbackTag(subject), { bytes: merged.bytes, mediaType: merged.index.mediaType! });
  logger.debug(`${label}: tag ${fallbackTag(subject)} now lists ${merged.index.manifests.length} referrer(s)`);
}

/**
 * The provenance in GitHub's attestations API of the workflow's repository, with the workflow's
 * token; a refusal (no `attestations: write`) is a warning: the bundle is in every target anyway.
 */
async function toGithub(
  { logger }: MergeRun,
  sender: ServiceSender,
  settings: SigningSettings,
  claims: Record<string, unknown>,
  bundle: SigstoreBundle,
): Promise<string | undefined> {
  const token = settings.github?.token;
  const repository = typeof claims.repository === 'string' ? claims.repository : undefined;
  if (!token || !repository) {
    logger.info('Provenance not stored with GitHub’s attestations API: no `github-token` (or not a GitHub Actions identity)');
    return undefined;
  }
  try {
    const id = await storeAttestation(sender, settings.github?.apiUrl ?? 'https://api.github.com', token, repository, bundle);
    logger.info(`Provenance stored with GitHub's attestations API of ${repository}${id ? ` (id ${id})` : ''}`);
    return id;
  } catch (error) {
    if (error instanceof SigningError && [401, 403, 404].includes(error.status ?? 0)) {
      logger.warning(
        `${error.summary}: grant the job \`permissions: attestations: write\` to store it there (the targets hold it as a referrer)`,
      );
      return undefined;
    }
    throw error;
  }
}
