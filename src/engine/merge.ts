// resolve -> plan -> transfer (transfer.ts: the write steps into each target) -> push -> read back.
// the CLI and the tests drive the same code. What the engine asks the registry it asks through
// a CachingClient: asking twice costs nothing, and the look-ahead and shared small blobs live
// there, not here.
import { mapLimit } from '../base/concurrency.js';
import { ConflictError, InputError, VerifyError } from '../base/errors.js';
import { type Logger, inGroup } from '../base/logger.js';
import { planMerge, planTargets } from './plan.js';
import type { MergePlan, MergeRequest, MergeResult, ResolvedSource, TargetReport } from './model.js';
import { type ImageReference, type RepositoryRef, formatReference, formatRepository, sameRepository } from '../oci/reference.js';
import { sanitizeLine } from '../base/redact.js';
import { CachingClient } from './caching-client.js';
import type { RegistryClient, Scope } from '../registry/client-types.js';
import { readManifest, resolveAppendBase, resolveSource } from './resolve.js';
import { type FoundReferrer, ReferrerFinder, attestationAsReferrer, copyReferrers } from './referrer-transfer.js';
import { referrerDescriptor } from '../registry/referrers.js';
import { selectPlatforms } from './select.js';
import { type TargetTransfer, planTargetTransfer, pushChildren, pushIndex, transferBlobs } from './transfer.js';

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
