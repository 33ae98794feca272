// resolve -> plan -> transfer -> push -> verify. Takes a client and a logger, so the action,
// the CLI and the tests drive the same code.
import { mapLimit, OnceByKey } from './concurrency.js';
import { HttpError, InputError, UnsupportedMediaTypeError, VerifyError } from './errors.js';
import type { Logger } from './logger.js';
import { type Descriptor, type ImageManifest, type ParsedManifest, blobsOf, isIndexMediaType, parseManifest } from './oci.js';
import type { Platform } from './platform.js';
import {
  type Annotations,
  type AttestationMode,
  type BlobTransferPlan,
  type MergePlan,
  type OutputFormat,
  type PlannedEntry,
  type ResolvedSource,
  type SourceEntry,
  type TargetPlan,
  classifyIndexEntry,
  planBlobs,
  planMerge,
  planTargets,
  platformFromConfig,
} from './plan.js';
import { type ImageReference, type RepositoryRef, formatReference, formatRepository, manifestReference } from './reference.js';
import type { BlobTransfer, FetchedManifest, ManifestHead, RegistryClient, RequestStats, Scope } from './registry/types.js';

export interface MergeRequest {
  sources: ImageReference[];
  /** targets: tags only (a digest cannot be a target) */
  tags: ImageReference[];
  platforms?: Platform[];
  attestations: AttestationMode;
  format: OutputFormat;
  push: boolean;
  append?: boolean;
  annotations?: Annotations;
  /** parallel requests (default 8) */
  concurrency?: number;
}

export interface TargetReport {
  repository: string;
  tags: string[];
  blobs: { mounted: number; copied: number; existing: number };
  manifestsPushed: number;
  manifestsExisting: number;
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
}

const MAX_NESTED_INDEX_DEPTH = 4;
/** Blobs up to this size that several targets on other registries need are read once, and uploaded from memory. */
const SHARED_BLOB_BYTES = 1024 * 1024;
/**
 * Blobs smaller than this go to another registry without asking first whether it has them: asking
 * costs a request and a round trip, uploading one at most two requests and this many bytes (and a
 * fresh target, the usual case, has none of them). A child already there is never uploaded again.
 */
const ASK_BLOB_BYTES = 64 * 1024;

export async function runMerge(request: MergeRequest, client: RegistryClient, logger: Logger): Promise<MergeResult> {
  const concurrency = request.concurrency ?? 8;
  if (request.sources.length === 0) throw new InputError('`sources` is empty', { hint: 'List at least one image to merge' });
  if (request.tags.length === 0) throw new InputError('`tags` is empty', { hint: 'List at least one tag to push the index to' });
  declareScopes(request, client);

  // 1. Resolve every source (and the index an append merges into), all in parallel. As soon as a
  //    child manifest is known, what another registry's target will be asked about it (is the child
  //    there? which of its blobs?) is asked too: reads only, nothing is written before the plan.
  const reader = new ManifestReader(client);
  const probes = new TargetProbes(client, reader, concurrency);
  const probe = earlyProbes(request, probes);
  const resolved = await mapLimit(request.sources, concurrency, async (ref) => {
    const source = await resolveSource(ref, formatReference(ref), reader, concurrency, probe);
    for (const entry of source.entries) probe(source.repository, entry.descriptor, `${source.input} > ${entry.descriptor.digest}`, entry.kind);
    return source;
  });
  if (request.append) {
    const base = await resolveAppendBase(request.tags[0], reader, concurrency, logger);
    if (base) resolved.push(base);
  }

  // 2. Plan: fails here, before anything is written, on any platform or format problem.
  const plan = planMerge(resolved, { attestations: request.attestations, format: request.format, expectedPlatforms: request.platforms, annotations: request.annotations });
  logger.info(`Index ${plan.digest} (${plan.mediaType}, ${plan.formatReason}): ${plan.entries.length} manifests, platforms ${plan.platforms.join(', ')}`);
  for (const d of plan.dropped) logger.info(`Dropped ${d.kind} ${d.descriptor.digest}${d.subject ? ` (describes ${d.subject})` : ''} from ${d.sourceInput}`);

  const targets = planTargets(plan, request.tags.map((t) => ({ registry: t.registry, repository: t.repository, tag: t.tag ?? 'latest' })));

  // 3. For each target repository: what must be brought in (child manifests and their blobs).
  const transfers = await mapLimit(targets, concurrency, (target) => planTargetTransfer(target, reader, probes, concurrency));
  const reports = transfers.map((t) => t.report);

  if (!request.push) {
    for (const report of reports) for (const line of report.actions) logger.info(`[dry run] ${report.repository}: ${line}`);
    return result(plan, resolved, reports, request, false, client);
  }

  // 4. Blobs, then child manifests, in every target; only then any tag (a failure leaves tags untouched).
  const shared = new SharedBlobs(client, reader, transfers);
  await mapLimit(transfers, concurrency, (t) => transferBlobs(t, client, shared, concurrency, logger));
  await mapLimit(transfers, concurrency, (t) => pushChildren(t, client, concurrency));

  // 5. The index under each tag, then read each tag back.
  const tagTargets = targets.flatMap((t) => t.tags.map((tag) => ({ repository: t.repository, tag })));
  await mapLimit(tagTargets, concurrency, async ({ repository, tag }) => {
    const digest = await client.putManifest(repository, tag, { bytes: plan.bytes, mediaType: plan.mediaType });
    logger.info(`Pushed ${formatRepository(repository)}:${tag}@${digest}`);
  });
  await mapLimit(tagTargets, concurrency, async ({ repository, tag }) => {
    const head = await client.headManifest(repository, tag);
    if (!head || head.digest !== plan.digest) {
      throw new VerifyError(`Read-back of ${formatRepository(repository)}:${tag} gave ${head ? head.digest : 'no manifest'}, expected ${plan.digest}`, {
        hint: 'Another job may have pushed the same tag at the same time; re-run the merge',
      });
    }
  });
  return result(plan, resolved, reports, request, true, client);
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

/** One token per registry: every source repository with pull, every target with pull,push. */
function declareScopes(request: MergeRequest, client: RegistryClient): void {
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

/** Fetches each manifest once per (repository, digest), parsing and caching it. */
class ManifestReader {
  private readonly once = new OnceByKey<{ fetched: FetchedManifest; parsed: ParsedManifest }>();
  /** config blobs read for their platform, by `repository@digest`: a copy to another registry reuses them */
  readonly configs = new Map<string, Buffer>();

  constructor(private readonly client: RegistryClient) {}

  read(repository: RepositoryRef, reference: string, label: string): Promise<{ fetched: FetchedManifest; parsed: ParsedManifest }> {
    return this.once.run(`${formatRepository(repository)}@${reference}`, async () => {
      const fetched = await this.client.fetchManifest(repository, reference);
      return { fetched, parsed: parseManifest(fetched.bytes, fetched.mediaType, label) };
    });
  }

  /** Remembers a manifest read by tag under its digest as well. */
  alias(repository: RepositoryRef, value: { fetched: FetchedManifest; parsed: ParsedManifest }): void {
    void this.once.run(`${formatRepository(repository)}@${value.fetched.digest}`, async () => value);
  }

  async platformOf(repository: RepositoryRef, image: ImageManifest, label: string): Promise<Platform> {
    const config = await this.client.fetchBlob(repository, image.config);
    this.configs.set(`${formatRepository(repository)}@${image.config.digest}`, config);
    let parsed: unknown;
    try {
      parsed = JSON.parse(config.toString('utf8'));
    } catch (cause) {
      throw new UnsupportedMediaTypeError(`${label}: config blob ${image.config.digest} is not JSON`, { cause });
    }
    return platformFromConfig(parsed, label);
  }
}

/** Called with each child manifest as soon as it is known, before its source is fully resolved. */
type EarlyProbe = (source: RepositoryRef, descriptor: Descriptor, label: string, kind: SourceEntry['kind']) => void;

async function resolveSource(ref: ImageReference, input: string, reader: ManifestReader, concurrency: number, early?: EarlyProbe): Promise<ResolvedSource> {
  const repository = { registry: ref.registry, repository: ref.repository };
  const top = await reader.read(repository, manifestReference(ref), input);
  reader.alias(repository, top);
  // a bare image: its blobs are known before its config says which platform it is
  if (top.parsed.kind === 'image') early?.(repository, { mediaType: top.fetched.mediaType, digest: top.fetched.digest, size: top.fetched.size }, input, 'image');
  const entries = await entriesOf(top.parsed, top.fetched, repository, input, reader, concurrency, 0);
  return { input, repository, digest: top.fetched.digest, mediaType: top.fetched.mediaType, entries };
}

async function entriesOf(
  parsed: ParsedManifest,
  fetched: FetchedManifest,
  repository: RepositoryRef,
  label: string,
  reader: ManifestReader,
  concurrency: number,
  depth: number,
): Promise<SourceEntry[]> {
  if (parsed.kind === 'image') {
    const platform = await reader.platformOf(repository, parsed.image!, label);
    const descriptor: Descriptor = { mediaType: parsed.mediaType, digest: fetched.digest, size: fetched.size, platform };
    if (parsed.image!.artifactType) descriptor.artifactType = parsed.image!.artifactType;
    return [{ kind: 'image', descriptor, platform }];
  }
  const lists = await mapLimit(parsed.index!.manifests, concurrency, async (descriptor) => {
    const childLabel = `${label} > ${descriptor.digest}`;
    if (isIndexMediaType(descriptor.mediaType)) {
      // A nested index: flatten it (its children must be in the same repository).
      if (depth >= MAX_NESTED_INDEX_DEPTH) throw new UnsupportedMediaTypeError(`${childLabel}: indexes nested more than ${MAX_NESTED_INDEX_DEPTH} deep`);
      const child = await reader.read(repository, descriptor.digest, childLabel);
      return entriesOf(child.parsed, child.fetched, repository, childLabel, reader, concurrency, depth + 1);
    }
    const entry = classifyIndexEntry(descriptor);
    if (entry.kind === 'other' && isImageManifestEntryWithoutPlatform(descriptor)) {
      // An image listed without a platform: read it from its config.
      const child = await reader.read(repository, descriptor.digest, childLabel);
      if (child.parsed.kind === 'image') {
        const platform = await reader.platformOf(repository, child.parsed.image!, childLabel);
        return [{ kind: 'image' as const, descriptor: { ...descriptor, platform }, platform }];
      }
    }
    return [entry];
  });
  return lists.flat();
}

function isImageManifestEntryWithoutPlatform(descriptor: Descriptor): boolean {
  return !descriptor.platform && !descriptor.artifactType && (descriptor.mediaType === 'application/vnd.oci.image.manifest.v1+json' || descriptor.mediaType === 'application/vnd.docker.distribution.manifest.v2+json');
}

async function resolveAppendBase(tag: ImageReference, reader: ManifestReader, concurrency: number, logger: Logger): Promise<ResolvedSource | undefined> {
  const input = formatReference(tag);
  const repository = { registry: tag.registry, repository: tag.repository };
  let top: { fetched: FetchedManifest; parsed: ParsedManifest };
  try {
    top = await reader.read(repository, manifestReference(tag), input);
  } catch (error) {
    // Only the tag itself may be missing; a missing child of an existing index is an error.
    if (error instanceof HttpError && error.code === 'NOT_FOUND') {
      logger.info(`${input} does not exist yet: append is a plain merge`);
      return undefined;
    }
    throw error;
  }
  const base = await resolveSource(tag, input, reader, concurrency); // the read above is cached
  logger.info(`Appending to ${input} (${base.digest}, ${base.entries.length} entries)`);
  return { ...base, isBase: true, annotations: top.parsed.index?.annotations };
}

interface TargetTransfer {
  target: TargetPlan;
  /** child manifests to PUT by digest, with their bytes */
  children: Array<{ entry: PlannedEntry; fetched: FetchedManifest }>;
  /** `present`: found in the target already (across registries, where it was asked) */
  blobs: Array<BlobTransferPlan & { present: boolean }>;
  report: TargetReport;
}

/** Runs at most `limit` calls at once, in call order. */
class Limiter {
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}

/** Lets a promise fail unobserved (it is awaited, and its failure reported, where it is used). */
function quietly(promise: Promise<unknown>): void {
  promise.catch(() => undefined);
}

/**
 * What targets in other registries than a child's source hold already: the child (HEAD manifest)
 * and, in parallel, each of its blobs but the smallest (HEAD blob). Asked once per target and
 * digest, started as soon as the child is known so that the answers are in when the plan is; reads only.
 */
class TargetProbes {
  private readonly manifests = new OnceByKey<ManifestHead | undefined>();
  private readonly blobs = new OnceByKey<boolean>();
  /** one per registry, as the client's connections are */
  private readonly limiters = new Map<string, Limiter>();

  constructor(
    private readonly client: RegistryClient,
    private readonly reader: ManifestReader,
    private readonly concurrency: number,
  ) {}

  private limited<T>(registry: string, fn: () => Promise<T>): Promise<T> {
    let limiter = this.limiters.get(registry);
    if (!limiter) {
      limiter = new Limiter(this.concurrency);
      this.limiters.set(registry, limiter);
    }
    return limiter.run(fn);
  }

  manifest(target: RepositoryRef, digest: string): Promise<ManifestHead | undefined> {
    return this.manifests.run(`${formatRepository(target)}@${digest}`, () => this.limited(target.registry, () => this.client.headManifest(target, digest)));
  }

  blob(target: RepositoryRef, digest: string): Promise<boolean> {
    return this.blobs.run(`${formatRepository(target)}@${digest}`, () => this.limited(target.registry, () => this.client.hasBlob(target, digest)));
  }

  /** Starts, without waiting, every read `target` will need about the child `descriptor` of `source`. */
  start(target: RepositoryRef, source: RepositoryRef, descriptor: Descriptor, label: string): void {
    if (isIndexMediaType(descriptor.mediaType)) return;
    quietly(this.manifest(target, descriptor.digest));
    quietly(
      this.reader.read(source, descriptor.digest, label).then(({ parsed }) => {
        if (parsed.kind === 'image') for (const blob of blobsOf(parsed.image!)) if (blob.size >= ASK_BLOB_BYTES) quietly(this.blob(target, blob.digest));
      }),
    );
  }
}

/** The early probe of a request: each child, in each target repository on another registry, unless the plan will drop it. */
function earlyProbes(request: MergeRequest, probes: TargetProbes): EarlyProbe {
  const targets = new Map<string, RepositoryRef>();
  for (const t of request.tags) targets.set(formatRepository(t), { registry: t.registry, repository: t.repository });
  return (source, descriptor, label, kind) => {
    if (kind !== 'image' && request.attestations === 'strip') return;
    for (const target of targets.values()) if (target.registry !== source.registry) probes.start(target, source, descriptor, label);
  };
}

/**
 * Lists what `target` needs. Within one registry nothing is asked of the target: mounts of
 * blobs already there are no-ops. Across registries each child is HEADed in the target (present:
 * nothing to do for it) and, in parallel, each of its blobs of 64 KiB or more (present: not copied);
 * see TargetProbes.
 */
async function planTargetTransfer(target: TargetPlan, reader: ManifestReader, probes: TargetProbes, concurrency: number): Promise<TargetTransfer> {
  const report: TargetReport = {
    repository: formatRepository(target.repository),
    tags: target.tags,
    blobs: { mounted: 0, copied: 0, existing: 0 },
    manifestsPushed: 0,
    manifestsExisting: 0,
    actions: [],
  };
  const to = target.repository;
  const needed = await mapLimit(target.manifests, concurrency, async (entry) => {
    const label = `${entry.sourceInput} > ${entry.descriptor.digest}`;
    if (entry.source.registry !== to.registry) {
      probes.start(to, entry.source, entry.descriptor, label); // started already unless the plan kept what early probes skipped
      if (await probes.manifest(to, entry.descriptor.digest)) return undefined;
    }
    const child = await reader.read(entry.source, entry.descriptor.digest, label);
    return { entry, ...child };
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
    children.push({ entry, fetched });
    planned.push(...planBlobs(parsed.image!, entry.source, to, seen));
  }
  const ask = (b: BlobTransferPlan) => b.method === 'copy' && b.descriptor.size >= ASK_BLOB_BYTES;
  const blobs = await mapLimit(planned, concurrency, async (b) => ({ ...b, present: ask(b) && (await probes.blob(to, b.descriptor.digest)) }));
  for (const b of blobs) report.actions.push(`${b.method} blob ${b.descriptor.digest} (${b.descriptor.size} bytes) from ${formatRepository(b.from)}`);
  for (const c of children) report.actions.push(`put ${c.entry.kind} manifest ${c.fetched.digest}${c.entry.platform ? ` (${c.entry.platform})` : ''}`);
  for (const tag of target.tags) report.actions.push(`put index under tag ${tag}`);
  return { target, children, blobs, report };
}

/**
 * Blobs going to other registries that are uploaded from memory rather than streamed: configs,
 * read already for their platform, and small blobs that several targets need, read once. Their
 * bytes are let go after their last upload.
 */
class SharedBlobs {
  /** uploads still to come, of each blob uploaded from memory */
  private readonly uses = new Map<string, number>();
  private readonly bytes = new Map<string, Promise<Buffer>>();

  constructor(
    private readonly client: RegistryClient,
    private readonly reader: ManifestReader,
    transfers: TargetTransfer[],
  ) {
    const copies = transfers.flatMap((t) => t.blobs.filter((b) => b.method === 'copy' && !b.present));
    for (const b of copies) {
      const key = SharedBlobs.key(b.from, b.descriptor);
      this.uses.set(key, (this.uses.get(key) ?? 0) + 1);
    }
    for (const b of copies) {
      const key = SharedBlobs.key(b.from, b.descriptor);
      if (!reader.configs.has(key) && !(b.descriptor.size <= SHARED_BLOB_BYTES && (this.uses.get(key) ?? 0) > 1)) this.uses.delete(key);
    }
  }

  /** Whether `blob` is uploaded from memory (else it is streamed from its source, once per target). */
  shares(blob: TargetTransfer['blobs'][number]): boolean {
    return blob.method === 'copy' && !blob.present && this.uses.has(SharedBlobs.key(blob.from, blob.descriptor));
  }

  private static key(from: RepositoryRef, descriptor: Descriptor): string {
    return `${formatRepository(from)}@${descriptor.digest}`;
  }

  /** The bytes, for one upload (a retry of that upload may ask again). */
  get(from: RepositoryRef, descriptor: Descriptor): Promise<Buffer> {
    const key = SharedBlobs.key(from, descriptor);
    let pending = this.bytes.get(key);
    if (!pending) {
      const config = this.reader.configs.get(key);
      pending = config ? Promise.resolve(config) : this.client.fetchBlob(from, descriptor, SHARED_BLOB_BYTES);
      this.bytes.set(key, pending);
      // a failed read is not kept: a retried upload reads again
      const failed = pending;
      failed.catch(() => {
        if (this.bytes.get(key) === failed) this.bytes.delete(key);
      });
    }
    return pending;
  }

  /** One upload of the blob is done; after the last one its bytes are let go. */
  done(from: RepositoryRef, descriptor: Descriptor): void {
    const key = SharedBlobs.key(from, descriptor);
    const left = (this.uses.get(key) ?? 1) - 1;
    this.uses.set(key, left);
    if (left <= 0) this.bytes.delete(key);
  }
}

async function transferBlobs(transfer: TargetTransfer, client: RegistryClient, shared: SharedBlobs, concurrency: number, logger: Logger): Promise<void> {
  const to = transfer.target.repository;
  await mapLimit(transfer.blobs, concurrency, async (blob) => {
    let outcome: BlobTransfer;
    if (blob.present) {
      outcome = 'exists';
    } else if (blob.method === 'mount') {
      outcome = await client.mountBlob(to, blob.from, blob.descriptor);
    } else if (shared.shares(blob)) {
      try {
        outcome = await client.uploadBlob(blob.from, to, blob.descriptor, () => shared.get(blob.from, blob.descriptor));
      } finally {
        shared.done(blob.from, blob.descriptor);
      }
    } else {
      outcome = await client.copyBlob(blob.from, to, blob.descriptor);
    }
    if (outcome === 'mounted') transfer.report.blobs.mounted++;
    else if (outcome === 'copied') transfer.report.blobs.copied++;
    else transfer.report.blobs.existing++;
    logger.debug(`${formatRepository(to)}: ${outcome} ${blob.descriptor.digest} from ${formatRepository(blob.from)}`);
  });
}

async function pushChildren(transfer: TargetTransfer, client: RegistryClient, concurrency: number): Promise<void> {
  await mapLimit(transfer.children, concurrency, async ({ fetched }) => {
    await client.putManifest(transfer.target.repository, fetched.digest, { bytes: fetched.bytes, mediaType: fetched.mediaType });
    transfer.report.manifestsPushed++;
  });
}
