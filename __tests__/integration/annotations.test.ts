// Annotations end to end: the CLI (dist/cli.js) and the action (dist/index.js) as users run them,
// against every real registry implementation; what was pushed is read back with `skopeo inspect --raw`.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Digest } from '../../src/oci/digest.js';
import { MT } from '../../scripts/support/fixtures/media.js';
import { hasManifest } from '../../scripts/support/fixtures/client.js';
import { pushDockerImage, type PushedImage } from '../../scripts/support/fixtures/images.js';
import { pushBuildxImage, type PushedBuildxImage } from '../../scripts/support/fixtures/buildx.js';
import { type RegistryImplementation, type RunningRegistry, startRegistry } from '../../scripts/support/registry.js';
import { skopeoInspectRaw } from '../../scripts/support/skopeo.js';
import { IMPLEMENTATION_ROWS } from './implementations.js';
import { ACTION, CLI, runAction, runCli } from './processes.js';

interface Index {
  mediaType: string;
  annotations?: Record<string, string>;
  manifests: Array<{ mediaType: string; digest: string; annotations?: Record<string, string> }>;
}

let home: string;

const cli = (args: string[]) => runCli(args, { home });

/** The action as the runner starts it: INPUT_* variables, GITHUB_OUTPUT file (no step summary); HOME and DOCKER_CONFIG are the shared home. */
const action = (inputs: Record<string, string>) =>
  runAction(inputs, { home, dockerConfig: home, tempPrefix: join(tmpdir(), 'mm-annotations-action-'), stepSummary: false });

async function pushed(ref: string): Promise<Index> {
  return JSON.parse((await skopeoInspectRaw(ref, { tlsVerify: false })).toString('utf8')) as Index;
}

/** What docker/metadata-action@v5 writes to its `annotations` output with DOCKER_METADATA_ANNOTATIONS_LEVELS=manifest,index. */
const METADATA_KEYS = {
  'org.opencontainers.image.created': '2026-11-26T08:00:00.000Z',
  'org.opencontainers.image.description': 'The app: fast, small, and = tested',
  'org.opencontainers.image.licenses': 'MIT',
  'org.opencontainers.image.revision': '0123456789abcdef0123456789abcdef01234567',
  'org.opencontainers.image.source': 'https://github.com/acme/app',
  'org.opencontainers.image.title': 'app',
  'org.opencontainers.image.url': 'https://github.com/acme/app',
  'org.opencontainers.image.version': '1.0',
};
const metadataActionOutput = (levels: string[]) =>
  levels.flatMap((level) => Object.entries(METADATA_KEYS).map(([k, v]) => `${level}:${k}=${v}`)).join('\n');

describe.each(IMPLEMENTATION_ROWS)('on %s', (implementation: RegistryImplementation) => {
  let registry: RunningRegistry;
  let amd64: PushedBuildxImage;
  let arm64: PushedBuildxImage;
  let armV7: PushedImage;
  let armV6: PushedImage;
  let buildx: string[];
  let docker: string[];

  beforeAll(async () => {
    if (!existsSync(CLI) || !existsSync(ACTION)) throw new Error('dist/ is missing: run npm run build');
    home = await mkdtemp(join(tmpdir(), 'mm-annotations-'));
    await mkdir(home, { recursive: true });
    await writeFile(join(home, 'config.json'), '{}');
    registry = await startRegistry({ implementation, name: `annotations-${implementation}` });
    [amd64, arm64, armV7, armV6] = await Promise.all([
      pushBuildxImage(registry, 'acme/app', 'build-amd64', { platform: 'linux/amd64', seed: 'annotations-amd64' }),
      pushBuildxImage(registry, 'acme/app', 'build-arm64', { platform: 'linux/arm64', seed: 'annotations-arm64' }),
      pushDockerImage(registry, 'acme/classic', 'armv7', { platform: 'linux/arm/v7', seed: 'annotations-armv7' }),
      pushDockerImage(registry, 'acme/classic', 'armv6', { platform: 'linux/arm/v6', seed: 'annotations-armv6' }),
    ]);
    buildx = [`${registry.host}/acme/app:build-amd64`, `${registry.host}/acme/app:build-arm64`];
    docker = [`${registry.host}/acme/classic:armv7`, `${registry.host}/acme/classic:armv6`];
  });

  afterAll(async () => {
    await registry?.stop();
  });

  describe('--annotation (CLI)', () => {
    it('index (default prefix and index:), manifest-descriptor for every image, and [platform]-selected, in the pushed bytes', async () => {
      const target = `${registry.host}/acme/app:annotated`;
      const run = await cli([
        'merge',
        '-q',
        '-t',
        target,
        '--annotation',
        'org.opencontainers.image.title=app',
        '--annotation',
        'index:org.opencontainers.image.description=fast, small = tested',
        '--annotation',
        'manifest-descriptor:org.opencontainers.image.revision=abc123',
        '--annotation',
        'manifest-descriptor[linux/arm64]:com.example.arch=arm',
        ...buildx,
      ]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const index = await pushed(target);
      expect(run.stdout.toString().trim()).toBe(sha256Digest(await skopeoInspectRaw(target, { tlsVerify: false })));
      expect(index.mediaType).toBe(MT.OciIndex);
      expect(index.annotations).toEqual({
        'org.opencontainers.image.description': 'fast, small = tested',
        'org.opencontainers.image.title': 'app',
      });
      const byDigest = new Map(index.manifests.map((m) => [m.digest, m.annotations]));
      // The children are the sources' own manifests, byte for byte: only their descriptors carry the annotations.
      expect([...byDigest.keys()]).toEqual([amd64.imageDigest, arm64.imageDigest, amd64.attestationDigest, arm64.attestationDigest]);
      expect(byDigest.get(amd64.imageDigest)).toEqual({ 'org.opencontainers.image.revision': 'abc123' });
      expect(byDigest.get(arm64.imageDigest)).toEqual({ 'com.example.arch': 'arm', 'org.opencontainers.image.revision': 'abc123' });
      expect(byDigest.get(amd64.attestationDigest)).toEqual({
        'vnd.docker.reference.digest': amd64.imageDigest,
        'vnd.docker.reference.type': 'attestation-manifest',
      });

      const inspect = await cli(['inspect', target]);
      expect(inspect.stdout.toString()).toContain(
        '  annotations:\n    org.opencontainers.image.description=fast, small = tested\n    org.opencontainers.image.title=app\n',
      );
      expect(inspect.stdout.toString()).toContain('      com.example.arch=arm\n');
    });

    it('docker/metadata-action output pasted as is: index: lines apply, manifest: lines are skipped with ONE warning on stderr', async () => {
      const target = `${registry.host}/acme/app:metadata-cli`;
      const run = await cli(['merge', '-q', '-t', target, '--annotation', metadataActionOutput(['manifest', 'index']), ...buildx]);
      expect(run.code).toBe(0);
      const warnings = run.stderr.split('\n').filter((l) => l !== '');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/^warning: 8 annotation lines skipped.*digest/);
      for (const key of Object.keys(METADATA_KEYS)) expect(warnings[0]).toContain(`manifest:${key}`);
      expect((await pushed(target)).annotations).toEqual(METADATA_KEYS);
    });

    it('only manifest: lines (metadata-action defaults): the index is what it would be without them, after one warning', async () => {
      const target = `${registry.host}/acme/classic:metadata-only`;
      const [withLines, without] = await Promise.all([
        cli(['merge', '-q', '--dry-run', '-t', target, '--annotation', metadataActionOutput(['manifest']), ...docker]),
        cli(['merge', '-q', '--dry-run', '-t', target, ...docker]),
      ]);
      expect([withLines.code, without.code]).toEqual([0, 0]);
      expect(withLines.stdout.toString()).toBe(without.stdout.toString());
      expect(withLines.stderr.trim().split('\n')).toHaveLength(1);
    });

    it('Docker-only children: format auto gives an OCI index to carry annotations; format docker fails saying why', async () => {
      const target = `${registry.host}/acme/classic:annotated`;
      const auto = await cli(['merge', '-q', '-t', target, '--annotation', 'index:org.opencontainers.image.version=2.0', ...docker]);
      expect(auto.code).toBe(0);
      const index = await pushed(target);
      expect(index.mediaType).toBe(MT.OciIndex);
      expect(index.annotations).toEqual({ 'org.opencontainers.image.version': '2.0' });
      expect(index.manifests.map((m) => [m.mediaType, m.digest])).toEqual([
        [MT.DockerManifest, armV7.digest],
        [MT.DockerManifest, armV6.digest],
      ]);

      const refused = await cli([
        'merge',
        '-q',
        '--format',
        'docker',
        '-t',
        `${registry.host}/acme/classic:refused`,
        '--annotation',
        'index:org.opencontainers.image.version=2.0',
        ...docker,
      ]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe(
        'manifest-merge: format: docker cannot carry annotations: a Docker manifest list has no annotations field. Set --format to oci (or auto), or drop --annotation\n',
      );
      expect(await hasManifest(registry, 'acme/classic', 'refused')).toBe(false);
    });

    it('a platform selector that matches no image is refused before anything is written (nothing is dropped silently)', async () => {
      const run = await cli([
        'merge',
        '-q',
        '-t',
        `${registry.host}/acme/app:selector`,
        '--annotation',
        'manifest-descriptor[linux/s390x]:k=v',
        ...buildx,
      ]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(
        /manifest-descriptor\[linux\/s390x\]:k matches no image of the index \(platforms: linux\/amd64, linux\/arm64\)/,
      );
      expect(await hasManifest(registry, 'acme/app', 'selector')).toBe(false);
    });
  });

  describe('annotations input (the action, node dist/index.js)', () => {
    it('metadata-action output as is: one ::warning:: naming the skipped manifest: keys and why; index: lines in the pushed index', async () => {
      const target = `${registry.host}/acme/app:metadata-action`;
      const run = await action({
        sources: buildx.join('\n'),
        tags: target,
        annotations: metadataActionOutput(['manifest', 'index']),
        summary: 'false',
      });
      expect(run.code).toBe(0);
      const warnings = run.stdout.split('\n').filter((l) => l.startsWith('::warning'));
      expect(warnings).toHaveLength(1);
      for (const key of Object.keys(METADATA_KEYS)) expect(warnings[0]).toContain(`manifest:${key}`);
      expect(warnings[0]).toMatch(/would change that image's digest/);
      expect(run.stdout).not.toContain('::error::');
      const index = await pushed(target);
      expect(index.annotations).toEqual(METADATA_KEYS);
      expect(index.manifests.map((m) => m.digest)).toEqual([
        amd64.imageDigest,
        arm64.imageDigest,
        amd64.attestationDigest,
        arm64.attestationDigest,
      ]);
      expect(run.outputText).toContain(sha256Digest(await skopeoInspectRaw(target, { tlsVerify: false })));
    });

    it('format: docker with annotations fails the step with the reason', async () => {
      const run = await action({
        sources: docker.join('\n'),
        tags: `${registry.host}/acme/classic:action-refused`,
        format: 'docker',
        annotations: 'index:a=b',
      });
      expect(run.code).toBe(1);
      expect(run.stdout.split('\n').filter((l) => l.startsWith('::error::'))).toEqual([
        '::error::format: docker cannot carry annotations: a Docker manifest list has no annotations field. Set input `format` to oci (or auto), or drop input `annotations`',
      ]);
      expect(await hasManifest(registry, 'acme/classic', 'action-refused')).toBe(false);
    });
  });
});
