// The write steps into one target repository, in the order that keeps a failure from moving a
// tag (go-containerregistry's remote/write.go names its steps the same way):
//
//   planTargetTransfer  what the target needs: child manifests and their blobs (reads only)
//   writeBlobs          its blobs, mounted within a registry, copied across
//   writeManifests      its manifests, one dependency level at a time
//   pushIndex           the index, by digest or under a tag
//
// bringIn is writeBlobs then writeManifests, for one target: the referrers copy uses it. A merge
// runs them across its targets (transferAll): every target's blobs, then every target's children.
import { mapLimit } from '../base/concurrency.js';
import { isDigest } from '../oci/digest.js';
import type { TargetReport } from './model.js';
import { UnsupportedMediaTypeError, isHttpError } from '../base/errors.js';
import { MediaType } from '../oci/manifest.js';
import { planBlobs } from './plan.js';
import type { BlobTransferPlan, MergePlan, PlannedEntry, TargetPlan } from './model.js';
import { type RepositoryRef, formatRepository } from '../oci/reference.js';
import { ASK_BLOB_BYTES } from './caching-client.js';
import type { FetchedManifest } from '../registry/client-types.js';
import { readManifest } from './resolve.js';
import type { EngineRun } from './run.js';

/** A blob to bring into a target; `present`: the target was asked, and has it. */
export type BlobToWrite = BlobTransferPlan & { present?: boolean };

/** A manifest to PUT by digest, with the digest its `subject` names (if any): it goes up after that one. */
export interface ManifestToWrite {
  fetched: FetchedManifest;
  subject?: string;
}

export interface TargetTransfer {
  target: TargetPlan;
  /** child manifests to PUT by digest, with their bytes (and the digest their `subject` names, if any) */
  children: Array<ManifestToWrite & { entry: PlannedEntry }>;
  /** `present`: found in the target already (across registries, where it was asked) */
  blobs: Array<BlobTransferPlan & { present: boolean }>;
  report: TargetReport;
}

/**
 * Lists what `target` needs. Within one registry nothing is asked of the target: mounts of blobs
 * already there are no-ops. Across registries each child is looked for in the target (present:
 * nothing to do for it) and each of its blobs of 64 KiB or more (present: not copied); the
 * caching client asked most of that already, while the sources were read.
 */
export async function planTargetTransfer({ client, concurrency }: EngineRun, target: TargetPlan): Promise<TargetTransfer> {
  const report: TargetReport = {
    repository: formatRepository(target.repository),
    tags: target.tags,
    blobs: { mounted: 0, copied: 0, existing: 0 },
    manifestsPushed: 0,
    manifestsExisting: 0,
    referrers: { copied: 0, existing: 0 },
    actions: [],
  };
  const to = target.repository;
  const needed = await mapLimit(target.manifests, concurrency, async (entry) => {
    const label = `${entry.sourceInput} > ${entry.descriptor.digest}`;
    if (entry.source.registry !== to.registry && (await client.headManifest(to, entry.descriptor.digest))) return undefined;
    return { entry, ...(await readManifest(client, entry.source, entry.descriptor.digest, label, entry.descriptor)) };
  });
  const children: TargetTransfer['children'] = [];
  const planned: BlobTransferPlan[] = [];
  const seen = new Set<string>();
  for (const child of needed) {
    if (!child) {
      report.manifestsExisting++;
      continue;
    }
    const { entry, fetched, parsed } = child;
    if (parsed.kind !== 'image')
      throw new UnsupportedMediaTypeError(
        `${entry.sourceInput}: child ${entry.descriptor.digest} is an index; nested indexes cannot be copied`,
      );
    children.push({ entry, fetched, subject: parsed.image!.subject?.digest });
    planned.push(...planBlobs(parsed.image!, entry.source, to, seen));
  }
  const ask = (b: BlobTransferPlan) => b.method === 'copy' && b.descriptor.size >= ASK_BLOB_BYTES;
  const blobs = await mapLimit(planned, concurrency, async (b) => ({
    ...b,
    present: ask(b) && (await client.hasBlob(to, b.descriptor.digest)),
  }));
  for (const b of blobs)
    report.actions.push(`${b.method} blob ${b.descriptor.digest} (${b.descriptor.size} bytes) from ${formatRepository(b.from)}`);
  for (const c of children)
    report.actions.push(`put ${c.entry.kind} manifest ${c.fetched.digest}${c.entry.platform ? ` (${c.entry.platform})` : ''}`);
  for (const tag of target.tags) report.actions.push(`put index under tag ${tag}`);
  return { target, children, blobs, report };
}

/** How each blob got into the target. */
export type BlobCounts = TargetReport['blobs'];

/**
 * Blobs into `to`, in parallel: mounted within one registry, copied (streamed, or uploaded from
 * memory: the client decides) across. One the target was asked about and has, or that this run
 * already brought in (an earlier attempt of an append, another referrer), costs nothing.
 */
export async function writeBlobs({ client, concurrency, logger }: EngineRun, to: RepositoryRef, blobs: BlobToWrite[]): Promise<BlobCounts> {
  const counts: BlobCounts = { mounted: 0, copied: 0, existing: 0 };
  await mapLimit(blobs, concurrency, async (blob) => {
    const outcome =
      blob.present || (await client.knownPresent('blob', to, blob.descriptor.digest))
        ? 'exists'
        : blob.method === 'mount'
          ? await client.mountBlob(to, blob.from, blob.descriptor)
          : await client.copyBlob(blob.from, to, blob.descriptor);
    if (outcome === 'mounted') counts.mounted++;
    else if (outcome === 'copied') counts.copied++;
    else counts.existing++;
    logger.debug(`${formatRepository(to)}: ${outcome} ${blob.descriptor.digest} from ${formatRepository(blob.from)}`);
  });
  return counts;
}

/**
 * Manifests into `to` by digest, in dependency order, one level at a time (each level in
 * parallel): images first, then the manifests whose `subject` names one of them (BuildKit's
 * attestations, other referrers), and so on. GitLab refuses a manifest whose subject is not in
 * the repository yet. One this run already put there is not put again (`existing`).
 */
export async function writeManifests(
  { client, concurrency }: EngineRun,
  to: RepositoryRef,
  manifests: ManifestToWrite[],
): Promise<{ pushed: number; existing: number }> {
  const counts = { pushed: 0, existing: 0 };
  for (const level of dependencyLevels(manifests)) {
    await mapLimit(level, concurrency, async ({ fetched }) => {
      if (await client.knownPresent('manifest', to, fetched.digest)) {
        counts.existing++;
        return;
      }
      await client.putManifest(to, fetched.digest, { bytes: fetched.bytes, mediaType: fetched.mediaType });
      counts.pushed++;
    });
  }
  return counts;
}

/** Brings blobs, then the manifests that need them, into one target. */
export async function bringIn(
  run: EngineRun,
  to: RepositoryRef,
  what: { blobs: BlobToWrite[]; manifests: ManifestToWrite[] },
): Promise<{ blobs: BlobCounts; manifests: { pushed: number; existing: number } }> {
  const blobs = await writeBlobs(run, to, what.blobs);
  const manifests = await writeManifests(run, to, what.manifests);
  return { blobs, manifests };
}

/**
 * A merge's children into all its targets: every target's blobs, then every target's child
 * manifests (a child pushed by an earlier attempt of an append is not counted again).
 */
export async function transferAll(run: EngineRun, transfers: TargetTransfer[]): Promise<void> {
  run.client.expectCopies(transfers.flatMap((t) => t.blobs.filter((b) => b.method === 'copy' && !b.present)));
  await mapLimit(transfers, run.concurrency, async (t) => {
    const counts = await writeBlobs(run, t.target.repository, t.blobs);
    t.report.blobs.mounted += counts.mounted;
    t.report.blobs.copied += counts.copied;
    t.report.blobs.existing += counts.existing;
  });
  await mapLimit(transfers, run.concurrency, async (t) => {
    t.report.manifestsPushed += (await writeManifests(run, t.target.repository, t.children)).pushed;
  });
}

/**
 * Splits manifests into levels: a manifest whose `subject` is another of them comes one level
 * after it. A subject outside the set (already in the repository, or not this run's) is no
 * dependency. A cycle cannot be built from digests; if one showed up, its members go last.
 */
export function dependencyLevels<T extends { fetched: { digest: string }; subject?: string }>(children: T[]): T[][] {
  const byDigest = new Map(children.map((c) => [c.fetched.digest, c]));
  const depth = new Map<T, number>();
  const depthOf = (child: T, seen: Set<T>): number => {
    const known = depth.get(child);
    if (known !== undefined) return known;
    const parent = child.subject === undefined ? undefined : byDigest.get(child.subject);
    const level =
      parent === undefined || parent === child ? 0 : seen.has(parent) ? children.length : depthOf(parent, new Set([...seen, child])) + 1;
    depth.set(child, level);
    return level;
  };
  const levels: T[][] = [];
  for (const child of children) (levels[depthOf(child, new Set([child]))] ??= []).push(child);
  return levels.filter((level) => level !== undefined);
}

/** Registry error codes by which a registry refuses a manifest's type or shape. */
const INDEX_REFUSED_CODES = new Set(['MANIFEST_INVALID', 'UNSUPPORTED']);

/**
 * PUTs the index under a tag (or its digest). A registry that refuses OCI indexes (Huawei SWR, older Gitea answer
 * MANIFEST_INVALID) gets one error naming the way out, worded from what the children allow.
 */
export async function pushIndex({ client }: EngineRun, repository: RepositoryRef, tag: string, plan: MergePlan): Promise<string> {
  try {
    return await client.putManifest(repository, tag, { bytes: plan.bytes, mediaType: plan.mediaType });
  } catch (error) {
    const refused =
      isHttpError(error) &&
      (error.status === 415 || (error.status === 400 && error.registryErrors.some((e) => INDEX_REFUSED_CODES.has(e.code))));
    if (!refused || plan.mediaType !== MediaType.OciIndex) throw error;
    const images = plan.entries.filter((e) => e.kind === 'image');
    const dockerImages = images.every((e) => e.descriptor.mediaType === MediaType.DockerManifest);
    const others = plan.entries.length - images.length;
    const hint =
      dockerImages && others === 0
        ? 'Every image is a Docker schema 2 manifest: set {format} to `docker` to push a Docker manifest list, which this registry accepts'
        : dockerImages
          ? `A Docker manifest list cannot hold the ${others} attestation or artifact manifest(s): set {attestations} to \`strip\` and {format} to \`docker\` (provenance and SBOMs are then not carried), or push to a registry that accepts OCI indexes`
          : 'The images are OCI manifests, which a Docker manifest list cannot hold: push to a registry that accepts OCI indexes, or rebuild the images as Docker schema 2 (buildx `oci-mediatypes=false`), then set {attestations} to `strip` and {format} to `docker`';
    throw new UnsupportedMediaTypeError(
      `${formatRepository(repository)}${isDigest(tag) ? '@' : ':'}${tag}: ${repository.registry} refused the OCI image index (HTTP ${error.status}${error.registryErrors.length ? ` ${error.registryErrors.map((e) => e.code).join(', ')}` : ''}): this registry does not accept OCI indexes, and ${isDigest(tag) ? 'no tag was written' : 'the tag was not written'}`,
      {
        registry: repository.registry,
        repository: repository.repository,
        reference: tag,
        status: error.status,
        registryCodes: error.registryErrors.map((e) => e.code),
        cause: error,
        hint,
      },
    );
  }
}
