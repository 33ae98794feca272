// resolve -> plan -> transfer -> push -> read back. Takes a client and a logger, so the action,
// the CLI and the tests drive the same code. What the engine asks the registry it asks through
// a CachingClient: asking twice costs nothing, and the look-ahead and shared small blobs live
// there, not here.
import { mapLimit } from './concurrency.js';
import { isDigest } from './digest.js';
import { ConflictError, InputError, UnsupportedMediaTypeError, VerifyError, isHttpError } from './errors.js';
import { MediaType } from './oci.js';
import { type Logger, inGroup } from './logger.js';
import type { Platform } from './platform.js';
import {
  type Annotations,
  type AttestationMode,
  type DanglingMode,
  type BlobTransferPlan,
  type MergePlan,
  type OutputFormat,
  type PlannedEntry,
  type ResolvedSource,
  type TargetPlan,
  planBlobs,
  planMerge,
  planTargets,
} from './plan.js';
import { type ImageReference, type RepositoryRef, formatReference, formatRepository, sameRepository } from './reference.js';
import { sanitizeLine } from './redact.js';
import { ASK_BLOB_BYTES, CachingClient } from './registry/caching-client.js';
import type { BlobTransfer, FetchedManifest, RegistryClient, RequestStats, Scope } from './registry/types.js';
import { readManifest, resolveAppendBase, resolveSource } from './resolve.js';
import { type FoundReferrer, ReferrerFinder, type ReferrersMode, type TargetReferrers, attestationAsReferrer, copyReferrers } from './referrers.js';
import { referrerDescriptor } from './registry/referrers.js';
import { selectPlatforms } from './select.js';

export interface MergeRequest {
  sources: ImageReference[];
  /** targets: tags only (a digest cannot be a target) */
  tags: ImageReference[];
  platforms?: Platform[];
  /** take only these platforms of the sources (with their attestations); `platforms` then checks the result */
  selectPlatforms?: Platform[];
  attestations: AttestationMode;
  format: OutputFormat;
  push: boolean;
  append?: boolean;
  annotations?: Annotations;
  /** parallel requests (default 8) */
  concurrency?: number;
  /** copy the children's referrers (signatures, SBOMs) into targets in other repositories (default copy) */
  referrers?: ReferrersMode;
  /** an attestation whose image is not in its source index: dropped (default) or kept, linked to nothing; a warning either way */
  danglingAttestations?: DanglingMode;
}

export interface TargetReport {
  repository: string;
  tags: string[];
  blobs: { mounted: number; copied: number; existing: number };
  manifestsPushed: number;
  manifestsExisting: number;
  /** referrers of the children brought into this repository (none when it is their own) */
  referrers: TargetReferrers;
  /** what would be or was done, one line each (for dry runs and the log) */
  actions: string[];
}

export interface MergeResult {
  digest: string;
  mediaType: string;
  /** the index JSON exactly as pushed */
  manifest: string;
  platforms: string[];
  /** every tag as `registry/repository:tag@digest` */
  images: string[];
  plan: MergePlan;
  sources: ResolvedSource[];
  targets: TargetReport[];
  pushed: boolean;
  requests: RequestStats;
  /** append: how many times the merge was pushed before the tag held it (1 unless another job appended at the same time) */
  attempts?: number;
}

/** How an append that loses a race to another writer tries again. */
export interface AppendRetry {
  /** pushes before giving up with a ConflictError (default 5) */
  attempts?: number;
  /** first wait between attempts (default 200 ms), doubling, with jitter */
  backoffMs?: number;
  /**
   * How long after a read-back that matched the tag is read once more (default 100 ms): a job that
   * read the tag just before this run's push may still be pushing what it merged into the old index.
   */
  settleMs?: number;
  /** injectable for tests */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface EngineOptions {
  appendRetry?: AppendRetry;
}

export async function runMerge(request: MergeRequest, client: RegistryClient, logger: Logger, options: EngineOptions = {}): Promise<MergeResult> {
  const concurrency = request.concurrency ?? 8;
  if (request.sources.length === 0) throw new InputError('`sources` is empty', { hint: 'List at least one image to merge' });
  if (request.tags.length === 0) throw new InputError('`tags` is empty', { hint: 'List at least one tag to push the index to' });
  declareScopes(request, client);
  warnTagsThatAreSources(request, logger);

  const targetRepositories = uniqueRepositories(request.tags);
  const cache = new CachingClient(client, { concurrency, lookAhead: { targets: targetRepositories, nonImages: request.attestations !== 'strip' } });
  // The base of an append is read without look-ahead: the plan may drop its children.
  const baseReader = cache.withoutLookAhead();
  const retry = appendRetry(options.appendRetry);
  const finder = new ReferrerFinder(cache, logger, concurrency);

  // Every source (and the index an append merges into), all in parallel: reads only.
  const [resolvedSources, firstBase] = await inGroup(logger, 'Resolve sources', () =>
    Promise.all([mapLimit(request.sources, concurrency, (ref) => resolveSource(cache, ref, concurrency)), request.append ? readBase(baseReader, request.tags[0], concurrency, logger) : undefined]),
  );
  const sources = selectPlatforms(resolvedSources, request.selectPlatforms);

  let base = firstBase;
  for (let attempt = 1; ; attempt++) {
    const outcome = await mergeOnce(request, cache, logger, sources, base, concurrency, retry.settleMs, retry.sleep, finder);
    if (outcome.kind === 'done') return { ...outcome.result, ...(request.append ? { attempts: attempt } : {}) };
    // Only an append gets here: another job changed the tag; merge into what it holds now.
    if (attempt >= retry.attempts) {
      const tag = formatReference(request.tags[0]);
      throw new ConflictError(`${tag} kept changing while this run appended to it: another job pushed to it ${retry.attempts} times in a row between this run's read and its push (${outcome.why})`, {
        registry: request.tags[0].registry,
        repository: request.tags[0].repository,
        reference: request.tags[0].tag,
        hint: 'Nothing this run pushed is lost from the registry, but the tag may lack its platforms. Let jobs that append to one tag run one at a time (a `concurrency:` group), then {rerun}',
      });
    }
    const wait = Math.round(retry.backoffMs * 2 ** (attempt - 1) * (0.5 + retry.random() / 2));
    logger.info(`${formatReference(request.tags[0])} changed while this run appended to it (${outcome.why}); merging again in ${wait} ms (attempt ${attempt + 1} of ${retry.attempts})`);
    await retry.sleep(wait);
    base = await readBase(baseReader, request.tags[0], concurrency, logger);
  }
}

type Outcome = { kind: 'done'; result: MergeResult } | { kind: 'conflict'; why: string };

/** One plan and push of the index; for an append, reports a lost race instead of failing. */
async function mergeOnce(
  request: MergeRequest,
  cache: CachingClient,
  logger: Logger,
  sources: ResolvedSource[],
  base: ResolvedSource | undefined,
  concurrency: number,
  settleMs: number,
  sleep: (ms: number) => Promise<void>,
  finder: ReferrerFinder,
): Promise<Outcome> {
  const resolved = base ? [...sources, base] : sources;
  // Plan: fails here, before anything is written, on any platform or format problem.
  const plan = planMerge(resolved, {
    attestations: request.attestations,
    format: request.format,
    expectedPlatforms: request.platforms,
    annotations: request.annotations,
    danglingAttestations: request.danglingAttestations,
  });
  for (const d of plan.dangling) {
    const fate = d.kept ? 'kept, linked to nothing (dangling-attestations: keep)' : request.attestations === 'referrers' ? 'dropped (attestations: referrers needs an image to refer to)' : 'dropped (dangling-attestations: drop)';
    logger.warning(
      `Attestation ${d.entry.descriptor.digest} in ${d.entry.sourceInput} describes ${d.missing ? `image ${sanitizeLine(d.missing)}, which is not in that index` : 'no image (it has no vnd.docker.reference.digest)'}: ${fate}`,
    );
  }
  logger.info(`Index ${plan.digest} (${plan.mediaType}, ${plan.formatReason}): ${plan.entries.length} manifests, platforms ${plan.platforms.join(', ')}`);
  const dangling = new Set(plan.dangling.map((d) => d.entry));
  for (const d of plan.dropped.filter((e) => !dangling.has(e))) logger.info(`Dropped ${d.kind} ${d.descriptor.digest}${d.subject ? ` (describes ${sanitizeLine(d.subject)})` : ''} from ${d.sourceInput}`);
  const targets = planTargets(plan, request.tags.map((t) => ({ registry: t.registry, repository: t.repository, tag: t.tag ?? 'latest' })));

  // For each target repository: what must be brought in (child manifests and their blobs).
  const transfers = await mapLimit(targets, concurrency, (target) => planTargetTransfer(target, cache, concurrency));
  const reports = transfers.map((t) => t.report);
  // Referrers of the children, read from each child's own repository (once, shared by the targets).
  const found = (request.referrers ?? 'copy') === 'copy' ? await inGroup(logger, 'Find referrers', () => findReferrers(transfers, finder, concurrency)) : transfers.map(() => []);
  // attestations: referrers: every target gets each attestation as a referrer of its image
  const attestations = await attestationReferrers(plan, cache, logger, concurrency);
  const referrers = found.map((list) => [...list, ...attestations]);
  transfers.forEach((t, i) => {
    for (const r of found[i]) if (!sameRepository(r.source, t.target.repository)) t.report.actions.push(`copy referrer ${r.fetched.digest}${r.descriptor.artifactType ? ` (${sanitizeLine(r.descriptor.artifactType)})` : ''} of ${r.subject} from ${formatRepository(r.source)}`);
    for (const r of attestations) {
      const added = r.attestation!.original !== r.fetched.digest ? ` (subject added: was ${r.attestation!.original})` : '';
      t.report.actions.push(`push attestation ${r.fetched.digest} as a referrer of ${r.subject}${added}`);
    }
  });
  if (!request.push) {
    for (const report of reports) for (const line of report.actions) logger.info(`[dry run] ${report.repository}: ${line}`);
    return { kind: 'done', result: result(plan, resolved, reports, request, false, cache) };
  }

  // Blobs, then child manifests, in every target; only then any tag (a failure leaves tags untouched).
  await inGroup(logger, 'Copy blobs and child manifests', async () => {
    cache.expectCopies(transfers.flatMap((t) => t.blobs.filter((b) => b.method === 'copy' && !b.present)));
    await mapLimit(transfers, concurrency, (t) => transferBlobs(t, cache, concurrency, logger));
    await mapLimit(transfers, concurrency, (t) => pushChildren(t, cache, concurrency));
  });
  if (referrers.some((r) => r.length > 0)) {
    await inGroup(logger, 'Copy referrers', () =>
      mapLimit(transfers, concurrency, async (t, i) => {
        t.report.referrers = await copyReferrers(cache, t.target.repository, referrers[i], concurrency, logger);
        if (t.report.referrers.copied + t.report.referrers.existing > 0) {
          const ofThem = t.report.referrers.attestations ? `, ${t.report.referrers.attestations} of them attestation(s) taken out of the index` : '';
          logger.info(`${t.report.repository}: ${t.report.referrers.copied} referrer(s) copied${ofThem}${t.report.referrers.via === 'tag' ? ' (listed in fallback tags sha256-<hex>)' : t.report.referrers.via === 'api' ? ' (listed by the referrers API)' : ''}`);
        }
      }),
    );
  }

  return inGroup(logger, 'Push and verify tags', async (): Promise<Outcome> => {
    const tagTargets = targets.flatMap((t) => t.tags.map((tag) => ({ repository: t.repository, tag })));
    const first = { repository: repositoryOf(request.tags[0]), tag: request.tags[0].tag ?? 'latest' };
    if (request.append) {
      // Last look before writing: a job that pushed since the base was read would be overwritten.
      const now = await cache.headManifest(first.repository, first.tag);
      if ((now?.digest ?? undefined) !== base?.digest) return { kind: 'conflict', why: `it is ${now ? now.digest : 'gone'}, not ${base?.digest ?? 'absent'} as read` };
    }
    if (targets.length > 1) {
      // Several target repositories: the index goes to each by digest first, so that one that
      // refuses it (a registry without OCI indexes, a missing permission) fails the step before
      // any tag anywhere has moved. One target needs no such step: its first tag PUT is that test.
      await mapLimit(targets, concurrency, (t) => pushIndex(cache, t.repository, plan.digest, plan));
    }
    await mapLimit(tagTargets, concurrency, async ({ repository, tag }) => {
      const digest = await pushIndex(cache, repository, tag, plan);
      logger.info(`Pushed ${formatRepository(repository)}:${tag}@${digest}`);
    });
    const readBack = await mapLimit(tagTargets, concurrency, async ({ repository, tag }) => ({ repository, tag, head: await cache.headManifest(repository, tag) }));
    const lost = readBack.find((r) => r.head?.digest !== plan.digest);
    if (lost) {
      const what = `${formatRepository(lost.repository)}:${lost.tag} read back as ${lost.head ? lost.head.digest : 'no manifest'}, not ${plan.digest}`;
      if (request.append && sameRepository(lost.repository, first.repository) && lost.tag === first.tag) return { kind: 'conflict', why: what };
      throw new VerifyError(`Read-back failed: ${what}`, {
        registry: lost.repository.registry,
        repository: lost.repository.repository,
        reference: lost.tag,
        hint: 'Another job pushed the same tag at the same time, and this run\'s index is not what the tag holds. Give each job its own tag, or run them one at a time (a `concurrency:` group), then {rerun}',
      });
    }
    if (request.append) {
      // A job that read the tag just before this run pushed may land its push just after our read-back.
      await sleep(settleMs);
      const later = await cache.headManifest(first.repository, first.tag);
      if (later?.digest !== plan.digest) return { kind: 'conflict', why: `read again after ${settleMs} ms it is ${later ? later.digest : 'gone'}` };
    }
    return { kind: 'done', result: result(plan, resolved, reports, request, true, cache) };
  });
}

function appendRetry(options: AppendRetry = {}): Required<AppendRetry> {
  return {
    attempts: Math.max(1, options.attempts ?? 5),
    backoffMs: options.backoffMs ?? 200,
    settleMs: options.settleMs ?? 100,
    sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    random: options.random ?? Math.random,
  };
}

async function readBase(client: RegistryClient, tag: ImageReference, concurrency: number, logger: Logger): Promise<ResolvedSource | undefined> {
  const base = await resolveAppendBase(client, tag, concurrency);
  if (base) logger.info(`Appending to ${base.input} (${base.digest}, ${base.entries.length} entries)`);
  else logger.info(`${formatReference(tag)} does not exist yet: append is a plain merge`);
  return base;
}

function result(plan: MergePlan, sources: ResolvedSource[], targets: TargetReport[], request: MergeRequest, pushed: boolean, client: RegistryClient): MergeResult {
  return {
    digest: plan.digest,
    mediaType: plan.mediaType,
    manifest: plan.bytes.toString('utf8'),
    platforms: plan.platforms,
    images: request.tags.map((t) => `${formatReference({ ...t, tag: t.tag ?? 'latest', digest: undefined })}@${plan.digest}`),
    plan,
    sources,
    targets,
    pushed,
    requests: client.stats(),
  };
}

function repositoryOf(ref: RepositoryRef): RepositoryRef {
  return { registry: ref.registry, repository: ref.repository };
}

function uniqueRepositories(refs: RepositoryRef[]): RepositoryRef[] {
  return [...new Map(refs.map((r) => [formatRepository(r), repositoryOf(r)])).values()];
}

/** A tag that is also a source (by tag) is overwritten by the index: say so, once per tag. */
function warnTagsThatAreSources(request: MergeRequest, logger: Logger): void {
  for (const tag of request.tags) {
    const name = tag.tag ?? 'latest';
    if (request.sources.some((s) => !s.digest && sameRepository(s, tag) && (s.tag ?? 'latest') === name)) {
      logger.warning(`${formatReference({ ...tag, tag: name })} is both a source and a tag: the merged index replaces the image it points at now`);
    }
  }
}

/** One token per registry: every source repository with pull, every target with pull,push. */
export function declareScopes(request: MergeRequest, client: RegistryClient): void {
  const byRegistry = new Map<string, Map<string, Set<'pull' | 'push'>>>();
  const add = (ref: RepositoryRef, actions: Array<'pull' | 'push'>) => {
    const repos = byRegistry.get(ref.registry) ?? new Map<string, Set<'pull' | 'push'>>();
    byRegistry.set(ref.registry, repos);
    const set = repos.get(ref.repository) ?? new Set<'pull' | 'push'>();
    repos.set(ref.repository, set);
    for (const a of actions) set.add(a);
  };
  for (const s of request.sources) add(s, ['pull']);
  for (const t of request.tags) add(t, request.push ? ['pull', 'push'] : ['pull']);
  for (const [registry, repos] of byRegistry) {
    const scopes: Scope[] = [...repos].map(([repository, actions]) => ({ repository, actions: [...actions].sort() }));
    client.declareScopes(registry, scopes);
  }
}

interface TargetTransfer {
  target: TargetPlan;
  /** child manifests to PUT by digest, with their bytes (and the digest their `subject` names, if any) */
  children: Array<{ entry: PlannedEntry; fetched: FetchedManifest; subject?: string }>;
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
async function planTargetTransfer(target: TargetPlan, client: CachingClient, concurrency: number): Promise<TargetTransfer> {
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
    if (parsed.kind !== 'image') throw new UnsupportedMediaTypeError(`${entry.sourceInput}: child ${entry.descriptor.digest} is an index; nested indexes cannot be copied`);
    children.push({ entry, fetched, subject: parsed.image!.subject?.digest });
    planned.push(...planBlobs(parsed.image!, entry.source, to, seen));
  }
  const ask = (b: BlobTransferPlan) => b.method === 'copy' && b.descriptor.size >= ASK_BLOB_BYTES;
  const blobs = await mapLimit(planned, concurrency, async (b) => ({ ...b, present: ask(b) && (await client.hasBlob(to, b.descriptor.digest)) }));
  for (const b of blobs) report.actions.push(`${b.method} blob ${b.descriptor.digest} (${b.descriptor.size} bytes) from ${formatRepository(b.from)}`);
  for (const c of children) report.actions.push(`put ${c.entry.kind} manifest ${c.fetched.digest}${c.entry.platform ? ` (${c.entry.platform})` : ''}`);
  for (const tag of target.tags) report.actions.push(`put index under tag ${tag}`);
  return { target, children, blobs, report };
}

/**
 * `attestations: referrers`: each attestation the plan took out of the index, as a referrer of the
 * image it describes: unchanged when it names the image in `subject` already, else with `subject`
 * added (a new digest: said in one warning). One that cannot be a referrer is left out, warned.
 */
async function attestationReferrers(plan: MergePlan, client: CachingClient, logger: Logger, concurrency: number): Promise<FoundReferrer[]> {
  if (plan.attestationReferrers.length === 0) return [];
  const images = new Map(plan.entries.filter((e) => e.kind === 'image').map((e) => [e.descriptor.digest, e]));
  const made = await mapLimit(plan.attestationReferrers, concurrency, async (entry) => {
    const label = `${entry.sourceInput} > ${entry.descriptor.digest}`;
    const { fetched, parsed } = await readManifest(client, entry.source, entry.descriptor.digest, label, entry.descriptor);
    const image = images.get(entry.subject!)!; // the plan keeps only attestations of images in the index
    const as = parsed.kind === 'image' ? attestationAsReferrer(fetched, parsed.image!, image.descriptor) : { refused: 'it is an index' };
    if ('refused' in as) {
      logger.warning(`Attestation ${entry.descriptor.digest} in ${entry.sourceInput} cannot be a referrer of image ${image.descriptor.digest} (${image.platform}): ${as.refused}; it was left out`);
      return undefined;
    }
    const referrer: FoundReferrer = {
      subject: image.descriptor.digest,
      source: entry.source,
      descriptor: referrerDescriptor(as.image, as.fetched.mediaType, as.fetched.digest, as.fetched.size),
      fetched: as.fetched,
      image: as.image,
      depth: 1,
      attestation: { original: entry.descriptor.digest },
    };
    return { referrer, platform: image.platform };
  });
  const done = made.filter((m): m is NonNullable<typeof m> => m !== undefined);
  const changed = done.filter((m) => m.referrer.attestation!.original !== m.referrer.fetched.digest);
  if (changed.length > 0) {
    logger.warning(
      `${changed.length} attestation manifest(s) had no subject (built before BuildKit 0.32): pushed as referrers with subject added, which changes their digest: ${changed.map((m) => `${m.referrer.attestation!.original} -> ${m.referrer.fetched.digest} (${m.platform})`).join(', ')}`,
    );
  }
  return done.map((m) => m.referrer);
}

/** Per transfer, the referrers of its children (those in other repositories than the target). */
async function findReferrers(transfers: TargetTransfer[], finder: ReferrerFinder, concurrency: number): Promise<FoundReferrer[][]> {
  return mapLimit(transfers, concurrency, async (t) => {
    const lists = await mapLimit(t.target.manifests, concurrency, (entry) => finder.of(entry.source, entry.descriptor.digest));
    return lists.flat();
  });
}

async function transferBlobs(transfer: TargetTransfer, client: CachingClient, concurrency: number, logger: Logger): Promise<void> {
  const to = transfer.target.repository;
  await mapLimit(transfer.blobs, concurrency, async (blob) => {
    let outcome: BlobTransfer;
    // `present` was asked; a blob this run already brought in (an earlier attempt of an append) is known.
    if (blob.present || (await client.knownPresent('blob', to, blob.descriptor.digest))) outcome = 'exists';
    else if (blob.method === 'mount') outcome = await client.mountBlob(to, blob.from, blob.descriptor);
    else outcome = await client.copyBlob(blob.from, to, blob.descriptor);
    if (outcome === 'mounted') transfer.report.blobs.mounted++;
    else if (outcome === 'copied') transfer.report.blobs.copied++;
    else transfer.report.blobs.existing++;
    logger.debug(`${formatRepository(to)}: ${outcome} ${blob.descriptor.digest} from ${formatRepository(blob.from)}`);
  });
}

/**
 * Child manifests go up in dependency order, one level at a time (each level in parallel): images
 * first, then the manifests whose `subject` names one of them (BuildKit's attestations, other
 * referrers), and so on. GitLab refuses a manifest whose subject is not in the repository yet.
 */
async function pushChildren(transfer: TargetTransfer, client: CachingClient, concurrency: number): Promise<void> {
  for (const level of dependencyLevels(transfer.children)) {
    await mapLimit(level, concurrency, async ({ fetched }) => {
      if (await client.knownPresent('manifest', transfer.target.repository, fetched.digest)) return; // pushed by an earlier attempt
      await client.putManifest(transfer.target.repository, fetched.digest, { bytes: fetched.bytes, mediaType: fetched.mediaType });
      transfer.report.manifestsPushed++;
    });
  }
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
    const level = parent === undefined || parent === child ? 0 : seen.has(parent) ? children.length : depthOf(parent, new Set([...seen, child])) + 1;
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
async function pushIndex(client: CachingClient, repository: RepositoryRef, tag: string, plan: MergePlan): Promise<string> {
  try {
    return await client.putManifest(repository, tag, { bytes: plan.bytes, mediaType: plan.mediaType });
  } catch (error) {
    const refused = isHttpError(error) && (error.status === 415 || (error.status === 400 && error.registryErrors.some((e) => INDEX_REFUSED_CODES.has(e.code))));
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
      { registry: repository.registry, repository: repository.repository, reference: tag, status: error.status, registryCodes: error.registryErrors.map((e) => e.code), cause: error, hint },
    );
  }
}

