// The run object: built once per merge, with the one default concurrency.
import { describe, expect, it } from '@jest/globals';
import { DEFAULT_CONCURRENCY } from '../../src/base/concurrency.js';
import { silentLogger } from '../../src/base/logger.js';
import type { MergeRequest } from '../../src/engine/model.js';
import { appendRetry, startMerge, withoutLookAhead } from '../../src/engine/run.js';
import { parseReference } from '../../src/oci/reference.js';
import { MemoryRegistry, addBuildxImage } from '../support/memory-registry.js';

const request = (extra: Partial<MergeRequest> = {}): MergeRequest => ({
  sources: [parseReference('reg.example/acme/app:amd64')],
  tags: [parseReference('other.example/acme/app:latest'), parseReference('other.example/acme/app:v1')],
  attestations: 'keep',
  format: 'auto',
  push: true,
  ...extra,
});

describe('startMerge', () => {
  it("takes the request's concurrency, else DEFAULT_CONCURRENCY", () => {
    // control requests in flight (issue 21: mounts and referrer reads of 8 platforms in one round); streamed copies have their own 8
    expect(DEFAULT_CONCURRENCY).toBe(64);
    expect(startMerge(request(), new MemoryRegistry(), silentLogger).concurrency).toBe(DEFAULT_CONCURRENCY);
    expect(startMerge(request({ concurrency: 3 }), new MemoryRegistry(), silentLogger).concurrency).toBe(3);
  });

  it('its client looks ahead to the target repositories (each once); withoutLookAhead does not, and shares the cache', async () => {
    const registry = new MemoryRegistry();
    const app = { registry: 'reg.example', repository: 'acme/app' };
    const seed = addBuildxImage(registry, app, 'amd64', { platform: { os: 'linux', architecture: 'amd64' }, seed: 'amd64' });
    const run = startMerge(request(), registry, silentLogger);
    await withoutLookAhead(run).client.fetchManifest(app, 'amd64');
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(registry.count('HEAD manifest')).toBe(0);
    await run.client.fetchManifest(app, seed.index.digest);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(registry.requests.filter((r) => r.kind === 'HEAD manifest').map((r) => r.repository)).toEqual([
      'other.example/acme/app',
      'other.example/acme/app',
    ]);
    // the index by digest was known from the read by tag: one GET for it, and one per child
    expect(registry.count('GET manifest')).toBe(3);
  });
});

describe('appendRetry', () => {
  it('defaults: 5 attempts from 200 ms, 100 ms settle; at least one attempt', () => {
    expect(appendRetry()).toMatchObject({ attempts: 5, backoffMs: 200, settleMs: 100 });
    expect(appendRetry({ attempts: 0 }).attempts).toBe(1);
  });
});
