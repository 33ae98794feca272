// The engine's branches against the in-memory registry: what is read, what is written and in
// which order, and what is refused before anything is written.
import { beforeEach, describe, expect, it } from '@jest/globals';
import { runMerge } from '../../src/engine/merge.js';
import { ConflictError, InvalidManifestError, PlatformError, VerifyError, isConflict } from '../../src/base/errors.js';
import { createMemoryLogger } from '../../src/base/logger.js';
import { MediaType } from '../../src/oci/manifest.js';
import { parsePlatform } from '../../src/oci/platform.js';
import { type RepositoryRef } from '../../src/oci/reference.js';
import { type SeedBuildx, MemoryRegistry, addBuildxImage, addImage } from '../support/memory-registry.js';
import { type Index, noWait, request } from '../support/merge-requests.js';

const REG = 'reg.example';
const OTHER = 'other.example';
const build: RepositoryRef = { registry: REG, repository: 'acme/build' };
const app: RepositoryRef = { registry: REG, repository: 'acme/app' };

let registry: MemoryRegistry;
let amd64: SeedBuildx;
let arm64: SeedBuildx;

beforeEach(() => {
  registry = new MemoryRegistry();
  amd64 = addBuildxImage(registry, app, 'amd64', { platform: { os: 'linux', architecture: 'amd64' }, seed: 'amd64' });
  arm64 = addBuildxImage(registry, app, 'arm64', { platform: { os: 'linux', architecture: 'arm64' }, seed: 'arm64' });
});

const indexAt = (repository: RepositoryRef, tag: string) => registry.read(repository, tag)?.json as unknown as Index | undefined;

describe('a merge in the sources repository', () => {
  it('reads each source once, PUTs the index once and reads the tag back: N GET + 1 PUT + 1 HEAD', async () => {
    const result = await runMerge(
      request([`${REG}/acme/app:amd64`, `${REG}/acme/app:arm64`], [`${REG}/acme/app:latest`]),
      registry,
      createMemoryLogger(),
    );
    expect(registry.stats().byKind).toEqual({ 'GET manifest': 2, 'PUT manifest': 1, 'HEAD manifest': 1 });
    expect(result.pushed).toBe(true);
    expect(result.platforms).toEqual(['linux/amd64', 'linux/arm64']);
    expect(registry.read(app, 'latest')?.digest).toBe(result.digest);
    expect(indexAt(app, 'latest')?.manifests.map((m) => m.digest)).toEqual([
      amd64.image.descriptor.digest,
      arm64.image.descriptor.digest,
      amd64.attestation.digest,
      arm64.attestation.digest,
    ]);
    expect(result.images).toEqual([`${REG}/acme/app:latest@${result.digest}`]);
    expect(result.attempts).toBeUndefined();
  });

  it('declares one scope set per registry: pull on sources, pull,push on targets', async () => {
    await runMerge(
      request([`${REG}/acme/build:x`, `${REG}/acme/app:amd64`], [`${REG}/acme/app:latest`, `${OTHER}/acme/app:latest`]),
      registry,
      createMemoryLogger(),
    ).catch(() => undefined);
    expect(registry.scopes).toEqual([
      {
        registry: REG,
        scopes: [
          { repository: 'acme/build', actions: ['pull'] },
          { repository: 'acme/app', actions: ['pull', 'push'] },
        ],
      },
      { registry: OTHER, scopes: [{ repository: 'acme/app', actions: ['pull', 'push'] }] },
    ]);
  });

  it('attestations: strip drops the attestation manifests and says so', async () => {
    const logger = createMemoryLogger();
    const result = await runMerge(
      request([`${REG}/acme/app:amd64`, `${REG}/acme/app:arm64`], [`${REG}/acme/app:stripped`], { attestations: 'strip' }),
      registry,
      logger,
    );
    expect(indexAt(app, 'stripped')?.manifests.map((m) => m.digest)).toEqual([
      amd64.image.descriptor.digest,
      arm64.image.descriptor.digest,
    ]);
    expect(result.plan.dropped.map((d) => d.descriptor.digest)).toEqual([amd64.attestation.digest, arm64.attestation.digest]);
    expect(logger.lines).toContain(
      `info: Dropped attestation ${amd64.attestation.digest} (describes ${amd64.image.descriptor.digest}) from ${REG}/acme/app:amd64`,
    );
  });

  it('format auto gives a Docker manifest list for Docker schema 2 images, and forced oci an OCI index', async () => {
    addImage(registry, build, { platform: { os: 'linux', architecture: 'arm', variant: 'v7' }, seed: 'v7', tag: 'v7', docker: true });
    addImage(registry, build, { platform: { os: 'linux', architecture: 'arm', variant: 'v6' }, seed: 'v6', tag: 'v6', docker: true });
    const sources = [`${REG}/acme/build:v7`, `${REG}/acme/build:v6`];
    const auto = await runMerge(request(sources, [`${REG}/acme/build:auto`]), registry, createMemoryLogger());
    expect(auto.mediaType).toBe(MediaType.DockerManifestList);
    // a bare image's platform comes from its config: one GET blob each
    expect(registry.count('GET blob')).toBe(2);
    const oci = await runMerge(request(sources, [`${REG}/acme/build:oci`], { format: 'oci' }), registry, createMemoryLogger());
    expect(oci.mediaType).toBe(MediaType.OciIndex);
    expect(indexAt(build, 'oci')?.manifests.map((m) => m.platform)).toEqual([
      { architecture: 'arm', os: 'linux', variant: 'v7' },
      { architecture: 'arm', os: 'linux', variant: 'v6' },
    ]);
  });

  it('a platform missing from `platforms` fails before anything is written', async () => {
    await expect(
      runMerge(
        request([`${REG}/acme/app:amd64`], [`${REG}/acme/app:latest`], {
          platforms: [parsePlatform('linux/amd64'), parsePlatform('linux/s390x')],
        }),
        registry,
        createMemoryLogger(),
      ),
    ).rejects.toThrow(PlatformError);
    expect(registry.writes()).toEqual([]);
  });

  it('warns, once, when a tag is also a source (the merge overwrites the image it points at)', async () => {
    const logger = createMemoryLogger();
    await runMerge(
      request([`${REG}/acme/app:amd64`, `${REG}/acme/app:arm64`], [`${REG}/acme/app:amd64`, `${REG}/acme/app:latest`]),
      registry,
      logger,
    );
    expect(logger.lines.filter((l) => l.startsWith('warning:'))).toEqual([
      `warning: ${REG}/acme/app:amd64 is both a source and a tag: the merged index replaces the image it points at now`,
    ]);
  });

  it('does not warn for a digest source in the tag repository', async () => {
    const logger = createMemoryLogger();
    await runMerge(request([`${REG}/acme/app@${amd64.index.digest}`], [`${REG}/acme/app:latest`]), registry, logger);
    expect(logger.lines.filter((l) => l.startsWith('warning:'))).toEqual([]);
  });
});

describe('dry run', () => {
  it('plans every target, says what it would do, and writes nothing', async () => {
    const logger = createMemoryLogger();
    const result = await runMerge(
      request([`${REG}/acme/app:amd64`, `${REG}/acme/app:arm64`], [`${REG}/acme/mirror:latest`, `${OTHER}/acme/app:latest`], {
        push: false,
      }),
      registry,
      logger,
    );
    expect(result.pushed).toBe(false);
    expect(registry.writes()).toEqual([]);
    expect(registry.read({ registry: REG, repository: 'acme/mirror' }, 'latest')).toBeUndefined();
    const [mirror, other] = result.targets;
    expect(mirror.actions.filter((a) => a.startsWith('mount blob'))).toHaveLength(9); // 2 images × (config + 2 layers), 2 attestations × statement, and their one (identical) config
    expect(other.actions.filter((a) => a.startsWith('copy blob'))).toHaveLength(9);
    expect(other.actions).toContain(`put image manifest ${amd64.image.descriptor.digest} (linux/amd64)`);
    expect(logger.lines).toContain(`info: [dry run] ${OTHER}/acme/app: put index under tag latest`);
  });
});

describe('targets in other repositories and registries', () => {
  it('same registry: mounts every blob, PUTs the children, then the index under each tag', async () => {
    const result = await runMerge(
      request([`${REG}/acme/app:amd64`, `${REG}/acme/app:arm64`], [`${REG}/acme/mirror:latest`, `${REG}/acme/mirror:v1`]),
      registry,
      createMemoryLogger(),
    );
    const mirror = { registry: REG, repository: 'acme/mirror' };
    expect(result.targets[0]).toMatchObject({ blobs: { mounted: 9, copied: 0, existing: 0 }, manifestsPushed: 4 });
    expect(registry.read(mirror, 'latest')?.digest).toBe(result.digest);
    expect(registry.read(mirror, 'v1')?.digest).toBe(result.digest);
    // order: every mount, then every child, then the tags
    const writes = registry
      .writes()
      .map((w) => (w.kind === 'PUT manifest' ? (w.reference.startsWith('sha256:') ? 'child' : 'tag') : 'blob'));
    expect(writes).toEqual([...Array(9).fill('blob'), ...Array(4).fill('child'), 'tag', 'tag']);
  });

  it('other registries: each source blob read once, configs uploaded from the bytes read for the platform', async () => {
    // bare images: their configs are read for the platform, then uploaded from memory
    addImage(registry, build, { platform: { os: 'linux', architecture: 'amd64' }, seed: 'bare-amd64', tag: 'amd64' });
    addImage(registry, build, { platform: { os: 'linux', architecture: 'arm64' }, seed: 'bare-arm64', tag: 'arm64' });
    const result = await runMerge(
      request([`${REG}/acme/build:amd64`, `${REG}/acme/build:arm64`], ['one.example/acme/app:1', 'two.example/acme/app:1']),
      registry,
      createMemoryLogger(),
    );
    // 2 configs (for the platform) + 4 layers (read once for both targets: small and shared)
    expect(registry.requests.filter((r) => r.kind === 'GET blob').map((r) => r.repository)).toEqual(Array(6).fill(`${REG}/acme/build`));
    for (const host of ['one.example', 'two.example']) {
      const repo = { registry: host, repository: 'acme/app' };
      expect(registry.read(repo, '1')?.digest).toBe(result.digest);
      expect(registry.repository(repo).blobs.size).toBe(6);
    }
    expect(registry.count('POST upload')).toBe(12);
  });

  it('a child already in a target on another registry is not copied again', async () => {
    const target = { registry: OTHER, repository: 'acme/app' };
    await runMerge(request([`${REG}/acme/app:amd64`], [`${OTHER}/acme/app:first`]), registry, createMemoryLogger());
    const before = registry.count('POST upload');
    const again = await runMerge(request([`${REG}/acme/app:amd64`], [`${OTHER}/acme/app:second`]), registry, createMemoryLogger());
    expect(registry.count('POST upload')).toBe(before);
    expect(again.targets[0]).toMatchObject({ manifestsExisting: 2, manifestsPushed: 0 });
    expect(registry.read(target, 'second')?.digest).toBe(again.digest);
  });

  it('a failure while bringing children in leaves every tag untouched', async () => {
    const mirror = { registry: REG, repository: 'acme/mirror' };
    registry.addManifest(
      mirror,
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] }),
      MediaType.OciIndex,
      'latest',
    );
    const before = registry.read(mirror, 'latest')!.digest;
    registry.onRequest = (r) => {
      if (r.kind === 'PUT manifest' && r.reference === arm64.attestation.digest) throw new Error('injected: registry fell over');
    };
    await expect(
      runMerge(
        request([`${REG}/acme/app:amd64`, `${REG}/acme/app:arm64`], [`${REG}/acme/mirror:latest`, `${OTHER}/acme/app:latest`]),
        registry,
        createMemoryLogger(),
      ),
    ).rejects.toThrow('injected');
    expect(registry.read(mirror, 'latest')?.digest).toBe(before);
    expect(registry.read({ registry: OTHER, repository: 'acme/app' }, 'latest')).toBeUndefined();
    expect(registry.writes().filter((w) => w.kind === 'PUT manifest' && !w.reference.startsWith('sha256:'))).toEqual([]);
  });
});

describe('targets in several repositories', () => {
  it("one that refuses the index leaves every other target's tag untouched: the index goes to each by digest before any tag", async () => {
    const mirror = { registry: REG, repository: 'acme/mirror' };
    registry.addManifest(
      mirror,
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] }),
      MediaType.OciIndex,
      'latest',
    );
    const before = registry.read(mirror, 'latest')!.digest;
    registry.onRequest = (r) => {
      // the other registry takes images and attestations, but no index (as registries without OCI indexes do)
      if (
        r.kind === 'PUT manifest' &&
        r.repository === `${OTHER}/acme/app` &&
        ![amd64, arm64].some((b) => [b.image.descriptor.digest, b.attestation.digest].includes(r.reference))
      ) {
        throw new Error('injected: this registry refuses the index');
      }
    };
    await expect(
      runMerge(
        request([`${REG}/acme/app:amd64`, `${REG}/acme/app:arm64`], [`${REG}/acme/mirror:latest`, `${OTHER}/acme/app:latest`]),
        registry,
        createMemoryLogger(),
      ),
    ).rejects.toThrow('refuses the index');
    expect(registry.read(mirror, 'latest')?.digest).toBe(before);
    expect(registry.writes().filter((w) => w.kind === 'PUT manifest' && !w.reference.startsWith('sha256:'))).toEqual([]);
  });

  it('costs one PUT by digest per target repository, and none for a single target', async () => {
    const two = await runMerge(
      request([`${REG}/acme/app:amd64`, `${REG}/acme/app:arm64`], [`${REG}/acme/app:a`, `${REG}/acme/app:b`, `${REG}/acme/mirror:c`]),
      registry,
      createMemoryLogger(),
    );
    const indexPuts = registry
      .writes()
      .filter((w) => w.kind === 'PUT manifest' && (w.reference === two.digest || !w.reference.startsWith('sha256:')));
    expect(indexPuts.map((w) => `${w.repository}:${w.reference}`).sort()).toEqual(
      [
        `${REG}/acme/app:${two.digest}`,
        `${REG}/acme/app:a`,
        `${REG}/acme/app:b`,
        `${REG}/acme/mirror:${two.digest}`,
        `${REG}/acme/mirror:c`,
      ].sort(),
    );
  });
});

describe('append', () => {
  const s390x = () => addBuildxImage(registry, app, 's390x', { platform: { os: 'linux', architecture: 's390x' }, seed: 's390x' });

  beforeEach(async () => {
    await runMerge(request([`${REG}/acme/app:amd64`], [`${REG}/acme/app:latest`]), registry, createMemoryLogger());
  });

  it('merges into the index the first tag holds, and reports one attempt', async () => {
    const logger = createMemoryLogger();
    const result = await runMerge(
      request([`${REG}/acme/app:arm64`], [`${REG}/acme/app:latest`], { append: true }),
      registry,
      logger,
      noWait,
    );
    expect(result.attempts).toBe(1);
    expect(indexAt(app, 'latest')?.manifests.map((m) => m.platform?.architecture)).toEqual(['amd64', 'arm64', 'unknown', 'unknown']);
    expect(logger.lines.some((l) => l.startsWith(`info: Appending to ${REG}/acme/app:latest (`))).toBe(true);
  });

  it('to a tag that does not exist yet is a plain merge', async () => {
    const logger = createMemoryLogger();
    const result = await runMerge(
      request([`${REG}/acme/app:arm64`], [`${REG}/acme/app:fresh`], { append: true }),
      registry,
      logger,
      noWait,
    );
    expect(result.platforms).toEqual(['linux/arm64']);
    expect(logger.lines).toContain(`info: ${REG}/acme/app:fresh does not exist yet: append is a plain merge`);
  });

  it("#1: another job pushing between this run's PUT and its read-back: merges again into what it pushed, keeping both platforms", async () => {
    const other = s390x();
    let raced = false;
    registry.onRequest = async (r) => {
      // right after our index PUT lands, another job's append (amd64 + s390x) replaces it
      if (
        !raced &&
        r.kind === 'HEAD manifest' &&
        r.reference === 'latest' &&
        registry.writes().some((w) => w.kind === 'PUT manifest' && w.reference === 'latest')
      ) {
        raced = true;
        await runMerge(
          request([`${REG}/acme/app:s390x`], [`${REG}/acme/app:latest`], { append: true }),
          memoryView(registry),
          createMemoryLogger(),
          noWait,
        ).catch(() => undefined);
      }
    };
    // the other job's run is nested in ours: it must not race itself
    const result = await runMerge(
      request([`${REG}/acme/app:arm64`], [`${REG}/acme/app:latest`], { append: true }),
      registry,
      createMemoryLogger(),
      noWait,
    );
    expect(raced).toBe(true);
    expect(result.attempts).toBeGreaterThan(1);
    const final = indexAt(app, 'latest')!;
    expect(final.manifests.map((m) => m.digest)).toEqual(
      expect.arrayContaining([amd64.image.descriptor.digest, arm64.image.descriptor.digest, other.image.descriptor.digest]),
    );
    expect(registry.read(app, 'latest')?.digest).toBe(result.digest);
  });

  it('#1: a job that read the tag before this run pushed, and pushes after its read-back, is caught by the second look', async () => {
    const other = s390x();
    const stale = registry.read(app, 'latest')!; // what the other job read: amd64 only
    let readBacks = 0;
    registry.onRequest = (r) => {
      if (
        r.kind === 'HEAD manifest' &&
        r.reference === 'latest' &&
        registry.writes().some((w) => w.kind === 'PUT manifest' && w.reference === 'latest')
      ) {
        readBacks++;
        // after our read-back (the 2nd HEAD of the tag in the first attempt), the stale job's index lands
        if (readBacks === 2) {
          const index = {
            ...stale.json,
            manifests: [
              ...(stale.json.manifests as unknown[]),
              { ...other.image.descriptor, platform: { architecture: 's390x', os: 'linux' } },
            ],
          };
          registry.addManifest(app, JSON.stringify(index), MediaType.OciIndex, 'latest');
        }
      }
    };
    const result = await runMerge(
      request([`${REG}/acme/app:arm64`], [`${REG}/acme/app:latest`], { append: true }),
      registry,
      createMemoryLogger(),
      noWait,
    );
    expect(result.attempts).toBe(2);
    expect(indexAt(app, 'latest')!.manifests.map((m) => m.digest)).toEqual(
      expect.arrayContaining([amd64.image.descriptor.digest, arm64.image.descriptor.digest, other.image.descriptor.digest]),
    );
  });

  it('#1: a tag changed between the read of the base and the PUT is not overwritten', async () => {
    const other = s390x();
    const before = registry.requests.length;
    let changed = false;
    registry.onRequest = (r) => {
      // the last look before the PUT: another job has just pushed
      if (!changed && r.kind === 'HEAD manifest' && r.reference === 'latest') {
        changed = true;
        const base = registry.read(app, 'latest')!.json;
        registry.addManifest(
          app,
          JSON.stringify({
            ...base,
            manifests: [...(base.manifests as unknown[]), { ...other.image.descriptor, platform: { architecture: 's390x', os: 'linux' } }],
          }),
          MediaType.OciIndex,
          'latest',
        );
      }
    };
    const result = await runMerge(
      request([`${REG}/acme/app:arm64`], [`${REG}/acme/app:latest`], { append: true }),
      registry,
      createMemoryLogger(),
      noWait,
    );
    expect(result.attempts).toBe(2);
    // the first attempt never PUT the tag
    expect(registry.requests.slice(before).filter((w) => w.kind === 'PUT manifest' && w.reference === 'latest')).toHaveLength(1);
    expect(
      indexAt(app, 'latest')!
        .manifests.map((m) => m.platform?.architecture)
        .filter((a) => a !== 'unknown'),
    ).toEqual(['amd64', 'arm64', 's390x']);
  });

  it('#1: a race lost on every attempt fails with a ConflictError naming the race; it never exits 0', async () => {
    let n = 0;
    registry.onRequest = (r) => {
      if (r.kind === 'HEAD manifest' && r.reference === 'latest') {
        // another job keeps pushing a fresh index
        addImage(registry, app, { platform: { os: 'linux', architecture: 'riscv64' }, seed: `churn-${n}` });
        registry.addManifest(
          app,
          JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [], annotations: { n: String(n++) } }),
          MediaType.OciIndex,
          'latest',
        );
      }
    };
    const sleeps: number[] = [];
    const error = await runMerge(
      request([`${REG}/acme/app:arm64`], [`${REG}/acme/app:latest`], { append: true }),
      registry,
      createMemoryLogger(),
      {
        appendRetry: { attempts: 3, backoffMs: 100, sleep: async (ms) => void sleeps.push(ms), random: () => 1 },
      },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect(isConflict(error)).toBe(true);
    expect((error as ConflictError).summary).toMatch(
      new RegExp(`^${REG}/acme/app:latest kept changing while this run appended to it: another job pushed to it 3 times in a row`),
    );
    expect((error as ConflictError).facts).toMatchObject({ registry: REG, repository: 'acme/app', reference: 'latest' });
    expect((error as ConflictError).hint).toContain('`concurrency:` group');
    // backoff doubles between attempts (jitter at its top here)
    expect(sleeps).toEqual([100, 200]);
  });

  it('a plain merge that loses its tag to another writer fails (VerifyError), never exits 0', async () => {
    registry.onRequest = (r) => {
      if (r.kind === 'HEAD manifest' && r.reference === 'latest')
        registry.addManifest(
          app,
          JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] }),
          MediaType.OciIndex,
          'latest',
        );
    };
    const error = await runMerge(request([`${REG}/acme/app:arm64`], [`${REG}/acme/app:latest`]), registry, createMemoryLogger()).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(VerifyError);
    expect((error as VerifyError).summary).toMatch(
      /^Read-back failed: reg\.example\/acme\/app:latest read back as sha256:[0-9a-f]{64}, not sha256:/,
    );
  });
});

describe('registry data is not trusted', () => {
  const hostile = { registry: REG, repository: 'acme/hostile' };

  it('#2: a platform with a workflow command in a descriptor is refused, naming the source; nothing is written', async () => {
    const image = addImage(registry, hostile, { platform: { os: 'linux', architecture: 'amd64' }, seed: 'h' });
    registry.addManifest(
      hostile,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        manifests: [{ ...image.descriptor, platform: { os: 'linux\n::error::pwned', architecture: 'amd64' } }],
      }),
      MediaType.OciIndex,
      'bad',
    );
    const logger = createMemoryLogger();
    const error = await runMerge(request([`${REG}/acme/hostile:bad`], [`${REG}/acme/app:latest`]), registry, logger).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PlatformError);
    expect((error as Error).message).toContain(
      `${REG}/acme/hostile:bad > ${image.descriptor.digest}: the registry served a platform whose os is "linux\\n::error::pwned"`,
    );
    expect((error as Error).message).not.toContain('\n');
    expect(registry.writes()).toEqual([]);
    expect(logger.lines.join('\n')).not.toContain('\n::error::');
  });

  it('#2: a platform with a workflow command in a config blob is refused too', async () => {
    addImage(registry, hostile, { platform: { os: 'linux', architecture: 'amd64\n::set-output name=digest::x' }, seed: 'c', tag: 'cfg' });
    const error = await runMerge(request([`${REG}/acme/hostile:cfg`], [`${REG}/acme/app:latest`]), registry, createMemoryLogger()).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PlatformError);
    expect((error as Error).message).toContain(
      `${REG}/acme/hostile:cfg (config blob): the registry served a platform whose architecture is "amd64\\n::set-output name=digest::x"`,
    );
    expect(registry.writes()).toEqual([]);
  });

  it("#2: text a registry serves (an attestation's subject) is escaped before it is logged", async () => {
    const image = addImage(registry, hostile, { platform: { os: 'linux', architecture: 'amd64' }, seed: 'o' });
    const orphan = addImage(registry, hostile, { platform: { os: 'unknown', architecture: 'unknown' }, seed: 'orphan' });
    const subject = 'sha256:0\n::error::owned';
    const annotations = { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': subject };
    registry.addManifest(
      hostile,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        manifests: [
          { ...image.descriptor, platform: { os: 'linux', architecture: 'amd64' } },
          { ...orphan.descriptor, annotations },
        ],
      }),
      MediaType.OciIndex,
      'orphan',
    );
    const logger = createMemoryLogger();
    await runMerge(request([`${REG}/acme/hostile:orphan`], [`${REG}/acme/hostile:latest`], { push: false }), registry, logger);
    // dangling in its own index: a warning, with the served digest escaped
    expect(logger.lines).toContain(
      `warning: Attestation ${orphan.descriptor.digest} in ${REG}/acme/hostile:orphan describes image sha256:0\\n::error::owned, which is not in that index: dropped (dangling-attestations: drop)`,
    );
    expect(logger.lines.some((l) => l.includes('\n'))).toBe(false);
  });

  it('#5: a child whose descriptor size is wrong is refused with both sizes, before anything is written', async () => {
    const image = addImage(registry, hostile, { platform: { os: 'linux', architecture: 'amd64' }, seed: 's' });
    registry.addManifest(
      hostile,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        manifests: [{ ...image.descriptor, size: 5, platform: { os: 'linux', architecture: 'amd64' } }],
      }),
      MediaType.OciIndex,
      'lies',
    );
    const error = await runMerge(request([`${REG}/acme/hostile:lies`], [`${REG}/acme/app:latest`]), registry, createMemoryLogger()).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidManifestError);
    expect((error as InvalidManifestError).summary).toBe(
      `${REG}/acme/hostile:lies > ${image.descriptor.digest}: the index lists this manifest as 5 bytes, but the registry served ${image.descriptor.size} bytes (digest ${image.descriptor.digest})`,
    );
    expect((error as InvalidManifestError).facts).toMatchObject({
      registry: REG,
      repository: 'acme/hostile',
      reference: image.descriptor.digest,
    });
    expect(registry.writes()).toEqual([]);
  });

  it('#5: the wrong size is refused for a target on another registry as well', async () => {
    const image = addImage(registry, hostile, { platform: { os: 'linux', architecture: 'amd64' }, seed: 't' });
    registry.addManifest(
      hostile,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        manifests: [{ ...image.descriptor, size: image.descriptor.size + 1, platform: { os: 'linux', architecture: 'amd64' } }],
      }),
      MediaType.OciIndex,
      'lies',
    );
    await expect(
      runMerge(request([`${REG}/acme/hostile:lies`], [`${OTHER}/acme/app:latest`]), registry, createMemoryLogger()),
    ).rejects.toThrow(InvalidManifestError);
    expect(registry.writes()).toEqual([]);
  });
});

describe('nested indexes', () => {
  /** An index `levels` deep around the amd64 buildx index. */
  function nest(levels: number): string {
    let child = { ...amd64.index };
    for (let i = 0; i < levels; i++) {
      const d = registry.addManifest(
        build,
        JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [child] }),
        MediaType.OciIndex,
      );
      child = d;
    }
    // the leaf index and its children must be in the same repository
    registry.addManifest(build, JSON.stringify(registry.read(app, amd64.index.digest)!.json), MediaType.OciIndex);
    for (const d of [amd64.image.descriptor, amd64.attestation])
      registry.addManifest(build, JSON.stringify(registry.read(app, d.digest)!.json), d.mediaType);
    registry.repository(build).tags.set(`nest${levels}`, child.digest);
    return `${REG}/acme/build:nest${levels}`;
  }

  it('are flattened up to the depth limit', async () => {
    const result = await runMerge(request([nest(4)], [`${REG}/acme/build:flat`], { push: false }), registry, createMemoryLogger());
    expect(result.plan.entries.map((e) => e.descriptor.digest)).toEqual([amd64.image.descriptor.digest, amd64.attestation.digest]);
  });

  it('one level deeper is refused', async () => {
    await expect(runMerge(request([nest(5)], [`${REG}/acme/build:flat`], { push: false }), registry, createMemoryLogger())).rejects.toThrow(
      /indexes nested more than 4 deep/,
    );
  });
});

/** The same store seen through a second client whose requests do not trigger the first one's hook. */
function memoryView(source: MemoryRegistry): MemoryRegistry {
  const view = Object.create(source) as MemoryRegistry;
  Object.defineProperty(view, 'onRequest', { value: undefined, writable: true });
  return view;
}
