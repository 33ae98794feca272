// Issue 23 end to end, on every registry implementation, checked with skopeo: buildx metadata
// files as sources (build and bake, globs, bake targets per spec image), a platform given with a
// source (two Windows versions of windows/amd64 in one index), gzip and zstd compression variants
// of one platform (the zstd image made by skopeo itself, as containers/image writes it), and the
// index's artifactType; on the action, the CLI (dist/cli.js) and in a spec.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Digest } from '../../src/oci/digest.js';
import { pushBuildxImage, type PushedBuildxImage } from '../../scripts/support/fixtures/buildx.js';
import { pushDockerImage, pushOciImage } from '../../scripts/support/fixtures/images.js';
import { bakeMetadata, buildMetadata, unpushedBuildMetadata } from '../../scripts/support/fixtures/metadata.js';
import {
  type RegistryCapabilities,
  type RegistryImplementation,
  type RunningRegistry,
  startRegistry,
} from '../../scripts/support/registry.js';
import { skopeoCopy, skopeoCopyAllToOciLayout, skopeoInspectRaw } from '../../scripts/support/skopeo.js';
import { merge, mergeFailure } from './harness.js';
import { IMPLEMENTATION_ROWS } from './implementations.js';
import { CLI, runCli } from './processes.js';

interface Index {
  mediaType: string;
  artifactType?: string;
  manifests: Array<{ mediaType: string; digest: string; platform?: Record<string, unknown>; annotations?: Record<string, string> }>;
}

async function rawIndex(ref: string): Promise<{ digest: string; index: Index }> {
  const bytes = await skopeoInspectRaw(ref, { tlsVerify: false });
  return { digest: sha256Digest(bytes), index: JSON.parse(bytes.toString('utf8')) as Index };
}

/** skopeo copies the whole index into a layout: every child and blob there, every digest verified. */
async function copyAll(ref: string): Promise<void> {
  await skopeoCopyAllToOciLayout(ref, await mkdtemp(join(tmpdir(), 'mm-metadata-layout-')), { tlsVerify: false });
}

const LTSC2019 = '10.0.17763.5122';
const LTSC2022 = '10.0.20348.2113';

describe.each(IMPLEMENTATION_ROWS)('on %s', (implementation: RegistryImplementation, can: RegistryCapabilities) => {
  let registry: RunningRegistry;
  let dir: string;
  let host: string;
  /** per platform, each bake target: what a platform runner of a multi-target bake pushed by digest */
  const pushed: Record<string, Record<'app' | 'worker', PushedBuildxImage>> = {};

  beforeAll(async () => {
    registry = await startRegistry({ implementation, name: `metadata-${implementation}` });
    host = registry.host;
    dir = await mkdtemp(join(tmpdir(), 'mm-metadata-'));
    for (const platform of ['linux/amd64', 'linux/arm64']) {
      const arch = platform.split('/')[1];
      const [app, worker] = await Promise.all(
        (['app', 'worker'] as const).map((target) =>
          pushBuildxImage(registry, `acme/${target}`, undefined, { platform, seed: `metadata-${target}-${arch}` }),
        ),
      );
      pushed[arch] = { app, worker };
      // build-push-action's `metadata` output of one job, saved to a file (pushed by digest: no tag)
      await mkdir(join(dir, 'build'), { recursive: true });
      await writeFile(
        join(dir, 'build', `${arch}.json`),
        JSON.stringify(buildMetadata({ digest: app.indexDigest, size: app.size, names: [`${host}/acme/app`] })),
      );
      // buildx bake --metadata-file of one platform runner: every target
      await mkdir(join(dir, 'bake', arch), { recursive: true });
      await writeFile(
        join(dir, 'bake', arch, 'bake-metadata.json'),
        JSON.stringify(
          bakeMetadata({
            app: buildMetadata({ digest: app.indexDigest, size: app.size, names: [`${host}/acme/app`] }),
            worker: buildMetadata({
              digest: worker.indexDigest,
              size: worker.size,
              names: [`${host}/acme/worker:sha-1`, `${host}/acme/worker:edge`],
            }),
          }),
        ),
      );
    }
  });

  afterAll(async () => {
    await registry?.stop();
  });

  it('metadata-files: build-push-action metadata of each job (a glob) gives the sources', async () => {
    const tag = `${host}/acme/app:from-build-metadata`;
    const { result } = await merge({ 'metadata-files': join(dir, 'build', '*.json'), tags: tag, platforms: 'linux/amd64,linux/arm64' });
    const { digest, index } = await rawIndex(tag);
    expect(digest).toBe(result.digest);
    expect(index.manifests.filter((m) => m.platform?.os === 'linux').map((m) => m.digest)).toEqual([
      pushed.amd64.app.imageDigest,
      pushed.arm64.app.imageDigest,
    ]);
    expect(index.manifests).toHaveLength(4); // with the attestations
    await copyAll(tag);
  });

  it('a spec merges every target of a multi-target bake run on several platform runners, one image per target', async () => {
    const spec = join(dir, 'spec.yaml');
    await writeFile(
      spec,
      [
        'images:',
        `  - tags: [${host}/acme/app:bake]`,
        `    bake-targets: [app]`,
        `  - tags: [${host}/acme/worker:bake]`,
        `    bake-targets: [worker]`,
        '',
      ].join('\n'),
    );
    // the step's metadata-files hold for every image; each takes its own target
    const values = { spec, 'metadata-files': join(dir, 'bake', '**', '*.json'), platforms: 'linux/amd64,linux/arm64' };
    const failure = await mergeFailure(values);
    expect(failure.message).toBe(
      'Input `spec` is set, and so is `metadata-files`. With a spec, each image lists its own tags and sources; move them into the spec',
    );
    const own = join(dir, 'spec-own.yaml');
    await writeFile(
      own,
      [
        'images:',
        `  - tags: [${host}/acme/app:bake]`,
        `    metadata-files: ['${join(dir, 'bake', '**', '*.json')}']`,
        `    bake-targets: [app]`,
        `  - tags: [${host}/acme/worker:bake]`,
        `    metadata-files: ['${join(dir, 'bake', '*', 'bake-metadata.json')}']`,
        `    bake-targets: worker`,
        '',
      ].join('\n'),
    );
    await merge({ spec: own, platforms: 'linux/amd64,linux/arm64' });
    for (const target of ['app', 'worker'] as const) {
      const { index } = await rawIndex(`${host}/acme/${target}:bake`);
      expect(index.manifests.filter((m) => m.platform?.os === 'linux').map((m) => m.digest)).toEqual([
        pushed.amd64[target].imageDigest,
        pushed.arm64[target].imageDigest,
      ]);
      await copyAll(`${host}/acme/${target}:bake`);
    }
  });

  it('a metadata file of a build that pushed nothing fails before anything is written, naming the file and the key', async () => {
    const path = join(dir, 'nopush.json');
    await writeFile(path, JSON.stringify(bakeMetadata({ app: unpushedBuildMetadata('nopush') })));
    const { message } = await mergeFailure({
      'metadata-files': `${join(dir, 'build', '*.json')}\n${path}`,
      tags: `${host}/acme/app:nopush`,
    });
    expect(message).toMatch(
      new RegExp(
        `^Input \`metadata-files\`: ".*nopush\\.json", target "app" has no "containerimage\\.digest": the build pushed no image\\.`,
      ),
    );
    await expect(skopeoInspectRaw(`${host}/acme/app:nopush`, { tlsVerify: false })).rejects.toThrow();
  });

  it('two Windows versions of windows/amd64 in one index: each source given its os.version', async () => {
    // images whose configs say windows/amd64 and nothing more (olareg refuses unheld foreign layers)
    const foreignLayers = can.foreignLayersUnpushed ? 1 : 0;
    const [ltsc2019, ltsc2022] = await Promise.all([
      pushDockerImage(registry, 'acme/win', 'ltsc2019', { platform: 'windows/amd64', seed: 'win-2019', foreignLayers }),
      pushDockerImage(registry, 'acme/win', 'ltsc2022', { platform: 'windows/amd64', seed: 'win-2022', foreignLayers }),
    ]);
    const tag = `${host}/acme/win:multi`;
    const sources = `${host}/acme/win:ltsc2022 platform=windows/amd64:${LTSC2022}\n${host}/acme/win:ltsc2019 platform=windows/amd64:${LTSC2019} os.features=win32k`;
    // the same platform twice without them is refused
    const twice = await mergeFailure({ sources: `${host}/acme/win:ltsc2022\n${host}/acme/win:ltsc2019`, tags: tag });
    expect(twice.message).toContain('Platform windows/amd64 is provided by two sources');
    const { result } = await merge({ sources, tags: tag, platforms: `windows/amd64:${LTSC2019},windows/amd64:${LTSC2022}` });
    expect(result.platforms).toEqual([`windows/amd64:${LTSC2019}`, `windows/amd64:${LTSC2022}`]);
    const { index } = await rawIndex(tag);
    expect(index.manifests.map((m) => [m.digest, m.platform])).toEqual([
      [ltsc2019.digest, { architecture: 'amd64', os: 'windows', 'os.version': LTSC2019, 'os.features': ['win32k'] }],
      [ltsc2022.digest, { architecture: 'amd64', os: 'windows', 'os.version': LTSC2022 }],
    ]);
    // a platform that contradicts the config is refused, naming both
    const wrong = await mergeFailure({ sources: `${host}/acme/win:ltsc2019 platform=linux/amd64`, tags: `${host}/acme/win:wrong` });
    expect(wrong.message).toContain(
      `${host}/acme/win:ltsc2019: the platform given for it, linux/amd64, contradicts the image's own, windows/amd64 (os/architecture)`,
    );
  });

  it('gzip and zstd variants of one platform are both kept, gzip first, the zstd one annotated; platforms counts one', async () => {
    await pushOciImage(registry, 'acme/compressed', 'gzip', { platform: 'linux/amd64', seed: 'compressed', layers: 3 });
    await pushOciImage(registry, 'acme/compressed', 'arm64', { platform: 'linux/arm64', seed: 'compressed-arm64' });
    // containers/image recompresses: the same config, zstd layers. Through a layout on disk, so no
    // registry (ggcr shares blobs across repositories) offers skopeo the gzip blobs to reuse.
    const layout = `oci:${await mkdtemp(join(tmpdir(), 'mm-zstd-'))}:zstd`;
    const copy = (from: string, to: string, extraArgs: string[]) =>
      skopeoCopy(from, to, { all: false, src: { tlsVerify: false }, dest: { tlsVerify: false }, extraArgs });
    await copy(`${host}/acme/compressed:gzip`, layout, ['--dest-compress-format', 'zstd']);
    await copy(layout, `${host}/acme/compressed:zstd`, ['--preserve-digests']);
    const [gzip, zstd] = await Promise.all(
      ['gzip', 'zstd'].map((t) => skopeoInspectRaw(`${host}/acme/compressed:${t}`, { tlsVerify: false })),
    );
    const zstdManifest = JSON.parse(zstd.toString()) as { config: { digest: string }; layers: Array<{ mediaType: string }> };
    expect(zstdManifest.layers.map((l) => l.mediaType)).toEqual(Array(3).fill('application/vnd.oci.image.layer.v1.tar+zstd'));
    expect(zstdManifest.config.digest).toBe((JSON.parse(gzip.toString()) as { config: { digest: string } }).config.digest);

    const tag = `${host}/acme/compressed:multi`;
    const { result } = await merge({
      sources: [`${host}/acme/compressed:zstd`, `${host}/acme/compressed:arm64`, `${host}/acme/compressed:gzip`].join('\n'),
      tags: tag,
      platforms: 'linux/amd64,linux/arm64',
    });
    expect(result.platforms).toEqual(['linux/amd64', 'linux/arm64']);
    const { index } = await rawIndex(tag);
    expect(index.manifests.map((m) => [m.digest, m.platform?.architecture, m.annotations])).toEqual([
      [sha256Digest(gzip), 'amd64', undefined],
      [sha256Digest(zstd), 'amd64', { 'io.github.containers.compression.zstd': 'true' }],
      [expect.stringMatching(/^sha256:/), 'arm64', undefined],
    ]);
    await copyAll(tag);

    // two gzip images of one platform are still refused, before anything is written
    await pushOciImage(registry, 'acme/compressed', 'other', { platform: 'linux/amd64', seed: 'compressed-other' });
    const refused = await mergeFailure({
      sources: `${host}/acme/compressed:gzip\n${host}/acme/compressed:other`,
      tags: `${host}/acme/compressed:refused`,
    });
    expect(refused.message).toContain('not compression variants of one');
    await expect(skopeoInspectRaw(`${host}/acme/compressed:refused`, { tlsVerify: false })).rejects.toThrow();
  });

  it('in a spec: sources as {ref, platform}, compression variants and artifact-type per image', async () => {
    const [a, b] = await Promise.all(
      ['2019', '2022'].map((v) =>
        pushOciImage(registry, 'acme/spec-win', `ltsc${v}`, { platform: 'windows/amd64', seed: `spec-win-${v}` }),
      ),
    );
    const spec = join(dir, 'spec-platforms.yaml');
    await writeFile(
      spec,
      [
        'images:',
        `  - tags: [${host}/acme/spec-win:multi]`,
        '    artifact-type: application/vnd.acme.windows.v1+json',
        '    sources:',
        `      - {ref: "${host}/acme/spec-win:ltsc2019", platform: {os: windows, architecture: amd64, os.version: "${LTSC2019}"}}`,
        `      - {ref: "${host}/acme/spec-win:ltsc2022", platform: "windows/amd64:${LTSC2022}"}`,
        `  - tags: [${host}/acme/compressed:spec]`,
        `    sources: [${host}/acme/compressed:gzip, ${host}/acme/compressed:zstd]`,
        '',
      ].join('\n'),
    );
    await merge({ spec });
    const win = await rawIndex(`${host}/acme/spec-win:multi`);
    expect(win.index.artifactType).toBe('application/vnd.acme.windows.v1+json');
    expect(win.index.manifests.map((m) => [m.digest, m.platform?.['os.version']])).toEqual([
      [a.digest, LTSC2019],
      [b.digest, LTSC2022],
    ]);
    const compressed = await rawIndex(`${host}/acme/compressed:spec`);
    expect(compressed.index.manifests.map((m) => m.annotations?.['io.github.containers.compression.zstd'])).toEqual([undefined, 'true']);
    await copyAll(`${host}/acme/spec-win:multi`);
  });

  it("artifact-type is the index's artifactType; with format docker it is refused", async () => {
    const tag = `${host}/acme/app:artifact`;
    await merge({ 'metadata-files': join(dir, 'build', 'amd64.json'), tags: tag, 'artifact-type': 'application/vnd.acme.bundle.v1+json' });
    const { index } = await rawIndex(tag);
    expect(index.artifactType).toBe('application/vnd.acme.bundle.v1+json');
    await copyAll(tag);
    const docker = await mergeFailure({
      sources: `${host}/acme/win:ltsc2019`,
      tags: `${host}/acme/win:artifact`,
      format: 'docker',
      'artifact-type': 'application/x-acme',
    });
    expect(docker.message).toBe(
      'format: docker cannot carry artifactType "application/x-acme": a Docker manifest list has no artifactType field. Set input `format` to oci (or auto), or drop input `artifact-type`',
    );
  });
});

describe('the CLI (dist/cli.js)', () => {
  let registry: RunningRegistry;
  let home: string;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run npm run build');
    home = await mkdtemp(join(tmpdir(), 'mm-metadata-cli-'));
    await writeFile(join(home, 'config.json'), '{}');
    registry = await startRegistry({ name: 'metadata-cli' });
  });

  afterAll(async () => {
    await registry?.stop();
  });

  it('--metadata-file (repeatable, globs), --bake-target, --artifact-type and SOURCE platform=', async () => {
    const host = registry.host;
    const dir = await mkdtemp(join(tmpdir(), 'mm-metadata-cli-files-'));
    const images = await Promise.all(
      ['amd64', 'arm64'].map((arch) =>
        pushBuildxImage(registry, 'acme/cli', undefined, { platform: `linux/${arch}`, seed: `cli-${arch}` }),
      ),
    );
    await writeFile(
      join(dir, 'amd64.json'),
      JSON.stringify(bakeMetadata({ cli: buildMetadata({ digest: images[0].indexDigest, names: [`${host}/acme/cli`] }) })),
    );
    await writeFile(
      join(dir, 'arm64.json'),
      JSON.stringify(bakeMetadata({ cli: buildMetadata({ digest: images[1].indexDigest, names: [`${host}/acme/cli`] }) })),
    );
    await pushDockerImage(registry, 'acme/cli', 'win', { platform: 'windows/amd64', seed: 'cli-win' });
    const tag = `${host}/acme/cli:latest`;
    const run = await runCli(
      [
        'merge',
        '--quiet',
        '-t',
        tag,
        '--metadata-file',
        join(dir, 'amd64.json'),
        '--metadata-file',
        join(dir, 'arm*.json'),
        '--bake-target',
        'cli',
        '--artifact-type',
        'application/vnd.acme.cli.v1+json',
        `${host}/acme/cli:win platform=windows/amd64:${LTSC2022}`,
      ],
      { home },
    );
    expect(run.stderr.toString()).toBe('');
    expect(run.code).toBe(0);
    const { digest, index } = await rawIndex(tag);
    expect(run.stdout.toString().trim()).toBe(digest);
    expect(index.artifactType).toBe('application/vnd.acme.cli.v1+json');
    expect(index.manifests.filter((m) => m.platform?.os !== 'unknown').map((m) => m.platform)).toEqual([
      { architecture: 'amd64', os: 'linux' },
      { architecture: 'arm64', os: 'linux' },
      { architecture: 'amd64', os: 'windows', 'os.version': LTSC2022 },
    ]);
    await copyAll(tag);

    const bad = await runCli(['merge', '-t', tag, '--metadata-file', join(dir, 'amd64.json'), '--bake-target', 'web'], { home });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.toString()).toContain('--bake-target: "web" is in none of the metadata files (their targets: cli)');
  });
});
