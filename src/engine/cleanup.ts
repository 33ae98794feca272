// `cleanup-sources`: once the merged tags are written and read back, the tags of the sources that
// were given by tag are removed; never a source given by digest (a digest file's too) or a layout,
// never a tag that is also a target, never a manifest any target's index references (or one of
// their referrers). How, best first, per registry:
//
// - ghcr.io (no DELETE in its registry API): GitHub's packages API with the workflow's token. The
//   source's package version is deleted when no index references it and every tag it has is being
//   removed (a buildx per-platform index); else a tiny manifest of this run's own is pushed over
//   the tag and that version deleted (the source manifest stays, untagged: the index needs it);
// - docker.io: Docker Hub's API deletes the tag (the manifest stays);
// - elsewhere: DELETE /v2/<name>/manifests/<tag> (OCI 1.1, optional; distribution v3); where the
//   registry refuses a tag but deletes by digest (distribution 2.8), the untag regctl uses: the
//   tiny manifest over the tag, then DELETE of that manifest by digest (it is this run's alone).
//
// A registry that deletes nothing (405), a refused permission, any failure: a warning naming the
// tag, left in place; the merge still succeeds. With `push: false` the plan lists what would go.
import { mapLimit } from '../base/concurrency.js';
import { isDenied, isHttpError, isUnauthorized } from '../base/errors.js';
import { type Descriptor, MediaType } from '../oci/manifest.js';
import { sha256Digest } from '../oci/digest.js';
import { type ImageReference, type RepositoryRef, formatRepository, sameRepository } from '../oci/reference.js';
import { DOCKER_HUB } from '../oci/hosts.js';
import { sanitizeLine } from '../base/redact.js';
import type { HostedApis } from '../registry/client-types.js';
import { isLayoutRepository } from '../sources/layout-reference.js';
import type { CleanedTag, CleanupMethod, CleanupReport, MergePlan, ResolvedSource } from './model.js';
import type { FoundReferrer } from './referrer-finder.js';
import { type MergeRun, repositoryOf } from './run.js';

export const GHCR = 'ghcr.io';

/** The empty JSON object `{}`: the config (and only layer) of the tiny manifest an untag pushes. */
const EMPTY: Descriptor = {
  mediaType: MediaType.OciEmpty,
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
};
const EMPTY_BYTES = Buffer.from('{}');
/** The annotation that names the tag a tiny untag manifest was pushed over. */
export const UNTAG_ANNOTATION = 'vnd.manifest-merge.untag';

/** What the merge gives the cleanup: its plan, its sources as resolved (in request order) and the referrers it copied. */
export interface CleanupInput {
  plan: MergePlan;
  /** the request's sources as resolved, in request order (an append's base after them) */
  resolved: ResolvedSource[];
  referrers: FoundReferrer[][];
}

/** One source tag to remove: where, and what it held when the merge read it. */
interface Candidate {
  repository: RepositoryRef;
  tag: string;
  digest: string;
  label: string;
}

/** Digests no cleanup may delete: the index, its children, their referrers and the attestations pushed as referrers. */
function protectedDigests({ plan, referrers }: CleanupInput): Set<string> {
  return new Set([
    plan.digest,
    ...plan.entries.map((e) => e.descriptor.digest),
    ...plan.attestationReferrers.map((e) => e.descriptor.digest),
    ...referrers.flat().flatMap((r) => [r.fetched.digest, r.descriptor.digest]),
  ]);
}

/** Which sources are for removal, and why the others are not. */
export function cleanupCandidates(
  request: { sources: ImageReference[]; tags: ImageReference[] },
  resolved: ResolvedSource[],
): { candidates: Candidate[]; skipped: CleanedTag[] } {
  const candidates: Candidate[] = [];
  const skipped: CleanedTag[] = [];
  const seen = new Set<string>();
  request.sources.forEach((source, i) => {
    const found = resolved[i];
    const tag = source.tag ?? 'latest';
    const label = `${formatRepository(source)}${source.digest ? `@${source.digest}` : `:${tag}`}`;
    const skip = (reason: string) => skipped.push({ tag: label, digest: found?.digest ?? source.digest ?? '', reason });
    if (isLayoutRepository(source)) return skip('an OCI layout');
    if (source.digest) return skip('given by digest');
    if (!found) return skip('not resolved');
    if (request.tags.some((t) => sameRepository(t, source) && (t.tag ?? 'latest') === tag)) return skip('also a target tag');
    if (found.entries.length === 0) return skip('none of its manifests is in the index');
    if (seen.has(label)) return;
    seen.add(label);
    candidates.push({ repository: repositoryOf(source), tag, digest: found.digest, label });
  });
  return { candidates, skipped };
}

/** The method a registry gets (for the plan; `delete-tag` may turn into `untag` when the registry refuses a tag). */
function plannedMethod(registry: string, referenced: boolean): CleanupMethod {
  if (registry === GHCR) return referenced ? 'package-untag' : 'package-version';
  if (registry === DOCKER_HUB) return 'hub-tag';
  return 'delete-tag';
}

const METHOD_TEXT: Record<CleanupMethod, string> = {
  'delete-tag': 'DELETE of the tag',
  untag: 'a manifest of its own over the tag, deleted by digest',
  'package-version': 'its GHCR package version deleted',
  'package-untag': 'a manifest of its own over the tag, whose GHCR package version was deleted',
  'hub-tag': "Docker Hub's API",
};

/** Why a removal failed, in one line: the error's own summary (escaped), or a status. */
function reasonOf(error: unknown): string {
  if (error instanceof Error) return sanitizeLine('summary' in error && typeof error.summary === 'string' ? error.summary : error.message);
  return sanitizeLine(String(error));
}

/**
 * Removes (or with push: false, plans to remove) the source tags. Never throws: every failure is a
 * warning naming the tag, and the tag is reported as left.
 */
export async function cleanupSources(run: MergeRun, input: CleanupInput): Promise<CleanupReport> {
  const { request, logger } = run;
  const { candidates, skipped } = cleanupCandidates(request, input.resolved);
  for (const s of skipped) logger.info(`cleanup-sources: keeping ${sanitizeLine(s.tag)} (${s.reason})`);
  const keep = protectedDigests(input);
  const report: CleanupReport = { removed: [], left: [], skipped };
  if (!request.push) {
    for (const c of candidates) {
      const method = plannedMethod(c.repository.registry, keep.has(c.digest));
      report.removed.push({ tag: c.label, digest: c.digest, method });
      logger.info(`[dry run] would remove source tag ${sanitizeLine(c.label)} (${c.digest}) by ${METHOD_TEXT[method]}`);
    }
    return report;
  }
  // one repository's tags one after the other (a GHCR version may carry several); repositories in parallel
  const byRepository = new Map<string, Candidate[]>();
  for (const c of candidates)
    byRepository.set(formatRepository(c.repository), [...(byRepository.get(formatRepository(c.repository)) ?? []), c]);
  await mapLimit([...byRepository.values()], run.concurrency, async (list) => {
    const removed = new Set<string>();
    for (const c of list) {
      const outcome = await removeOne(run, c, { keep, removing: list, removed }).catch((error: unknown) => ({ left: reasonOf(error) }));
      if ('method' in outcome) {
        report.removed.push({ tag: c.label, digest: c.digest, method: outcome.method });
        logger.info(`Removed source tag ${sanitizeLine(c.label)} (${c.digest}) by ${METHOD_TEXT[outcome.method]}`);
      } else {
        report.left.push({ tag: c.label, digest: c.digest, reason: outcome.left });
        logger.warning(`cleanup-sources: left ${sanitizeLine(c.label)} in place: ${outcome.left}`);
      }
    }
  });
  return report;
}

type Removal = { method: CleanupMethod } | { left: string };

interface Context {
  keep: Set<string>;
  /** every candidate of this repository */
  removing: Candidate[];
  /** digests whose GHCR version this run deleted (their other tags went with them) */
  removed: Set<string>;
}

async function removeOne(run: MergeRun, c: Candidate, context: Context): Promise<Removal> {
  const { client } = run;
  const now = await client.headManifest(c.repository, c.tag);
  if (!now) {
    if (context.removed.has(c.digest)) return { method: 'package-version' };
    return { left: 'the tag is gone already (removed by someone else)' };
  }
  if (now.digest !== c.digest)
    return { left: `it moved to ${now.digest} since this run read it (${c.digest}): another job pushed it; not removed` };
  const apis = client.hostedApis();
  if (c.repository.registry === GHCR) return removeOnGhcr(run, c, context, apis);
  if (c.repository.registry === DOCKER_HUB) {
    if (!apis) return { left: 'no Docker Hub API client (the registry client has no network behind it)' };
    await apis.hub.deleteTag(c.repository, c.tag);
    return { method: 'hub-tag' };
  }
  try {
    await client.deleteManifest(c.repository, c.tag);
    return { method: 'delete-tag' };
  } catch (error) {
    if (!isHttpError(error)) throw error;
    if (error.status === 405)
      return {
        left: `the registry deletes nothing here (HTTP 405${registryCodes(error)}); enable deletes on it, or remove the tag by hand`,
      };
    if (isDenied(error) || isUnauthorized(error)) return { left: `no permission to delete (HTTP ${error.status}${registryCodes(error)})` };
    // a registry that deletes by digest only (distribution 2.8 answers 400 DIGEST_INVALID): untag
    run.logger.debug(
      `${c.label}: the registry refused to delete the tag (HTTP ${error.status}); untagging with a manifest of this run's own`,
    );
  }
  return untag(run, c, async (digest) => client.deleteManifest(c.repository, digest), 'untag');
}

function registryCodes(error: { facts: { registryCodes?: string[] } }): string {
  const codes = error.facts.registryCodes ?? [];
  return codes.length > 0 ? ` ${sanitizeLine(codes.join(', '))}` : '';
}

async function removeOnGhcr(run: MergeRun, c: Candidate, context: Context, apis: HostedApis | undefined): Promise<Removal> {
  const packages = apis?.ghcr;
  if (!packages)
    return {
      left: "GHCR removes tags through GitHub's packages API only, and no token was given (input github-token, with permission packages: write)",
    };
  const version = await packages.findVersion(c.repository, c.digest);
  if (!version) return { left: `GitHub's packages API lists no version ${c.digest} of the package` };
  const alsoRemoved = new Set(context.removing.map((r) => r.tag));
  const referenced = context.keep.has(c.digest) || (await refersToKept(run, c, context.keep));
  const othersTags = version.tags.filter((t) => !alsoRemoved.has(t));
  if (!referenced && othersTags.length === 0) {
    if (context.keep.has(version.digest)) return { left: 'its package version is referenced by the index; not deleted' };
    await packages.deleteVersion(c.repository, version);
    context.removed.add(c.digest);
    return { method: 'package-version' };
  }
  // the source manifest stays (the index needs it, or other tags point at it): the tag goes alone
  return untag(
    run,
    c,
    async (digest) => {
      const tiny = await packages.findVersion(c.repository, digest);
      if (!tiny) throw new Error(`GitHub's packages API lists no version ${digest} (the manifest pushed over the tag)`);
      if (context.keep.has(tiny.digest)) throw new Error(`version ${tiny.digest} is referenced by the index`);
      await packages.deleteVersion(c.repository, tiny);
    },
    'package-untag',
  );
}

/** Whether the source manifest is a referrer of something the index keeps (its `subject`). */
async function refersToKept(run: MergeRun, c: Candidate, keep: Set<string>): Promise<boolean> {
  const fetched = await run.client.fetchManifest(c.repository, c.digest);
  try {
    const subject = (JSON.parse(fetched.bytes.toString('utf8')) as { subject?: { digest?: unknown } }).subject?.digest;
    return typeof subject === 'string' && keep.has(subject);
  } catch {
    return true; // unreadable: treated as referenced, so never deleted
  }
}

/** The tiny manifest an untag pushes over `tag`: unique to this tag and this moment, so its digest is nobody else's. */
export function untagManifest(repository: RepositoryRef, tag: string, nonce: string): { bytes: Buffer; mediaType: string; digest: string } {
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: EMPTY,
    layers: [EMPTY],
    annotations: { [UNTAG_ANNOTATION]: `${formatRepository(repository)}:${tag}`, 'org.opencontainers.image.created': nonce },
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return { bytes, mediaType: MediaType.OciManifest, digest: sha256Digest(bytes) };
}

/**
 * regctl's untag: the tiny manifest over the tag, then `remove` deletes it by digest. When that
 * fails, the tag is put back to the source manifest (its bytes read first), and the failure said.
 */
async function untag(run: MergeRun, c: Candidate, remove: (digest: string) => Promise<void>, method: CleanupMethod): Promise<Removal> {
  const { client } = run;
  const original = await client.fetchManifest(c.repository, c.digest);
  const tiny = untagManifest(c.repository, c.tag, new Date().toISOString());
  if (!(await client.hasBlob(c.repository, EMPTY.digest)))
    await client.uploadBlob(c.repository, c.repository, EMPTY, async () => EMPTY_BYTES);
  await client.putManifest(c.repository, c.tag, tiny);
  try {
    await remove(tiny.digest);
    return { method };
  } catch (error) {
    const why =
      isHttpError(error) && error.status === 405 ? `the registry deletes nothing here (HTTP 405${registryCodes(error)})` : reasonOf(error);
    try {
      await client.putManifest(c.repository, c.tag, { bytes: original.bytes, mediaType: original.mediaType });
      return { left: `${why}; the tag was put back to ${c.digest}` };
    } catch (restore) {
      return {
        left: `${why}; putting the tag back failed too (${reasonOf(restore)}): it holds ${tiny.digest}, a manifest of this run's own`,
      };
    }
  }
}
