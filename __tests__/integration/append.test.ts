// `--append` / `append: true` end to end with the built CLI: merge twice and compare entries, as
// read back with skopeo; the base index's children must reach every other target repository too.
// On every implementation; the other registry is the next implementation, so copies cross them.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Digest } from '../../src/oci/digest.js';
import { pushDockerImage } from '../../scripts/support/fixtures/images.js';
import { pushBuildxImage, type PushedBuildxImage } from '../../scripts/support/fixtures/buildx.js';
import { type RegistryImplementation, type RunningRegistry, startRegistry } from '../../scripts/support/registry.js';
import { skopeoCopyAllToOciLayout, skopeoInspectRaw } from '../../scripts/support/skopeo.js';
import { IMPLEMENTATION_ROWS, otherImplementation } from './implementations.js';
import { CLI, runCli } from './processes.js';

interface Index {
  mediaType: string;
  annotations?: Record<string, string>;
  manifests: Array<{
    mediaType: string;
    digest: string;
    size: number;
    platform?: { os: string; architecture: string };
    annotations?: Record<string, string>;
  }>;
}

interface Metadata {
  digest: string;
  dropped: Array<{ kind: string; digest: string }>;
  targets: Array<{ repository: string; manifestsPushed: number; blobs: { mounted: number; copied: number; existing: number } }>;
}

let home: string;

const cli = (args: string[]) => runCli(args, { home });

async function served(ref: string): Promise<{ digest: string; index: Index }> {
  const bytes = await skopeoInspectRaw(ref, { tlsVerify: false });
  return { digest: sha256Digest(bytes), index: JSON.parse(bytes.toString('utf8')) as Index };
}

describe.each(IMPLEMENTATION_ROWS)('on %s', (implementation: RegistryImplementation) => {
  let registry: RunningRegistry;
  let other: RunningRegistry;
  let amd64: PushedBuildxImage;
  let arm64Old: PushedBuildxImage;
  let arm64New: PushedBuildxImage;
  let s390x: PushedBuildxImage;
  const src: Record<'amd64' | 'arm64Old' | 'arm64New' | 's390x', string> = { amd64: '', arm64Old: '', arm64New: '', s390x: '' };

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run npm run build');
    home = await mkdtemp(join(tmpdir(), 'mm-append-'));
    await writeFile(join(home, 'config.json'), '{}');
    [registry, other] = await Promise.all([
      startRegistry({ implementation, name: `append-${implementation}` }),
      startRegistry({ implementation: otherImplementation(implementation), name: `append-other-${implementation}` }),
    ]);
    [amd64, arm64Old, arm64New, s390x] = await Promise.all([
      pushBuildxImage(registry, 'acme/build', 'amd64-1', { platform: 'linux/amd64', seed: 'append-amd64' }),
      pushBuildxImage(registry, 'acme/build', 'arm64-1', { platform: 'linux/arm64', seed: 'append-arm64-first' }),
      pushBuildxImage(registry, 'acme/build', 'arm64-2', { platform: 'linux/arm64', seed: 'append-arm64-second' }),
      pushBuildxImage(registry, 'acme/build-s390x', '1', { platform: 'linux/s390x', seed: 'append-s390x' }),
    ]);
    src.amd64 = `${registry.host}/acme/build:amd64-1`;
    src.arm64Old = `${registry.host}/acme/build:arm64-1`;
    src.arm64New = `${registry.host}/acme/build:arm64-2`;
    src.s390x = `${registry.host}/acme/build-s390x:1`;
  });

  afterAll(async () => {
    await Promise.all([registry?.stop(), other?.stop()]);
  });

  describe('--append: merge twice and compare entries', () => {
    let first: { digest: string; index: Index };
    let second: { digest: string; index: Index };
    let metadata: Metadata;
    const app = () => `${registry.host}/acme/app:latest`;
    const mirror = () => `${registry.host}/acme/mirror:latest`;
    const elsewhere = () => `${other.host}/acme/app:latest`;

    beforeAll(async () => {
      const one = await cli([
        'merge',
        '-q',
        '-t',
        app(),
        '--annotation',
        'index:org.opencontainers.image.version=1',
        src.amd64,
        src.arm64Old,
      ]);
      expect(one.code).toBe(0);
      first = await served(app());
      // Second run: a NEW arm64 build and an s390x one, appended; also pushed to another repository
      // and another registry, neither of which has ever held the base index's children.
      const two = await cli([
        'merge',
        '--json',
        '--append',
        '-t',
        app(),
        '-t',
        mirror(),
        '-t',
        elsewhere(),
        '--annotation',
        'index:org.opencontainers.image.revision=2',
        src.arm64New,
        src.s390x,
      ]);
      expect(two.stderr).toContain(`Appending to ${app()} (${first.digest}, 4 entries)`);
      expect(two.code).toBe(0);
      metadata = JSON.parse(two.stdout.toString()) as Metadata;
      second = await served(app());
    });

    it('keeps amd64 (with its attestation), replaces arm64 and its attestation, adds s390x', () => {
      expect(first.index.manifests.map((m) => m.digest)).toEqual([
        amd64.imageDigest,
        arm64Old.imageDigest,
        amd64.attestationDigest,
        arm64Old.attestationDigest,
      ]);
      expect(second.digest).toBe(metadata.digest);
      expect(second.index.manifests.map((m) => m.digest)).toEqual([
        amd64.imageDigest,
        arm64New.imageDigest,
        s390x.imageDigest,
        amd64.attestationDigest,
        arm64New.attestationDigest,
        s390x.attestationDigest,
      ]);
      // The kept entries are the same descriptors as before.
      const before = new Map(first.index.manifests.map((m) => [m.digest, m]));
      for (const m of second.index.manifests.filter((x) => before.has(x.digest))) expect(m).toEqual(before.get(m.digest));
      const digests = second.index.manifests.map((m) => m.digest);
      expect(digests).not.toContain(arm64Old.imageDigest);
      expect(digests).not.toContain(arm64Old.attestationDigest);
      expect(metadata.dropped.map((d) => [d.kind, d.digest]).sort()).toEqual(
        [
          ['attestation', arm64Old.attestationDigest],
          ['image', arm64Old.imageDigest],
        ].sort(),
      );
    });

    it("keeps the index's annotations; the new ones are added", () => {
      expect(first.index.annotations).toEqual({ 'org.opencontainers.image.version': '1' });
      expect(second.index.annotations).toEqual({ 'org.opencontainers.image.revision': '2', 'org.opencontainers.image.version': '1' });
    });

    it("brings the base index's children into the other repository and the other registry (skopeo copy --all)", async () => {
      for (const ref of [mirror(), elsewhere()]) {
        expect((await served(ref)).digest).toBe(second.digest);
        // skopeo reads every child manifest and every blob from that repository, checking digests.
        await skopeoCopyAllToOciLayout(ref, await mkdtemp(join(tmpdir(), 'mm-append-layout-')));
      }
      const copied = metadata.targets.find((t) => t.repository === `${other.host}/acme/app`);
      expect(copied?.manifestsPushed).toBe(6);
      expect(copied?.blobs.copied).toBeGreaterThan(0);
    });

    it('appending the same sources again changes nothing and drops nothing', async () => {
      const again = await cli([
        'merge',
        '--json',
        '--append',
        '--dry-run',
        '-t',
        app(),
        '--annotation',
        'index:org.opencontainers.image.revision=2',
        src.arm64New,
        src.s390x,
      ]);
      expect(again.code).toBe(0);
      const meta = JSON.parse(again.stdout.toString()) as Metadata;
      expect(meta.digest).toBe(second.digest);
      expect(meta.dropped).toEqual([]);
    });

    it('format docker cannot append to an annotated OCI index, and says so', async () => {
      // Docker schema 2 children only, so the annotations the base index carries are the one obstacle.
      const [v7, v6] = await Promise.all([
        pushDockerImage(registry, 'acme/classic', 'armv7', { platform: 'linux/arm/v7', seed: 'append-armv7' }),
        pushDockerImage(registry, 'acme/classic', 'armv6', { platform: 'linux/arm/v6', seed: 'append-armv6' }),
      ]);
      const base = `${registry.host}/acme/classic:latest`;
      expect(
        (
          await cli([
            'merge',
            '-q',
            '-t',
            base,
            '--annotation',
            'org.opencontainers.image.version=1',
            `${registry.host}/acme/classic:armv7`,
          ])
        ).code,
      ).toBe(0);
      const run = await cli([
        'merge',
        '-q',
        '--dry-run',
        '--append',
        '--format',
        'docker',
        '-t',
        base,
        `${registry.host}/acme/classic:armv6`,
      ]);
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(
        'manifest-merge: format: docker cannot carry annotations (the index being appended to has org.opencontainers.image.version): a Docker manifest list has no annotations field. Set --format to oci (or auto) to --append to an annotated OCI index\n',
      );
      const auto = await cli(['merge', '-q', '--append', '-t', base, `${registry.host}/acme/classic:armv6`]);
      expect(auto.code).toBe(0);
      expect((await served(base)).index.manifests.map((m) => m.digest)).toEqual([v7.digest, v6.digest]);
    });
  });

  describe('--append to a tag that does not exist yet', () => {
    it('is a plain merge: the same index as without --append', async () => {
      const target = `${registry.host}/acme/fresh:latest`;
      const [appended, plain] = await Promise.all([
        cli(['merge', '--append', '-t', target, src.amd64, src.s390x]),
        cli(['merge', '-q', '--dry-run', '-t', `${registry.host}/acme/fresh-plain:latest`, src.amd64, src.s390x]),
      ]);
      expect([appended.code, plain.code]).toEqual([0, 0]);
      expect(appended.stderr).toContain(`${target} does not exist yet: append is a plain merge`);
      expect(appended.stdout.toString().trim()).toBe(plain.stdout.toString().trim());
      const { digest, index } = await served(target);
      expect(digest).toBe(plain.stdout.toString().trim());
      expect(index.manifests.map((m) => m.digest)).toEqual([
        amd64.imageDigest,
        s390x.imageDigest,
        amd64.attestationDigest,
        s390x.attestationDigest,
      ]);
    });
  });
});
