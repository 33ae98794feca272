// How many round trips a merge waits for, one after another (DESIGN §3 and §6, issue 21): the
// seed case with default settings (referrers: copy) through a proxy adding 200 ms to every
// request. Waves are counted from the proxy's log (scripts/bench/waves.ts: the longest chain of
// requests each sent after the one before it was answered), never from a time: a count. The bench
// counts them at 50 ms (BENCHMARKS.md); here the delay is longer so that the client's own time
// between an answer and the requests it lets go (tens of ms on a busy 2-core runner under ts-jest)
// cannot make an unrelated request look like one that waited: a count of round trips, not of CPU.
//
// The protocol's dependency chain is 6 waves: the sources, their children, the blob mounts, the
// child manifests, the index under its tag, the read-back. Referrer discovery runs beside the
// transfer; the mounts are not split by the bound meant for streamed copies.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startFaultProxy, type FaultProxy } from '../../scripts/support/fault-proxy.js';
import { pushBuildxImage } from '../../scripts/support/fixtures/buildx.js';
import { seedCase } from '../../scripts/support/fixtures/cases.js';
import { startRegistry, type RunningRegistry } from '../../scripts/support/registry.js';
import { countWaves, criticalPath } from '../../scripts/bench/waves.js';
import { merge } from './harness.js';

const LATENCY_MS = 200;
const EIGHT = ['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'linux/arm/v6', 'linux/ppc64le', 'linux/s390x', 'linux/386', 'linux/riscv64'];

let registry: RunningRegistry;
let proxy: FaultProxy;
let seedSources: string[];
let eightSources: string[];

beforeAll(async () => {
  registry = await startRegistry({ name: 'waves' });
  proxy = await startFaultProxy({ target: registry.url, latencyMs: LATENCY_MS });
  const [seed] = await Promise.all([
    seedCase(registry),
    ...EIGHT.map((platform, i) => pushBuildxImage(registry, `acme/eight-${i}`, 'v1', { platform, seed: `waves-eight-${i}`, layers: 3 })),
  ]);
  seedSources = seed.sources.map((s) => s.replace(registry.host, proxy.host));
  eightSources = EIGHT.map((_, i) => `${proxy.host}/acme/eight-${i}:v1`);
});

afterAll(async () => {
  await proxy?.stop();
  await registry?.stop();
});

/** Merges `sources` into a new repository with default settings; the proxy's log of the merge. */
async function mergeThroughProxy(sources: string[], repository: string) {
  proxy.reset();
  await merge({ sources: sources.join('\n'), tags: `${proxy.host}/${repository}:v1` });
  const log = proxy.requests();
  const t0 = Math.min(...log.map((r) => r.startMs));
  const path = criticalPath(log).map((r) => `${r.kind} ${r.status} (${Math.round(r.startMs - t0)}-${Math.round((r.endMs ?? 0) - t0)} ms)`);
  return { log, waves: countWaves(log), path };
}

describe('round trips waited for, one after another (200 ms a request)', () => {
  it('the seed case, default settings (referrers copied): at most 6 waves, no more than 29 requests', async () => {
    const { log, waves, path } = await mergeThroughProxy(seedSources, 'acme/github-runner');
    expect(waves <= 6 ? 'at most 6' : `${waves} waves: ${path.join(' -> ')}`).toBe('at most 6');
    expect(log.length).toBeLessThanOrEqual(29);
  });

  it('8 platforms, default settings: at most 7 waves', async () => {
    const { waves, path } = await mergeThroughProxy(eightSources, 'acme/eight');
    expect(waves <= 7 ? 'at most 7' : `${waves} waves: ${path.join(' -> ')}`).toBe('at most 7');
  });
});
