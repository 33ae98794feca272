// The write steps into one target: what it needs (planTargetTransfer: mount within a registry,
// copy across, what the target already has), blobs before manifests, manifests by dependency
// level, the index refused with a way out.
import { beforeEach, describe, expect, it } from '@jest/globals';
import { HttpError, UnsupportedMediaTypeError } from '../../src/base/errors.js';
import { createMemoryLogger } from '../../src/base/logger.js';
import { ASK_BLOB_BYTES, CachingClient } from '../../src/engine/caching-client.js';
import type { PlannedEntry, TargetPlan } from '../../src/engine/model.js';
import type { EngineRun } from '../../src/engine/run.js';
import { bringIn, dependencyLevels, planTargetTransfer, pushIndex, transferAll, writeManifests } from '../../src/engine/transfer.js';
import { planMerge } from '../../src/engine/plan.js';
import { MediaType } from '../../src/oci/manifest.js';
import type { RepositoryRef } from '../../src/oci/reference.js';
import { type SeedBuildx, MemoryRegistry, addBuildxImage, addImage } from '../support/memory-registry.js';

const REG = 'reg.example';
const OTHER = 'other.example';
const app: RepositoryRef = { registry: REG, repository: 'acme/app' };

let registry: MemoryRegistry;
let amd64: SeedBuildx;
let run: EngineRun;

beforeEach(() => {
  registry = new MemoryRegistry();
  amd64 = addBuildxImage(registry, app, 'amd64', { platform: { os: 'linux', architecture: 'amd64' }, seed: 'amd64' });
  run = { client: new CachingClient(registry), logger: createMemoryLogger(), concurrency: 4 };
});

/** The buildx image and its attestation, to be brought into `repository`. */
function targetOf(repository: RepositoryRef, tags = ['latest']): TargetPlan {
  const entry = (
    kind: PlannedEntry['kind'],
    descriptor: { mediaType: string; digest: string; size: number },
    subject?: string,
  ): PlannedEntry => ({ kind, descriptor, source: app, sourceInput: `${REG}/acme/app:amd64`, subject });
  return {
    repository,
    tags,
    manifests: [entry('image', amd64.image.descriptor), entry('attestation', amd64.attestation, amd64.image.descriptor.digest)],
  };
}

describe('planTargetTransfer', () => {
  it('same registry: every blob is mounted, and nothing is asked of the target', async () => {
    const transfer = await planTargetTransfer(run, targetOf({ registry: REG, repository: 'acme/mirror' }));
    expect(transfer.blobs.map((b) => b.method)).toEqual(Array(5).fill('mount')); // config + 2 layers, statement + its config
    expect(transfer.blobs.every((b) => !b.present)).toBe(true);
    expect(registry.requests.filter((r) => r.repository === `${REG}/acme/mirror`)).toEqual([]);
    expect(transfer.children.map((c) => c.fetched.digest)).toEqual([amd64.image.descriptor.digest, amd64.attestation.digest]);
    expect(transfer.children[1].subject).toBeUndefined(); // a buildx attestation names its image by annotation, not subject
    expect(transfer.report.actions.at(-1)).toBe('put index under tag latest');
  });

  it('another registry: blobs are copied; a child the target has is not planned, a large blob it has is present, a small one is not asked', async () => {
    const big = addImage(registry, app, {
      platform: { os: 'linux', architecture: 'arm64' },
      seed: 'big',
      layers: 1,
      layerSize: ASK_BLOB_BYTES,
    });
    const dest: RepositoryRef = { registry: OTHER, repository: 'acme/app' };
    registry
      .repository(dest)
      .manifests.set(amd64.image.descriptor.digest, registry.repository(app).manifests.get(amd64.image.descriptor.digest)!);
    registry.repository(dest).blobs.set(big.layers[0].digest, registry.repository(app).blobs.get(big.layers[0].digest)!);
    const target = targetOf(dest);
    target.manifests.push({ kind: 'image', descriptor: big.descriptor, source: app, sourceInput: 'big' });
    const transfer = await planTargetTransfer(run, target);
    expect(transfer.report.manifestsExisting).toBe(1);
    expect(transfer.children.map((c) => c.fetched.digest)).toEqual([amd64.attestation.digest, big.descriptor.digest]);
    expect(transfer.blobs.every((b) => b.method === 'copy')).toBe(true);
    expect(transfer.blobs.filter((b) => b.present).map((b) => b.descriptor.digest)).toEqual([big.layers[0].digest]);
    // one HEAD blob, for the only blob of ASK_BLOB_BYTES or more
    expect(registry.requests.filter((r) => r.kind === 'HEAD blob').map((r) => r.reference)).toEqual([big.layers[0].digest]);
  });

  it('a child that is an index cannot be copied', async () => {
    const target = targetOf({ registry: REG, repository: 'acme/mirror' });
    target.manifests = [{ kind: 'other', descriptor: amd64.index, source: app, sourceInput: 'nested' }];
    await expect(planTargetTransfer(run, target)).rejects.toThrow(UnsupportedMediaTypeError);
  });
});

describe('writing into a target', () => {
  it('transferAll: every blob before any child manifest, counted in the report', async () => {
    const mirror = { registry: REG, repository: 'acme/mirror' };
    const transfer = await planTargetTransfer(run, targetOf(mirror));
    await transferAll(run, [transfer]);
    const writes = registry.writes().map((w) => w.kind);
    expect(writes).toEqual([...Array(5).fill('POST mount'), 'PUT manifest', 'PUT manifest']);
    expect(transfer.report).toMatchObject({ blobs: { mounted: 5, copied: 0, existing: 0 }, manifestsPushed: 2 });
    // a second attempt (an append that lost a race) brings in nothing again
    const again = await planTargetTransfer(run, targetOf(mirror));
    await transferAll(run, [again]);
    expect(registry.writes()).toHaveLength(writes.length);
    expect(again.report).toMatchObject({ blobs: { mounted: 0, copied: 0, existing: 5 }, manifestsPushed: 0 });
  });

  it('writeManifests: a manifest whose subject is another goes up after it, whatever the list order', async () => {
    const fetched = (digest: string) => registry.fetchManifest(app, digest);
    const image = await fetched(amd64.image.descriptor.digest);
    const attestation = await fetched(amd64.attestation.digest);
    const mirror = { registry: REG, repository: 'acme/mirror' };
    for (const [digest, bytes] of registry.repository(app).blobs) registry.repository(mirror).blobs.set(digest, bytes);
    const counts = await writeManifests(run, mirror, [{ fetched: attestation, subject: image.digest }, { fetched: image }]);
    expect(counts).toEqual({ pushed: 2, existing: 0 });
    expect(registry.writes().map((w) => w.reference)).toEqual([image.digest, attestation.digest]);
    expect(await writeManifests(run, mirror, [{ fetched: image }])).toEqual({ pushed: 0, existing: 1 });
  });

  it('bringIn: blobs, then manifests; a blob this run already brought in is not written again', async () => {
    const dest: RepositoryRef = { registry: OTHER, repository: 'acme/app' };
    const image = await registry.fetchManifest(app, amd64.image.descriptor.digest);
    const blobs = [...amd64.image.layers, amd64.image.config].map((descriptor) => ({ descriptor, from: app, method: 'copy' as const }));
    const brought = await bringIn(run, dest, { blobs, manifests: [{ fetched: image }] });
    expect(brought).toEqual({ blobs: { mounted: 0, copied: 3, existing: 0 }, manifests: { pushed: 1, existing: 0 } });
    expect(registry.writes().at(-1)).toMatchObject({ kind: 'PUT manifest', reference: image.digest });
    expect(registry.count('PUT upload')).toBe(3);
    const again = await bringIn(run, dest, { blobs: [blobs[0]], manifests: [{ fetched: image }] });
    expect(again).toEqual({ blobs: { mounted: 0, copied: 0, existing: 1 }, manifests: { pushed: 0, existing: 1 } });
    expect(registry.count('PUT upload')).toBe(3);
  });
});

describe('pushIndex', () => {
  it('an OCI index refused by the registry names the way out, from what the children allow', async () => {
    const docker = addImage(registry, app, { platform: { os: 'linux', architecture: 'amd64' }, seed: 'd', docker: true, tag: 'd' });
    const plan = planMerge(
      [
        {
          input: `${REG}/acme/app:d`,
          repository: app,
          digest: docker.descriptor.digest,
          mediaType: MediaType.DockerManifest,
          entries: [
            {
              kind: 'image',
              descriptor: { ...docker.descriptor, platform: { os: 'linux', architecture: 'amd64' } },
              platform: { os: 'linux', architecture: 'amd64' },
            },
          ],
        },
      ],
      { attestations: 'keep', format: 'oci' },
    );
    registry.onRequest = () => {
      throw new HttpError('HTTP', 'refused', { method: 'PUT', url: 'memory://x' }, 400, [{ code: 'MANIFEST_INVALID' }]);
    };
    const error = await pushIndex(run, app, 'v1', plan).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedMediaTypeError);
    expect((error as UnsupportedMediaTypeError).summary).toBe(
      `${REG}/acme/app:v1: ${REG} refused the OCI image index (HTTP 400 MANIFEST_INVALID): this registry does not accept OCI indexes, and the tag was not written`,
    );
    expect((error as UnsupportedMediaTypeError).hint).toContain('set {format} to `docker`');
  });
});

describe('dependencyLevels: child manifests in the order registries that check `subject` need', () => {
  const child = (digest: string, subject?: string) => ({ fetched: { digest }, subject });
  const names = (levels: Array<Array<{ fetched: { digest: string } }>>) => levels.map((l) => l.map((c) => c.fetched.digest));

  it('images first, then what refers to them, then what refers to those', () => {
    const levels = dependencyLevels([
      child('att-a', 'img-a'),
      child('sig-att', 'att-a'),
      child('img-a'),
      child('img-b'),
      child('att-b', 'img-b'),
    ]);
    expect(names(levels)).toEqual([['img-a', 'img-b'], ['att-a', 'att-b'], ['sig-att']]);
  });

  it('a subject outside the set (already in the repository) is no dependency', () => {
    expect(names(dependencyLevels([child('att', 'elsewhere'), child('img')]))).toEqual([['att', 'img']]);
  });

  it('a cycle does not loop: its members go last', () => {
    const levels = dependencyLevels([child('x', 'y'), child('y', 'x'), child('img')]);
    expect(levels.flat()).toHaveLength(3);
    expect(names(levels)[0]).toEqual(['img']);
  });
});
