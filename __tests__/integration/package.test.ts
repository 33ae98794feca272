// The release as users get it: `npm pack`, then `npm install ./manifest-merge-*.tgz` in an empty
// folder with no network (offline, an empty cache, and a registry URL nothing listens on), then
// the installed `bin` against a real registry.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pushBuildxImage, type PushedBuildxImage } from '../../scripts/support/fixtures/buildx.js';
import { type RunningRegistry, startRegistry } from '../../scripts/support/registry.js';
import { skopeoInspectRaw } from '../../scripts/support/skopeo.js';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Result> {
  return new Promise((done) => {
    execFile(command, args, { ...options, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      done({ code, stdout: stdout.toString(), stderr: stderr.toString() });
    });
  });
}

const ROOT = resolve('.');
let work: string;
/** No npm_config_* from the `npm test` that may have started us: npm sees only what we give it. */
let env: NodeJS.ProcessEnv;
let registry: RunningRegistry;
let image: PushedBuildxImage;
let tarball: string;
let pack: { name: string; version: string; files: Array<{ path: string }> };

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist/cli.js'))) throw new Error('dist/cli.js is missing: run npm run build');
  work = await mkdtemp(join(tmpdir(), 'mm-package-'));
  const home = join(work, 'home');
  const cache = join(work, 'empty-cache');
  await Promise.all([writeFile(join(work, 'npmrc'), ''), rm(cache, { force: true, recursive: true })]);
  env = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    DOCKER_CONFIG: join(work, 'docker'),
    npm_config_userconfig: join(work, 'npmrc'),
    npm_config_cache: cache,
    npm_config_offline: 'true',
    npm_config_registry: 'http://127.0.0.1:9/',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    npm_config_loglevel: 'warn',
  };
  const [packed, started] = await Promise.all([
    run('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT, env }),
    startRegistry({ name: 'package' }),
  ]);
  registry = started;
  expect(packed.stderr).not.toMatch(/ERR!/);
  expect(packed.code).toBe(0);
  [pack] = JSON.parse(packed.stdout) as Array<typeof pack>;
  tarball = join(
    work,
    (await readdir(work)).find((f) => f.endsWith('.tgz'))!,
  );
  image = await pushBuildxImage(registry, 'acme/packaged', 'v1', { platform: 'linux/arm64', seed: 'package' });
});

afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('npm pack → npm install (offline) → the installed bin', () => {
  let app: string;
  let bin: string;

  beforeAll(async () => {
    app = join(work, 'app');
    await mkdir(app);
    const installed = await run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: app, env });
    expect(installed.stderr).not.toMatch(/ERR!/);
    expect(installed.code).toBe(0);
    bin = join(app, 'node_modules/.bin/manifest-merge');
  });

  it('the package holds the bundle (and its source map), README, CHANGELOG and LICENSE, and nothing else', async () => {
    const version = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(pack.name).toBe('manifest-merge');
    expect(pack.version).toBe(version);
    // the manual ships beside README, whose links lead into docs/
    const docs = (await readdir(join(ROOT, 'docs'))).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`);
    expect(docs.length).toBeGreaterThan(5);
    expect(pack.files.map((f) => f.path).sort()).toEqual(
      ['CHANGELOG.md', 'LICENSE', 'README.md', ...docs, 'dist/cli.js', 'dist/cli.js.map', 'package.json'].sort(),
    );
    // No runtime dependency: the bundle is self-contained, so the install fetched nothing.
    expect((await readdir(join(app, 'node_modules'))).filter((n) => !n.startsWith('.'))).toEqual(['manifest-merge']);
    const manifest = JSON.parse(await readFile(join(app, 'node_modules/manifest-merge/package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    expect(manifest.dependencies ?? {}).toEqual({});
    expect(await readFile(join(app, 'node_modules/manifest-merge/CHANGELOG.md'), 'utf8')).toContain(`## [${version}]`);
  });

  it('--version and --help work from node_modules/.bin', async () => {
    const version = await run(bin, ['--version'], { cwd: app, env });
    expect(version.code).toBe(0);
    expect(version.stdout).toBe(`${pack.version}\n`);
    const help = await run(bin, ['merge', '--help'], { cwd: app, env });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--password-stdin');
  });

  it('inspect and merge against a real registry', async () => {
    const ref = `${registry.host}/acme/packaged:v1`;
    const inspected = await run(bin, ['inspect', ref], { cwd: app, env });
    expect(inspected.code).toBe(0);
    expect(inspected.stdout).toContain(image.indexDigest);
    expect(inspected.stdout).toContain(`- attestation → ${image.imageDigest} (linux/arm64)`);
    const target = `${registry.host}/acme/packaged:latest`;
    const merged = await run(bin, ['merge', '--quiet', '--tag', target, ref], { cwd: app, env });
    expect(merged.stderr).toBe('');
    expect(merged.code).toBe(0);
    const raw = await run(bin, ['inspect', '--raw', target], { cwd: app, env });
    expect(Buffer.from(raw.stdout).equals(await skopeoInspectRaw(target, { tlsVerify: false }))).toBe(true);
  });
});
