// Registries as users have them: each quirk of a registry people push to (ECR, Artifactory, Quay,
// Harbor, GitLab, Docker Hub, proxies and older registries, SWR and older Gitea) emulated by a
// personality in front of the real docker-registry (scripts/support/quirks-proxy.ts). The merge
// either succeeds through the right fallback, verified with skopeo, or fails with one error that
// names the registry's behaviour and the way out.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Agent } from 'undici';
import { TagsRestoredError, UnsupportedMediaTypeError } from '../../src/base/errors.js';
import { MediaType } from '../../src/oci/manifest.js';
import type { FaultProxy } from '../../scripts/support/fault-proxy.js';
import { getManifest, hasManifest, listTags } from '../../scripts/support/fixtures/client.js';
import { pushDockerImage, pushOciImage, type PushedImage } from '../../scripts/support/fixtures/images.js';
import { pushBuildkitSubjectImage, type PushedBuildxImage } from '../../scripts/support/fixtures/buildx.js';
import { seedCase, type SeedCase } from '../../scripts/support/fixtures/cases.js';
import {
  type BlobCdn,
  bodyLimit,
  chunkMinLength,
  dockerHub,
  ecrMountIgnored,
  immutableTags,
  loopbackDispatcher,
  manifestContentType,
  mountFromMissingProjectUnauthorized,
  mountNeedsFrom,
  mountRefused,
  noDigestHeader,
  noManifestHead,
  ociIndexRefused,
  startBlobCdn,
  startQuirksProxy,
  subjectMustExist,
} from '../../scripts/support/quirks-proxy.js';
import { type RunningRegistry, startRegistry } from '../../scripts/support/registry.js';
import { skopeoCopyAllToOciLayout } from '../../scripts/support/skopeo.js';
import { type TokenServer, startTokenServer } from '../../scripts/support/token-server.js';
import { basicAuth, dockerConfigWith, merge, mergeFailure } from './harness.js';
import { renderActionError } from '../../src/action/wording.js';
import { renderCliError } from '../../src/cli/wording.js';

const MiB = 1024 * 1024;

let registry: RunningRegistry;
let other: RunningRegistry;
let seed: SeedCase;
let buildkit: PushedBuildxImage[];
let docker: PushedImage[];
let bare: PushedImage;
const proxies: FaultProxy[] = [];

beforeAll(async () => {
  [registry, other] = await Promise.all([startRegistry({ name: 'quirks' }), startRegistry({ name: 'quirks-other' })]);
  [seed, buildkit, docker, bare] = await Promise.all([
    seedCase(registry),
    Promise.all([
      pushBuildkitSubjectImage(registry, 'acme/bk-amd64', 'v1', {
        platform: 'linux/amd64',
        seed: 'bk-amd64',
        attestations: ['provenance', 'sbom'],
      }),
      pushBuildkitSubjectImage(registry, 'acme/bk-arm64', 'v1', {
        platform: 'linux/arm64',
        seed: 'bk-arm64',
        attestations: ['provenance', 'sbom'],
      }),
    ]),
    Promise.all([
      pushDockerImage(registry, 'acme/docker-amd64', 'v1', { platform: 'linux/amd64', seed: 'quirks-docker-amd64' }),
      pushDockerImage(registry, 'acme/docker-arm64', 'v1', { platform: 'linux/arm64', seed: 'quirks-docker-arm64' }),
    ]),
    pushOciImage(registry, 'acme/bare-riscv64', 'v1', { platform: 'linux/riscv64', seed: 'quirks-bare', omitMediaType: true }),
  ]);
});

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
});

afterAll(async () => {
  await Promise.all([registry?.stop(), other?.stop()]);
});

async function quirky(
  personalities: Parameters<typeof startQuirksProxy>[0]['personalities'],
  options: { target?: RunningRegistry; rules?: Parameters<typeof startQuirksProxy>[0]['rules'] } = {},
): Promise<FaultProxy> {
  const proxy = await startQuirksProxy({ target: (options.target ?? registry).url, personalities, rules: options.rules });
  proxies.push(proxy);
  return proxy;
}

/** The seed case's sources, read through `proxy`. */
function seedSources(proxy: FaultProxy): string {
  return seed.sources.map((s) => s.replace(registry.host, proxy.host)).join('\n');
}

async function copyAll(ref: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'mm-quirks-layout-'));
  await skopeoCopyAllToOciLayout(ref, dir, { tlsVerify: false });
}

function kinds(proxy: FaultProxy, kind: string): number {
  return proxy.requests().filter((r) => r.kind === kind).length;
}

describe('mounts ignored or refused: the blob is streamed instead', () => {
  it('ECR: a mount answered 202 with an upload session: the blob is streamed into that session', async () => {
    const proxy = await quirky([ecrMountIgnored()]);
    const { result } = await merge({ sources: seedSources(proxy), tags: `${proxy.host}/team/ecr:1` });
    expect(result.targets[0].blobs).toMatchObject({ mounted: 0, existing: 0 });
    expect(result.targets[0].blobs.copied).toBeGreaterThan(0);
    // every session the declined mounts opened was used: no upload session of our own
    expect(kinds(proxy, 'POST mount')).toBe(result.targets[0].blobs.copied);
    expect(kinds(proxy, 'POST upload')).toBe(0);
    await copyAll(`${registry.host}/team/ecr:1`);
  });

  it('Artifactory: mounts refused with 405: streamed copies, and no further mount asked of that registry', async () => {
    const proxy = await quirky([mountRefused(405)]);
    const { result, logs } = await merge({ sources: seedSources(proxy), tags: `${proxy.host}/team/artifactory:1` });
    expect(result.targets[0].blobs.mounted).toBe(0);
    expect(result.targets[0].blobs.copied).toBeGreaterThan(1);
    // only the mounts already in flight when the first 405 came back were asked, none twice: since issue 21 every mount of
    // the seed case goes out at once (control requests are not held to the 8 streamed copies), so that is all 12 here
    const mounts = proxy.requests().filter((r) => r.kind === 'POST mount');
    expect(mounts.length).toBeLessThanOrEqual(result.targets[0].blobs.copied);
    const mounted = mounts.map((m) => new URL(m.path, 'http://x').searchParams.get('mount'));
    expect(new Set(mounted).size).toBe(mounts.length); // no blob asked twice
    expect(logs.some((l) => /refused the mount \(HTTP 405\); streaming the blob instead/.test(l))).toBe(true);
    await copyAll(`${registry.host}/team/artifactory:1`);
  });

  it('Artifactory (some versions): mounts refused with 404: streamed copies', async () => {
    const proxy = await quirky([mountRefused(404)]);
    const { result } = await merge({ sources: seedSources(proxy), tags: `${proxy.host}/team/artifactory-404:1` });
    expect(result.targets[0].blobs.mounted).toBe(0);
    expect(result.targets[0].blobs.copied).toBeGreaterThan(0);
    await copyAll(`${registry.host}/team/artifactory-404:1`);
  });

  it('Quay: a mount without `from` is rejected; every mount names its source, so all of them mount', async () => {
    const proxy = await quirky([mountNeedsFrom()]);
    const { result } = await merge({ sources: seedSources(proxy), tags: `${proxy.host}/team/quay:1` });
    const mounts = proxy.requests().filter((r) => r.kind === 'POST mount');
    expect(mounts.length).toBeGreaterThan(0);
    for (const m of mounts) expect(m.path).toMatch(/[?&]from=acme%2Fgithub-runner-(amd|arm)64(&|$)/);
    expect(result.targets[0].blobs).toMatchObject({ copied: 0 });
    expect(result.targets[0].blobs.mounted).toBe(mounts.length);
  });

  it('Harbor: 401 to a mount from a project it does not find: streamed copies from the source', async () => {
    const proxy = await quirky([mountFromMissingProjectUnauthorized(['acme'])]);
    const { result } = await merge({ sources: seedSources(proxy), tags: `${proxy.host}/team/harbor:1` });
    expect(result.targets[0].blobs.mounted).toBe(0);
    expect(result.targets[0].blobs.copied).toBeGreaterThan(0);
    expect(
      proxy
        .requests()
        .filter((r) => r.kind === 'POST mount')
        .every((r) => r.status === 401),
    ).toBe(true);
    await copyAll(`${registry.host}/team/harbor:1`);
  });
});

describe('GitLab: a manifest whose subject is not in the repository yet is refused', () => {
  it('BuildKit 0.32 attestations (with `subject`) go up after their images, then the index', async () => {
    // Every manifest PUT waits 300 ms at the proxy while the subject check is made on arrival: an
    // attestation sent alongside its image would find the image missing, every time.
    const proxy = await quirky([subjectMustExist()], { rules: [{ requestKind: 'PUT manifest', fault: { kind: 'delay', ms: 300 } }] });
    const { result } = await merge({
      sources: [`${proxy.host}/acme/bk-amd64:v1`, `${proxy.host}/acme/bk-arm64:v1`].join('\n'),
      tags: `${proxy.host}/team/gitlab:1`,
    });
    expect(result.plan.entries.filter((e) => e.kind === 'attestation')).toHaveLength(2);
    const puts = proxy.requests().filter((r) => r.kind === 'PUT manifest');
    expect(puts.every((r) => r.status === 201)).toBe(true);
    const order = puts.map((r) => r.path.split('/manifests/')[1]);
    const images = buildkit.map((b) => b.imageDigest);
    const attestations = buildkit.map((b) => b.attestationDigest);
    const last = (digests: string[]) => Math.max(...digests.map((d) => order.indexOf(d)));
    const first = (digests: string[]) => Math.min(...digests.map((d) => order.indexOf(d)));
    expect(last(images)).toBeLessThan(first(attestations));
    expect(order.at(-1)).toBe('1');
    // the attestations kept their subject
    const stored = await getManifest(registry, 'team/gitlab', attestations[0]);
    expect(JSON.parse(stored.bytes.toString('utf8')).subject.digest).toBe(images[0]);
    await copyAll(`${registry.host}/team/gitlab:1`);
  });
});

describe('proxies and older registries', () => {
  it('no Docker-Content-Digest: digests are computed, checked against what was asked, and the read-back reads the manifest', async () => {
    const proxy = await quirky([noDigestHeader()]);
    const { result, logs } = await merge({ sources: seedSources(proxy), tags: `${proxy.host}/team/no-digest:1` });
    expect(await getManifest(registry, 'team/no-digest', '1')).toMatchObject({ digest: result.digest });
    expect(proxy.requests().some((r) => r.method === 'GET' && r.path.endsWith('/team/no-digest/manifests/1'))).toBe(true);
    expect(logs.some((l) => /HEAD lacked Docker-Content-Digest/.test(l))).toBe(true);
  });

  it('HEAD on manifests answered 405: GET instead, for the target checks and the read-back, asked once', async () => {
    const proxy = await quirky([noManifestHead()], { target: other });
    const { result } = await merge({ sources: seed.sources.join('\n'), tags: `${proxy.host}/team/no-head:1` });
    // only the HEADs already in flight when the first 405 came back (the look-ahead sends up to 8 at once)
    expect(kinds(proxy, 'HEAD manifest')).toBeLessThanOrEqual(8);
    // the read-back, asked once the registry was known: GET only
    const readBack = proxy.requests().filter((r) => r.path.endsWith('/team/no-head/manifests/1'));
    expect(readBack.map((r) => r.method)).toEqual(['PUT', 'GET']);
    expect(await getManifest(other, 'team/no-head', '1')).toMatchObject({ digest: result.digest });
    await copyAll(`${other.host}/team/no-head:1`);
  });

  it.each(['application/json', 'text/plain'] as const)(
    'manifests served as %s: the type comes from the body, or from its shape',
    async (type) => {
      const proxy = await quirky([manifestContentType(type)]);
      const tag = `team/typed-${type.replace('/', '-')}`;
      const sources = [
        `${proxy.host}/acme/github-runner-amd64:focal`,
        `${proxy.host}/acme/bare-riscv64:v1`,
        `${proxy.host}/acme/docker-arm64:v1`,
      ];
      const { result } = await merge({ sources: sources.join('\n'), tags: `${other.host}/${tag}:1` });
      expect(result.mediaType).toBe(MediaType.OciIndex);
      // children pushed to the other registry with their real types: by the body's mediaType, or by its shape (bare has none)
      expect((await getManifest(other, tag, bare.digest)).mediaType).toBe(MediaType.OciManifest);
      expect((await getManifest(other, tag, docker[1].digest)).mediaType).toBe(MediaType.DockerManifest);
      expect((await getManifest(other, tag, seed.amd64.imageDigest)).mediaType).toBe(MediaType.OciManifest);
      await copyAll(`${other.host}/${tag}:1`);
    },
  );
});

describe('registries that refuse OCI indexes (Huawei SWR, older Gitea)', () => {
  it('Docker schema 2 images: one error that says format docker; nothing tagged', async () => {
    const proxy = await quirky([ociIndexRefused()]);
    const sources = [`${proxy.host}/acme/docker-amd64:v1`, `${proxy.host}/acme/docker-arm64:v1`];
    const { error } = await mergeFailure({ sources: sources.join('\n'), tags: `${proxy.host}/team/swr:1`, format: 'oci' });
    expect(error).toBeInstanceOf(UnsupportedMediaTypeError);
    const action = renderActionError(error);
    expect(action).toMatch(/refused the OCI image index \(HTTP 400 MANIFEST_INVALID\): this registry does not accept OCI indexes/);
    expect(action).toMatch(/set input `format` to `docker`/);
    expect(action).not.toMatch(/attestations/);
    expect(renderCliError(error)).toMatch(/set --format to `docker`/);
    expect(await listTags(registry, 'team/swr').catch(() => [])).toEqual([]);
    // and the fix works there
    const { result } = await merge({ sources: sources.join('\n'), tags: `${proxy.host}/team/swr:1`, format: 'docker' });
    expect(result.mediaType).toBe(MediaType.DockerManifestList);
  });

  it('OCI images with attestations: the error says attestations strip, and that the images need Docker schema 2 for format docker', async () => {
    const proxy = await quirky([ociIndexRefused()]);
    const { error } = await mergeFailure({ sources: seedSources(proxy), tags: `${proxy.host}/team/swr-oci:1` });
    expect(error).toBeInstanceOf(UnsupportedMediaTypeError);
    const action = renderActionError(error);
    expect(action).toMatch(/does not accept OCI indexes/);
    expect(action).toMatch(/The images are OCI manifests, which a Docker manifest list cannot hold/);
    expect(action).toMatch(/set input `attestations` to `strip` and input `format` to `docker`/);
    expect(await listTags(registry, 'team/swr-oci').catch(() => [])).toEqual([]);
  });
});

describe('immutable tags (ECR, Harbor): the index taken by digest, the tag refused after another target moved', () => {
  let v3: RunningRegistry;

  beforeAll(async () => {
    v3 = await startRegistry({ name: 'quirks-v3', implementation: 'distribution-v3', deleteEnabled: true });
  });

  afterAll(async () => {
    await v3?.stop();
  });

  /** A tag that exists before the merge: the bare riscv64 image merged into it. */
  async function existing(target: RunningRegistry, repository: string, tag: string): Promise<string> {
    const { result } = await merge({ sources: `${registry.host}/acme/bare-riscv64:v1`, tags: `${target.host}/${repository}:${tag}` });
    return result.digest;
  }

  it("ECR (400 TAG_INVALID) on target 2: target 1's tag is back at its previous digest, and the error lists it", async () => {
    const [before, kept] = await Promise.all([existing(registry, 'team/moved', 'latest'), existing(other, 'team/immutable', 'latest')]);
    const proxy = await quirky([immutableTags()], { target: other });
    const { error, message } = await mergeFailure({
      sources: seed.sources.join('\n'),
      tags: `${registry.host}/team/moved:latest\n${proxy.host}/team/immutable:latest`,
    });
    expect(error).toBeInstanceOf(TagsRestoredError);
    // the index went to target 2 by digest, then its tag was refused
    const puts = proxy.requests().filter((r) => r.kind === 'PUT manifest' && r.path.includes('/team/immutable/'));
    expect(puts.map((r) => r.status)).toContain(400);
    expect(message).toMatch(
      /^Manifest 127\.0\.0\.1:\d+\/team\/immutable:latest: .*returned 400 Bad Request: TAG_INVALID: The image tag .latest. already exists/,
    );
    expect(message).toContain(`tags that had already moved were put back: ${registry.host}/team/moved:latest (back at ${before})`);
    expect((await getManifest(registry, 'team/moved', 'latest')).digest).toBe(before);
    expect((await getManifest(other, 'team/immutable', 'latest')).digest).toBe(kept);
    await copyAll(`${registry.host}/team/moved:latest`);
  });

  it('Harbor (412) on target 2, a new tag on distribution v3 (deletes enabled): the new tag is deleted again', async () => {
    await existing(other, 'team/harbor', 'latest');
    const proxy = await quirky([immutableTags({ status: 412 })], { target: other });
    const { error, message } = await mergeFailure({
      sources: seed.sources.join('\n'),
      tags: `${v3.host}/team/fresh:v1\n${proxy.host}/team/harbor:latest`,
    });
    expect((error as TagsRestoredError).tags).toEqual([{ tag: `${v3.host}/team/fresh:v1`, outcome: 'deleted' }]);
    expect(message).toContain('PRECONDITION');
    expect(message).toContain(`${v3.host}/team/fresh:v1 (deleted: it did not exist before)`);
    expect(await hasManifest(v3, 'team/fresh', 'v1')).toBe(false);
  });

  it('a new tag on distribution 2.8, which deletes no tag: listed as not put back, with the digest it holds and what to do', async () => {
    await existing(other, 'team/immutable-28', 'latest');
    const proxy = await quirky([immutableTags()], { target: other });
    const { error, message } = await mergeFailure({
      sources: seed.sources.join('\n'),
      tags: `${registry.host}/team/fresh-28:v1\n${proxy.host}/team/immutable-28:latest`,
    });
    const now = (await getManifest(registry, 'team/fresh-28', 'v1')).digest;
    expect((error as TagsRestoredError).tags).toEqual([
      {
        tag: `${registry.host}/team/fresh-28:v1`,
        outcome: 'failed',
        current: now,
        reason: expect.stringMatching(/DELETE .*fresh-28\/manifests\/v1/),
      },
    ]);
    expect(message).toContain(
      `could not be put back: ${registry.host}/team/fresh-28:v1 (it did not exist before and now holds ${now}; deleting it failed:`,
    );
    expect(message).toMatch(/Set right by hand each tag that could not be put back/);
  });
});

describe('upload sizes', () => {
  it('413 to a big monolithic PUT: the blob goes up in chunks', async () => {
    const big = await pushOciImage(registry, 'acme/big-413', 'v1', {
      platform: 'linux/amd64',
      seed: 'quirks-413',
      layers: 1,
      layerSize: 3 * MiB,
    });
    const proxy = await quirky([bodyLimit(1 * MiB)], { target: other });
    const { result } = await merge({ sources: `${registry.host}/acme/big-413:v1`, tags: `${proxy.host}/team/chunked:1` });
    expect(proxy.requests().some((r) => r.kind === 'PUT upload' && r.status === 413)).toBe(true);
    expect(kinds(proxy, 'PATCH upload')).toBeGreaterThan(0);
    expect(result.targets[0].blobs.copied).toBe(2); // the layer and the config
    expect(big.layers[0].size).toBeGreaterThan(1 * MiB);
    await copyAll(`${other.host}/team/chunked:1`);
  });

  it('OCI-Chunk-Min-Length: chunks of at least that size (over the 8 MiB default, within the 64 MiB cap)', async () => {
    await pushOciImage(registry, 'acme/big-min', 'v1', { platform: 'linux/amd64', seed: 'quirks-min', layers: 1, layerSize: 20 * MiB });
    const minimum = 9 * MiB;
    const proxy = await quirky([bodyLimit(1 * MiB), chunkMinLength(minimum)], { target: other });
    await merge({ sources: `${registry.host}/acme/big-min:v1`, tags: `${proxy.host}/team/chunk-min:1` });
    const patches = proxy.requests().filter((r) => r.kind === 'PATCH upload');
    expect(patches.length).toBe(3); // 9 + 9 + the rest of ~20 MiB
    expect(patches.every((r) => r.status === 202)).toBe(true);
    await copyAll(`${other.host}/team/chunk-min:1`);
  });
});

describe('Docker Hub, with its host names mapped to loopback', () => {
  const HUB_USER = { username: 'hubuser', password: 'hub-secret-password' };
  let tokenServer: TokenServer;
  let hub: RunningRegistry;
  let cdn: BlobCdn;
  let hubProxy: FaultProxy;
  let dispatcher: Agent;

  beforeAll(async () => {
    tokenServer = await startTokenServer({
      users: { [HUB_USER.username]: { password: HUB_USER.password, grants: [{ prefix: '', actions: ['pull', 'push'] }] } },
    });
    hub = await startRegistry({ name: 'quirks-hub', auth: 'token', tokenServer });
    const endpoint = { host: hub.host, url: hub.url, credentials: HUB_USER };
    await Promise.all([
      pushOciImage(endpoint, 'acme/hub-amd64', 'v1', { platform: 'linux/amd64', seed: 'hub-amd64' }),
      pushOciImage(endpoint, 'acme/hub-arm64', 'v1', { platform: 'linux/arm64', seed: 'hub-arm64' }),
    ]);
    cdn = await startBlobCdn(hub.url);
    hubProxy = await startQuirksProxy({
      target: hub.url,
      personalities: [dockerHub({ realm: 'http://auth.docker.io/token', cdn, cdnOrigin: 'http://production.cloudflare.docker.com' })],
      publicOrigin: 'http://registry-1.docker.io',
    });
    dispatcher = loopbackDispatcher({
      'registry-1.docker.io': Number(hubProxy.host.split(':')[1]),
      'auth.docker.io': Number(new URL(tokenServer.url).port),
      'production.cloudflare.docker.com': cdn.port,
    });
  });

  afterAll(async () => {
    await dispatcher?.close();
    await Promise.all([hubProxy?.stop(), cdn?.stop()]);
    await Promise.all([hub?.stop(), tokenServer?.stop()]);
  });

  it('one token (realm on another host) covers the mount sources; blobs come from the CDN without credentials', async () => {
    const configDir = await dockerConfigWith({
      auths: { 'https://index.docker.io/v1/': { auth: basicAuth(HUB_USER.username, HUB_USER.password) } },
    });
    tokenServer.reset();
    const { result } = await merge(
      {
        sources: 'docker.io/acme/hub-amd64:v1\ndocker.io/acme/hub-arm64:v1',
        // the Hub repository (mounts) and a local registry (streamed from the CDN)
        tags: `docker.io/acme/hub:latest\n${other.host}/team/from-hub:1`,
        // plain HTTP on loopback stands in for TLS; the CDN is listed too, so only the cross-origin rule keeps credentials from it
        'insecure-registries': 'docker.io,registry-1.docker.io,auth.docker.io,production.cloudflare.docker.com',
      },
      { configDir, dispatcher },
    );
    // one token request for docker.io, with pull on both sources (mounts need it) and push on the target
    expect(tokenServer.requests).toHaveLength(1);
    expect(tokenServer.requests[0].scopes).toEqual(
      expect.arrayContaining(['repository:acme/hub-amd64:pull', 'repository:acme/hub-arm64:pull', 'repository:acme/hub:pull,push']),
    );
    const hubTarget = result.targets.find((t) => t.repository === 'docker.io/acme/hub')!;
    expect(hubTarget.blobs.copied).toBe(0);
    expect(hubTarget.blobs.mounted).toBeGreaterThan(0);
    // blob GETs were redirected to the CDN, which got no Authorization header
    expect(cdn.requests.length).toBeGreaterThan(0);
    for (const r of cdn.requests) expect(r).toMatchObject({ authorization: undefined, status: 200 });
    expect((await getManifest({ host: hub.host, url: hub.url, credentials: HUB_USER }, 'acme/hub', 'latest')).digest).toBe(result.digest);
    await copyAll(`${other.host}/team/from-hub:1`);
  });
});
