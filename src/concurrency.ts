// Bounded parallelism: registries and runners both suffer from unbounded fan-out.

/** Maps `items` through `fn` with at most `limit` calls in flight; results keep input order. Fails fast on the first error (after in-flight calls settle). */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  let firstError: unknown;
  async function worker(): Promise<void> {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index], index);
      } catch (error) {
        if (!failed) firstError = error;
        failed = true;
      }
    }
  }
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, () => worker());
  await Promise.all(workers);
  if (failed) throw firstError;
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
}
