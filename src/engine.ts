// resolve -> plan -> transfer -> push -> verify. Takes a client and a logger, so the action,
// the CLI and the tests drive the same code.
import { mapLimit, OnceByKey } from './concurrency.js';
import { HttpError, InputError, UnsupportedMediaTypeError, VerifyError } from './errors.js';
import type { Logger } from './logger.js';
import { type Descriptor, type ImageManifest, type ParsedManifest, isIndexMediaType, parseManifest } from './oci.js';
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
import type { BlobTransfer, FetchedManifest, RegistryClient, RequestStats, Scope } from './registry/types.js';

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

export async function runMerge(request: MergeRequest, client: RegistryClient, logger: Logger): Promise<MergeResult> {
  const concurrency = request.concurrency ?? 8;
  if (request.sources.length === 0) throw new InputError('`sources` is empty', { hint: 'List at least one image to merge' });
  if (request.tags.length === 0) throw new InputError('`tags` is empty', { hint: 'List at least one tag to push the index to' });
  declareScopes(request, client);

  // 1. Resolve every source (and the index an append merges into), all in parallel.
  const reader = new ManifestReader(client);
  const resolved = await mapLimit(request.sources, concurrency, (ref) => resolveSource(ref, formatReference(ref), reader, concurrency));
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
  const transfers = await mapLimit(targets, concurrency, (target) => planTargetTransfer(target, reader, client, concurrency));
  const reports = transfers.map((t) => t.report);

  if (!request.push) {
    for (const report of reports) for (const line of report.actions) logger.info(`[dry run] ${report.repository}: ${line}`);
    return result(plan, resolved, reports, request, false, client);
  }

  // 4. Blobs, then child manifests, in every target; only then any tag (a failure leaves tags untouched).
  await mapLimit(transfers, concurrency, (t) => transferBlobs(t, client, concurrency, logger));
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
    let parsed: unknown;
    try {
      parsed = JSON.parse(config.toString('utf8'));
    } catch (cause) {
      throw new UnsupportedMediaTypeError(`${label}: config blob ${image.config.digest} is not JSON`, { cause });
    }
    return platformFromConfig(parsed, label);
  }
}

async function resolveSource(ref: ImageReference, input: string, reader: ManifestReader, concurrency: number): Promise<ResolvedSource> {
  const repository = { registry: ref.registry, repository: ref.repository };
  const top = await reader.read(repository, manifestReference(ref), input);
  reader.alias(repository, top);
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
  blobs: BlobTransferPlan[];
  report: TargetReport;
}

/**
 * Lists what `target` needs. Within one registry nothing is asked of the target: mounts of
 * blobs already there are no-ops. Across registries each child is first HEADed in the target
 * (present: its blobs are skipped), then each missing child's blobs are HEADed before copying.
 */
async function planTargetTransfer(target: TargetPlan, reader: ManifestReader, client: RegistryClient, concurrency: number): Promise<TargetTransfer> {
  const report: TargetReport = {
    repository: formatRepository(target.repository),
    tags: target.tags,
    blobs: { mounted: 0, copied: 0, existing: 0 },
    manifestsPushed: 0,
    manifestsExisting: 0,
    actions: [],
  };
  const needed = await mapLimit(target.manifests, concurrency, async (entry) => {
    if (entry.source.registry !== target.repository.registry) {
      const head = await client.headManifest(target.repository, entry.descriptor.digest);
      if (head) return undefined;
    }
    return entry;
  });
  const children: TargetTransfer['children'] = [];
  const blobs: BlobTransferPlan[] = [];
  const seen = new Set<string>();
  for (const entry of needed) {
    if (!entry) {
      report.manifestsExisting++;
      continue;
    }
    const { fetched, parsed } = await reader.read(entry.source, entry.descriptor.digest, `${entry.sourceInput} > ${entry.descriptor.digest}`);
    if (parsed.kind !== 'image') throw new UnsupportedMediaTypeError(`${entry.sourceInput}: child ${entry.descriptor.digest} is an index; nested indexes cannot be copied`);
    children.push({ entry, fetched });
    blobs.push(...planBlobs(parsed.image!, entry.source, target.repository, seen));
  }
  for (const b of blobs) report.actions.push(`${b.method} blob ${b.descriptor.digest} (${b.descriptor.size} bytes) from ${formatRepository(b.from)}`);
  for (const c of children) report.actions.push(`put ${c.entry.kind} manifest ${c.fetched.digest}${c.entry.platform ? ` (${c.entry.platform})` : ''}`);
  for (const tag of target.tags) report.actions.push(`put index under tag ${tag}`);
  return { target, children, blobs, report };
}

async function transferBlobs(transfer: TargetTransfer, client: RegistryClient, concurrency: number, logger: Logger): Promise<void> {
  const to = transfer.target.repository;
  await mapLimit(transfer.blobs, concurrency, async (blob) => {
    let outcome: BlobTransfer;
    if (blob.method === 'mount') {
      outcome = await client.mountBlob(to, blob.from, blob.descriptor);
    } else if (await client.hasBlob(to, blob.descriptor.digest)) {
      outcome = 'exists';
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
