// Bounded parallelism: registries and runners both suffer from unbounded fan-out. One primitive,
// the Limiter; mapLimit is a Limiter over a list.

/**
 * Control requests (manifest GET/PUT/HEAD, blob HEAD, mount POST, upload sessions of small blobs)
 * one merge keeps in flight, and connections per registry origin, unless told otherwise: the one
 * default every layer takes (engine steps, the caching client's look-ahead, inspect, the registry
 * client's connection pool). Each is a small request the registry answers from its metadata; they
 * are bounded so that one merge stays a burst a registry's rate limit tolerates (docs/performance.md),
 * not split into rounds: the 48 mounts and 16 referrer reads of 8 buildx platforms go out together.
 */
export const DEFAULT_CONCURRENCY = 64;

/**
 * Streamed blob copies (blobs over 1 MiB, read from one registry and written to another) one
 * registry client keeps in flight: each holds a source stream, an upload and a hash, and 8 fill a
 * runner's link; more only split the same bandwidth.
 */
export const STREAM_CONCURRENCY = 8;

/** Runs at most `limit` calls at once; waiting calls start in the order they were made. */
export class Limiter {
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= Math.max(1, this.limit)) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}

/**
 * Maps `items` through `fn` with at most `limit` calls in flight; results keep input order. Fails
 * fast: after the first error no new call starts, and the first error is thrown once the calls
 * in flight have settled (so nothing keeps running behind the caller's back).
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const limiter = new Limiter(limit);
  let failure: { error: unknown } | undefined;
  const results = new Array<R>(items.length);
  await Promise.all(
    items.map((item, index) =>
      limiter.run(async () => {
        if (failure) return;
        try {
          results[index] = await fn(item, index);
        } catch (error) {
          failure ??= { error };
        }
      }),
    ),
  );
  if (failure) throw failure.error;
  return results;
}

/** Runs `fn` once per distinct key; later callers with the same key share the first call's promise. */
export class OnceByKey<R> {
  private readonly calls = new Map<string, Promise<R>>();

  run(key: string, fn: () => Promise<R>): Promise<R> {
    let call = this.calls.get(key);
    if (!call) {
      call = fn();
      this.calls.set(key, call);
    }
    return call;
  }

  /** The call made for `key`, if any (nothing is started). */
  peek(key: string): Promise<R> | undefined {
    return this.calls.get(key);
  }

  /** Records a known answer (a later `run` with `key` gets it without calling). */
  set(key: string, value: R): void {
    this.calls.set(key, Promise.resolve(value));
  }

  /** Forgets `key` (a failed call, so that a later one asks again). */
  forget(key: string, call?: Promise<R>): void {
    if (call === undefined || this.calls.get(key) === call) this.calls.delete(key);
  }
}
