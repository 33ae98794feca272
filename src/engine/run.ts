// One merge run: what its steps share, built once and handed to each of them instead of a long
// list of parameters (go-containerregistry's remote/write.go keeps its client and options in one
// `writer` the same way). The caching client (engine policy: look-ahead, shared small blobs),
// the logger, the bound on requests in flight, the referrer finder (what it found is shared by
// every target and every attempt of an append), the request and how an append retries.
import { DEFAULT_CONCURRENCY } from '../base/concurrency.js';
import type { Logger } from '../base/logger.js';
import { type RepositoryRef, formatRepository } from '../oci/reference.js';
import type { RegistryClient } from '../registry/client-types.js';
import { CachingClient } from './caching-client.js';
import type { MergeRequest, SigningSettings } from './model.js';
import { ReferrerFinder } from './referrer-finder.js';
import type { Reader } from './resolve.js';

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
  /** `sign` / `attest`: the identity and the Sigstore to use */
  signing?: SigningSettings;
}

/** What the steps that read sources and write into targets share. */
export interface EngineRun extends Reader {
  /** every request of the run goes through it: asking twice costs nothing */
  readonly client: CachingClient;
  readonly logger: Logger;
}

/** One merge: the steps' shared part, and what only the merge's own steps need. */
export interface MergeRun extends EngineRun {
  readonly request: MergeRequest;
  /** referrers of the children, found once per source repository and subject */
  readonly referrers: ReferrerFinder;
  readonly retry: Required<AppendRetry>;
  readonly signing?: SigningSettings;
}

/** The run of `request` on `client`: one caching client (looking ahead to the targets), one finder. */
export function startMerge(request: MergeRequest, client: RegistryClient, logger: Logger, options: EngineOptions = {}): MergeRun {
  const concurrency = request.concurrency ?? DEFAULT_CONCURRENCY;
  const lookAhead = { targets: uniqueRepositories(request.tags), nonImages: request.attestations !== 'strip' };
  const steps: EngineRun = { client: new CachingClient(client, { concurrency, lookAhead }), logger, concurrency };
  return {
    ...steps,
    request,
    referrers: new ReferrerFinder(steps),
    retry: appendRetry(options.appendRetry),
    ...(options.signing ? { signing: options.signing } : {}),
  };
}

/** The same run reading without look-ahead: for the index an append merges into, whose children the plan may drop. */
export function withoutLookAhead<R extends EngineRun>(run: R): R {
  return { ...run, client: run.client.withoutLookAhead() };
}

export function appendRetry(options: AppendRetry = {}): Required<AppendRetry> {
  return {
    attempts: Math.max(1, options.attempts ?? 5),
    backoffMs: options.backoffMs ?? 200,
    settleMs: options.settleMs ?? 100,
    sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    random: options.random ?? Math.random,
  };
}

export function repositoryOf(ref: RepositoryRef): RepositoryRef {
  return { registry: ref.registry, repository: ref.repository };
}

function uniqueRepositories(refs: RepositoryRef[]): RepositoryRef[] {
  return [...new Map(refs.map((r) => [formatRepository(r), repositoryOf(r)])).values()];
}
