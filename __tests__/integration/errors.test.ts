// The error catalogue, against real registries: each failure a user can meet when the registry
// is involved gives one message that names the image (or input) at fault and what to do. The
// pure ones (inputs, references, platforms) are in __tests__/catalogue.test.ts; digest
// mismatches and transport failures in faults.test.ts.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { isExpectedError } from '../../src/base/errors.js';
import { MediaType } from '../../src/oci/manifest.js';
import { type FaultProxy, startFaultProxy } from '../../scripts/support/fault-proxy.js';
import { PLATFORMS, sha256 } from '../../scripts/support/fixtures/media.js';
import { hasManifest } from '../../scripts/support/fixtures/client.js';
import { pushBuildxImage } from '../../scripts/support/fixtures/buildx.js';
import { pushSchema1 } from '../../scripts/support/fixtures/schema1.js';
import { seedCase, type SeedCase } from '../../scripts/support/fixtures/cases.js';
import { type RunningRegistry, startRegistry } from '../../scripts/support/registry.js';
import { emptyDockerConfig, mergeFailure } from './harness.js';

const FAST_RETRY = { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 };

let plain: RunningRegistry;
let locked: RunningRegistry;
let proxy: FaultProxy;
let seed: SeedCase;
let configDir: string;

beforeAll(async () => {
  [plain, locked] = await Promise.all([
    startRegistry({ name: 'errors-plain', schema1: true }),
    startRegistry({ name: 'errors-htpasswd', auth: 'htpasswd' }),
  ]);
  proxy = await startFaultProxy({ target: plain.url });
  [seed, configDir] = await Promise.all([seedCase(plain), emptyDockerConfig()]);
});

afterEach(() => {
  proxy.setRules([]);
  proxy.reset();
});

afterAll(async () => {
  await proxy?.stop();
  await Promise.all([plain?.stop(), locked?.stop()]);
});

/** Runs a failing merge and checks it is an expected (catalogued) failure: one message, no stack trace. */
async function failure(values: Record<string, string>): Promise<{ message: string; code: string }> {
  const { error, message } = await mergeFailure(values, { configDir, retry: FAST_RETRY });
  expect(isExpectedError(error)).toBe(true);
  expect(message).not.toMatch(/\n\s+at /);
  return { message, code: (error as { code?: string }).code ?? '' };
}

const config = () => join(configDir, 'config.json');

const SUPPORTED = [MediaType.OciIndex, MediaType.DockerManifestList, MediaType.OciManifest, MediaType.DockerManifest].join(', ');
const NOT_FOUND_HINT =
  'Check the reference (registry, repository, tag or digest), and that the job that builds the image pushed it before this step';

describe('registry errors name the image, the registry error and what to do', () => {
  it.each([
    ['a tag that does not exist', 'acme/github-runner-amd64', 'nope'],
    ['a repository that does not exist', 'acme/never-pushed', '1'],
  ])('source not found (%s): 404 with the registry error code', async (_label, repository, tag) => {
    const { message, code } = await failure({ sources: `${plain.host}/${repository}:${tag}`, tags: `${plain.host}/acme/out:1` });
    expect(code).toBe('NOT_FOUND');
    expect(message).toBe(
      `Manifest ${plain.host}/${repository}:${tag} not found (MANIFEST_UNKNOWN): GET ${plain.url}/v2/${repository}/manifests/${tag} returned 404 Not Found: MANIFEST_UNKNOWN: manifest unknown. ${NOT_FOUND_HINT}`,
    );
  });

  it('401 without credentials names the registry and every place credentials were looked for', async () => {
    const { message, code } = await failure({ sources: `${locked.host}/acme/app:1`, tags: `${locked.host}/acme/out:1` });
    expect(code).toBe('UNAUTHORIZED');
    expect(message).toBe(
      `Manifest ${locked.host}/acme/app:1: ${locked.host} refused the request as unauthenticated (UNAUTHORIZED): GET ${locked.url}/v2/acme/app/manifests/1 returned 401 Unauthorized: UNAUTHORIZED: authentication required. ` +
        `Credentials for ${locked.host} were looked for in: ${config()} (no credHelpers entry for ${locked.host}, no auths entry for ${locked.host}). ` +
        'Log in with docker/login-action before this step (or pass the username and password inputs); if you did, the credentials may be wrong or expired, or the repository may not exist',
    );
  });

  it('401 with a wrong password names the inputs among the places looked at, and never the password', async () => {
    const { message, code } = await failure({
      sources: `${locked.host}/acme/app:1`,
      tags: `${locked.host}/acme/out:1`,
      username: 'testuser',
      password: 'wrong-secret-value',
    });
    expect(code).toBe('UNAUTHORIZED');
    expect(message).toContain(`${locked.host} refused the request as unauthenticated (UNAUTHORIZED)`);
    expect(message).toContain(`Credentials for ${locked.host} were looked for in: inputs username/password, ${config()}`);
    expect(message).toContain('the credentials may be wrong or expired');
    expect(message).not.toContain('wrong-secret-value');
  });

  it('403 on the index push names the registry, the permission and where credentials were looked for; the tag is not written', async () => {
    const denied = JSON.stringify({ errors: [{ code: 'DENIED', message: 'requested access to the resource is denied' }] });
    proxy.setRules([{ method: 'PUT', path: /\/manifests\/denied$/, fault: { kind: 'status', status: 403, body: denied } }]);
    const { message, code } = await failure({
      sources: seed.sources.map((s) => s.replace(plain.host, proxy.host)).join('\n'),
      tags: `${proxy.host}/acme/out:denied`,
    });
    expect(code).toBe('DENIED');
    expect(message).toBe(
      `Manifest ${proxy.host}/acme/out:denied: ${proxy.host} denied access (DENIED): PUT ${proxy.url}/v2/acme/out/manifests/denied returned 403 Forbidden: DENIED: requested access to the resource is denied. ` +
        `The credentials used (looked for in: ${config()} (no credHelpers entry for ${proxy.host}, no auths entry for ${proxy.host})) may lack push permission on this repository ` +
        '(for ghcr.io with GITHUB_TOKEN, give the job `permissions: packages: write`)',
    );
    expect(await hasManifest(plain, 'acme/out', 'denied')).toBe(false);
  });

  it('a Docker schema 1 source is refused as such (not as a digest mismatch), with how to convert it', async () => {
    await pushSchema1(plain, 'acme/legacy', 'v1', { platform: PLATFORMS.linuxAmd64, seed: 'legacy' });
    const { message, code } = await failure({ sources: `${plain.host}/acme/legacy:v1`, tags: `${plain.host}/acme/out:legacy` });
    expect(code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(message).toBe(
      `${plain.host}/acme/legacy:v1 is a Docker schema 1 manifest, which is deprecated and cannot be part of an index. ` +
        'Rebuild and push the image with a current Docker or buildx (schema 2 or OCI), or convert it with `skopeo copy --format v2s2 docker://SOURCE docker://TARGET`',
    );
  });

  it('a manifest of an unknown media type is refused, naming the source and the supported types', async () => {
    const type = 'application/vnd.oci.artifact.manifest.v1+json';
    const body = JSON.stringify({ schemaVersion: 2, mediaType: type, artifactType: 'application/vnd.example.sbom', blobs: [] });
    proxy.setRules([
      {
        method: 'GET',
        path: /\/manifests\/artifact$/,
        fault: { kind: 'status', status: 200, body, headers: { 'content-type': type, 'docker-content-digest': sha256(body) } },
      },
    ]);
    const { message, code } = await failure({ sources: `${proxy.host}/acme/thing:artifact`, tags: `${proxy.host}/acme/out:artifact` });
    expect(code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(message).toBe(
      `${proxy.host}/acme/thing:artifact has media type "${type}", which is not an image manifest or index. ` +
        `Only container images (and indexes of them) can be merged: check that the reference names an image, not another kind of artifact. Supported types: ${SUPPORTED}`,
    );
  });

  it('a manifest over 4 MiB is refused from its Content-Length, naming the image and the limit', async () => {
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [],
      annotations: { padding: 'x'.repeat(5 * 1024 * 1024) },
    });
    proxy.setRules([
      {
        method: 'GET',
        path: /\/manifests\/huge$/,
        fault: {
          kind: 'status',
          status: 200,
          body,
          headers: { 'content-type': MediaType.OciIndex, 'docker-content-digest': sha256(body) },
        },
      },
    ]);
    const { message, code } = await failure({ sources: `${proxy.host}/acme/thing:huge`, tags: `${proxy.host}/acme/out:huge` });
    expect(code).toBe('TOO_LARGE');
    expect(message).toBe(
      `Manifest ${proxy.host}/acme/thing:huge is 5 MiB, over the 4 MiB limit for a manifest. Registries refuse manifests this large; check that the reference names an image and not something else`,
    );
  });
});

describe('platform errors name the platform, the sources and what to do; nothing is written', () => {
  it('a platform missing from the sources', async () => {
    const { message, code } = await failure({
      sources: seed.sources.join('\n'),
      tags: `${plain.host}/acme/out:missing`,
      platforms: 'linux/amd64,linux/arm64,linux/s390x',
    });
    expect(code).toBe('PLATFORM');
    expect(message).toBe(
      'Platform linux/s390x expected by `platforms` but not found in the sources (found: linux/amd64, linux/arm64). Check that every build job pushed its image, or adjust input `platforms`',
    );
    expect(await hasManifest(plain, 'acme/out', 'missing')).toBe(false);
  });

  it('a platform extra to `platforms`, with its source', async () => {
    const { message, code } = await failure({
      sources: seed.sources.join('\n'),
      tags: `${plain.host}/acme/out:extra`,
      platforms: 'linux/amd64',
    });
    expect(code).toBe('PLATFORM');
    expect(message).toBe(
      `Platform linux/arm64 (from ${seed.sources[1]}) not listed in \`platforms\` (expected: linux/amd64). Add it to input \`platforms\`, or remove that source from input \`sources\``,
    );
    expect(await hasManifest(plain, 'acme/out', 'extra')).toBe(false);
  });

  it('one platform from two sources, naming both and their digests', async () => {
    const other = await pushBuildxImage(plain, 'acme/another-amd64', 'v1', {
      platform: PLATFORMS.linuxAmd64,
      seed: 'errors-another-amd64',
    });
    const sources = [seed.sources[0], `${plain.host}/acme/another-amd64:v1`];
    const { message, code } = await failure({ sources: sources.join('\n'), tags: `${plain.host}/acme/out:twice` });
    expect(code).toBe('PLATFORM');
    expect(message).toBe(
      `Platform linux/amd64 is provided by two sources: ${sources[0]} (${seed.amd64.imageDigest}) and ${sources[1]} (${other.imageDigest}): ` +
        `different images (configs ${seed.amd64.image.config.digest} and ${other.image.config.digest}), not compression variants of one. ` +
        'Each platform may appear once (or twice: gzip and zstd compression variants of one image): remove one source, or build each platform in its own job',
    );
    expect(await hasManifest(plain, 'acme/out', 'twice')).toBe(false);
  });
});
