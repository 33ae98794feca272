// The wave counter of the bench (scripts/bench/waves.ts): the longest chain of requests in which
// each arrived after the one before it was answered, from the proxy's timestamps.
import { describe, expect, it } from '@jest/globals';
import { countWaves, criticalPath, waveOf } from '../../../scripts/bench/waves.js';

const r = (startMs: number, endMs?: number) => ({ startMs, endMs });

describe('countWaves', () => {
  it('counts nothing for no requests, one for requests sent together', () => {
    expect(countWaves([])).toBe(0);
    expect(countWaves([r(0, 50), r(1, 52), r(2, 55)])).toBe(1);
  });

  it('counts each request that waited for an answer as a wave more', () => {
    expect(countWaves([r(0, 50), r(51, 100), r(101, 150)])).toBe(3);
  });

  it('follows the longest chain, not the number of distinct start times', () => {
    // a long request beside a chain of three short ones: the chain of three is the critical path
    const requests = [r(0, 200), r(0, 50), r(50, 100), r(100, 150), r(201, 250)];
    expect(countWaves(requests)).toBe(4);
    expect(criticalPath(requests)).toEqual([r(0, 50), r(50, 100), r(100, 150), r(201, 250)]);
  });

  it('does not chain a request that arrived before the other one was answered (overlap), beyond the clock slack', () => {
    expect(countWaves([r(0, 50), r(49, 100)])).toBe(1);
    expect(countWaves([r(0, 50), r(49.8, 100)])).toBe(2);
    expect(countWaves([r(0, 50), r(49.8, 100)], 0)).toBe(1);
  });

  it('leaves out requests still in flight', () => {
    expect(countWaves([r(0, 50), r(60)])).toBe(1);
  });

  it('does not depend on the order of the log', () => {
    expect(countWaves([r(101, 150), r(0, 50), r(51, 100)])).toBe(3);
  });
});

describe('waveOf', () => {
  it('gives each request its wave: one more than the deepest request answered before it arrived', () => {
    // limit-split mounts: 8 at once, then the rest when the first ones are answered
    const requests = [r(0, 50), r(0, 50), r(51, 100), r(51, 100), r(101, 150), r(120, 170)];
    expect(waveOf(requests)).toEqual([1, 1, 2, 2, 3, 3]);
  });
});
