// Registry client against undici's MockAgent: headers sent, digests checked, sizes capped,
// retries, auth (with the real auth.ts and a mocked token service), redirects, mounts,
// streamed and chunked uploads, error messages.
import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { MockAgent, type MockInterceptor } from 'undici';
import { DigestMismatchError, HttpError, ManifestMergeError, NetworkError, TimeoutError, TooLargeError } from '../src/errors.js';
import { createMemoryLogger } from '../src/logger.js';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, MediaType, type Descriptor } from '../src/oci.js';
import { createRegistryClient, UPLOAD_CHUNK_BYTES } from '../src/registry/client.js';
import type { CredentialProvider, Credentials, RegistryClientOptions } from '../src/registry/types.js';

const REGISTRY = 'registry.example.com';
const ORIGIN = `https://${REGISTRY}`;
const AUTH_ORIGIN = 'https://auth.example.com';
const STORAGE_ORIGIN = 'https://storage.example.net';
const APP = { registry: REGISTRY, repository: 'acme/app' };
const PASSWORD = 'hunter2-very-secret';
const TOKEN = 'tok-ABCDEF-0123456789';

const sha256 = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

const MANIFEST = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: `sha256:${'a'.repeat(64)}`, size: 2 },
    layers: [],
  }),
);
const MANIFEST_DIGEST = sha256(MANIFEST);

function blob(size: number, seed = 1): { bytes: Buffer; descriptor: Descriptor } {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return { bytes, descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(bytes), size } };
}

function credentials(map: Record<string, Credentials> = {}): CredentialProvider {
  return {
    credentialsFor: async (registry) => map[registry],
    describeLookup: (registry) => `the username/password inputs, /home/runner/.docker/config.json (auths["${registry}"])`,
  };
}

type ReplyOptions = MockInterceptor.MockResponseCallbackOptions;

function header(opts: ReplyOptions, name: string): string | undefined {
  const headers = opts.headers;
  if (!headers) return undefined;
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  return headers[name] ?? headers[name.toLowerCase()];
}

/** A reply whose data is computed asynchronously (undici supports a promise; its types do not say so). */
function asyncData(fn: (opts: ReplyOptions) => Promise<string | Buffer>): MockInterceptor.MockResponseDataHandler {
  return fn as unknown as MockInterceptor.MockResponseDataHandler;
}

/** Reads a streamed request body the way a registry would; records how far it got and why it stopped. */
async function consume(body: ReplyOptions['body']): Promise<{ bytes: Buffer; error?: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of body as Readable) chunks.push(Buffer.from(chunk as Buffer));
    return { bytes: Buffer.concat(chunks) };
  } catch (error) {
    return { bytes: Buffer.concat(chunks), error };
  }
}

function setup(overrides: Partial<RegistryClientOptions> = {}) {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const logger = createMemoryLogger();
  const client = createRegistryClient({
    credentials: credentials(),
    dispatcher: agent,
    logger,
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
    ...overrides,
  });
  return { agent, registry: agent.get(ORIGIN), logger, client };
}

const manifestPath = (reference: string, repository = 'acme/app'): string => `/v2/${repository}/manifests/${reference}`;
const bearerChallenge = (scope: string, extra = ''): string => `Bearer realm="${AUTH_ORIGIN}/token",service="${REGISTRY}",scope="${scope}"${extra}`;

async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('fetchManifest', () => {
  it('sends every manifest Accept type and returns the exact bytes, digest and media type', async () => {
    const { registry, client } = setup();
    let accept: string | undefined;
    registry.intercept({ path: manifestPath('1.0'), method: 'GET' }).reply(
      200,
      (opts) => {
        accept = header(opts, 'accept');
        return MANIFEST;
      },
      { headers: { 'content-type': `${MediaType.OciManifest}; charset=utf-8`, 'docker-content-digest': MANIFEST_DIGEST } },
    );
    const fetched = await client.fetchManifest(APP, '1.0');
    for (const type of MANIFEST_ACCEPT) expect(accept).toContain(type);
    expect(accept?.split(',').map((s) => s.trim())).toEqual(MANIFEST_ACCEPT);
    expect(fetched.bytes.equals(MANIFEST)).toBe(true);
    expect(fetched.digest).toBe(MANIFEST_DIGEST);
    expect(fetched.size).toBe(MANIFEST.length);
    expect(fetched.mediaType).toBe(MediaType.OciManifest);
    expect(client.stats()).toEqual({ requests: 1, byKind: { 'GET manifest': 1 }, retries: 0 });
  });

  it('takes the media type from the body when Content-Type is not a manifest type', async () => {
    const { registry, client } = setup();
    registry.intercept({ path: manifestPath(MANIFEST_DIGEST), method: 'GET' }).reply(200, MANIFEST, { headers: { 'content-type': 'application/json' } });
    expect((await client.fetchManifest(APP, MANIFEST_DIGEST)).mediaType).toBe(MediaType.OciManifest);
  });

  it('refuses bytes that do not hash to the digest asked for, naming the image', async () => {
    const { registry, client } = setup();
    const wanted = `sha256:${'b'.repeat(64)}`;
    registry.intercept({ path: manifestPath(wanted), method: 'GET' }).reply(200, MANIFEST, { headers: { 'content-type': MediaType.OciManifest } });
    const error = await caught(client.fetchManifest(APP, wanted));
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect((error as DigestMismatchError).code).toBe('DIGEST_MISMATCH');
    expect(error.message).toContain(`Manifest ${REGISTRY}/acme/app@${wanted}`);
    expect(error.message).toContain(MANIFEST_DIGEST);
  });

  it('checks a tag against Docker-Content-Digest', async () => {
    const { registry, client } = setup();
    registry
      .intercept({ path: manifestPath('latest'), method: 'GET' })
      .reply(200, MANIFEST, { headers: { 'content-type': MediaType.OciManifest, 'docker-content-digest': `sha256:${'c'.repeat(64)}` } });
    const error = await caught(client.fetchManifest(APP, 'latest'));
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect(error.message).toContain(`Manifest ${REGISTRY}/acme/app:latest`);
  });

  it('refuses a manifest whose Content-Length is over the limit, before reading it', async () => {
    const { registry, client } = setup();
    registry
      .intercept({ path: manifestPath('huge'), method: 'GET' })
      .reply(200, '{}', { headers: { 'content-type': MediaType.OciManifest, 'content-length': String(MAX_MANIFEST_BYTES + 1) } });
    const error = await caught(client.fetchManifest(APP, 'huge'));
    expect(error).toBeInstanceOf(TooLargeError);
    expect(error.message).toContain(`Manifest ${REGISTRY}/acme/app:huge`);
  });

  it('stops reading a manifest body that grows over the limit without a Content-Length', async () => {
    const { registry, client } = setup();
    registry
      .intercept({ path: manifestPath('huge'), method: 'GET' })
      .reply(200, Buffer.alloc(MAX_MANIFEST_BYTES + 10, 0x20), { headers: { 'content-type': MediaType.OciManifest } });
    const error = await caught(client.fetchManifest(APP, 'huge'));
    expect(error).toBeInstanceOf(TooLargeError);
    expect((error as TooLargeError).code).toBe('TOO_LARGE');
  });

  it('reports 404 with the image, the request and the registry error code', async () => {
    const { registry, client } = setup();
    registry
      .intercept({ path: manifestPath('1.0'), method: 'GET' })
      .reply(404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: '1.0' } }] }, { headers: { 'content-type': 'application/json' } });
    const error = await caught(client.fetchManifest(APP, '1.0'));
    expect(error).toBeInstanceOf(HttpError);
    const http = error as HttpError;
    expect(http.code).toBe('NOT_FOUND');
    expect(http.status).toBe(404);
    expect(http.registryErrors[0]?.code).toBe('MANIFEST_UNKNOWN');
    expect(http.message).toBe(
      `Manifest ${REGISTRY}/acme/app:1.0 not found (MANIFEST_UNKNOWN): GET ${ORIGIN}/v2/acme/app/manifests/1.0 returned 404 Not Found: MANIFEST_UNKNOWN: manifest unknown`,
    );
    expect(http.request).toEqual({ method: 'GET', url: `${ORIGIN}/v2/acme/app/manifests/1.0` });
    expect(client.stats().retries).toBe(0);
  });

  it('uses registry-1.docker.io for docker.io', async () => {
    const { agent, client } = setup();
    agent
      .get('https://registry-1.docker.io')
      .intercept({ path: '/v2/library/alpine/manifests/3.20', method: 'GET' })
      .reply(200, MANIFEST, { headers: { 'content-type': MediaType.OciManifest } });
    const fetched = await client.fetchManifest({ registry: 'docker.io', repository: 'library/alpine' }, '3.20');
    expect(fetched.digest).toBe(MANIFEST_DIGEST);
  });
});

describe('retries', () => {
  it('retries 503 and then succeeds, logging the reason and counting the retry', async () => {
    const { registry, client, logger } = setup();
    registry.intercept({ path: manifestPath('1.0'), method: 'GET' }).reply(503, 'busy');
    registry.intercept({ path: manifestPath('1.0'), method: 'GET' }).reply(200, MANIFEST, { headers: { 'content-type': MediaType.OciManifest } });
    const fetched = await client.fetchManifest(APP, '1.0');
    expect(fetched.digest).toBe(MANIFEST_DIGEST);
    expect(client.stats()).toEqual({ requests: 2, byKind: { 'GET manifest': 2 }, retries: 1 });
    expect(logger.lines.some((l) => l.startsWith('debug:') && l.includes('503') && l.includes('retrying'))).toBe(true);
  });

  it('honours Retry-After in seconds (capped by maxDelayMs) instead of the jittered backoff', async () => {
    const { registry, client, logger } = setup({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 20 } });
    registry.intercept({ path: manifestPath('1.0'), method: 'GET' }).reply(429, '', { headers: { 'retry-after': '120' } });
    registry.intercept({ path: manifestPath('1.0'), method: 'GET' }).reply(200, MANIFEST);
    await client.fetchManifest(APP, '1.0');
    expect(logger.lines.some((l) => /retrying in 20 ms \(Retry-After 120 s\)/.test(l))).toBe(true);
  });

  it('honours Retry-After as an HTTP date', async () => {
    const { registry, client, logger } = setup({ retry: { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 1000 } });
    registry
      .intercept({ path: manifestPath('1.0'), method: 'GET' })
      .reply(429, '', { headers: { 'retry-after': new Date(Date.now() - 60_000).toUTCString() } });
    registry.intercept({ path: manifestPath('1.0'), method: 'GET' }).reply(200, MANIFEST);
    await client.fetchManifest(APP, '1.0');
    expect(logger.lines.some((l) => /retrying in 0 ms \(Retry-After 0 s\)/.test(l))).toBe(true);
    expect(client.stats().retries).toBe(1);
  });

  it('gives up after maxAttempts with a RATE_LIMITED error', async () => {
    const { registry, client } = setup();
    registry
      .intercept({ path: manifestPath('1.0'), method: 'GET' })
      .reply(429, { errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] }, { headers: { 'retry-after': '0' } })
      .times(3);
    const error = (await caught(client.fetchManifest(APP, '1.0'))) as HttpError;
    expect(error.code).toBe('RATE_LIMITED');
    expect(error.message).toContain('TOOMANYREQUESTS: slow down');
    expect(client.stats()).toMatchObject({ requests: 3, retries: 2 });
  });

  it('retries a connection reset, then reports a NetworkError naming method and URL', async () => {
    const { registry, client } = setup();
    const reset = (): Error => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    registry.intercept({ path: manifestPath('1.0'), method: 'GET' }).replyWithError(reset());
    registry.intercept({ path: manifestPath('1.0'), method: 'GET' }).reply(200, MANIFEST);
    expect((await client.fetchManifest(APP, '1.0')).digest).toBe(MANIFEST_DIGEST);

    for (let i = 0; i < 3; i++) registry.intercept({ path: manifestPath('2.0'), method: 'GET' }).replyWithError(reset());
    const error = await caught(client.fetchManifest(APP, '2.0'));
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.message).toContain(`GET ${ORIGIN}/v2/acme/app/manifests/2.0`);
    expect(error.message).toContain('ECONNRESET');
    expect(client.stats().retries).toBe(1 + 2);
  });

  it('does not retry a 400', async () => {
    const { registry, client } = setup();
    registry.intercept({ path: manifestPath('1.0'), method: 'GET' }).reply(400, { errors: [{ code: 'NAME_INVALID', message: 'invalid repository name' }] });
    const error = (await caught(client.fetchManifest(APP, '1.0'))) as HttpError;
    expect(error.code).toBe('HTTP');
    expect(error.message).toContain('returned 400 Bad Request: NAME_INVALID: invalid repository name');
    expect(client.stats()).toMatchObject({ requests: 1, retries: 0 });
  });

  it('throws TimeoutError past the deadline without sending', async () => {
    const { client } = setup({ deadline: Date.now() - 1 });
    const error = await caught(client.fetchManifest(APP, '1.0'));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(client.stats().requests).toBe(0);
  });

  it('does not wait past the deadline for a retry', async () => {
    const { registry, client } = setup({ deadline: Date.now() + 5_000, retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 120_000 } });
    registry.intercept({ path: manifestPath('1.0'), method: 'GET' }).reply(503, '', { headers: { 'retry-after': '60' } });
    const error = await caught(client.fetchManifest(APP, '1.0'));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).code).toBe('TIMEOUT');
    expect(error.message).toContain('503');
    expect(client.stats()).toMatchObject({ requests: 1, retries: 0 });
  });
});
