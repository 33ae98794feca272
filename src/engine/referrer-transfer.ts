// The referrers phase of a merge: signatures, SBOMs and other artifacts whose `subject` is a child
// of the index travel with it. Found in the source repository through the referrers API, or the
// fallback tag where there is none; read recursively (a signature of an SBOM counts too); copied
// into every target repository that is not the child's own (there they already are), subjects
// before their referrers; then made findable there: the API is asked whether it lists them, or
// the fallback tag is created or merged with what it holds (never dropping someone else's).
//
// The source indexes' own referrers do not apply: the merged index is a new manifest.
import { mapLimit } from '../base/concurrency.js';
import { VerifyError, isNotFound } from '../base/errors.js';
import type { Logger } from '../base/logger.js';
import { type Descriptor, type ImageManifest, MediaType, blobsOf } from '../oci/manifest.js';
import { type RepositoryRef, formatRepository, sameRepository } from '../oci/reference.js';
import { sanitizeLine } from '../base/redact.js';
import type { CachingClient } from './caching-client.js';
import { fallbackTag, mergeFallbackIndex, referrerDescriptor, referrersOf } from '../registry/referrers.js';
import type { FetchedManifest, RegistryClient } from '../registry/client-types.js';
import { readManifest } from './resolve.js';
import { sha256Digest } from '../oci/digest.js';
import type { TargetReferrers } from './model.js';

/** Referrers of referrers are followed this many levels deep (a signature of an SBOM is 2). */
export const MAX_REFERRER_DEPTH = 4;

/** A referrer found in a source repository. */
export interface FoundReferrer {
  /** the digest its `subject` names */
  subject: string;
  source: RepositoryRef;
  /** as it is listed (API or fallback tag) */
  descriptor: Descriptor;
  fetched: FetchedManifest;
  image: ImageManifest;
  /** 1: refers to a child of the index; 2: to such a referrer; … */
  depth: number;
  /**
   * Set for a buildx attestation taken out of the index (`attestations: referrers`): it goes to
   * every target, its own repository too (there it may lack a fallback tag entry). `original`: its
   * digest in the source, which differs from `fetched.digest` when `subject` was added here.
   */
  attestation?: { original: string };
}

/** Finds referrers once per source repository and subject, shared by every target. */
export class ReferrerFinder {
  private readonly found = new Map<string, Promise<FoundReferrer[]>>();

  constructor(
    private readonly client: CachingClient,
    private readonly logger: Logger,
    private readonly concurrency: number,
  ) {}

  /** Every referrer of `subject` in `source`, recursively (deepest last). */
  async of(source: RepositoryRef, subject: string, depth = 1): Promise<FoundReferrer[]> {
    const key = `${formatRepository(source)}@${subject}`;
    let pending = this.found.get(key);
    if (!pending) {
      pending = this.discover(source, subject, depth);
      this.found.set(key, pending);
    }
    return pending;
  }

  private async discover(source: RepositoryRef, subject: string, depth: number): Promise<FoundReferrer[]> {
    const label = `Referrers of ${formatRepository(source)}@${subject}`;
    const listed = await listIn(this.client, source, subject, label);
    const direct = await mapLimit(listed.descriptors, this.concurrency, async (descriptor): Promise<FoundReferrer | undefined> => {
      const read = await readManifest(this.client, source, descriptor.digest, `${label} > ${descriptor.digest}`, descriptor);
      if (read.parsed.kind !== 'image') {
        this.logger.warning(`${label}: ${descriptor.digest} is an index; only image manifests are copied as referrers, it was left out`);
        return undefined;
      }
      const image = read.parsed.image!;
      // a fallback tag is a plain tag anyone can write: hold each entry to its own `subject`
      if (image.subject?.digest !== subject) {
        this.logger.warning(`${label}: ${descriptor.digest} is listed but its subject is ${image.subject ? sanitizeLine(image.subject.digest) : 'absent'}; it was left out`);
        return undefined;
      }
      return { subject, source, descriptor, fetched: read.fetched, image, depth };
    });
    const found = direct.filter((r): r is FoundReferrer => r !== undefined);
    if (depth >= MAX_REFERRER_DEPTH) {
      if (found.length > 0) this.logger.warning(`${label}: referrers nested more than ${MAX_REFERRER_DEPTH} deep are not followed further`);
      return found;
    }
    const deeper = await mapLimit(found, this.concurrency, (r) => this.of(source, r.fetched.digest, depth + 1));
    return [...found, ...deeper.flat()];
  }
}

/** The referrers of `subject` in `repository`: the API's answer, or the fallback tag's index (none when absent). */
export async function listIn(client: RegistryClient, repository: RepositoryRef, subject: string, label: string): Promise<{ api: boolean; descriptors: Descriptor[] }> {
  const listing = client.listReferrers ? await client.listReferrers(repository, subject) : { api: false as const };
  if (listing.api) return { api: true, descriptors: listing.descriptors };
  return { api: false, descriptors: (await readFallbackTag(client, repository, subject, label)) ?? [] };
}

/** The entries of the fallback tag of `subject`; undefined when there is no such tag. */
async function readFallbackTag(client: RegistryClient, repository: RepositoryRef, subject: string, label: string): Promise<Descriptor[] | undefined> {
  let fetched: FetchedManifest;
  try {
    fetched = await client.fetchManifest(repository, fallbackTag(subject));
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  return referrersOf(JSON.parse(fetched.bytes.toString('utf8')), `${label} (tag ${fallbackTag(subject)})`);
}

/**
 * A buildx attestation manifest as a referrer of `image` (the descriptor of the image it
 * describes). One that names it in `subject` already (BuildKit 0.32 and later) is used as is; one
 * without gets it: canonical JSON of the original with `subject` after `layers`, everything else
 * (config, artifactType or its absence, annotations) unchanged, so its digest changes. One whose
 * `subject` names another manifest is refused (undefined): that is not this image's attestation.
 */
export function attestationAsReferrer(
  fetched: FetchedManifest,
  manifest: ImageManifest,
  image: Descriptor,
): { fetched: FetchedManifest; image: ImageManifest; subjectAdded: boolean } | { refused: string } {
  if (manifest.subject) {
    return manifest.subject.digest === image.digest ? { fetched, image: manifest, subjectAdded: false } : { refused: `its subject is ${sanitizeLine(manifest.subject.digest)}, not the image it describes` };
  }
  // `subject` is a field of OCI image manifests; a Docker schema 2 manifest has none
  if (fetched.mediaType !== MediaType.OciManifest) return { refused: `it is ${sanitizeLine(fetched.mediaType)}, which cannot carry a subject` };
  const subject: Descriptor = { mediaType: image.mediaType, digest: image.digest, size: image.size };
  const original = JSON.parse(fetched.bytes.toString('utf8')) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(original)) {
    if (key === 'annotations' && !('subject' in out)) out.subject = subject;
    out[key] = value;
    if (key === 'layers') out.subject = subject;
  }
  out.subject ??= subject;
  const bytes = Buffer.from(JSON.stringify(out));
  return { fetched: { bytes, mediaType: fetched.mediaType, digest: sha256Digest(bytes), size: bytes.byteLength }, image: { ...manifest, subject }, subjectAdded: true };
}

/** Copies `referrers` into `target` (blobs, then manifests one depth at a time) and makes them findable there. */
export async function copyReferrers(
  client: CachingClient,
  target: RepositoryRef,
  referrers: FoundReferrer[],
  concurrency: number,
  logger: Logger,
): Promise<TargetReferrers> {
  const report: TargetReferrers = { copied: 0, existing: 0 };
  // one per digest; an attestation taken out of the index wins over the same manifest found as a referrer
  const unique = [...new Map(referrers.filter((r) => r.attestation || !sameRepository(r.source, target)).map((r) => [r.fetched.digest, r])).values()];
  if (unique.length === 0) return report;
  const attestations = unique.filter((r) => r.attestation).length;
  if (attestations > 0) report.attestations = attestations;

  // Blobs: mounted within a registry, streamed across (the client decides), each digest once.
  const blobs = new Map<string, { descriptor: Descriptor; from: RepositoryRef }>();
  for (const r of unique) {
    if (sameRepository(r.source, target)) continue; // an attestation in its own repository: its blobs are there
    for (const b of blobsOf(r.image)) if (!blobs.has(b.digest)) blobs.set(b.digest, { descriptor: b, from: r.source });
  }
  await mapLimit([...blobs.values()], concurrency, async ({ descriptor, from }) => {
    if (await client.knownPresent('blob', target, descriptor.digest)) return;
    if (from.registry === target.registry) await client.mountBlob(target, from, descriptor);
    else await client.copyBlob(from, target, descriptor);
  });

  // Manifests: a referrer after its subject (GitLab refuses a subject it does not have yet).
  const byDepth = new Map<number, FoundReferrer[]>();
  for (const r of unique) byDepth.set(r.depth, [...(byDepth.get(r.depth) ?? []), r]);
  for (const depth of [...byDepth.keys()].sort((a, b) => a - b)) {
    await mapLimit(byDepth.get(depth)!, concurrency, async (r) => {
      const unchangedAtHome = sameRepository(r.source, target) && r.attestation?.original === r.fetched.digest;
      if (unchangedAtHome || (await client.knownPresent('manifest', target, r.fetched.digest))) {
        report.existing++;
        return;
      }
      await client.putManifest(target, r.fetched.digest, { bytes: r.fetched.bytes, mediaType: r.fetched.mediaType });
      report.copied++;
    });
  }

  // Findable: per subject, the API lists them, or the fallback tag holds them.
  const bySubject = new Map<string, FoundReferrer[]>();
  for (const r of unique) bySubject.set(r.subject, [...(bySubject.get(r.subject) ?? []), r]);
  await mapLimit([...bySubject], concurrency, async ([subject, pushed]) => {
    const label = `Referrers of ${formatRepository(target)}@${subject}`;
    const listing = await client.listReferrers(target, subject);
    if (listing.api) {
      report.via = 'api';
      const listed = new Set(listing.descriptors.map((d) => d.digest));
      const missing = pushed.filter((r) => !listed.has(r.fetched.digest));
      if (missing.length > 0) {
        throw new VerifyError(`${label}: the registry's referrers API does not list ${missing.map((r) => r.fetched.digest).join(', ')}, pushed by this run`, {
          registry: target.registry,
          repository: target.repository,
          reference: subject,
          hint: 'The registry serves the referrers API but did not index what was pushed; report it to the registry operator, or set {referrers} to skip',
        });
      }
      return;
    }
    report.via ??= 'tag';
    const existing = await readFallbackTag(client, target, subject, label);
    const merged = mergeFallbackIndex(
      existing,
      pushed.map((r) => referrerDescriptor(r.image, r.fetched.mediaType, r.fetched.digest, r.fetched.size)),
    );
    if (!merged.changed) return;
    await client.putManifest(target, fallbackTag(subject), { bytes: merged.bytes, mediaType: merged.index.mediaType! });
    logger.debug(`${label}: tag ${fallbackTag(subject)} now lists ${merged.index.manifests.length} referrer(s)`);
  });
  return report;
}
