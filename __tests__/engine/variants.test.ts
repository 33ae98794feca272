// Compression variants (gzip and zstd of one image, both in the index, gzip first, the zstd one
// annotated as containers/image writes it) and the index's artifactType, in the plan; and the
// facts the plan decides on, read from the registry only for images that share a platform.
import { describe, expect, it } from '@jest/globals';
import { PlatformError, UnsupportedMediaTypeError } from '../../src/base/errors.js';
import { renderActionError } from '../../src/action/wording.js';
import type { LayerFacts, ResolvedSource, SourceEntry } from '../../src/engine/model.js';
import { planMerge } from '../../src/engine/plan.js';
import { describeVariants } from '../../src/engine/resolve.js';
import { layerFacts } from '../../src/engine/variants.js';
import { MediaType } from '../../src/oci/manifest.js';
import { parsePlatform } from '../../src/oci/platform.js';
import { MemoryRegistry } from '../support/memory-registry.js';
import { thrown } from '../support/caught.js';

const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
const CHUNKED = { 'io.github.containers.zstd-chunked.manifest-checksum': digest(77) };

function image(n: number, platform: string, layers?: LayerFacts): SourceEntry {
  const p = parsePlatform(platform);
  return {
    kind: 'image',
    descriptor: { mediaType: MediaType.OciManifest, digest: digest(n), size: 500 + n, platform: p },
    platform: p,
    layers,
  };
}

function source(input: string, entries: SourceEntry[]): ResolvedSource {
  return {
    input,
    repository: { registry: 'reg.example', repository: 'acme/app' },
    digest: digest(9000 + input.length),
    mediaType: MediaType.OciIndex,
    entries,
  };
}

const facts = (compression: LayerFacts['compression'], config = digest(100)): LayerFacts => ({ config, layerCount: 2, compression });

describe('compression variants in the plan', () => {
  it('keeps gzip and zstd of one image: gzip first, zstd annotated; platforms counts them once', () => {
    const sources = [
      source('reg.example/acme/app:zstd', [image(3, 'linux/amd64', facts('zstd'))]),
      source('reg.example/acme/app:gzip', [image(2, 'linux/amd64', facts('gzip'))]),
      source('reg.example/acme/app:arm64', [image(1, 'linux/arm64')]),
    ];
    const plan = planMerge(sources, {
      attestations: 'keep',
      format: 'auto',
      expectedPlatforms: [parsePlatform('linux/amd64'), parsePlatform('linux/arm64')],
    });
    expect(plan.index.manifests.map((m) => [m.digest, m.annotations])).toEqual([
      [digest(2), undefined],
      [digest(3), { 'io.github.containers.compression.zstd': 'true' }],
      [digest(1), undefined],
    ]);
    expect(plan.platforms).toEqual(['linux/amd64', 'linux/arm64']);
    // the same bytes whatever the order of the sources
    expect(planMerge([...sources].reverse(), { attestations: 'keep', format: 'auto' }).bytes.equals(plan.bytes)).toBe(true);
  });

  it('zstd:chunked is a zstd variant too', () => {
    const plan = planMerge(
      [source('a', [image(5, 'linux/arm64', facts('zstd:chunked'))]), source('b', [image(6, 'linux/arm64', facts('gzip'))])],
      {
        attestations: 'keep',
        format: 'auto',
      },
    );
    expect(plan.index.manifests.map((m) => m.digest)).toEqual([digest(6), digest(5)]);
    expect(plan.index.manifests[1].annotations).toEqual({ 'io.github.containers.compression.zstd': 'true' });
  });

  it.each([
    [
      'two gzip images of one build',
      facts('gzip'),
      facts('gzip'),
      'the same image twice, its layers gzip in one and gzip in the other; only a gzip and a zstd (or zstd:chunked) variant may share a platform',
    ],
    [
      'zstd and zstd:chunked',
      facts('zstd'),
      facts('zstd:chunked'),
      'the same image twice, its layers zstd in one and zstd:chunked in the other',
    ],
    [
      'gzip and zstd of different builds',
      facts('gzip'),
      facts('zstd', digest(101)),
      `different images (configs ${digest(100)} and ${digest(101)}), not compression variants of one`,
    ],
    [
      'uncompressed and zstd',
      facts('other'),
      facts('zstd'),
      'the same image twice, its layers uncompressed or mixed in one and zstd in the other',
    ],
  ])('refuses any other pair of one platform before anything is written: %s', (_, a, b, why) => {
    const error = thrown(() =>
      planMerge(
        [source('reg.example/acme/app:a', [image(2, 'linux/amd64', a)]), source('reg.example/acme/app:b', [image(3, 'linux/amd64', b)])],
        { attestations: 'keep', format: 'auto' },
      ),
    );
    expect(error).toBeInstanceOf(PlatformError);
    expect(renderActionError(error)).toContain(
      `Platform linux/amd64 is provided by two sources: reg.example/acme/app:a (${digest(2)}) and reg.example/acme/app:b (${digest(3)}): ${why}`,
    );
    expect(renderActionError(error)).toContain('Each platform may appear once (or twice: gzip and zstd compression variants of one image)');
  });

  it('refuses three images of one platform, even with a gzip and a zstd among them', () => {
    const error = thrown(() =>
      planMerge(
        [
          source('a', [image(2, 'linux/amd64', facts('gzip'))]),
          source('b', [image(3, 'linux/amd64', facts('zstd'))]),
          source('c', [image(4, 'linux/amd64', facts('zstd:chunked'))]),
        ],
        {
          attestations: 'keep',
          format: 'auto',
        },
      ),
    );
    expect(error.message).toContain(
      `Platform linux/amd64 is provided by 3 sources: a (${digest(2)}), b (${digest(3)}) and c (${digest(4)}): 3 images of one platform`,
    );
  });

  it('append: the index keeps its own zstd variant beside its image, and a source of that platform replaces both', () => {
    const zstd = image(8, 'linux/arm64');
    zstd.descriptor.annotations = { 'io.github.containers.compression.zstd': 'true' };
    const base: ResolvedSource = { ...source('reg.example/acme/app:latest', [zstd, image(7, 'linux/arm64')]), isBase: true };
    const kept = planMerge([source('new', [image(1, 'linux/amd64')]), base], { attestations: 'keep', format: 'auto' });
    expect(kept.index.manifests.map((m) => m.digest)).toEqual([digest(1), digest(7), digest(8)]);
    const replaced = planMerge([source('new', [image(9, 'linux/arm64')]), base], { attestations: 'keep', format: 'auto' });
    expect(replaced.index.manifests.map((m) => m.digest)).toEqual([digest(9)]);
  });
});

describe('layerFacts and describeVariants', () => {
  const manifest = (config: number, layers: Array<{ mediaType: string; annotations?: Record<string, string> }>) => ({
    schemaVersion: 2 as const,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: digest(config), size: 10 },
    layers: layers.map((l, i) => ({ ...l, digest: digest(200 + i), size: 100 })),
  });

  it('tells gzip, zstd, zstd:chunked (a small plain zstd layer among chunked ones too) and mixed layers apart', () => {
    expect(layerFacts(manifest(1, [{ mediaType: GZIP }, { mediaType: GZIP }]))).toEqual({
      config: digest(1),
      layerCount: 2,
      compression: 'gzip',
    });
    expect(layerFacts(manifest(1, [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip' }])).compression).toBe('gzip');
    expect(layerFacts(manifest(1, [{ mediaType: ZSTD }])).compression).toBe('zstd');
    expect(layerFacts(manifest(1, [{ mediaType: ZSTD, annotations: CHUNKED }, { mediaType: ZSTD }])).compression).toBe('zstd:chunked');
    expect(layerFacts(manifest(1, [{ mediaType: GZIP }, { mediaType: ZSTD }])).compression).toBe('other');
    expect(layerFacts(manifest(1, [{ mediaType: 'application/vnd.oci.image.layer.v1.tar' }])).compression).toBe('other');
  });

  it('reads the manifests of images that share a platform only', async () => {
    const registry = new MemoryRegistry();
    const repo = { registry: 'reg.example', repository: 'acme/app' };
    const add = (m: unknown) => registry.addManifest(repo, JSON.stringify(m), MediaType.OciManifest);
    const gzip = add(manifest(1, [{ mediaType: GZIP }]));
    const zstd = add(manifest(1, [{ mediaType: ZSTD }]));
    const amd64 = parsePlatform('linux/amd64');
    const entry = (d: typeof gzip, platform = amd64): SourceEntry => ({ kind: 'image', descriptor: { ...d, platform }, platform });
    const sources = [
      source('g', [entry(gzip)]),
      source('z', [entry(zstd)]),
      source('arm', [entry(add(manifest(2, [{ mediaType: GZIP }])), parsePlatform('linux/arm64'))]),
    ];
    const described = await describeVariants({ client: registry, concurrency: 4 }, sources);
    expect(described.map((s) => s.entries[0].layers?.compression)).toEqual(['gzip', 'zstd', undefined]);
    // nothing shared, nothing read
    const alone = [sources[0], sources[2]];
    expect(await describeVariants({ client: registry, concurrency: 4 }, alone)).toBe(alone);
  });
});

describe('artifactType', () => {
  const sources = () => [source('reg.example/acme/app:amd64', [image(1, 'linux/amd64')])];

  it("is the index's, after mediaType as the image spec orders it; auto then gives an OCI index", () => {
    const plan = planMerge(sources(), { attestations: 'keep', format: 'auto', artifactType: 'application/vnd.acme.bundle.v1+json' });
    expect(plan.mediaType).toBe(MediaType.OciIndex);
    expect(plan.formatReason).toBe('auto: OCI image manifests among the children');
    expect(Object.keys(JSON.parse(plan.bytes.toString()))).toEqual(['schemaVersion', 'mediaType', 'artifactType', 'manifests']);
    expect(plan.index.artifactType).toBe('application/vnd.acme.bundle.v1+json');
    const docker = [
      source('d', [
        { ...image(2, 'linux/amd64'), descriptor: { ...image(2, 'linux/amd64').descriptor, mediaType: MediaType.DockerManifest } },
      ]),
    ];
    expect(planMerge(docker, { attestations: 'keep', format: 'auto', artifactType: 'application/x-acme' }).formatReason).toBe(
      'auto: artifactType needs an OCI index',
    );
  });

  it('with format docker is refused, saying what to do', () => {
    const error = thrown(() => planMerge(sources(), { attestations: 'keep', format: 'docker', artifactType: 'application/x-acme' }));
    expect(error).toBeInstanceOf(UnsupportedMediaTypeError);
    expect(renderActionError(error)).toBe(
      'format: docker cannot carry artifactType "application/x-acme": a Docker manifest list has no artifactType field. Set input `format` to oci (or auto), or drop input `artifact-type`',
    );
  });

  it("append keeps the index's artifactType unless one is given", () => {
    const base: ResolvedSource = {
      ...source('reg.example/acme/app:latest', [image(7, 'linux/arm64')]),
      isBase: true,
      artifactType: 'application/x-old',
    };
    expect(planMerge([...sources(), base], { attestations: 'keep', format: 'auto' }).index.artifactType).toBe('application/x-old');
    expect(
      planMerge([...sources(), base], { attestations: 'keep', format: 'auto', artifactType: 'application/x-new' }).index.artifactType,
    ).toBe('application/x-new');
  });
});
