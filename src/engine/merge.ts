// A merge, step by step: resolve the sources -> plan the index -> plan each target's transfer ->
// find the referrers -> bring the children into every target (transfer.ts) -> copy the referrers
// (referrer-transfer.ts) -> push the index under each tag -> read it back. The action, the CLI
// and the tests drive the same code. Every step gets the run (run.ts): what the engine asks the
// registry it asks through its caching client, so asking twice costs nothing, and the
// look-ahead and shared small blobs live there, not here.
import { mapLimit } from '../base/concurrency.js';
import { ConflictError, InputError, VerifyError } from '../base/errors.js';
import { type Logger, inGroup } from '../base/logger.js';
import { planMerge, planTargets } from './plan.js';
import type { AttestationGateReport, MergePlan, MergeRequest, MergeResult, ResolvedSource, TargetPlan, TargetReport } from './model.js';
import { type ImageReference, type RepositoryRef, formatReference, formatRepository, sameRepository } from '../oci/reference.js';
import { sanitizeLine } from '../base/redact.js';
import type { ManifestHead, RegistryClient, Scope } from '../registry/client-types.js';
import { describeVariants, resolveAppendBase, resolveSource } from './resolve.js';
import { copyAllReferrers, discoverReferrers, referrersFor } from './referrer-transfer.js';
import { type EngineOptions, type EngineRun, type MergeRun, repositoryOf, startMerge, withoutLookAhead } from './run.js';
import { selectPlatforms } from './select.js';
import { planTargetTransfer, pushIndex, transferAll } from './transfer.js';
import { type PreviousTags, type TagTarget, readPrevious, writeTags } from './restore.js';
import { type CleanupInput, cleanupSources } from './cleanup.js';
import { checkRequiredAttestations } from './gate.js';

export type { AppendRetry, EngineOptions } from './run.js';

export async function runMerge(
  request: MergeRequest,
  client: RegistryClient,
  logger: Logger,
  options: EngineOptions = {},
): Promise<MergeResult> {
  if (request.sources.length === 0) throw new InputError('`sources` is empty', { hint: 'List at least one image to merge' });
  if (request.tags.length === 0) throw new InputError('`tags` is empty', { hint: 'List at least one tag to push the index to' });
  declareScopes(request, client);
  warnTagsThatAreSources(request, logger);

  const run = startMerge(request, client, logger, options);
  // The base of an append is read without look-ahead: the plan may drop its children.
  const baseReader = withoutLookAhead(run);
  const { retry } = run;

  // Every source (and the index an append merges into), all in parallel: reads only.
  const [resolvedSources, firstBase] = await inGroup(logger, 'Resolve sources', () =>
    Promise.all([
      mapLimit(request.sources, run.concurrency, (ref) => resolveSource(run, ref)),
      request.append ? readBase(baseReader, request.tags[0]) : undefined,
    ]),
  );
  const sources = await describeVariants(run, selectPlatforms(resolvedSources, request.selectPlatforms));

  let base = firstBase;
  for (let attempt = 1; ; attempt++) {
    const outcome = await mergeOnce(run, { sources, base });
    if (outcome.kind === 'done') return { ...outcome.result, ...(request.append ? { attempts: attempt } : {}) };
    // Only an append gets here: another job changed the tag; merge into what it holds now.
    if (attempt >= retry.attempts) {
      const tag = formatReference(request.tags[0]);
      throw new ConflictError(
        `${tag} kept changing while this run appended to it: another job pushed to it ${retry.attempts} times in a row between this run's read and its push (${outcome.why})`,
        {
          registry: request.tags[0].registry,
          repository: request.tags[0].repository,
          reference: request.tags[0].tag,
          hint: 'Nothing this run pushed is lost from the registry, but the tag may lack its platforms. Let jobs that append to one tag run one at a time (a `concurrency:` group), then {rerun}',
        },
      );
    }
    const wait = Math.round(retry.backoffMs * 2 ** (attempt - 1) * (0.5 + retry.random() / 2));
    logger.info(
      `${formatReference(request.tags[0])} changed while this run appended to it (${outcome.why}); merging again in ${wait} ms (attempt ${attempt + 1} of ${retry.attempts})`,
    );
    await retry.sleep(wait);
    base = await readBase(baseReader, request.tags[0]);
  }
}

/**
 * `work`'s result; when it fails, its error once `beside` (reads started alongside) has settled too,
 * so that nothing keeps running behind the caller's back.
 */
async function settledFirst<T>(beside: Promise<unknown>, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    await beside.catch(() => undefined);
    throw error;
  }
}

type Outcome = { kind: 'done'; result: MergeResult } | { kind: 'conflict'; why: string };

/** What one attempt merges: the sources, and for an append the index the tag held when read. */
interface Attempt {
  sources: ResolvedSource[];
  base?: ResolvedSource;
}

/** One plan and push of the index; for an append, reports a lost race instead of failing. */
async function mergeOnce(run: MergeRun, { sources, base }: Attempt): Promise<Outcome> {
  const resolved = base ? [...sources, base] : sources;
  // Plan: fails here, before anything is written, on any platform or format problem.
  const plan = planIndex(run, resolved);
  // require-attestations: every image has each kind asked for, or the step fails before any write
  // (reads only: checked beside the reads below, awaited before the first write or the dry run's report)
  const gating = checkRequiredAttestations(run, plan);
  gating.catch(() => undefined);
  const targets = planTargets(
    plan,
    run.request.tags.map((t) => ({ registry: t.registry, repository: t.repository, tag: t.tag ?? 'latest' })),
  );
  const tags = targets.flatMap((t) => t.tags.map((tag) => ({ repository: t.repository, tag })));
  // What each tag holds now, to put it back if a later tag is refused: read beside the transfer.
  const previous = run.request.push ? readPrevious(run, tags) : undefined;
  // The children's referrers: looked for from now on, beside the transfer; only their copy waits for them.
  const discovery = discoverReferrers(run, plan, targets);
  // For each target repository: what must be brought in (child manifests and their blobs).
  const reading = Promise.all([discovery, gating]);
  reading.catch(() => undefined); // its failure is reported where each part is awaited
  const transfers = await settledFirst(
    reading,
    mapLimit(targets, run.concurrency, (target) => planTargetTransfer(run, target)),
  );
  const reports = transfers.map((t) => t.report);
  const gate = await gating;
  if (!run.request.push) {
    const referrers = referrersFor(transfers, await discovery);
    return withCleanup(run, withGate(dryRun(run, plan, resolved, reports), gate), { plan, resolved, referrers });
  }

  // Blobs, then child manifests, in every target; only then any tag (a failure leaves tags untouched).
  await settledFirst(
    discovery,
    inGroup(run.logger, 'Copy blobs and child manifests', () => transferAll(run, transfers)),
  );
  const referrers = referrersFor(transfers, await discovery);
  await copyAllReferrers(run, transfers, referrers);
  const signing = await signBeforeTags(run, plan, targets, resolved);
  const outcome = await inGroup(run.logger, 'Push and verify tags', () =>
    tagAndVerify(run, { plan, targets, tags, previous, base, resolved, reports, indexInTargets: signing !== undefined }),
  );
  const signed = signing && outcome.kind === 'done' ? { ...outcome, result: { ...outcome.result, signing } } : outcome;
  return withCleanup(run, withGate(signed, gate), { plan, resolved, referrers });
}

/** `require-attestations`: what was found for each image goes into the result. */
function withGate(outcome: Outcome, gate: AttestationGateReport | undefined): Outcome {
  return outcome.kind === 'done' && gate ? { kind: 'done', result: { ...outcome.result, attestationGate: gate } } : outcome;
}

/**
 * `sign` / `attest`: the index by digest in every target, then signed and attested there (sign/,
 * loaded only now), all before any tag: a merge asked to sign never tags an unsigned index.
 */
async function signBeforeTags(run: MergeRun, plan: MergePlan, targets: TargetPlan[], resolved: ResolvedSource[]) {
  if (!run.request.sign && !run.request.attest) return undefined;
  await mapLimit(targets, run.concurrency, (t) => pushIndex(run, t.repository, plan.digest, plan));
  const { signAndAttest } = await import('./sign/index.js');
  return signAndAttest(run, plan, targets, resolved);
}

/** `cleanup-sources`: once the tags hold the index (read back), the source tags go (cleanup.ts; never fails the merge). */
async function withCleanup(run: MergeRun, outcome: Outcome, input: CleanupInput): Promise<Outcome> {
  if (outcome.kind !== 'done' || !run.request.cleanupSources) return outcome;
  const cleanup = await inGroup(run.logger, 'Clean up source tags', () => cleanupSources(run, input));
  return { kind: 'done', result: { ...outcome.result, cleanup } };
}

/** The plan of the index, with a line for each attestation left dangling and each entry dropped. */
function planIndex({ request, logger }: MergeRun, resolved: ResolvedSource[]): MergePlan {
  const plan = planMerge(resolved, {
    attestations: request.attestations,
    format: request.format,
    expectedPlatforms: request.platforms,
    annotations: request.annotations,
    danglingAttestations: request.danglingAttestations,
    artifactType: request.artifactType,
  });
  for (const d of plan.dangling) {
    const fate = d.kept
      ? 'kept, linked to nothing (dangling-attestations: keep)'
      : request.attestations === 'referrers'
        ? 'dropped (attestations: referrers needs an image to refer to)'
        : 'dropped (dangling-attestations: drop)';
    logger.warning(
      `Attestation ${d.entry.descriptor.digest} in ${d.entry.sourceInput} describes ${d.missing ? `image ${sanitizeLine(d.missing)}, which is not in that index` : 'no image (it has no vnd.docker.reference.digest)'}: ${fate}`,
    );
  }
  logger.info(
    `Index ${plan.digest} (${plan.mediaType}, ${plan.formatReason}): ${plan.entries.length} manifests, platforms ${plan.platforms.join(', ')}`,
  );
  const dangling = new Set(plan.dangling.map((d) => d.entry));
  for (const d of plan.dropped.filter((e) => !dangling.has(e)))
    logger.info(
      `Dropped ${d.kind} ${d.descriptor.digest}${d.subject ? ` (describes ${sanitizeLine(d.subject)})` : ''} from ${d.sourceInput}`,
    );
  return plan;
}

/** `push: false`: says what each target would get, writes nothing. */
function dryRun(run: MergeRun, plan: MergePlan, resolved: ResolvedSource[], reports: TargetReport[]): Outcome {
  for (const report of reports) for (const line of report.actions) run.logger.info(`[dry run] ${report.repository}: ${line}`);
  return { kind: 'done', result: result(run, plan, resolved, reports, false) };
}

interface Written {
  plan: MergePlan;
  targets: TargetPlan[];
  /** every tag of every target */
  tags: TagTarget[];
  /** what each tag held, being read (none for a single tag) */
  previous?: Promise<PreviousTags>;
  base?: ResolvedSource;
  resolved: ResolvedSource[];
  reports: TargetReport[];
  /** the index is in every target by digest already (signBeforeTags put it there) */
  indexInTargets: boolean;
}

/**
 * The index under every tag, then read back. For an append: one last look at the tag before
 * writing, and one more read after a pause; a change either time is a lost race, not a failure.
 * A tag refused after others moved puts those back (restore.ts).
 */
async function tagAndVerify(
  run: MergeRun,
  { plan, targets, tags: tagTargets, previous, base, resolved, reports, indexInTargets }: Written,
): Promise<Outcome> {
  const { request, client, concurrency, logger, retry } = run;
  const first = { repository: repositoryOf(request.tags[0]), tag: request.tags[0].tag ?? 'latest' };
  let now: ManifestHead | undefined;
  if (request.append) {
    // Last look before writing: a job that pushed since the base was read would be overwritten.
    now = await client.headManifest(first.repository, first.tag);
    if ((now?.digest ?? undefined) !== base?.digest)
      return { kind: 'conflict', why: `it is ${now ? now.digest : 'gone'}, not ${base?.digest ?? 'absent'} as read` };
  }
  const [before] = await Promise.all([
    // read beside the transfer: done by now; a tag that could not be read fails the step before any tag moves
    previous,
    // Several target repositories: the index goes to each by digest first, so that one that
    // refuses it (a registry without OCI indexes, a missing permission) fails the step before
    // any tag anywhere has moved. One target needs no such step: its first tag PUT is that test.
    // Signing put it there already.
    targets.length > 1 && !indexInTargets
      ? mapLimit(targets, concurrency, (t) => pushIndex(run, t.repository, plan.digest, plan))
      : undefined,
  ]);
  // the append's last look is the latest word on what its first tag held
  if (before && request.append) before.set(`${formatRepository(first.repository)}:${first.tag}`, now);
  await writeTags(run, tagTargets, before, plan.digest, async ({ repository, tag }) => {
    const digest = await pushIndex(run, repository, tag, plan);
    logger.info(`Pushed ${formatRepository(repository)}:${tag}@${digest}`);
  });
  const readBack = await mapLimit(tagTargets, concurrency, async ({ repository, tag }) => ({
    repository,
    tag,
    head: await client.headManifest(repository, tag),
  }));
  const lost = readBack.find((r) => r.head?.digest !== plan.digest);
  if (lost) {
    const what = `${formatRepository(lost.repository)}:${lost.tag} read back as ${lost.head ? lost.head.digest : 'no manifest'}, not ${plan.digest}`;
    if (request.append && sameRepository(lost.repository, first.repository) && lost.tag === first.tag)
      return { kind: 'conflict', why: what };
    throw new VerifyError(`Read-back failed: ${what}`, {
      registry: lost.repository.registry,
      repository: lost.repository.repository,
      reference: lost.tag,
      hint: "Another job pushed the same tag at the same time, and this run's index is not what the tag holds. Give each job its own tag, or run them one at a time (a `concurrency:` group), then {rerun}",
    });
  }
  if (request.append) {
    // A job that read the tag just before this run pushed may land its push just after our read-back.
    await retry.sleep(retry.settleMs);
    const later = await client.headManifest(first.repository, first.tag);
    if (later?.digest !== plan.digest)
      return { kind: 'conflict', why: `read again after ${retry.settleMs} ms it is ${later ? later.digest : 'gone'}` };
  }
  return { kind: 'done', result: result(run, plan, resolved, reports, true) };
}

async function readBase(run: EngineRun, tag: ImageReference): Promise<ResolvedSource | undefined> {
  const base = await resolveAppendBase(run, tag);
  if (base) run.logger.info(`Appending to ${base.input} (${base.digest}, ${base.entries.length} entries)`);
  else run.logger.info(`${formatReference(tag)} does not exist yet: append is a plain merge`);
  return base;
}

function result(
  { request, client }: MergeRun,
  plan: MergePlan,
  sources: ResolvedSource[],
  targets: TargetReport[],
  pushed: boolean,
): MergeResult {
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

/** A tag that is also a source (by tag) is overwritten by the index: say so, once per tag. */
function warnTagsThatAreSources(request: MergeRequest, logger: Logger): void {
  for (const tag of request.tags) {
    const name = tag.tag ?? 'latest';
    if (request.sources.some((s) => !s.digest && sameRepository(s, tag) && (s.tag ?? 'latest') === name)) {
      logger.warning(
        `${formatReference({ ...tag, tag: name })} is both a source and a tag: the merged index replaces the image it points at now`,
      );
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
