// Smoke test of the real-registry test infrastructure in scripts/support/: registries in
// each auth mode, the token server, the fixtures' own pusher, the fault proxy and skopeo.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startRegistry,
  ensureTool,
  findOnPath,
  freePort,
  type RunningRegistry,
  type RegistryEndpoint,
} from '../../scripts/support/registry.js';
import { startTokenServer, decodeJwt, type TokenServer } from '../../scripts/support/token-server.js';
import { startFaultProxy, classifyRequest, type FaultProxy } from '../../scripts/support/fault-proxy.js';
import { MT, ACCEPT_ALL, PLATFORMS, sha256 } from '../../scripts/support/fixtures/media.js';
import { getManifest, getBlob, hasBlob, deleteBlob } from '../../scripts/support/fixtures/client.js';
import { pushOciImage, pushDockerImage, pushIndex } from '../../scripts/support/fixtures/images.js';
import { pushLargeImage } from '../../scripts/support/fixtures/large.js';
import { pushBuildxImage } from '../../scripts/support/fixtures/buildx.js';
import { pushSchema1, schema1Payload } from '../../scripts/support/fixtures/schema1.js';
import { seedCase, seedVariety } from '../../scripts/support/fixtures/cases.js';
import { GO_TOOLS, GoToolInstallError, ensureGoTool, goInstall, goToolPath, goToolsRoot } from '../../scripts/support/go-tools.js';
import {
  cleanupSkopeo,
  skopeoInspectRaw,
  skopeoInspectConfig,
  skopeoCopyAllToOciLayout,
  SkopeoError,
  writeDockerConfig,
} from '../../scripts/support/skopeo.js';

const CI_USER = { username: 'ci', password: 'ci-secret' };

let tokenServer: TokenServer;
let plain: RunningRegistry;
let htpasswd: RunningRegistry;
let token: RunningRegistry;
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'mm-infra-test-'));
  tokenServer = await startTokenServer({
    users: {
      ci: { password: CI_USER.password, refreshToken: 'ci-identity-token', grants: [{ prefix: 'acme/', actions: ['pull', 'push'] }] },
      reader: { password: 'reader-secret', grants: [{ prefix: 'acme/', actions: ['pull'] }] },
    },
    anonymousPullPrefixes: ['public/'],
  });
  [plain, htpasswd, token] = await Promise.all([
    startRegistry({ name: 'plain', deleteEnabled: true, schema1: true }),
    startRegistry({ name: 'htpasswd', auth: 'htpasswd', users: { alice: 'alice-secret', bob: 'bob-secret' } }),
    startRegistry({ name: 'token', auth: 'token', tokenServer }),
  ]);
});

afterAll(async () => {
  await Promise.all([plain?.stop(), htpasswd?.stop(), token?.stop(), tokenServer?.stop()]);
  if (scratch) await rm(scratch, { recursive: true, force: true });
  await cleanupSkopeo();
});

describe('registry launcher', () => {
  it('answers /v2/ per auth mode', async () => {
    expect((await fetch(`${plain.url}/v2/`)).status).toBe(200);
    const basic = await fetch(`${htpasswd.url}/v2/`);
    expect(basic.status).toBe(401);
    expect(basic.headers.get('www-authenticate')).toMatch(/^Basic realm="basic-realm"/);
    const bearer = await fetch(`${token.url}/v2/`);
    expect(bearer.status).toBe(401);
    expect(bearer.headers.get('www-authenticate')).toContain(`realm="${tokenServer.realm}"`);
    expect(plain.host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(htpasswd.credentials).toEqual({ username: 'alice', password: 'alice-secret' });
  });

  it('finds the tools and picks free ports', async () => {
    expect(await ensureTool('docker-registry')).toMatch(/(docker-)?registry$/);
    expect(await ensureTool('skopeo')).toMatch(/skopeo$/);
    const [a, b] = await Promise.all([freePort(), freePort()]);
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
  });

  it('stop() ends the process and removes its data', async () => {
    const extra = await startRegistry({ name: 'short-lived' });
    const { pid, dataDir } = extra;
    await extra.stop();
    expect(() => process.kill(pid, 0)).toThrow();
    await expect(readFile(join(dataDir, 'config.yml'))).rejects.toThrow();
  });
});

describe.each([
  ['plain', () => plain as RegistryEndpoint],
  ['htpasswd', () => htpasswd as RegistryEndpoint],
  ['token', () => ({ ...token, credentials: CI_USER }) as RegistryEndpoint],
])('%s registry', (_mode, endpoint) => {
  it('takes a buildx-style push that skopeo reads back byte for byte and copies whole', async () => {
    const registry = endpoint();
    const pushed = await pushBuildxImage(registry, 'acme/app', 'sha-0', { platform: 'linux/amd64', seed: 'infra-app' });
    const index = JSON.parse(pushed.manifestBytes.toString('utf8')) as { mediaType: string; manifests: Array<Record<string, unknown>> };
    expect(index.mediaType).toBe(MT.OciIndex);
    expect(index.manifests).toHaveLength(2);
    expect(index.manifests[0]).toMatchObject({ digest: pushed.imageDigest, platform: { os: 'linux', architecture: 'amd64' } });
    expect(index.manifests[1]).toMatchObject({
      digest: pushed.attestationDigest,
      platform: { os: 'unknown', architecture: 'unknown' },
      annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': pushed.imageDigest },
    });

    const creds = registry.credentials;
    const raw = await skopeoInspectRaw(`${registry.host}/acme/app:sha-0`, { creds });
    expect(raw.equals(pushed.manifestBytes)).toBe(true);
    expect(sha256(raw)).toBe(pushed.digest);
    const image = await skopeoInspectRaw(`${registry.host}/acme/app@${pushed.imageDigest}`, { creds });
    expect(image.equals(pushed.image.manifestBytes)).toBe(true);

    const layout = join(scratch, `layout-${_mode}`);
    await skopeoCopyAllToOciLayout(`${registry.host}/acme/app:sha-0`, layout, { creds, preserveDigests: true });
    const ociIndex = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    expect(ociIndex.manifests.map((m) => m.digest)).toContain(pushed.digest);
  });

  it(_mode === 'plain' ? 'serves anonymous reads' : 'refuses anonymous reads', async () => {
    const anonymous = skopeoInspectRaw(`${endpoint().host}/acme/app:sha-0`);
    if (_mode === 'plain') await expect(anonymous).resolves.toBeInstanceOf(Buffer);
    else await expect(anonymous).rejects.toThrow(SkopeoError);
  });
});

describe('token server', () => {
  it('issues one token for two scopes in one request, verified by the registry', async () => {
    tokenServer.reset();
    const url = new URL(tokenServer.realm);
    url.searchParams.set('service', tokenServer.service);
    url.searchParams.append('scope', 'repository:acme/app:pull');
    url.searchParams.append('scope', 'repository:acme/merged:pull,push');
    const response = await fetch(url, { headers: { authorization: `Basic ${Buffer.from('ci:ci-secret').toString('base64')}` } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { token: string; access_token: string; expires_in: number; issued_at: string };
    expect(body.access_token).toBe(body.token);
    expect(body.expires_in).toBeGreaterThan(0);
    const { header, claims } = decodeJwt(body.token);
    expect(header).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    expect(Array.isArray(header.x5c)).toBe(true);
    expect(claims).toMatchObject({ iss: tokenServer.issuer, aud: tokenServer.service, sub: 'ci' });
    expect(claims.access).toEqual([
      { type: 'repository', name: 'acme/app', actions: ['pull'] },
      { type: 'repository', name: 'acme/merged', actions: ['pull', 'push'] },
    ]);
    expect(tokenServer.requests).toHaveLength(1);
    expect(tokenServer.requests[0]).toMatchObject({ method: 'GET', user: 'ci', grantType: 'basic', status: 200 });
    expect(tokenServer.requests[0].scopes).toEqual(['repository:acme/app:pull', 'repository:acme/merged:pull,push']);

    // the registry accepts it
    const manifest = await fetch(`${token.url}/v2/acme/app/manifests/sha-0`, {
      headers: { authorization: `Bearer ${body.token}`, accept: ACCEPT_ALL },
    });
    expect(manifest.status).toBe(200);
    await manifest.arrayBuffer();
  });

  it('grants only the allowed subset, refuses a wrong password, serves anonymous pulls by policy', async () => {
    const ask = async (scopes: string[], auth?: string) => {
      const url = new URL(tokenServer.realm);
      url.searchParams.set('service', tokenServer.service);
      for (const s of scopes) url.searchParams.append('scope', s);
      return fetch(url, auth ? { headers: { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } } : {});
    };
    const reader = await ask(['repository:acme/app:pull,push', 'repository:other/x:pull'], 'reader:reader-secret');
    expect(decodeJwt(((await reader.json()) as { token: string }).token).claims.access).toEqual([
      { type: 'repository', name: 'acme/app', actions: ['pull'] },
    ]);
    const wrong = await ask(['repository:acme/app:pull'], 'ci:nope');
    expect(wrong.status).toBe(401);
    await wrong.arrayBuffer();
    const anonymous = await ask(['repository:public/base:pull,push', 'repository:acme/app:pull']);
    expect(decodeJwt(((await anonymous.json()) as { token: string }).token).claims.access).toEqual([
      { type: 'repository', name: 'public/base', actions: ['pull'] },
    ]);
  });

  it('supports OAuth2 password (offline) and refresh_token grants', async () => {
    tokenServer.reset();
    const post = (form: Record<string, string>) =>
      fetch(tokenServer.realm, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
      });
    const password = await post({
      grant_type: 'password',
      username: 'ci',
      password: CI_USER.password,
      service: tokenServer.service,
      scope: 'repository:acme/app:pull repository:acme/b:push',
      access_type: 'offline',
      client_id: 'test',
    });
    expect(password.status).toBe(200);
    const first = (await password.json()) as { access_token: string; refresh_token?: string };
    expect(first.refresh_token).toBe('ci-identity-token');
    const refreshed = await post({
      grant_type: 'refresh_token',
      refresh_token: 'ci-identity-token',
      service: tokenServer.service,
      scope: 'repository:acme/app:pull',
      client_id: 'test',
    });
    expect(refreshed.status).toBe(200);
    expect(decodeJwt(((await refreshed.json()) as { access_token: string }).access_token).claims.sub).toBe('ci');
    const bad = await post({ grant_type: 'refresh_token', refresh_token: 'forged', service: tokenServer.service });
    expect(bad.status).toBe(401);
    await bad.arrayBuffer();
    expect(tokenServer.requests.map((r) => [r.method, r.grantType, r.user, r.status])).toEqual([
      ['POST', 'password', 'ci', 200],
      ['POST', 'refresh_token', 'ci', 200],
      ['POST', 'refresh_token', 'anonymous', 401],
    ]);
    expect(tokenServer.requests[0].scopes).toEqual(['repository:acme/app:pull', 'repository:acme/b:push']);
  });

  it('works with skopeo through a docker config.json', async () => {
    const authfile = await writeDockerConfig(join(scratch, 'config.json'), { [token.host]: CI_USER });
    const raw = await skopeoInspectRaw(`${token.host}/acme/app:sha-0`, { authfile });
    expect(raw.length).toBeGreaterThan(0);
  });
});

describe('fault proxy', () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await startFaultProxy({ target: plain.url });
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('classifies requests', () => {
    expect(classifyRequest('GET', '/v2/')).toBe('GET ping');
    expect(classifyRequest('HEAD', '/v2/acme/app/manifests/latest')).toBe('HEAD manifest');
    expect(classifyRequest('HEAD', '/v2/acme/app/blobs/sha256:abc')).toBe('HEAD blob');
    expect(classifyRequest('POST', '/v2/acme/app/blobs/uploads/')).toBe('POST upload');
    expect(classifyRequest('POST', '/v2/acme/app/blobs/uploads/?mount=sha256:abc&from=acme/x')).toBe('POST mount');
    expect(classifyRequest('PUT', '/v2/acme/app/blobs/uploads/uuid?digest=sha256:abc')).toBe('PUT upload');
    expect(classifyRequest('GET', '/token?service=x')).toBe('GET token');
  });

  it('injects a 503 once, then forwards; counts by kind', async () => {
    const pushed = await pushOciImage(plain, 'acme/proxied', 'v1', { platform: PLATFORMS.linuxArmV7, seed: 'proxied' });
    proxy.reset();
    proxy.setRules([{ method: 'GET', path: /\/manifests\//, times: 1, fault: { kind: 'status', status: 503, retryAfter: '1' } }]);
    const first = await fetch(`${proxy.url}/v2/acme/proxied/manifests/v1`, { headers: { accept: ACCEPT_ALL } });
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('1');
    await first.arrayBuffer();
    const second = await fetch(`${proxy.url}/v2/acme/proxied/manifests/v1`, { headers: { accept: ACCEPT_ALL } });
    expect(second.status).toBe(200);
    expect(Buffer.from(await second.arrayBuffer()).equals(pushed.manifestBytes)).toBe(true);
    const head = await fetch(`${proxy.url}/v2/acme/proxied/blobs/${pushed.config.digest}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(proxy.counts()).toMatchObject({ total: 3, byKind: { 'GET manifest': 2, 'HEAD blob': 1 }, faults: { status: 1 } });
  });

  it('keeps uploads going through the proxy (Location rewritten) and adds latency', async () => {
    proxy.setRules([]);
    proxy.reset();
    proxy.setLatency(30);
    const started = Date.now();
    const endpoint: RegistryEndpoint = { host: proxy.host, url: proxy.url };
    const pushed = await pushDockerImage(endpoint, 'acme/via-proxy', 'v1', {
      platform: PLATFORMS.windowsAmd64Ltsc2022,
      seed: 'via-proxy',
      layers: 1,
    });
    proxy.setLatency(0);
    const counts = proxy.counts();
    // HEAD blob, POST upload, PUT upload for 1 layer + config, then PUT manifest: all through the proxy
    expect(counts.byKind).toMatchObject({ 'HEAD blob': 2, 'POST upload': 2, 'PUT upload': 2, 'PUT manifest': 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(30 * 4);
    const config = await skopeoInspectConfig(`${plain.host}/acme/via-proxy:v1`);
    expect(config).toMatchObject({ os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.2113' });
    expect(pushed.mediaType).toBe(MT.DockerManifest);
  });

  it('resets, truncates and alters', async () => {
    const pushed = await pushOciImage(plain, 'acme/faulty', 'v1', { platform: 'linux/arm64/v8', seed: 'faulty', layerSize: 64 * 1024 });
    const layer = pushed.layers[0];
    proxy.setRules([
      { requestKind: 'GET blob', times: 1, fault: { kind: 'reset' } },
      { requestKind: 'GET blob', times: 1, fault: { kind: 'truncate', bytes: 1000 } },
      { requestKind: 'GET manifest', times: 1, fault: { kind: 'alter' } },
    ]);
    await expect(fetch(`${proxy.url}/v2/acme/faulty/blobs/${layer.digest}`).then((r) => r.arrayBuffer())).rejects.toThrow();
    const truncated = await fetch(`${proxy.url}/v2/acme/faulty/blobs/${layer.digest}`);
    expect(truncated.status).toBe(200);
    expect(Number(truncated.headers.get('content-length'))).toBe(layer.size);
    await expect(truncated.arrayBuffer()).rejects.toThrow();
    const altered = await fetch(`${proxy.url}/v2/acme/faulty/manifests/v1`, { headers: { accept: ACCEPT_ALL } });
    const alteredBytes = Buffer.from(await altered.arrayBuffer());
    expect(alteredBytes.length).toBe(pushed.size);
    expect(sha256(alteredBytes)).not.toBe(pushed.digest);
    expect(() => JSON.parse(alteredBytes.toString('utf8')) as unknown).not.toThrow();
    // rules used up: back to normal
    const whole = Buffer.from(await (await fetch(`${proxy.url}/v2/acme/faulty/blobs/${layer.digest}`)).arrayBuffer());
    expect(sha256(whole)).toBe(layer.digest);
  });
});

describe('fixtures', () => {
  it('deleteBlob breaks an image so that skopeo copy fails', async () => {
    const pushed = await pushBuildxImage(plain, 'acme/broken', 'v1', { platform: 'linux/arm64', seed: 'broken' });
    await skopeoCopyAllToOciLayout(`${plain.host}/acme/broken:v1`, join(scratch, 'broken-before'));
    await deleteBlob(plain, 'acme/broken', pushed.image.layers[1].digest);
    expect(await hasBlob(plain, 'acme/broken', pushed.image.layers[1].digest)).toBe(false);
    await expect(skopeoCopyAllToOciLayout(`${plain.host}/acme/broken:v1`, join(scratch, 'broken-after'))).rejects.toThrow(
      /blob unknown|manifest unknown|not found|404/i,
    );
  });

  it('seeds the seed-note case in two repositories', async () => {
    const seeded = await seedCase(plain);
    expect(seeded.sources).toEqual([`${plain.host}/acme/github-runner-amd64:focal`, `${plain.host}/acme/github-runner-arm64:focal`]);
    expect(seeded.amd64.imageDigest).not.toBe(seeded.arm64.imageDigest);
    const raw = await skopeoInspectRaw(seeded.sources[1]);
    expect(raw.equals(seeded.arm64.manifestBytes)).toBe(true);
    // deterministic: the same seed gives the same digests
    const again = await seedCase(plain);
    expect(again.amd64.digest).toBe(seeded.amd64.digest);
  });

  it('pushes every CI shape (OCI, Docker, arm variants, windows os.version) and a Docker manifest list', async () => {
    const variety = await seedVariety(plain);
    const configs = await Promise.all(variety.sources.slice(1).map((s) => skopeoInspectConfig(s)));
    expect(configs.map((c) => [c.os, c.architecture, c.variant ?? '', c['os.version'] ?? ''])).toEqual([
      ['linux', 'arm64', 'v8', ''],
      ['linux', 'arm', 'v7', ''],
      ['linux', 'arm', 'v6', ''],
      ['windows', 'amd64', '', '10.0.20348.2113'],
    ]);
    expect(variety.windowsLtsc2022.layerDescriptors[0]).toMatchObject({ mediaType: MT.DockerForeignLayerGzip });
    const list = await pushIndex(plain, 'acme/variety', 'list', {
      mediaType: MT.DockerManifestList,
      manifests: [variety.dockerArmV7.descriptor, variety.dockerArmV6.descriptor],
    });
    const fetched = await getManifest(plain, 'acme/variety', 'list');
    expect(fetched.mediaType).toBe(MT.DockerManifestList);
    expect(fetched.bytes.equals(list.manifestBytes)).toBe(true);
    await skopeoCopyAllToOciLayout(`${plain.host}/acme/variety:list`, join(scratch, 'list'));
  });

  it('streams a large layer through the proxy (pushLargeImage) that skopeo copies whole', async () => {
    const proxy = await startFaultProxy({ target: htpasswd.url });
    try {
      const viaProxy: RegistryEndpoint = { host: proxy.host, url: proxy.url, credentials: htpasswd.credentials };
      const pushed = await pushLargeImage(viaProxy, 'acme/large', 'v1', {
        platform: 'linux/amd64',
        seed: 'large',
        layerBytes: 8 * 1024 * 1024 + 3,
      });
      expect(proxy.counts().byKind).toMatchObject({ 'PATCH upload': 1 });
      const layer = pushed.layers[0];
      expect(layer.size).toBeGreaterThan(8 * 1024 * 1024);
      expect(sha256(await getBlob(htpasswd, 'acme/large', layer.digest))).toBe(layer.digest);
      await skopeoCopyAllToOciLayout(`${htpasswd.host}/acme/large:v1`, join(scratch, 'large'), {
        creds: htpasswd.credentials,
        preserveDigests: true,
      });
    } finally {
      await proxy.stop();
    }
  });

  it('pushes a signed schema 1 manifest when the registry allows it', async () => {
    const pushed = await pushSchema1(plain, 'acme/legacy', 'v1', { platform: 'linux/amd64', seed: 'legacy' });
    const raw = await skopeoInspectRaw(`${plain.host}/acme/legacy:v1`);
    // the registry re-signs on every GET: the payload (and so the digest) is what stays
    expect(schema1Payload(raw).equals(schema1Payload(pushed.manifestBytes))).toBe(true);
    expect(sha256(schema1Payload(raw))).toBe(pushed.digest);
    expect(JSON.parse(raw.toString('utf8'))).toMatchObject({ schemaVersion: 1, name: 'acme/legacy', signatures: [expect.anything()] });
    const fetched = await getManifest(plain, 'acme/legacy', 'v1');
    expect(fetched.mediaType).toBe(MT.DockerSchema1Signed);
    expect(fetched.headerDigest).toBe(pushed.digest);
  });
});

describe('go tools (scripts/support/go-tools.ts)', () => {
  const run = promisify(execFile);

  it('installs each pinned tool into <cache>/go/<tool>@<version>/, and a second call is a lookup', async () => {
    for (const name of Object.keys(GO_TOOLS) as Array<keyof typeof GO_TOOLS>) {
      const path = await ensureGoTool(name);
      expect(path).toBe(join(goToolsRoot(), `${name}@${GO_TOOLS[name].version}`, GO_TOOLS[name].binary));
      expect(goToolPath(name)).toBe(path);
      // the binary is the pinned module version (go embeds it)
      const { stdout } = await run('go', ['version', '-m', path], {
        env: { ...process.env, PATH: `${process.env.PATH}:/usr/local/go/bin` },
      });
      expect(stdout).toMatch(new RegExp(`\\bmod\\s+\\S+\\s+${GO_TOOLS[name].version.replace(/\./g, '\\.')}\\s`));
      const started = performance.now();
      expect(await ensureGoTool(name)).toBe(path);
      expect(performance.now() - started).toBeLessThan(50);
    }
  });

  it('a version the module proxy does not serve is an error naming the module, the version and what go said', async () => {
    const dir = join(scratch, 'go-tools', 'crane@v0.0.0-never');
    const failing = goInstall('crane', { package: GO_TOOLS.crane.package, version: 'v0.0.0-never', binary: 'crane' }, dir);
    await expect(failing).rejects.toThrow(GoToolInstallError);
    await expect(failing).rejects.toThrow(
      /could not install crane \(go install github\.com\/google\/go-containerregistry\/cmd\/crane@v0\.0\.0-never\): .*(invalid version|unknown revision|not found|not available)/s,
    );
    // nothing half-installed is left where a later lookup would take it for a tool
    await expect(readFile(join(dir, 'crane'))).rejects.toThrow();
  });

  it('a tool built in a throwaway module (olareg): a version the proxy does not serve is an error naming the module and the version', async () => {
    const dir = join(scratch, 'go-tools', 'olareg@v0.0.0-never');
    const failing = goInstall('olareg', { ...GO_TOOLS.olareg, version: 'v0.0.0-never' }, dir);
    await expect(failing).rejects.toThrow(GoToolInstallError);
    await expect(failing).rejects.toThrow(
      /could not install olareg \(go build github\.com\/olareg\/olareg\/cmd\/olareg requiring github\.com\/olareg\/olareg@v0\.0\.0-never\): .*(invalid version|unknown revision|not found|not available)/s,
    );
    await expect(readFile(join(dir, 'olareg'))).rejects.toThrow();
  });

  it('the CLI installs by name and refuses an unknown one', async () => {
    const node = process.execPath;
    const ok = await run(node, ['--import', 'tsx', 'scripts/support/go-tools.ts', 'install', 'crane']);
    expect(ok.stdout).toBe(`crane ${GO_TOOLS.crane.version}: ${goToolPath('crane')} (cached)\n`);
    await expect(run(node, ['--import', 'tsx', 'scripts/support/go-tools.ts', 'install', 'kaniko'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('unknown tool kaniko'),
    });
  });

  it("a go-installed distribution v3 `registry` on PATH is not taken for Debian's distribution 2.8", async () => {
    const bin = await mkdtemp(join(scratch, 'path-'));
    // a `registry` that is distribution v3, alone on PATH
    await writeFile(join(bin, 'registry'), `#!/bin/sh\nexec ${JSON.stringify(await ensureGoTool('distribution-v3'))} "$@"\n`);
    await chmod(join(bin, 'registry'), 0o755);
    const saved = process.env.PATH;
    process.env.PATH = bin;
    try {
      expect(findOnPath('registry')).toBe(join(bin, 'registry'));
      // not root on Debian with apt-get on this PATH, so it cannot be installed: an error, not the v3 binary
      await expect(ensureTool('docker-registry')).rejects.toThrow(/docker-registry or registry not found on PATH/);
    } finally {
      process.env.PATH = saved;
    }
  });
});
