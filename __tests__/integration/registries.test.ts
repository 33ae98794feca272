// Every registry implementation, for what the other suites cannot do on one registry: each claim
// of the capability table checked against the live registry (so a test that reads a capability
// reads the truth), merges across registries of different implementations in every direction,
// and token and Basic auth on each implementation that has them. Results verified with skopeo
// and with crane, an independent client.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sha256Digest } from '../../src/oci/digest.js';
import { MediaType } from '../../src/oci/manifest.js';
import { ensureGoTool } from '../../scripts/support/go-tools.js';
import { getManifest, hasManifest, pushBlob, registryRequest } from '../../scripts/support/fixtures/client.js';
import { pushDockerImage, pushIndex, pushOciImage } from '../../scripts/support/fixtures/images.js';
import { PLATFORMS } from '../../scripts/support/fixtures/media.js';
import { pushSchema1 } from '../../scripts/support/fixtures/schema1.js';
import { seedCase, type SeedCase } from '../../scripts/support/fixtures/cases.js';
import {
  IMPLEMENTATIONS,
  IMPLEMENTATION_NAMES,
  type RegistryAuth,
  type RegistryCapabilities,
  type RegistryEndpoint,
  type RegistryImplementation,
  type RunningRegistry,
  startRegistry,
} from '../../scripts/support/registry.js';
import { cleanupSkopeo, skopeoCopyAllToOciLayout, skopeoInspectRaw, writeDockerConfig } from '../../scripts/support/skopeo.js';
import { type TokenServer, startTokenServer } from '../../scripts/support/token-server.js';
import { basicAuth, dockerConfigWith, merge } from './harness.js';
import { ALL_IMPLEMENTATION_ROWS, IMPLEMENTATION_ROWS, describeEachWithAuth } from './implementations.js';

const execFileAsync = promisify(execFile);
const CI = { username: 'ci', password: 'ci-Pa55word-9d8c7b6a' };

let scratch: string;
let tokenServer: TokenServer;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'mm-registries-'));
  tokenServer = await startTokenServer({ users: { ci: { password: CI.password, grants: [{ prefix: 'acme/', actions: ['*'] }] } } });
});

afterAll(async () => {
  await tokenServer?.stop();
  await cleanupSkopeo();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** `crane ARGS` (plain HTTP to loopback registries); stdout. */
async function crane(args: string[]): Promise<string> {
  const binary = await ensureGoTool('crane');
  const { stdout } = await execFileAsync(binary, [...args, '--insecure'], { maxBuffer: 16 * 1024 * 1024, timeout: 60000 });
  return stdout;
}

/** skopeo copies every child and blob (checking each digest); crane reads the same bytes and validates every child. */
async function verifyWithBothClients(ref: string, digest: string, creds?: { username: string; password: string }): Promise<string[]> {
  const raw = await skopeoInspectRaw(ref, { tlsVerify: false, creds });
  expect(sha256Digest(raw)).toBe(digest);
  const layout = await mkdtemp(join(scratch, 'layout-'));
  await skopeoCopyAllToOciLayout(ref, layout, { tlsVerify: false, creds });
  if (!creds) {
    expect((await crane(['digest', ref])).trim()).toBe(digest);
    expect(await crane(['manifest', ref])).toBe(raw.toString('utf8'));
  }
  return readdir(join(layout, 'blobs', 'sha256'));
}

describe.each(ALL_IMPLEMENTATION_ROWS)(
  '%s does what IMPLEMENTATIONS says',
  (implementation: RegistryImplementation, can: RegistryCapabilities) => {
    let registry: RunningRegistry;

    beforeAll(async () => {
      registry = await startRegistry({ implementation, name: `caps-${implementation}`, deleteEnabled: can.delete, schema1: can.schema1 });
    });
    afterAll(async () => {
      await registry?.stop();
    });

    it(`a mount across repositories answers ${can.mount ? '201 (mounted)' : '202 (an upload session instead)'}`, async () => {
      const blob = await pushBlob(registry, 'acme/mount-from', Buffer.from(`mount probe ${implementation}`));
      const response = await fetch(`${registry.url}/v2/acme/mount-to/blobs/uploads/?mount=${blob.digest}&from=acme/mount-from`, {
        method: 'POST',
      });
      await response.arrayBuffer();
      expect(response.status).toBe(can.mount ? 201 : 202);
      if (!can.mount) expect(response.headers.get('location')).toMatch(/\/v2\/acme\/mount-to\/blobs\/uploads\/./);
    });

    it(`a blob is ${can.blobsPerRepository ? 'only in the repository it was pushed to' : 'visible in every repository'}`, async () => {
      const blob = await pushBlob(registry, 'acme/blob-home', Buffer.from(`scope probe ${implementation}`));
      const response = await fetch(`${registry.url}/v2/acme/blob-elsewhere/blobs/${blob.digest}`, { method: 'HEAD' });
      expect(response.status).toBe(can.blobsPerRepository ? 404 : 200);
    });

    it(`the referrers API ${can.referrers ? 'answers' : 'is absent (404)'}`, async () => {
      const image = await pushOciImage(registry, 'acme/referred', 'v1', {
        platform: 'linux/amd64',
        seed: `referrers-${implementation}`,
        layers: 1,
      });
      const response = await fetch(`${registry.url}/v2/acme/referred/referrers/${image.digest}`);
      const body = await response.text();
      expect(response.status).toBe(can.referrers ? 200 : 404);
      // an image without referrers: an empty index, its manifests [] as OCI 1.1 says, or null (olareg)
      if (can.referrers) expect((JSON.parse(body) as { manifests: unknown }).manifests).toEqual(can.referrersEmptyIsNull ? null : []);
    });

    it(`deletes manifests: ${can.delete}`, async () => {
      const image = await pushOciImage(registry, 'acme/deleted', 'v1', {
        platform: 'linux/amd64',
        seed: `delete-${implementation}`,
        layers: 1,
      });
      const response = await fetch(`${registry.url}/v2/acme/deleted/manifests/${image.digest}`, { method: 'DELETE' });
      await response.arrayBuffer();
      expect(response.status === 202).toBe(can.delete);
      expect(await hasManifest(registry, 'acme/deleted', image.digest)).toBe(!can.delete);
    });

    it(`deletes a tag alone (DELETE of the tag; the manifest and its other tags stay): ${can.deleteTags}`, async () => {
      const image = await pushOciImage(registry, 'acme/untagged', 'v1', {
        platform: 'linux/amd64',
        seed: `delete-tag-${implementation}`,
        layers: 1,
      });
      await pushOciImage(registry, 'acme/untagged', 'v2', { platform: 'linux/amd64', seed: `delete-tag-${implementation}`, layers: 1 });
      const response = await fetch(`${registry.url}/v2/acme/untagged/manifests/v1`, { method: 'DELETE' });
      await response.arrayBuffer();
      expect(response.status === 202).toBe(can.deleteTags);
      expect(await hasManifest(registry, 'acme/untagged', 'v1')).toBe(!can.deleteTags);
      expect(await hasManifest(registry, 'acme/untagged', 'v2')).toBe(true);
      expect(await hasManifest(registry, 'acme/untagged', image.digest)).toBe(true);
    });

    it(`takes signed schema 1 manifests: ${can.schema1}`, async () => {
      const pushed = pushSchema1(registry, 'acme/legacy', 'v1', { platform: 'linux/amd64', seed: `schema1-${implementation}` });
      if (can.schema1) {
        expect((await pushed).digest).toMatch(/^sha256:/);
        expect((await getManifest(registry, 'acme/legacy', 'v1')).mediaType).toBe(
          'application/vnd.docker.distribution.manifest.v1+prettyjws',
        );
      } else {
        // Refused at the PUT, or not served back as schema 1.
        const outcome = await pushed.then(
          async () => (await getManifest(registry, 'acme/legacy', 'v1')).mediaType,
          (error: Error) => error.message,
        );
        expect(outcome).not.toBe('application/vnd.docker.distribution.manifest.v1+prettyjws');
      }
    });

    it(`refuses an index whose child is not in the repository: ${can.indexChildrenMustExist}`, async () => {
      const image = await pushOciImage(registry, 'acme/child-home', 'v1', {
        platform: 'linux/amd64',
        seed: `orphan-${implementation}`,
        layers: 1,
      });
      const pushed = pushIndex(registry, 'acme/orphan-index', 'v1', { manifests: [image.descriptor] });
      if (can.indexChildrenMustExist) await expect(pushed).rejects.toThrow(/4\d\d/);
      else await expect(pushed).resolves.toBeDefined();
    });

    it(`takes an image whose foreign layer was never pushed (a Windows base layer): ${can.foreignLayersUnpushed}`, async () => {
      const pushed = pushDockerImage(registry, 'acme/windows', 'v1', {
        platform: PLATFORMS.windowsAmd64Ltsc2022,
        seed: `foreign-${implementation}`,
        foreignLayers: 1,
      });
      if (can.foreignLayersUnpushed) expect((await pushed).layerDescriptors[0].urls).toHaveLength(1);
      else await expect(pushed).rejects.toThrow(/400.*MANIFEST_BLOB_UNKNOWN/s);
    });

    it.each(['none', 'htpasswd', 'token'] as RegistryAuth[])(
      'auth mode %s: started when claimed, refused by name otherwise',
      async (auth) => {
        const starting = startRegistry({ implementation, auth, tokenServer, name: `caps-${implementation}-${auth}` });
        if (!can.auth.includes(auth)) {
          await expect(starting).rejects.toThrow(`has no '${auth}' auth mode`);
          return;
        }
        const started = await starting;
        try {
          const ping = await fetch(`${started.url}/v2/`);
          await ping.arrayBuffer();
          expect(ping.status).toBe(auth === 'none' ? 200 : 401);
          if (auth === 'htpasswd') expect(ping.headers.get('www-authenticate')).toMatch(/^Basic /);
          if (auth === 'token') expect(ping.headers.get('www-authenticate')).toContain(`Bearer realm="${tokenServer.realm}"`);
        } finally {
          await started.stop();
        }
      },
    );
  },
);

describe('across registries of different implementations', () => {
  const registries = new Map<RegistryImplementation, RunningRegistry>();
  const seeds = new Map<RegistryImplementation, SeedCase>();
  const selected = IMPLEMENTATION_ROWS.map(([name]) => name);
  // every ordered pair with a selected implementation on one side: each one as the source of every other, and the target
  const pairs = IMPLEMENTATION_NAMES.flatMap((from) =>
    IMPLEMENTATION_NAMES.filter((to) => to !== from && (selected.includes(from) || selected.includes(to))).map(
      (to) => [from, to] as [RegistryImplementation, RegistryImplementation],
    ),
  );
  const names = IMPLEMENTATION_NAMES.filter((name) => pairs.some((pair) => pair.includes(name)));

  beforeAll(async () => {
    await Promise.all(
      names.map(async (name) => {
        const registry = await startRegistry({ implementation: name, name: `across-${name}` });
        registries.set(name, registry);
        seeds.set(name, await seedCase(registry));
      }),
    );
  });
  afterAll(async () => {
    await Promise.all([...registries.values()].map((r) => r.stop()));
  });

  it.each(pairs)('the seed case from %s into %s: every blob and child streamed across, complete for skopeo and crane', async (from, to) => {
    const source = seeds.get(from)!;
    const target = registries.get(to)!;
    const ref = `${target.host}/from-${from.replace(/\W/g, '-')}/runner:focal`;
    const { result } = await merge({ sources: source.sources.join('\n'), tags: ref });

    expect(JSON.parse(result.manifest).manifests.map((m: { digest: string }) => m.digest)).toEqual([
      source.amd64.imageDigest,
      source.arm64.imageDigest,
      source.amd64.attestationDigest,
      source.arm64.attestationDigest,
    ]);
    const report = result.targets[0];
    expect(report.manifestsPushed).toBe(4);
    // per platform: config + 3 layers of the image, config + 1 layer of the attestation
    expect(report.blobs.mounted).toBe(0);
    expect(report.blobs.copied + report.blobs.existing).toBe(2 * (1 + 3 + 1 + 1));
    // The target's own seed has the same blobs in other repositories: only a registry with one
    // blob store for all repositories may count them as existing.
    if (IMPLEMENTATIONS[to].blobsPerRepository) expect(report.blobs.existing).toBe(0);
    expect(result.requests.byKind['POST mount'] ?? 0).toBe(0);

    const blobs = await verifyWithBothClients(ref, result.digest);
    expect(blobs).toEqual(expect.arrayContaining([source.arm64.image.layers[2].digest.slice(7), source.amd64.attestationDigest.slice(7)]));
  });
});

describeEachWithAuth('token', 'token auth on %s', (implementation: RegistryImplementation, can: RegistryCapabilities) => {
  let registry: RunningRegistry;
  let seed: SeedCase;

  beforeAll(async () => {
    registry = await startRegistry({ implementation, auth: 'token', tokenServer, name: `token-${implementation}` });
    seed = await seedCase({ ...registry, credentials: CI } as RegistryEndpoint);
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('the seed case merges with ONE token request for every repository; the result is complete', async () => {
    const target = `${registry.host}/acme/github-runner:focal`;
    tokenServer.reset();
    const configDir = await dockerConfigWith({ auths: { [registry.host]: { auth: basicAuth(CI.username, CI.password) } } });
    const { result } = await merge({ sources: seed.sources.join('\n'), tags: target }, { configDir });

    expect(tokenServer.requests).toHaveLength(1);
    expect(tokenServer.requests[0]).toMatchObject({ method: 'GET', user: CI.username, status: 200 });
    expect([...tokenServer.requests[0].scopes].sort()).toEqual([
      'repository:acme/github-runner-amd64:pull',
      'repository:acme/github-runner-arm64:pull',
      'repository:acme/github-runner:pull,push',
    ]);
    const blobs = 2 * (1 + 3 + 1 + 1);
    expect(result.targets[0].blobs).toEqual(
      can.mount ? { mounted: blobs, copied: 0, existing: 0 } : { mounted: 0, copied: blobs, existing: 0 },
    );
    expect(result.targets[0].manifestsPushed).toBe(4);
    await verifyWithBothClients(target, result.digest, CI);
  });

  it('skopeo reads it through a docker config.json too (the registry trusts the token server)', async () => {
    const authfile = await writeDockerConfig(join(scratch, `config-${implementation}.json`), { [registry.host]: CI });
    const raw = await skopeoInspectRaw(`${registry.host}/acme/github-runner-amd64:focal`, { authfile, tlsVerify: false });
    expect(sha256Digest(raw)).toBe(seed.amd64.digest);
  });
});

describeEachWithAuth('htpasswd', 'Basic auth (htpasswd) on %s', (implementation: RegistryImplementation) => {
  let registry: RunningRegistry;
  let seed: SeedCase;

  beforeAll(async () => {
    registry = await startRegistry({
      implementation,
      auth: 'htpasswd',
      users: { [CI.username]: CI.password },
      name: `basic-${implementation}`,
    });
    seed = await seedCase(registry);
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('merges with the inputs username/password and pushes a complete OCI index', async () => {
    const target = `${registry.host}/acme/github-runner:basic`;
    const { result } = await merge({ sources: seed.sources.join('\n'), tags: target, username: CI.username, password: CI.password });
    const served = await registryRequest(registry, {
      method: 'GET',
      path: `/v2/acme/github-runner/manifests/basic`,
      repository: 'acme/github-runner',
      headers: { accept: MediaType.OciIndex },
    });
    expect(sha256Digest(Buffer.from(await served.arrayBuffer()))).toBe(result.digest);
    await verifyWithBothClients(target, result.digest, CI);
  });
});
