// oci-layout:// sources end to end: layouts written by skopeo (an independent tool), as
// directories, tars and gzipped tars, merged into a real docker-registry and verified with skopeo;
// each way a layout can be bad fails with one error naming its path, before any tag is written.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sha256Digest } from '../../src/oci/digest.js';
import { isExpectedError } from '../../src/base/errors.js';
import { listTags } from '../../scripts/support/fixtures/client.js';
import { seedCase, type SeedCase } from '../../scripts/support/fixtures/cases.js';
import { type RunningRegistry, startRegistry } from '../../scripts/support/registry.js';
import { skopeoCopyAllToOciLayout, skopeoInspectRaw } from '../../scripts/support/skopeo.js';
import { merge, mergeFailure } from './harness.js';

const run = promisify(execFile);

let registry: RunningRegistry;
let seed: SeedCase;
let work: string;
/** skopeo-written layouts: one per platform, tagged */
let amd64Dir: string;
let arm64Dir: string;

beforeAll(async () => {
  registry = await startRegistry({ name: 'layouts' });
  seed = await seedCase(registry);
  work = await mkdtemp(join(tmpdir(), 'mm-layouts-'));
  amd64Dir = join(work, 'amd64');
  arm64Dir = join(work, 'arm64');
  await skopeoCopyAllToOciLayout(seed.sources[0], amd64Dir, { tlsVerify: false, tag: 'amd64', preserveDigests: true });
  await skopeoCopyAllToOciLayout(seed.sources[1], arm64Dir, { tlsVerify: false, tag: 'arm64', preserveDigests: true });
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** A tar of `dir` as buildx writes one: members at the top (no leading directory). */
async function tarOf(dir: string, name: string, format?: 'pax' | 'gnu'): Promise<string> {
  const file = join(work, name);
  const members = await readdir(dir);
  await run('tar', [...(format ? [`--format=${format}`] : []), '-cf', file, '-C', dir, ...members]);
  return file;
}

async function copyDir(dir: string, name: string): Promise<string> {
  const to = join(work, name);
  await cp(dir, to, { recursive: true });
  return to;
}

/** Every child and blob is there and hashes right: skopeo copy --all fails otherwise. */
async function verifyWithSkopeo(ref: string): Promise<void> {
  await skopeoCopyAllToOciLayout(ref, await mkdtemp(join(tmpdir(), 'mm-layout-verify-')), { tlsVerify: false });
}

async function expectLayoutError(values: Record<string, string>, pattern: RegExp, target: string): Promise<void> {
  const { error, message } = await mergeFailure(values);
  expect(isExpectedError(error) && error.code).toBe('LAYOUT');
  expect(message).toMatch(pattern);
  // nothing was tagged
  expect(await listTags(registry, target.split('/').slice(1).join('/').split(':')[0])).toEqual([]);
}

describe('oci-layout:// sources', () => {
  it('merges a tagged layout directory and an untagged layout tar into the same index a merge of the registry images gives', async () => {
    const fromRegistry = await merge({ sources: seed.sources.join('\n'), tags: `${registry.host}/acme/from-registry:1`, push: 'false' });
    const tar = await tarOf(arm64Dir, 'arm64.tar');
    const target = `${registry.host}/acme/from-layouts:1`;
    const { result } = await merge({ sources: `oci-layout://${amd64Dir}:amd64\noci-layout://${tar}`, tags: target });

    expect(result.digest).toBe(fromRegistry.result.digest);
    const served = await skopeoInspectRaw(target, { tlsVerify: false });
    expect(sha256Digest(served)).toBe(result.digest);
    await verifyWithSkopeo(target);
    // every blob came from disk: 1 config + 3 layers per image, and each attestation's blobs
    expect(result.targets[0].blobs.copied).toBeGreaterThanOrEqual(8);
    expect(result.sources.map((s) => s.input)).toEqual([
      `oci-layout://${amd64Dir}:amd64@${seed.amd64.digest}`,
      `oci-layout://${tar}@${seed.arm64.digest}`,
    ]);
  });

  it('reads a gzipped layout tar, and a source pinned by digest', async () => {
    const tar = await tarOf(amd64Dir, 'amd64-gz.tar');
    await run('gzip', ['-k', tar]);
    const target = `${registry.host}/acme/from-gzip:1`;
    const { result } = await merge({ sources: `oci-layout://${tar}.gz\noci-layout://${arm64Dir}@${seed.arm64.digest}`, tags: target });
    expect(result.platforms).toEqual(['linux/amd64', 'linux/arm64']);
    await verifyWithSkopeo(target);
  });

  it('refuses a layout with several manifests and no name, listing the names', async () => {
    const both = await copyDir(amd64Dir, 'both');
    await skopeoCopyAllToOciLayout(seed.sources[1], both, { tlsVerify: false, tag: 'arm64', preserveDigests: true });
    const { message } = await mergeFailure({ sources: `oci-layout://${both}`, tags: `${registry.host}/acme/several:1` });
    expect(message).toContain(`oci-layout://${both} holds 2 manifests (index.json lists: amd64, arm64)`);
    const { result } = await merge({ sources: `oci-layout://${both}:arm64`, tags: `${registry.host}/acme/several:1`, push: 'false' });
    expect(result.platforms).toEqual(['linux/arm64']);
  });

  it('refuses a directory without an oci-layout file, naming it', async () => {
    const broken = await copyDir(amd64Dir, 'no-oci-layout');
    await rm(join(broken, 'oci-layout'));
    await expectLayoutError(
      { sources: `oci-layout://${broken}`, tags: `${registry.host}/acme/bad-1:1` },
      new RegExp(`oci-layout://${broken} is not an OCI image layout: it has no \`oci-layout\` file`),
      `${registry.host}/acme/bad-1:1`,
    );
  });

  it('refuses a layout missing a blob, naming the layout and the blob, before anything is written', async () => {
    const broken = await copyDir(amd64Dir, 'missing-blob');
    const layer = seed.amd64.image.layers[1].digest;
    await rm(join(broken, 'blobs', 'sha256', layer.slice(7)));
    await expectLayoutError(
      { sources: `oci-layout://${broken}:amd64\n${seed.sources[1]}`, tags: `${registry.host}/acme/bad-2:1` },
      new RegExp(`oci-layout://${broken}: blob ${layer} .*missing`),
      `${registry.host}/acme/bad-2:1`,
    );
  });

  it('refuses a blob whose bytes are not its digest, naming the layout and the file, and tags nothing', async () => {
    const broken = await copyDir(amd64Dir, 'mismatch');
    const layer = seed.amd64.image.layers[2].digest;
    const path = join(broken, 'blobs', 'sha256', layer.slice(7));
    const bytes = await readFile(path);
    bytes[bytes.length - 1] ^= 0xff;
    await writeFile(path, bytes);
    await expectLayoutError(
      { sources: `oci-layout://${broken}:amd64\n${seed.sources[1]}`, tags: `${registry.host}/acme/bad-3:1` },
      new RegExp(`oci-layout://${broken}: blobs/sha256/${layer.slice(7)} does not match its digest`),
      `${registry.host}/acme/bad-3:1`,
    );
  });

  it('refuses a tar holding a path outside the archive (../), naming the tar', async () => {
    const tar = await tarOf(amd64Dir, 'evil.tar');
    // GNU tar keeps a leading ../ only when asked to (-P); an attacker's tar would have it anyway
    await writeFile(join(work, 'evil'), 'x');
    await run('tar', ['-rPf', tar, '--transform', 's,.*evil$,../../evil,', join(work, 'evil')]);
    await expectLayoutError(
      { sources: `oci-layout://${tar}`, tags: `${registry.host}/acme/bad-4:1` },
      new RegExp(`oci-layout://${tar}: the tar holds "../../evil", a path outside the archive`),
      `${registry.host}/acme/bad-4:1`,
    );
  });
});

describe('oci-layout:// paths and links', () => {
  it('follows a symbolic link to a layout directory, and to a PAX-format layout tar', async () => {
    const links = await mkdtemp(join(work, 'links-'));
    await symlink(amd64Dir, join(links, 'amd64'));
    // GNU tar's pax format puts a PAX record before every member
    await symlink(await tarOf(arm64Dir, 'arm64-pax.tar', 'pax'), join(links, 'arm64.tar'));
    const target = `${registry.host}/acme/from-links:1`;
    const { result } = await merge({
      sources: `oci-layout://${join(links, 'amd64')}:amd64\noci-layout://${join(links, 'arm64.tar')}`,
      tags: target,
    });
    expect(result.platforms).toEqual(['linux/amd64', 'linux/arm64']);
    await verifyWithSkopeo(target);
  });

  it('refuses a layout whose blobs/ is a link to a directory outside it, naming the layout, before anything is written', async () => {
    const broken = await mkdtemp(join(work, 'blobs-link-'));
    await mkdir(broken, { recursive: true });
    await cp(join(amd64Dir, 'oci-layout'), join(broken, 'oci-layout'));
    await cp(join(amd64Dir, 'index.json'), join(broken, 'index.json'));
    await symlink(join(amd64Dir, 'blobs'), join(broken, 'blobs'));
    await expectLayoutError(
      { sources: `oci-layout://${broken}:amd64\n${seed.sources[1]}`, tags: `${registry.host}/acme/bad-5:1` },
      new RegExp(
        `oci-layout://${broken}: blobs/sha256/[a-f0-9]{64} leads out of the layout \\(through a symbolic link, to ${amd64Dir}/blobs/sha256/`,
      ),
      `${registry.host}/acme/bad-5:1`,
    );
  });
});

describe('select-platforms', () => {
  it('takes only the selected platforms, each with its attestation; `platforms` then checks the result exactly', async () => {
    const target = `${registry.host}/acme/selected:1`;
    const { result } = await merge({
      sources: seed.sources.join('\n'),
      tags: target,
      'select-platforms': 'linux/arm64',
      platforms: 'linux/arm64',
    });
    const index = JSON.parse((await skopeoInspectRaw(target, { tlsVerify: false })).toString('utf8')) as {
      manifests: Array<{ digest: string }>;
    };
    expect(index.manifests.map((m) => m.digest)).toEqual([seed.arm64.imageDigest, seed.arm64.attestationDigest]);
    expect(result.plan.dropped).toEqual([]);
    await verifyWithSkopeo(target);

    const { message } = await mergeFailure({
      sources: seed.sources.join('\n'),
      tags: `${registry.host}/acme/selected:2`,
      'select-platforms': 'linux/arm64',
      platforms: 'linux/amd64,linux/arm64',
    });
    expect(message).toMatch(/linux\/amd64 expected by `platforms` but not found/);
  });

  it('refuses a platform no source has, naming what the sources have', async () => {
    const { message } = await mergeFailure({
      sources: seed.sources.join('\n'),
      tags: `${registry.host}/acme/selected:3`,
      'select-platforms': 'linux/s390x',
    });
    expect(message).toContain('`select-platforms` asks for linux/s390x, which no source has (the sources have: linux/amd64, linux/arm64)');
  });

  it('selects from a layout too: the unselected image is never read', async () => {
    const both = await copyDir(amd64Dir, 'select-both');
    await skopeoCopyAllToOciLayout(seed.sources[1], both, { tlsVerify: false, tag: 'arm64', preserveDigests: true });
    const { result } = await merge({
      sources: `oci-layout://${both}:amd64\noci-layout://${both}:arm64`,
      tags: `${registry.host}/acme/selected:4`,
      'select-platforms': 'linux/amd64',
    });
    expect(result.platforms).toEqual(['linux/amd64']);
    expect(result.plan.entries.map((e) => e.kind)).toEqual(['image', 'attestation']);
  });
});

describe("digests-dir and image (Docker's digest-file recipe)", () => {
  it('merges the digests named by the files of a directory, as image@sha256:<name>', async () => {
    const dir = await mkdtemp(join(work, 'digests-'));
    // in one repository, as the recipe's build jobs push them (by digest; a throwaway tag here)
    const repository = `${registry.host}/acme/by-digest`;
    for (const [i, image] of [seed.amd64, seed.arm64].entries()) {
      await run('skopeo', [
        '--insecure-policy',
        'copy',
        '--all',
        '--preserve-digests',
        '--src-tls-verify=false',
        '--dest-tls-verify=false',
        `docker://${seed.sources[i]}`,
        `docker://${repository}:build-${i}`,
      ]);
      await writeFile(join(dir, image.digest.slice(7)), '');
    }
    const { result } = await merge({ 'digests-dir': dir, image: repository, tags: `${repository}:latest` });
    expect(result.sources.map((s) => s.input).sort()).toEqual(
      [seed.amd64.digest, seed.arm64.digest].sort().map((d) => `${repository}@${d}`),
    );
    expect(result.platforms).toEqual(['linux/amd64', 'linux/arm64']);
    await verifyWithSkopeo(`${repository}:latest`);
  });
});
