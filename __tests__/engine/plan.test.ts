import { describe, expect, it } from '@jest/globals';
import { sha256Digest } from '../../src/oci/digest.js';
import { MediaType, type Descriptor } from '../../src/oci/manifest.js';
import { parsePlatform, platformFromConfig } from '../../src/oci/platform.js';
import { classifyIndexEntry, planBlobs, planMerge, planTargets } from '../../src/engine/plan.js';
import type { ResolvedSource, SourceEntry } from '../../src/engine/model.js';
import { renderActionError } from '../../src/action/wording.js';
import { thrown } from '../support/caught.js';
import { hex } from '../support/digests.js';

const digest = (n: number) => `sha256:${hex(n)}`;

function image(n: number, platform: string, mediaType: string = MediaType.OciManifest): SourceEntry {
  const p = parsePlatform(platform);
  return { kind: 'image', descriptor: { mediaType, digest: digest(n), size: 500 + n, platform: p }, platform: p };
}

function attestation(n: number, subject: number): SourceEntry {
  const descriptor: Descriptor = {
    mediaType: MediaType.OciManifest,
    digest: digest(n),
    size: 567,
    annotations: { 'vnd.docker.reference.digest': digest(subject), 'vnd.docker.reference.type': 'attestation-manifest' },
    platform: { architecture: 'unknown', os: 'unknown' },
  };
  return classifyIndexEntry(descriptor);
}

function source(input: string, repository: string, entries: SourceEntry[], registry = 'reg.example:5000'): ResolvedSource {
  return { input, repository: { registry, repository }, digest: digest(9000 + input.length), mediaType: MediaType.OciIndex, entries };
}

const seedSources = () => [
  source('reg.example:5000/acme/runner-arm64:focal', 'acme/runner-arm64', [image(2, 'linux/arm64'), attestation(12, 2)]),
  source('reg.example:5000/acme/runner-amd64:focal', 'acme/runner-amd64', [image(1, 'linux/amd64'), attestation(11, 1)]),
];

describe('planMerge', () => {
  it('merges buildx sources into one OCI index, images first in platform order, each attestation after the images and still pointing at its image', () => {
    const plan = planMerge(seedSources(), { attestations: 'keep', format: 'auto' });
    expect(plan.mediaType).toBe(MediaType.OciIndex);
    expect(plan.index.manifests.map((m) => m.digest)).toEqual([digest(1), digest(2), digest(11), digest(12)]);
    expect(plan.platforms).toEqual(['linux/amd64', 'linux/arm64']);
    const att = plan.index.manifests[2];
    expect(att.annotations?.['vnd.docker.reference.digest']).toBe(digest(1));
    expect(att.platform).toEqual({ architecture: 'unknown', os: 'unknown' });
    expect(plan.digest).toBe(sha256Digest(plan.bytes));
    expect(JSON.parse(plan.bytes.toString())).toEqual(plan.index);
  });

  it('gives the same bytes whatever the order of the sources', () => {
    const a = planMerge(seedSources(), { attestations: 'keep', format: 'auto' });
    const b = planMerge(seedSources().reverse(), { attestations: 'keep', format: 'auto' });
    expect(b.bytes.equals(a.bytes)).toBe(true);
  });

  it('strips attestations and other non-image entries on request, and reports them as dropped', () => {
    const other = classifyIndexEntry({ mediaType: 'application/vnd.example.sig', digest: digest(50), size: 10 });
    const sources = seedSources();
    sources[0].entries.push(other);
    const plan = planMerge(sources, { attestations: 'strip', format: 'auto' });
    expect(plan.index.manifests.map((m) => m.digest)).toEqual([digest(1), digest(2)]);
    expect(plan.dropped.map((d) => d.descriptor.digest).sort()).toEqual([digest(11), digest(12), digest(50)]);
  });

  it('drops an attestation whose image is not in the index', () => {
    const sources = [source('a', 'a', [image(1, 'linux/amd64'), attestation(11, 999)])];
    const plan = planMerge(sources, { attestations: 'keep', format: 'auto' });
    expect(plan.entries.map((e) => e.kind)).toEqual(['image']);
    expect(plan.dropped[0].descriptor.digest).toBe(digest(11));
  });

  it('dangling-attestations: keep keeps a dangling attestation linked to nothing; drop (default) drops it; both report it', () => {
    const sources = () => [source('a', 'a', [image(1, 'linux/amd64'), attestation(11, 999)])];
    const kept = planMerge(sources(), { attestations: 'keep', format: 'auto', danglingAttestations: 'keep' });
    expect(kept.index.manifests.map((m) => m.digest)).toEqual([digest(1), digest(11)]);
    expect(kept.index.manifests[1].annotations).toEqual({ 'vnd.docker.reference.type': 'attestation-manifest' });
    expect(kept.entries[1].subject).toBeUndefined();
    expect(kept.dangling.map((d) => [d.entry.descriptor.digest, d.missing, d.kept])).toEqual([[digest(11), digest(999), true]]);
    const dropped = planMerge(sources(), { attestations: 'keep', format: 'auto' });
    expect(dropped.index.manifests.map((m) => m.digest)).toEqual([digest(1)]);
    expect(dropped.dangling.map((d) => d.kept)).toEqual([false]);
    // strip and referrers leave nothing to keep it in: dropped, still reported
    for (const attestations of ['strip', 'referrers'] as const) {
      const plan = planMerge(sources(), { attestations, format: 'auto', danglingAttestations: 'keep' });
      expect(plan.index.manifests.map((m) => m.digest)).toEqual([digest(1)]);
      expect(plan.dangling.map((d) => d.kept)).toEqual([false]);
      expect(plan.attestationReferrers).toEqual([]);
    }
  });

  it('attestations: referrers takes attestations and other artifacts out of the index; each attestation is to be a referrer of its image', () => {
    const other = classifyIndexEntry({ mediaType: 'application/vnd.example.sig', digest: digest(50), size: 10 });
    const sources = seedSources();
    sources[0].entries.push(other);
    const plan = planMerge(sources, { attestations: 'referrers', format: 'auto' });
    expect(plan.index.manifests.map((m) => m.digest)).toEqual([digest(1), digest(2)]);
    expect(plan.index.manifests.every((m) => m.platform?.os !== 'unknown')).toBe(true);
    expect(plan.attestationReferrers.map((a) => [a.descriptor.digest, a.subject])).toEqual([
      [digest(11), digest(1)],
      [digest(12), digest(2)],
    ]);
    expect(plan.dropped.map((d) => d.descriptor.digest)).toEqual([digest(50)]);
    // Docker schema 2 images, images only: auto gives a Docker list (the attestations are OCI, but no longer in it)
    const docker = [source('a', 'a', [image(1, 'linux/amd64', MediaType.DockerManifest), attestation(11, 1)])];
    expect(planMerge(docker, { attestations: 'keep', format: 'auto' }).mediaType).toBe(MediaType.OciIndex);
    const list = planMerge(docker, { attestations: 'referrers', format: 'auto' });
    expect(list.mediaType).toBe(MediaType.DockerManifestList);
    expect(list.attestationReferrers.map((a) => a.descriptor.digest)).toEqual([digest(11)]);
    expect(planMerge(docker, { attestations: 'referrers', format: 'docker' }).mediaType).toBe(MediaType.DockerManifestList);
  });

  it('fails on two sources with one platform, naming both sources and the platform', () => {
    const sources = [source('one:1', 'one', [image(1, 'linux/arm64')]), source('two:2', 'two', [image(2, 'linux/aarch64')])];
    expect(() => planMerge(sources, { attestations: 'keep', format: 'auto' })).toThrow(/linux\/arm64.*one:1.*two:2/);
  });

  it('accepts the same image twice (same digest) as one entry', () => {
    const sources = [source('one:1', 'one', [image(1, 'linux/arm64')]), source('one:again', 'one', [image(1, 'linux/arm64')])];
    expect(planMerge(sources, { attestations: 'keep', format: 'auto' }).entries).toHaveLength(1);
  });

  it.each([
    [['linux/amd64', 'linux/arm64', 'linux/s390x'], /linux\/s390x expected .* not found .*found: linux\/amd64, linux\/arm64/],
    [['linux/amd64'], /linux\/arm64 \(from reg\.example:5000\/acme\/runner-arm64:focal\) not listed in `platforms`/],
  ])('checks the expected platforms %j', (expected, message) => {
    expect(() =>
      planMerge(seedSources(), { attestations: 'keep', format: 'auto', expectedPlatforms: expected.map(parsePlatform) }),
    ).toThrow(message);
  });

  it('matches expected platforms through normalisation (arm64/v8 ≡ arm64, x86_64 ≡ amd64)', () => {
    const plan = planMerge(seedSources(), {
      attestations: 'keep',
      format: 'auto',
      expectedPlatforms: ['linux/x86_64', 'linux/arm64/v8'].map(parsePlatform),
    });
    expect(plan.platforms).toEqual(['linux/amd64', 'linux/arm64']);
  });

  it('gives a Docker manifest list when every child is Docker schema 2 (auto)', () => {
    const sources = [
      source('a', 'a', [image(1, 'linux/amd64', MediaType.DockerManifest)]),
      source('b', 'b', [image(2, 'linux/arm/v7', MediaType.DockerManifest)]),
    ];
    const plan = planMerge(sources, { attestations: 'keep', format: 'auto' });
    expect(plan.mediaType).toBe(MediaType.DockerManifestList);
    expect(plan.index.manifests[1].platform).toEqual({ architecture: 'arm', os: 'linux', variant: 'v7' });
    expect(planMerge(sources, { attestations: 'keep', format: 'oci' }).mediaType).toBe(MediaType.OciIndex);
  });

  it('gives an OCI index in auto mode when any child is OCI, and refuses format docker with the reason', () => {
    const sources = [source('a', 'a', [image(1, 'linux/amd64', MediaType.DockerManifest)]), source('b:1', 'b', [image(2, 'linux/arm64')])];
    expect(planMerge(sources, { attestations: 'keep', format: 'auto' }).mediaType).toBe(MediaType.OciIndex);
    expect(() => planMerge(sources, { attestations: 'keep', format: 'docker' })).toThrow(
      /format: docker cannot hold application\/vnd\.oci\.image\.manifest\.v1\+json .*from b:1, linux\/arm64/,
    );
  });

  it('refuses format docker for kept attestations, suggesting referrers or strip', () => {
    const sources = [source('a', 'a', [image(1, 'linux/amd64', MediaType.DockerManifest), attestation(11, 1)])];
    expect(renderActionError(thrown(() => planMerge(sources, { attestations: 'keep', format: 'docker' })))).toMatch(
      /attestation manifest .*Set input `format` to oci \(or auto\), or input `attestations` to referrers \(or strip\)/,
    );
    expect(planMerge(sources, { attestations: 'strip', format: 'docker' }).mediaType).toBe(MediaType.DockerManifestList);
  });

  it('applies index and per-platform descriptor annotations (OCI), and refuses them with format docker', () => {
    const annotations = {
      index: { 'org.opencontainers.image.version': '1.0' },
      descriptors: [
        { key: 'a', value: 'all' },
        { key: 'arm', value: 'yes', platform: parsePlatform('linux/arm64') },
      ],
    };
    const plan = planMerge(seedSources(), { attestations: 'keep', format: 'auto', annotations });
    expect(plan.index.annotations).toEqual({ 'org.opencontainers.image.version': '1.0' });
    expect(plan.index.manifests[0].annotations).toEqual({ a: 'all' });
    expect(plan.index.manifests[1].annotations).toEqual({ a: 'all', arm: 'yes' });
    expect(plan.index.manifests[2].annotations?.a).toBeUndefined();
    const docker = [source('a', 'a', [image(1, 'linux/amd64', MediaType.DockerManifest)])];
    // A selector that matches no image would be dropped silently: refused.
    expect(() => planMerge(docker, { attestations: 'keep', format: 'auto', annotations })).toThrow(
      /manifest-descriptor\[linux\/arm64\]:arm matches no image of the index \(platforms: linux\/amd64\)/,
    );
    const unselected = { ...annotations, descriptors: [{ key: 'a', value: 'all' }] };
    expect(planMerge(docker, { attestations: 'keep', format: 'auto', annotations: unselected }).mediaType).toBe(MediaType.OciIndex);
    expect(() => planMerge(docker, { attestations: 'keep', format: 'docker', annotations: unselected })).toThrow(
      /cannot carry annotations/,
    );
  });

  it('append: keeps base entries of other platforms, replaces same-platform ones with their attestations', () => {
    const base: ResolvedSource = {
      ...source('reg/app:latest', 'app', [
        image(100, 'linux/amd64'),
        image(101, 'linux/s390x'),
        attestation(110, 100),
        attestation(111, 101),
      ]),
      isBase: true,
    };
    const plan = planMerge([source('new', 'acme/new', [image(1, 'linux/amd64'), attestation(11, 1)]), base], {
      attestations: 'keep',
      format: 'auto',
    });
    expect(plan.index.manifests.map((m) => m.digest)).toEqual([digest(1), digest(101), digest(11), digest(111)]);
    expect(plan.dropped.map((d) => d.descriptor.digest).sort()).toEqual([digest(100), digest(110)]);
  });
});

describe('platformFromConfig', () => {
  it.each([
    [{ os: 'linux', architecture: 'arm', variant: 'v6' }, 'linux/arm/v6', undefined],
    [{ os: 'linux', architecture: 'arm' }, 'linux/arm/v7', undefined],
    [{ os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.2113' }, 'windows/amd64:10.0.20348.2113', '10.0.20348.2113'],
    [{ os: 'linux', architecture: 'aarch64' }, 'linux/arm64', undefined],
  ])('reads %j', (config, expected, osVersion) => {
    const p = platformFromConfig(config, 'img');
    expect([p.os, p.architecture, p.variant].filter(Boolean).join('/') + (p['os.version'] ? `:${p['os.version']}` : '')).toBe(expected);
    expect(p['os.version']).toBe(osVersion);
  });

  it('fails naming the image when the config has no platform', () => {
    expect(() => platformFromConfig({ rootfs: {} }, 'reg/x:1')).toThrow(/reg\/x:1: its config blob has no os\/architecture/);
  });
});

describe('planTargets and planBlobs', () => {
  it('groups tags by repository and lists only children from elsewhere', () => {
    const plan = planMerge(seedSources(), { attestations: 'keep', format: 'auto' });
    const targets = planTargets(plan, [
      { registry: 'reg.example:5000', repository: 'acme/runner-amd64', tag: 'multi' },
      { registry: 'reg.example:5000', repository: 'acme/runner-amd64', tag: 'latest' },
      { registry: 'other.example', repository: 'acme/runner', tag: 'latest' },
    ]);
    expect(targets).toHaveLength(2);
    expect(targets[0].tags).toEqual(['multi', 'latest']);
    expect(targets[0].manifests.map((m) => m.descriptor.digest)).toEqual([digest(2), digest(12)]);
    expect(targets[1].manifests).toHaveLength(4);
  });

  it('mounts within a registry, copies across, and never plans a blob twice for one target', () => {
    const config = { mediaType: MediaType.OciConfig, digest: digest(70), size: 10 };
    const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digest(71), size: 20 };
    const manifest = { schemaVersion: 2 as const, config, layers: [layer] };
    const seen = new Set<string>();
    const from = { registry: 'a.example', repository: 'x' };
    const first = planBlobs(manifest, from, { registry: 'a.example', repository: 'y' }, seen);
    expect(first.map((b) => [b.descriptor.digest, b.method])).toEqual([
      [digest(70), 'mount'],
      [digest(71), 'mount'],
    ]);
    expect(planBlobs(manifest, from, { registry: 'a.example', repository: 'y' }, seen)).toEqual([]);
    expect(planBlobs(manifest, from, { registry: 'b.example', repository: 'y' }, new Set()).map((b) => b.method)).toEqual(['copy', 'copy']);
  });
});
