// The core abilities, end to end on every real registry implementation (plain mode), verified
// with skopeo. What differs between implementations is read from their capabilities.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Digest } from '../../src/oci/digest.js';
import { MediaType } from '../../src/oci/manifest.js';
import { PLATFORMS } from '../../scripts/support/fixtures/media.js';
import { hasBlob, hasManifest } from '../../scripts/support/fixtures/client.js';
import { pushDockerImage, pushOciImage } from '../../scripts/support/fixtures/images.js';
import { pushBuildxImage } from '../../scripts/support/fixtures/buildx.js';
import { seedCase, seedVariety, type SeedCase, type VarietyCase } from '../../scripts/support/fixtures/cases.js';
import {
  type RegistryCapabilities,
  type RegistryImplementation,
  type RunningRegistry,
  startRegistry,
} from '../../scripts/support/registry.js';
import { skopeoCopyAllToOciLayout, skopeoInspectRaw } from '../../scripts/support/skopeo.js';
import { merge, mergeFailure } from './harness.js';
import { IMPLEMENTATION_ROWS } from './implementations.js';

interface Index {
  mediaType: string;
  manifests: Array<{
    mediaType: string;
    digest: string;
    size: number;
    platform?: Record<string, unknown>;
    annotations?: Record<string, string>;
  }>;
  annotations?: Record<string, string>;
}

async function rawIndex(ref: string): Promise<{ bytes: Buffer; index: Index }> {
  const bytes = await skopeoInspectRaw(ref, { tlsVerify: false });
  return { bytes, index: JSON.parse(bytes.toString('utf8')) as Index };
}

async function copyAll(ref: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mm-oci-layout-'));
  await skopeoCopyAllToOciLayout(ref, dir, { tlsVerify: false });
  return dir;
}

describe.each(IMPLEMENTATION_ROWS)('on %s', (implementation: RegistryImplementation, can: RegistryCapabilities) => {
  let registry: RunningRegistry;
  let seed: SeedCase;
  let variety: VarietyCase;

  beforeAll(async () => {
    registry = await startRegistry({ implementation, name: `merge-${implementation}` });
    // olareg refuses a manifest whose foreign layer it does not hold: there the Windows image has none
    [seed, variety] = await Promise.all([
      seedCase(registry),
      seedVariety(registry, 'acme/variety', 'variety', { foreignLayers: can.foreignLayersUnpushed }),
    ]);
  });

  afterAll(async () => {
    await registry?.stop();
  });

  describe('merging the seed case (buildx indexes with attestations, in two other repositories)', () => {
    it('pushes one OCI index holding both images and both attestations, each still pointing at its image, complete in the target repository', async () => {
      const target = `${registry.host}/acme/github-runner:focal`;
      const { result } = await merge({ sources: seed.sources.join('\n'), tags: target });

      const { bytes, index } = await rawIndex(target);
      expect(sha256Digest(bytes)).toBe(result.digest);
      expect(bytes.toString('utf8')).toBe(result.manifest);
      expect(index.mediaType).toBe(MediaType.OciIndex);
      expect(index.manifests.map((m) => m.digest)).toEqual([
        seed.amd64.imageDigest,
        seed.arm64.imageDigest,
        seed.amd64.attestationDigest,
        seed.arm64.attestationDigest,
      ]);
      expect(index.manifests[0].platform).toEqual({ architecture: 'amd64', os: 'linux' });
      expect(index.manifests[1].platform).toEqual({ architecture: 'arm64', os: 'linux' });
      for (const [i, image] of [
        [2, seed.amd64],
        [3, seed.arm64],
      ] as const) {
        expect(index.manifests[i].annotations).toEqual({
          'vnd.docker.reference.digest': image.imageDigest,
          'vnd.docker.reference.type': 'attestation-manifest',
        });
        expect(index.manifests[i].platform).toEqual({ architecture: 'unknown', os: 'unknown' });
      }
      // Children are byte-identical: sizes and digests as the sources had them.
      expect(index.manifests[0].size).toBe(seed.amd64.image.size);

      // skopeo copy --all fails on any missing child or blob, or any digest mismatch.
      const layout = await copyAll(target);
      const blobs = await readdir(join(layout, 'blobs', 'sha256'));
      expect(blobs).toEqual(expect.arrayContaining([seed.amd64.attestationDigest.slice(7), seed.arm64.image.layers[2].digest.slice(7)]));

      // Same registry, other repositories: one mount request per blob, nothing read first.
      const { mounted, copied, existing } = result.targets[0].blobs;
      expect(mounted + copied + existing).toBeGreaterThanOrEqual(2 * (1 + 3));
      expect(result.requests.byKind['POST mount']).toBe(mounted + copied + existing);
      if (can.mount) {
        // mounted, not copied
        expect(copied).toBe(0);
        expect(existing).toBe(0);
      } else {
        // The registry answered each mount with an upload session (202), never with a second POST.
        expect(mounted).toBe(0);
        expect(result.requests.byKind['POST upload'] ?? 0).toBe(0);
        if (can.blobsPerRepository) {
          // the session was filled with the streamed blob
          expect(existing).toBe(0);
        } else {
          // one blob store for the whole registry: it had every blob, so the sessions were closed
          // unused (the HEAD asked beside the source's GET, whose body is left unread) and
          // nothing was uploaded
          expect(copied).toBe(0);
          expect(result.requests.byKind['PUT upload'] ?? 0).toBe(0);
          expect(result.requests.byKind['PATCH upload'] ?? 0).toBe(0);
          expect(result.requests.byKind['DELETE upload']).toBe(existing);
        }
      }
      expect(result.targets[0].manifestsPushed).toBe(4);
      expect(result.platforms).toEqual(['linux/amd64', 'linux/arm64']);
      expect(result.images).toEqual([`${target}@${result.digest}`]);
    });

    it('is deterministic: the sources in another order give the same index digest', async () => {
      const a = await merge({ sources: seed.sources.join('\n'), tags: `${registry.host}/acme/det:a`, push: 'false' });
      const b = await merge({ sources: [...seed.sources].reverse().join(','), tags: `${registry.host}/acme/det:b`, push: 'false' });
      expect(b.result.digest).toBe(a.result.digest);
    });

    it('attestations: strip gives an index of the images only', async () => {
      const target = `${registry.host}/acme/github-runner:stripped`;
      const { result } = await merge({ sources: seed.sources.join('\n'), tags: target, attestations: 'strip' });
      const { index } = await rawIndex(target);
      expect(index.manifests.map((m) => m.digest)).toEqual([seed.amd64.imageDigest, seed.arm64.imageDigest]);
      expect(index.manifests.every((m) => !m.annotations)).toBe(true);
      expect(result.plan.dropped.map((d) => d.descriptor.digest).sort()).toEqual(
        [seed.amd64.attestationDigest, seed.arm64.attestationDigest].sort(),
      );
      await copyAll(target);
    });
  });

  describe('bare image manifests', () => {
    it('take their platform from the config blob: variant (arm/v7, arm/v6, arm64/v8) and os.version', async () => {
      const target = `${registry.host}/acme/variety-merged:all`;
      const { result } = await merge({ sources: variety.sources.join('\n'), tags: target });
      const { index } = await rawIndex(target);
      const platforms = index.manifests.filter((m) => m.platform?.os !== 'unknown').map((m) => m.platform);
      expect(platforms).toEqual([
        { architecture: 'amd64', os: 'linux' },
        { architecture: 'arm64', os: 'linux' },
        { architecture: 'arm', os: 'linux', variant: 'v7' },
        { architecture: 'arm', os: 'linux', variant: 'v6' },
        { architecture: 'amd64', os: 'windows', 'os.version': '10.0.20348.2113' },
      ]);
      expect(result.platforms).toEqual(['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'linux/arm/v6', 'windows/amd64:10.0.20348.2113']);
      // Every distributable blob was brought in (the Windows base layer is foreign: never pushed anywhere).
      for (const layer of [...variety.dockerArmV7.layers, ...variety.windowsLtsc2022.layers]) {
        expect(await hasBlob(registry, 'acme/variety-merged', layer.digest)).toBe(true);
      }
    });
  });

  describe('format', () => {
    it('auto gives a Docker manifest list for all-Docker schema 2 sources; oci forces an OCI index', async () => {
      const [v7, v6] = [variety.sources[2], variety.sources[3]];
      await merge({ sources: `${v7}\n${v6}`, tags: `${registry.host}/acme/docker-list:auto` });
      expect((await rawIndex(`${registry.host}/acme/docker-list:auto`)).index.mediaType).toBe(MediaType.DockerManifestList);
      await merge({ sources: `${v7}\n${v6}`, tags: `${registry.host}/acme/docker-list:oci`, format: 'oci' });
      const oci = await rawIndex(`${registry.host}/acme/docker-list:oci`);
      expect(oci.index.mediaType).toBe(MediaType.OciIndex);
      await copyAll(`${registry.host}/acme/docker-list:auto`);
    });

    it('docker refuses OCI children with the reason, before writing anything', async () => {
      const target = `${registry.host}/acme/docker-refused:x`;
      const { message } = await mergeFailure({ sources: seed.sources.join('\n'), tags: target, format: 'docker' });
      expect(message).toMatch(/format: docker cannot hold .*Docker schema 2/);
      expect(await hasManifest(registry, 'acme/docker-refused', 'x')).toBe(false);
    });
  });

  describe('several tags in several repositories', () => {
    it('gives each repository the children and blobs, then every tag the index, each read back', async () => {
      const tags = [`${registry.host}/acme/multi-a:1`, `${registry.host}/acme/multi-a:latest`, `${registry.host}/acme/multi-b:1`];
      const { result } = await merge({ sources: seed.sources.join('\n'), tags: tags.join('\n') });
      expect(result.targets.map((t) => [t.repository, t.tags])).toEqual([
        [`${registry.host}/acme/multi-a`, ['1', 'latest']],
        [`${registry.host}/acme/multi-b`, ['1']],
      ]);
      for (const tag of tags) {
        const { bytes } = await rawIndex(tag);
        expect(sha256Digest(bytes)).toBe(result.digest);
      }
      await copyAll(tags[2]);
      expect(result.images).toEqual(tags.map((t) => `${t}@${result.digest}`));
    });
  });

  describe('platform checks fail before anything is written', () => {
    it('names a platform missing from the sources', async () => {
      const target = `${registry.host}/acme/platforms:missing`;
      const { message } = await mergeFailure({
        sources: seed.sources.join('\n'),
        tags: target,
        platforms: 'linux/amd64,linux/arm64,linux/s390x',
      });
      expect(message).toMatch(
        /Platform linux\/s390x expected by `platforms` but not found in the sources \(found: linux\/amd64, linux\/arm64\)/,
      );
      expect(await hasManifest(registry, 'acme/platforms', 'missing')).toBe(false);
      // (where blobs belong to repositories: a registry with one blob store answers for any)
      if (can.blobsPerRepository) expect(await hasBlob(registry, 'acme/platforms', seed.amd64.image.layers[0].digest)).toBe(false);
    });

    it('names a platform extra to the list, and its source', async () => {
      const { message } = await mergeFailure({
        sources: seed.sources.join('\n'),
        tags: `${registry.host}/acme/platforms:extra`,
        platforms: 'linux/amd64',
      });
      expect(message).toContain(`linux/arm64 (from ${seed.sources[1]}) not listed in \`platforms\``);
      expect(await hasManifest(registry, 'acme/platforms', 'extra')).toBe(false);
    });

    it('accepts the exact set, in any spelling', async () => {
      const { result } = await merge({
        sources: seed.sources.join('\n'),
        tags: `${registry.host}/acme/platforms:ok`,
        platforms: 'linux/aarch64, linux/x86_64',
      });
      expect(result.pushed).toBe(true);
    });

    it('fails on two sources with the same platform, naming both', async () => {
      const other = await pushBuildxImage(registry, 'acme/another-amd64', 'v1', { platform: PLATFORMS.linuxAmd64, seed: 'another-amd64' });
      const sources = [seed.sources[0], `${registry.host}/acme/another-amd64:v1`];
      const { message } = await mergeFailure({ sources: sources.join('\n'), tags: `${registry.host}/acme/dupe:x` });
      expect(message).toContain(
        `Platform linux/amd64 is provided by two sources: ${sources[0]} (${seed.amd64.imageDigest}) and ${sources[1]} (${other.imageDigest})`,
      );
      expect(await hasManifest(registry, 'acme/dupe', 'x')).toBe(false);
    });
  });

  describe('dry run (push: false)', () => {
    it('plans the index and the transfers, and writes nothing', async () => {
      const target = `${registry.host}/acme/dry-run:x`;
      const { result, logs } = await merge({ sources: seed.sources.join('\n'), tags: target, push: 'false' });
      expect(result.pushed).toBe(false);
      expect(JSON.parse(result.manifest).manifests).toHaveLength(4);
      const actions = result.targets[0].actions.join('\n');
      expect(actions).toContain(`mount blob ${seed.amd64.image.layers[0].digest}`);
      expect(actions).toContain(`put image manifest ${seed.arm64.imageDigest} (linux/arm64)`);
      expect(actions).toContain('put index under tag x');
      expect(logs.some((l) => l.includes('[dry run]'))).toBe(true);
      expect(await hasManifest(registry, 'acme/dry-run', 'x')).toBe(false);
      expect(await hasManifest(registry, 'acme/dry-run', seed.amd64.imageDigest)).toBe(false);
      if (can.blobsPerRepository) expect(await hasBlob(registry, 'acme/dry-run', seed.amd64.image.layers[0].digest)).toBe(false);
      const writes = Object.entries(result.requests.byKind).filter(([kind]) => /^(PUT|POST|PATCH|DELETE)/.test(kind));
      expect(writes).toEqual([]);
    });
  });

  describe('same-repository merge (the fast path)', () => {
    it('reads each source once and writes one index per tag: no mounts, no child pushes', async () => {
      const repo = 'acme/same-repo';
      const images = await Promise.all([
        pushBuildxImage(registry, repo, 'build-amd64', { platform: PLATFORMS.linuxAmd64, seed: 'same-amd64' }),
        pushBuildxImage(registry, repo, 'build-arm64', { platform: PLATFORMS.linuxArm64, seed: 'same-arm64' }),
        pushOciImage(registry, repo, 'build-s390x', { platform: 'linux/s390x', seed: 'same-s390x' }),
        pushDockerImage(registry, repo, 'build-ppc64le', { platform: 'linux/ppc64le', seed: 'same-ppc64le' }),
      ]);
      const { result } = await merge({
        sources: ['build-amd64', 'build-arm64', 'build-s390x', 'build-ppc64le'].map((t) => `${registry.host}/${repo}:${t}`).join('\n'),
        tags: `${registry.host}/${repo}:latest`,
      });
      const kinds = result.requests.byKind;
      expect(kinds['PUT manifest']).toBe(1);
      expect(kinds['POST mount'] ?? 0).toBe(0);
      // two indexes + two bare manifests read, plus the bare ones' configs for their platform
      expect(kinds['GET manifest']).toBe(4);
      expect(result.platforms).toEqual(['linux/amd64', 'linux/arm64', 'linux/ppc64le', 'linux/s390x']);
      expect(images).toHaveLength(4);
      await copyAll(`${registry.host}/${repo}:latest`);
    });
  });

  describe('errors a user meets', () => {
    it('a source that does not exist names the image and the registry error code', async () => {
      const { message } = await mergeFailure({ sources: `${registry.host}/acme/nope:missing`, tags: `${registry.host}/acme/nope:out` });
      expect(message).toMatch(/acme\/nope:missing/);
      expect(message).toMatch(/MANIFEST_UNKNOWN|NAME_UNKNOWN|not found/i);
    });

    it('the run log never holds a stack trace line for an expected failure', async () => {
      const { logs } = await mergeFailure({
        sources: seed.sources.join('\n'),
        tags: `${registry.host}/acme/x:y`,
        platforms: 'linux/riscv64',
      });
      expect(logs.join('\n')).not.toMatch(/\n\s+at /);
    });
  });
});
