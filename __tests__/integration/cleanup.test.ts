// `cleanup-sources` end to end: on every real registry implementation (deletes enabled, and
// disabled where that is a setting), and on GHCR and Docker Hub, whose registries are local ones
// mapped to their host names, beside local stand-ins for their web APIs
// (scripts/support/hosted-apis.ts). What stays is checked with skopeo: `copy --all` of the index
// into an OCI layout fails on any missing manifest or blob.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Agent } from 'undici';
import { buildMetadata } from '../../src/engine/summary.js';
import { getManifest, hasManifest, listTags, putManifest } from '../../scripts/support/fixtures/client.js';
import { pushOciImage } from '../../scripts/support/fixtures/images.js';
import { pushBuildxImage } from '../../scripts/support/fixtures/buildx.js';
import {
  type FakeDockerHub,
  type FakeGithubPackages,
  startFakeDockerHub,
  startFakeGithubPackages,
} from '../../scripts/support/hosted-apis.js';
import { loopbackDispatcher } from '../../scripts/support/quirks-proxy.js';
import {
  type RegistryCapabilities,
  type RegistryImplementation,
  type RunningRegistry,
  startRegistry,
} from '../../scripts/support/registry.js';
import { skopeoCopyAllToOciLayout } from '../../scripts/support/skopeo.js';
import { merge } from './harness.js';
import { IMPLEMENTATION_ROWS } from './implementations.js';

async function copyAll(ref: string): Promise<void> {
  await skopeoCopyAllToOciLayout(ref, await mkdtemp(join(tmpdir(), 'mm-cleanup-layout-')), { tlsVerify: false });
}

const warnings = (logs: string[]) => logs.filter((l) => l.startsWith('warning:'));

describe.each(IMPLEMENTATION_ROWS)('on %s, deletes enabled', (implementation: RegistryImplementation, can: RegistryCapabilities) => {
  let registry: RunningRegistry;

  beforeAll(async () => {
    registry = await startRegistry({ implementation, name: `cleanup-${implementation}`, deleteEnabled: true });
  });

  afterAll(async () => {
    await registry?.stop();
  });

  it("same-repository sources: their tags are removed, their manifests stay as the index's children (skopeo copy --all)", async () => {
    const [amd64, arm64] = await Promise.all([
      pushOciImage(registry, 'acme/same', 'amd64', { platform: 'linux/amd64', seed: 'cleanup-same-amd64' }),
      pushOciImage(registry, 'acme/same', 'arm64', { platform: 'linux/arm64', seed: 'cleanup-same-arm64' }),
    ]);
    const { result, logs } = await merge({
      sources: `${registry.host}/acme/same:amd64\n${registry.host}/acme/same:arm64`,
      tags: `${registry.host}/acme/same:latest`,
      'cleanup-sources': 'true',
    });
    expect(result.cleanup?.left).toEqual([]);
    expect(result.cleanup?.removed.map((t) => t.tag)).toEqual([`${registry.host}/acme/same:amd64`, `${registry.host}/acme/same:arm64`]);
    // DELETE of the tag where the registry has it, else regctl's untag (whose own manifest is gone too)
    expect(result.cleanup?.removed.map((t) => t.method)).toEqual(can.deleteTags ? ['delete-tag', 'delete-tag'] : ['untag', 'untag']);
    if (registry.configPath) {
      // distribution's store: the repository's manifests are the two images and the index, no untag manifest left
      const revisions = join(registry.dataDir, 'data/docker/registry/v2/repositories/acme/same/_manifests/revisions/sha256');
      const linked = (await readdir(revisions)).filter((hex) => existsSync(join(revisions, hex, 'link')));
      expect(linked.map((hex) => `sha256:${hex}`).sort()).toEqual([amd64.digest, arm64.digest, result.digest].sort());
    }
    expect(await listTags(registry, 'acme/same')).toEqual(['latest']);
    expect(await hasManifest(registry, 'acme/same', amd64.digest)).toBe(true);
    expect(await hasManifest(registry, 'acme/same', arm64.digest)).toBe(true);
    await copyAll(`${registry.host}/acme/same:latest`);
    expect(buildMetadata(result).cleanup).toMatchObject({ removed: 2, left: 0, skipped: 0 });
    expect(logs.some((l) => l.includes(`Removed source tag ${registry.host}/acme/same:amd64`))).toBe(true);
  });

  it('other-repository buildx sources: their tags are removed; the target holds everything (skopeo copy --all)', async () => {
    await Promise.all([
      pushBuildxImage(registry, 'acme/build', 'amd64', { platform: 'linux/amd64', seed: 'cleanup-bx-amd64' }),
      pushBuildxImage(registry, 'acme/build', 'arm64', { platform: 'linux/arm64', seed: 'cleanup-bx-arm64' }),
      pushBuildxImage(registry, 'acme/build', 'keep', { platform: 'linux/arm64', seed: 'cleanup-bx-keep' }),
    ]);
    const { result } = await merge({
      sources: `${registry.host}/acme/build:amd64\n${registry.host}/acme/build:arm64`,
      tags: `${registry.host}/acme/app:1.0`,
      'cleanup-sources': 'true',
    });
    expect(result.cleanup?.removed).toHaveLength(2);
    expect(await listTags(registry, 'acme/build')).toEqual(['keep']);
    await copyAll(`${registry.host}/acme/app:1.0`);
  });

  it('sources given by digest, and a source tag that is also a target, are left untouched', async () => {
    const [byDigest, target] = await Promise.all([
      pushOciImage(registry, 'acme/digest', 'amd64', { platform: 'linux/amd64', seed: 'cleanup-digest-amd64' }),
      pushOciImage(registry, 'acme/digest', 'arm64', { platform: 'linux/arm64', seed: 'cleanup-digest-arm64' }),
    ]);
    const { result } = await merge({
      sources: `${registry.host}/acme/digest@${byDigest.digest}\n${registry.host}/acme/digest:arm64`,
      tags: `${registry.host}/acme/digest:arm64`,
      'cleanup-sources': 'true',
    });
    expect(result.cleanup?.removed).toEqual([]);
    expect(result.cleanup?.skipped.map((s) => s.reason)).toEqual(['given by digest', 'also a target tag']);
    expect((await listTags(registry, 'acme/digest')).sort()).toEqual(['amd64', 'arm64']);
    expect((await getManifest(registry, 'acme/digest', 'amd64')).digest).toBe(byDigest.digest);
    expect(target.digest).not.toBe(result.digest);
    await copyAll(`${registry.host}/acme/digest:arm64`);
  });

  it('a dry run lists what would be removed and removes nothing', async () => {
    await Promise.all([
      pushOciImage(registry, 'acme/dry', 'amd64', { platform: 'linux/amd64', seed: 'cleanup-dry-amd64' }),
      pushOciImage(registry, 'acme/dry', 'arm64', { platform: 'linux/arm64', seed: 'cleanup-dry-arm64' }),
    ]);
    const { result, logs } = await merge({
      sources: `${registry.host}/acme/dry:amd64\n${registry.host}/acme/dry:arm64`,
      tags: `${registry.host}/acme/dry:latest`,
      'cleanup-sources': 'true',
      push: 'false',
    });
    expect(result.pushed).toBe(false);
    expect(result.cleanup?.removed.map((t) => t.tag)).toEqual([`${registry.host}/acme/dry:amd64`, `${registry.host}/acme/dry:arm64`]);
    expect(logs.filter((l) => l.includes('[dry run] would remove source tag'))).toHaveLength(2);
    expect((await listTags(registry, 'acme/dry')).sort()).toEqual(['amd64', 'arm64']);
  });
});

/** Implementations where deletes are a setting (ggcr's `crane registry serve` always deletes). */
const DELETE_SETTING = IMPLEMENTATION_ROWS.filter(([name]) => name !== 'ggcr');

if (DELETE_SETTING.length > 0)
  describe.each(DELETE_SETTING)('on %s, deletes disabled', (implementation: RegistryImplementation, can: RegistryCapabilities) => {
    let registry: RunningRegistry;

    beforeAll(async () => {
      registry = await startRegistry({ implementation, name: `cleanup-nodelete-${implementation}` });
    });

    afterAll(async () => {
      await registry?.stop();
    });

    it(`a warning names each tag, left in place; the merge succeeds (${can.title})`, async () => {
      const [amd64] = await Promise.all([
        pushOciImage(registry, 'acme/kept', 'amd64', { platform: 'linux/amd64', seed: 'cleanup-kept-amd64' }),
        pushOciImage(registry, 'acme/kept', 'arm64', { platform: 'linux/arm64', seed: 'cleanup-kept-arm64' }),
      ]);
      const { result, logs } = await merge({
        sources: `${registry.host}/acme/kept:amd64\n${registry.host}/acme/kept:arm64`,
        tags: `${registry.host}/acme/kept:latest`,
        'cleanup-sources': 'true',
      });
      expect(result.cleanup?.removed).toEqual([]);
      expect(result.cleanup?.left).toHaveLength(2);
      const said = warnings(logs).join('\n');
      expect(said).toContain(`left ${registry.host}/acme/kept:amd64 in place`);
      expect(said).toContain('HTTP 405');
      expect((await listTags(registry, 'acme/kept')).sort()).toEqual(['amd64', 'arm64', 'latest']);
      expect((await getManifest(registry, 'acme/kept', 'amd64')).digest).toBe(amd64.digest);
      expect(buildMetadata(result).cleanup).toMatchObject({ removed: 0, left: 2 });
    });
  });

describe('GHCR: the packages API, with ghcr.io mapped to a local registry', () => {
  const TOKEN = 'ghs_cleanupTestToken1234567890';
  let backing: RunningRegistry;
  let github: FakeGithubPackages;
  let dispatcher: Agent;
  const ghcr = (repository: string, tag: string) => `ghcr.io/${repository}:${tag}`;

  beforeAll(async () => {
    backing = await startRegistry({ implementation: 'distribution-v3', name: 'cleanup-ghcr', deleteEnabled: true });
    github = await startFakeGithubPackages({ registry: backing, token: TOKEN, owners: { acme: 'orgs', octocat: 'users' } });
    dispatcher = loopbackDispatcher({ 'ghcr.io': backing.port });
  });

  afterAll(async () => {
    await dispatcher?.close();
    await github?.stop();
    await backing?.stop();
  });

  const run = (values: Record<string, string>) =>
    merge(
      { 'insecure-registries': 'ghcr.io', 'github-token': TOKEN, 'cleanup-sources': 'true', ...values },
      { dispatcher, githubApiUrl: github.url },
    );

  it('single-manifest sources are children of the index: each tag goes with a manifest of its own, never the version', async () => {
    const [amd64, arm64] = await Promise.all([
      pushOciImage(backing, 'acme/app', 'amd64', { platform: 'linux/amd64', seed: 'ghcr-amd64' }),
      pushOciImage(backing, 'acme/app', 'arm64', { platform: 'linux/arm64', seed: 'ghcr-arm64' }),
    ]);
    const { result, logs } = await run({
      sources: `${ghcr('acme/app', 'amd64')}\n${ghcr('acme/app', 'arm64')}`,
      tags: ghcr('acme/app', 'latest'),
    });
    expect(result.cleanup?.left).toEqual([]);
    expect(result.cleanup?.removed.map((t) => t.method)).toEqual(['package-untag', 'package-untag']);
    expect(await listTags(backing, 'acme/app')).toEqual(['latest']);
    // the versions deleted are the manifests pushed over the tags, never a child of the index
    expect(github.deleted).toHaveLength(2);
    expect(github.deleted).not.toContain(amd64.digest);
    expect(github.deleted).not.toContain(arm64.digest);
    expect(github.deleted).not.toContain(result.digest);
    expect(await hasManifest(backing, 'acme/app', amd64.digest)).toBe(true);
    await copyAll(`${backing.host}/acme/app:latest`);
    expect(logs.join('\n')).not.toContain(TOKEN);
    expect(github.requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it("a buildx source index is no child of the index: its package version is deleted, its children stay (a user's package)", async () => {
    github.deleted.length = 0;
    const [amd64, arm64] = await Promise.all([
      pushBuildxImage(backing, 'octocat/tool', 'amd64', { platform: 'linux/amd64', seed: 'ghcr-bx-amd64' }),
      pushBuildxImage(backing, 'octocat/tool', 'arm64', { platform: 'linux/arm64', seed: 'ghcr-bx-arm64' }),
    ]);
    const { result } = await run({
      sources: `${ghcr('octocat/tool', 'amd64')}\n${ghcr('octocat/tool', 'arm64')}`,
      tags: ghcr('octocat/tool', 'latest'),
    });
    expect(result.cleanup?.removed.map((t) => t.method)).toEqual(['package-version', 'package-version']);
    expect(github.deleted.sort()).toEqual([amd64.indexDigest, arm64.indexDigest].sort());
    expect(await listTags(backing, 'octocat/tool')).toEqual(['latest']);
    expect(await hasManifest(backing, 'octocat/tool', amd64.imageDigest)).toBe(true);
    await copyAll(`${backing.host}/octocat/tool:latest`);
  });

  it('a version that carries another tag too is not deleted: the tag goes alone', async () => {
    github.deleted.length = 0;
    const amd64 = await pushBuildxImage(backing, 'acme/shared', 'amd64', { platform: 'linux/amd64', seed: 'ghcr-shared-amd64' });
    const index = await getManifest(backing, 'acme/shared', 'amd64');
    await putManifest(backing, 'acme/shared', 'stable-amd64', index.bytes, index.mediaType);
    const { result } = await run({ sources: ghcr('acme/shared', 'amd64'), tags: ghcr('acme/shared', 'latest') });
    expect(result.cleanup?.removed.map((t) => t.method)).toEqual(['package-untag']);
    expect(github.deleted).not.toContain(amd64.indexDigest);
    expect((await listTags(backing, 'acme/shared')).sort()).toEqual(['latest', 'stable-amd64']);
  });

  it('without a token: a warning, the tags left, the merge done', async () => {
    await pushOciImage(backing, 'acme/notoken', 'amd64', { platform: 'linux/amd64', seed: 'ghcr-notoken' });
    const { result, logs } = await run({
      sources: ghcr('acme/notoken', 'amd64'),
      tags: ghcr('acme/notoken', 'latest'),
      'github-token': '',
    });
    expect(result.cleanup?.left).toHaveLength(1);
    expect(warnings(logs).join('\n')).toContain('github-token');
    expect((await listTags(backing, 'acme/notoken')).sort()).toEqual(['amd64', 'latest']);
  });
});

describe("Docker Hub: its API's tag deletion, with docker.io mapped to a local registry", () => {
  const USER = { username: 'hubuser', password: 'dckr_pat_cleanupTestSecret' };
  let backing: RunningRegistry;
  let hub: FakeDockerHub;
  let dispatcher: Agent;

  beforeAll(async () => {
    backing = await startRegistry({ implementation: 'distribution-v3', name: 'cleanup-hub', deleteEnabled: true });
    hub = await startFakeDockerHub({ registry: backing, users: { [USER.username]: USER.password } });
    dispatcher = loopbackDispatcher({ 'registry-1.docker.io': backing.port });
  });

  afterAll(async () => {
    await dispatcher?.close();
    await hub?.stop();
    await backing?.stop();
  });

  const run = (values: Record<string, string>) =>
    merge(
      { 'insecure-registries': 'docker.io,registry-1.docker.io', registry: 'docker.io', ...values },
      { dispatcher, hubApiUrl: hub.url },
    );

  it("removes the source tags with the login's credentials; the manifests stay", async () => {
    const [amd64] = await Promise.all([
      pushOciImage(backing, 'acme/hubapp', 'amd64', { platform: 'linux/amd64', seed: 'hub-cleanup-amd64' }),
      pushOciImage(backing, 'acme/hubapp', 'arm64', { platform: 'linux/arm64', seed: 'hub-cleanup-arm64' }),
    ]);
    const { result, logs } = await run({
      sources: 'docker.io/acme/hubapp:amd64\ndocker.io/acme/hubapp:arm64',
      tags: 'docker.io/acme/hubapp:latest',
      'cleanup-sources': 'true',
      username: USER.username,
      password: USER.password,
    });
    expect(result.cleanup?.removed.map((t) => t.method)).toEqual(['hub-tag', 'hub-tag']);
    expect(hub.deleted.sort()).toEqual(['acme/hubapp:amd64', 'acme/hubapp:arm64']);
    expect(hub.requests.filter((r) => r.path === '/v2/users/login')).toHaveLength(1);
    expect(await listTags(backing, 'acme/hubapp')).toEqual(['latest']);
    expect(await hasManifest(backing, 'acme/hubapp', amd64.digest)).toBe(true);
    await copyAll(`${backing.host}/acme/hubapp:latest`);
    expect(logs.join('\n')).not.toContain(USER.password);
  });

  it('credentials Hub refuses: a warning, the tags left, the merge done', async () => {
    await pushOciImage(backing, 'acme/hubkept', 'amd64', { platform: 'linux/amd64', seed: 'hub-kept-amd64' });
    const { result, logs } = await run({
      sources: 'docker.io/acme/hubkept:amd64',
      tags: 'docker.io/acme/hubkept:latest',
      'cleanup-sources': 'true',
      username: USER.username,
      password: 'wrong-password',
    });
    expect(result.cleanup?.left).toHaveLength(1);
    expect(warnings(logs).join('\n')).toContain('HTTP 401');
    expect((await listTags(backing, 'acme/hubkept')).sort()).toEqual(['amd64', 'latest']);
  });
});
