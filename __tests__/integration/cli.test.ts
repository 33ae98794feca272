// The CLI as a user runs it: the built bin (dist/cli.js) as a subprocess against a real registry.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sha256Digest } from '../../src/oci.js';
import { deleteBlob, seedCase, seedVariety, type SeedCase, type VarietyCase } from '../../scripts/support/fixtures.js';
import { type RunningRegistry, startRegistry } from '../../scripts/support/registry.js';
import { skopeoInspectRaw } from '../../scripts/support/skopeo.js';

const BIN = resolve('dist/cli.js');

interface CliRun {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

let dockerConfig: string;

function cli(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<CliRun> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', HOME: dockerConfig, DOCKER_CONFIG: dockerConfig, ...options.env } });
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(options.stdin ?? '');
  return new Promise((done) => child.on('close', (code) => done({ code, stdout: Buffer.concat(out), stderr })));
}

let registry: RunningRegistry;
let seed: SeedCase;
let variety: VarietyCase;

beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error('dist/cli.js is missing: run npm run build');
  dockerConfig = await mkdtemp(join(tmpdir(), 'mm-cli-'));
  await writeFile(join(dockerConfig, 'config.json'), '{}');
  registry = await startRegistry({ name: 'cli', deleteEnabled: true });
  [seed, variety] = await Promise.all([seedCase(registry), seedVariety(registry)]);
});

afterAll(async () => {
  await registry?.stop();
});

describe('manifest-merge merge', () => {
  it('--quiet prints only the digest on stdout, which is what the registry serves', async () => {
    const target = `${registry.host}/acme/cli-merged:latest`;
    const run = await cli(['merge', '--quiet', '--tag', target, ...seed.sources]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const digest = run.stdout.toString().trim();
    expect(digest).toBe(sha256Digest(await skopeoInspectRaw(target, { tlsVerify: false })));
  });

  it('--json prints the metadata; --dry-run writes nothing', async () => {
    const target = `${registry.host}/acme/cli-dry:latest`;
    const run = await cli(['merge', '--json', '--dry-run', '-t', target, '--attestations', 'strip', ...seed.sources]);
    expect(run.code).toBe(0);
    const metadata = JSON.parse(run.stdout.toString()) as { pushed: boolean; attestations: { kept: number; stripped: number }; platforms: string[] };
    expect(metadata).toMatchObject({ pushed: false, attestations: { kept: 0, stripped: 2 }, platforms: ['linux/amd64', 'linux/arm64'] });
    await expect(skopeoInspectRaw(target, { tlsVerify: false })).rejects.toThrow();
  });

  it.each([
    [['merge', '--tag', 'x/y:z'], /merge needs at least one SOURCE/],
    [['merge', 'a/b:c'], /merge needs at least one --tag/],
    [['merge', '--bogus', '--tag', 'x/y:z', 'a/b:c'], /Unknown option '--bogus'/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['merge', '--tag', 'x/y:z', '--format', 'v1', 'a/b:c'], /Input `format` is "v1"/],
  ])('usage errors exit 2: %j', async (args, message) => {
    const run = await cli(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stdout.length).toBe(0);
  });

  it('a failure exits 1 with one message', async () => {
    const run = await cli(['merge', '--tag', `${registry.host}/acme/cli-fail:x`, '--platforms', 'linux/s390x', ...seed.sources]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^manifest-merge: Platforms? .*linux\/amd64/m);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('manifest-merge inspect', () => {
  it('prints a tree for a buildx index, attestations marked with the image they describe', async () => {
    const run = await cli(['inspect', seed.sources[0]]);
    expect(run.code).toBe(0);
    const text = run.stdout.toString();
    expect(text).toContain('application/vnd.oci.image.index.v1+json');
    expect(text).toContain(seed.amd64.indexDigest);
    expect(text).toContain('- linux/amd64');
    expect(text).toContain(`- attestation → ${seed.amd64.imageDigest} (linux/amd64)`);
  });

  it('prints the platform of a bare image from its config', async () => {
    const run = await cli(['inspect', variety.sources[4]]);
    expect(run.code).toBe(0);
    expect(run.stdout.toString()).toContain('platform: windows/amd64:10.0.20348.2113');
  });

  it('--raw prints the exact bytes the registry serves', async () => {
    for (const ref of [seed.sources[0], variety.sources[2]]) {
      const run = await cli(['inspect', '--raw', ref]);
      expect(run.code).toBe(0);
      expect(run.stdout.equals(await skopeoInspectRaw(ref, { tlsVerify: false }))).toBe(true);
    }
  });

  it('--check passes on a complete image and lists what is missing from a broken one (exit 1)', async () => {
    const ok = await cli(['inspect', '--check', seed.sources[1]]);
    expect(ok.code).toBe(0);
    expect(ok.stdout.toString()).toContain('every child manifest and blob is present');

    // Break the amd64 source on purpose: delete one layer blob from its repository.
    const layer = seed.amd64.image.layers[1].digest;
    await deleteBlob(registry, 'acme/github-runner-amd64', layer);
    const broken = await cli(['inspect', '--check', seed.sources[0]]);
    expect(broken.code).toBe(1);
    expect(broken.stdout.toString()).toContain(`blob ${layer} (needed by ${seed.amd64.imageDigest})`);
    expect(broken.stdout.toString()).toMatch(/check: 1 missing from/);
  });

  it('--version and --help', async () => {
    const version = await cli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.toString().trim()).toMatch(/^\d+\.\d+\.\d+$/);
    for (const args of [['--help'], ['merge', '--help'], ['inspect', '--help']]) {
      const help = await cli(args);
      expect(help.code).toBe(0);
      expect(help.stdout.toString()).toMatch(/Usage:/);
    }
  });
});
