// The caching client: what it remembers costs no request, what it asks on its own (look-ahead)
// is what targets on other registries will be asked, and a small blob several targets need is
// read once.
import { beforeEach, describe, expect, it } from '@jest/globals';
import { ASK_BLOB_BYTES, CachingClient, SHARED_BLOB_BYTES } from '../../src/engine/caching-client.js';
import type { RepositoryRef } from '../../src/oci/reference.js';
import { type SeedBuildx, MemoryRegistry, addBuildxImage, addImage } from '../support/memory-registry.js';

const REG = 'reg.example';
const app: RepositoryRef = { registry: REG, repository: 'acme/app' };
const one: RepositoryRef = { registry: 'one.example', repository: 'acme/app' };
const two: RepositoryRef = { registry: 'two.example', repository: 'acme/app' };

let registry: MemoryRegistry;
let amd64: SeedBuildx;

beforeEach(() => {
  registry = new MemoryRegistry();
  amd64 = addBuildxImage(registry, app, 'amd64', { platform: { os: 'linux', architecture: 'amd64' }, seed: 'amd64' });
});

/** Lets the look-ahead's requests, started without waiting, land. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

describe('cache hits cost no request', () => {
  it('a manifest by digest is read once; by tag always; its HEAD is then known', async () => {
    const cache = new CachingClient(registry);
    await cache.fetchManifest(app, amd64.image.descriptor.digest);
    await cache.fetchManifest(app, amd64.image.descriptor.digest);
    expect(await cache.headManifest(app, amd64.image.descriptor.digest)).toMatchObject({ digest: amd64.image.descriptor.digest });
    expect(registry.count('GET manifest')).toBe(1);
    expect(registry.count('HEAD manifest')).toBe(0);
    await cache.fetchManifest(app, 'amd64');
    await cache.fetchManifest(app, 'amd64');
    await cache.headManifest(app, 'amd64');
    expect(registry.count('GET manifest')).toBe(3);
    expect(registry.count('HEAD manifest')).toBe(1);
  });

  it('a failed read is forgotten: asking again asks the registry', async () => {
    const cache = new CachingClient(registry);
    const missing = `sha256:${'f'.repeat(64)}`;
    await expect(cache.fetchManifest(app, missing)).rejects.toThrow();
    await expect(cache.fetchManifest(app, missing)).rejects.toThrow();
    expect(registry.count('GET manifest')).toBe(2);
  });

  it('"is the blob there?" is asked once; what this run put there is known without asking', async () => {
    const cache = new CachingClient(registry);
    const mirror = { registry: REG, repository: 'acme/mirror' };
    expect(await cache.hasBlob(mirror, amd64.image.config.digest)).toBe(false);
    expect(await cache.hasBlob(mirror, amd64.image.config.digest)).toBe(false);
    expect(registry.count('HEAD blob')).toBe(1);
    expect(await cache.knownPresent('blob', mirror, amd64.image.layers[0].digest)).toBe(false);
    await cache.mountBlob(mirror, app, amd64.image.layers[0]);
    expect(await cache.knownPresent('blob', mirror, amd64.image.layers[0].digest)).toBe(true);
    expect(await cache.hasBlob(mirror, amd64.image.layers[0].digest)).toBe(true);
    expect(registry.count('HEAD blob')).toBe(1);
    const image = await cache.fetchManifest(app, amd64.image.descriptor.digest);
    for (const d of [amd64.image.config, amd64.image.layers[1]]) await cache.mountBlob(mirror, app, d);
    await cache.putManifest(mirror, image.digest, image);
    expect(await cache.knownPresent('manifest', mirror, image.digest)).toBe(true);
    expect(await cache.headManifest(mirror, image.digest)).toMatchObject({ digest: image.digest });
    expect(registry.count('HEAD manifest')).toBe(0);
  });

  it('withoutLookAhead shares what was learnt', async () => {
    const cache = new CachingClient(registry, { lookAhead: { targets: [one], nonImages: true } });
    await cache.withoutLookAhead().fetchManifest(app, amd64.image.descriptor.digest);
    await cache.fetchManifest(app, amd64.image.descriptor.digest);
    expect(registry.count('GET manifest')).toBe(1);
  });
});

describe('look-ahead', () => {
  it('an index read: each child looked for in each target on another registry, and read from the source', async () => {
    const cache = new CachingClient(registry, {
      lookAhead: { targets: [one, { registry: REG, repository: 'acme/mirror' }], nonImages: true },
    });
    await cache.fetchManifest(app, 'amd64');
    await settle();
    const heads = registry.requests.filter((r) => r.kind === 'HEAD manifest').map((r) => `${r.repository}@${r.reference}`);
    // not in the same registry: mounts there need no asking
    expect(heads.sort()).toEqual(
      [`one.example/acme/app@${amd64.image.descriptor.digest}`, `one.example/acme/app@${amd64.attestation.digest}`].sort(),
    );
    const before = registry.requests.length;
    expect(await cache.headManifest(one, amd64.image.descriptor.digest)).toBeUndefined();
    await cache.fetchManifest(app, amd64.attestation.digest);
    expect(registry.requests.length).toBe(before);
  });

  it('an image read: its blobs of ASK_BLOB_BYTES or more are looked for, smaller ones are not', async () => {
    const big = addImage(registry, app, {
      platform: { os: 'linux', architecture: 'arm64' },
      seed: 'big',
      layers: 2,
      layerSize: ASK_BLOB_BYTES,
    });
    const cache = new CachingClient(registry, { lookAhead: { targets: [one], nonImages: true } });
    await cache.fetchManifest(app, big.descriptor.digest);
    await settle();
    expect(
      registry.requests
        .filter((r) => r.kind === 'HEAD blob')
        .map((r) => r.reference)
        .sort(),
    ).toEqual(big.layers.map((l) => l.digest).sort());
    expect(registry.requests.filter((r) => r.kind === 'HEAD manifest').map((r) => r.reference)).toEqual([big.descriptor.digest]);
  });

  it('with nonImages false (attestations: strip), attestation children are not looked for', async () => {
    const cache = new CachingClient(registry, { lookAhead: { targets: [one], nonImages: false } });
    await cache.fetchManifest(app, 'amd64');
    await settle();
    expect(registry.requests.filter((r) => r.reference === amd64.attestation.digest)).toEqual([]);
    expect(registry.requests.filter((r) => r.kind === 'HEAD manifest').map((r) => r.reference)).toEqual([amd64.image.descriptor.digest]);
  });
});

describe('copies to other registries', () => {
  it('a small blob several targets need is read once and uploaded from memory to each', async () => {
    const cache = new CachingClient(registry);
    const layer = amd64.image.layers[0];
    cache.expectCopies([
      { from: app, descriptor: layer },
      { from: app, descriptor: layer },
    ]);
    expect(await Promise.all([cache.copyBlob(app, one, layer), cache.copyBlob(app, two, layer)])).toEqual(['copied', 'copied']);
    expect(registry.count('GET blob')).toBe(1);
    expect(registry.count('PUT upload')).toBe(2);
    for (const target of [one, two]) expect(registry.repository(target).blobs.has(layer.digest)).toBe(true);
    expect(await cache.knownPresent('blob', two, layer.digest)).toBe(true);
  });

  it('a blob over SHARED_BLOB_BYTES is streamed to each target', async () => {
    const large = registry.addBlob(app, Buffer.alloc(SHARED_BLOB_BYTES + 1, 1));
    const cache = new CachingClient(registry);
    cache.expectCopies([
      { from: app, descriptor: large },
      { from: app, descriptor: large },
    ]);
    await Promise.all([cache.copyBlob(app, one, large), cache.copyBlob(app, two, large)]);
    expect(registry.count('GET blob')).toBe(2);
  });

  it('a blob needed by one target only is streamed; a config read for its platform is uploaded from those bytes', async () => {
    const cache = new CachingClient(registry);
    await cache.copyBlob(app, one, amd64.image.layers[1]);
    expect(registry.count('GET blob')).toBe(1);
    await cache.fetchBlob(app, amd64.image.config);
    await cache.copyBlob(app, one, amd64.image.config);
    await cache.copyBlob(app, two, amd64.image.config);
    expect(registry.count('GET blob')).toBe(2);
    expect(registry.repository(two).blobs.has(amd64.image.config.digest)).toBe(true);
  });
});
