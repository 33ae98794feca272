// Bounded parallelism (src/base/concurrency.ts): never more than the limit in flight, waiting
// calls in the order they were made, results in input order, the first error after the calls in
// flight have settled; and one call per key.
import { describe, expect, it, jest } from '@jest/globals';
import { DEFAULT_CONCURRENCY, Limiter, OnceByKey, mapLimit } from '../../src/base/concurrency.js';

/** A promise and the functions that settle it, for tests that decide when work ends. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise callback run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('DEFAULT_CONCURRENCY', () => {
  it('is the one default every layer takes: 64 control requests in flight (docs/performance.md says why)', () => {
    expect(DEFAULT_CONCURRENCY).toBe(64);
  });
});

describe('mapLimit', () => {
  it.each<[string, number, number, number]>([
    ['more items than the limit', 10, 3, 3],
    ['one at a time', 5, 1, 1],
    ['fewer items than the limit', 3, 8, 3],
    ['the default limit over many requests', 3 * DEFAULT_CONCURRENCY, DEFAULT_CONCURRENCY, DEFAULT_CONCURRENCY],
    ['a limit of 0 still runs one at a time', 4, 0, 1],
    ['a negative limit still runs one at a time', 4, -2, 1],
  ])('%s: %i items, limit %i, at most %i in flight', async (_name, count, limit, most) => {
    let active = 0;
    let peak = 0;
    const results = await mapLimit(range(count), limit, async (item, index) => {
      active++;
      peak = Math.max(peak, active);
      await settle();
      active--;
      return `${item}@${index}`;
    });
    expect(peak).toBe(most);
    expect(results).toEqual(range(count).map((i) => `${i}@${i}`));
  });

  it('keeps input order when calls finish in reverse', async () => {
    const finished: number[] = [];
    const results = await mapLimit([0, 1, 2, 3], 4, async (item) => {
      await new Promise((resolve) => setTimeout(resolve, (4 - item) * 5));
      finished.push(item);
      return item * 10;
    });
    expect(finished).toEqual([3, 2, 1, 0]);
    expect(results).toEqual([0, 10, 20, 30]);
  });

  it('maps an empty list to an empty list without calling', async () => {
    const fn = jest.fn(async (item: number) => item);
    await expect(mapLimit([], 3, fn)).resolves.toEqual([]);
    expect(fn).not.toHaveBeenCalled();
  });

  it('fails fast: the first error, thrown once the calls in flight have settled; nothing new starts', async () => {
    const started: number[] = [];
    const slow = deferred();
    let settled = false;
    const run = mapLimit([0, 1, 2, 3], 2, async (item) => {
      started.push(item);
      if (item === 0) throw new Error('first');
      if (item === 1) {
        await slow.promise;
        throw new Error('second');
      }
      return item;
    });
    run.then(
      () => (settled = true),
      () => (settled = true),
    );
    await settle();
    await settle();
    // item 1 is still in flight: the caller is not told yet, so nothing runs behind its back
    expect(settled).toBe(false);
    slow.resolve();
    await expect(run).rejects.toThrow('first');
    expect(started).toEqual([0, 1]);
  });
});

describe('Limiter', () => {
  it('starts waiting calls in the order they were made', async () => {
    const limiter = new Limiter(1);
    const gate = deferred();
    const order: string[] = [];
    const first = limiter.run(async () => {
      order.push('a');
      await gate.promise;
    });
    const rest = ['b', 'c', 'd'].map((name) => limiter.run(async () => void order.push(name)));
    await settle();
    expect(order).toEqual(['a']);
    gate.resolve();
    await Promise.all([first, ...rest]);
    expect(order).toEqual(['a', 'b', 'c', 'd']);
  });

  it('frees the slot of a call that failed, and passes its error on', async () => {
    const limiter = new Limiter(1);
    const failure = new Error('boom');
    await expect(limiter.run(async () => Promise.reject(failure))).rejects.toBe(failure);
    await expect(limiter.run(async () => 'next')).resolves.toBe('next');
  });
});

describe('OnceByKey', () => {
  it('runs once per key; later callers share the first call', async () => {
    const once = new OnceByKey<string>();
    const fn = jest.fn(async () => 'manifest');
    const [a, b] = [once.run('ghcr.io/acme/app:1', fn), once.run('ghcr.io/acme/app:1', fn)];
    expect(a).toBe(b);
    await expect(a).resolves.toBe('manifest');
    expect(fn).toHaveBeenCalledTimes(1);
    await once.run('ghcr.io/acme/app:2', fn);
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it('peek gives the call made, and starts nothing', async () => {
    const once = new OnceByKey<number>();
    expect(once.peek('k')).toBeUndefined();
    const call = once.run('k', async () => 1);
    expect(once.peek('k')).toBe(call);
  });

  it('set records an answer that run gives without calling', async () => {
    const once = new OnceByKey<number>();
    once.set('k', 42);
    const fn = jest.fn(async () => 0);
    await expect(once.run('k', fn)).resolves.toBe(42);
    expect(fn).not.toHaveBeenCalled();
  });

  it.each<[string, boolean]>([
    ['forget(key) forgets whatever call there is (a failed one, so that a later caller asks again)', false],
    ['forget(key, call) forgets that call when it is still the one recorded', true],
  ])('%s', async (_name, passCall) => {
    const once = new OnceByKey<string>();
    const failed = once.run('k', async () => Promise.reject(new Error('503')));
    await failed.catch(() => undefined);
    if (passCall) once.forget('k', failed);
    else once.forget('k');
    const fn = jest.fn(async () => 'again');
    await expect(once.run('k', fn)).resolves.toBe('again');
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('forget(key, call) keeps a newer call made for the key', async () => {
    const once = new OnceByKey<string>();
    const old = once.run('k', async () => 'old');
    once.forget('k');
    const newer = once.run('k', async () => 'newer');
    once.forget('k', old);
    expect(once.peek('k')).toBe(newer);
  });
});
