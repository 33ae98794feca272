// Registry client against undici's MockAgent: headers sent, digests checked, sizes capped,
// retries, auth (with the real auth.ts and a mocked token service), redirects, mounts,
// streamed and chunked uploads, error messages.
import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { MockAgent, type Interceptable } from 'undici';
import { DigestMismatchError, HttpError, ManifestMergeError, NetworkError, TimeoutError, TooLargeError } from '../../src/base/errors.js';
import { createMemoryLogger } from '../../src/base/logger.js';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, MediaType, type Descriptor } from '../../src/oci/manifest.js';
import { createRegistryClient, UPLOAD_CHUNK_BYTES } from '../../src/registry/client.js';
import type { CredentialProvider, Credentials, RegistryClientOptions } from '../../src/registry/client-types.js';

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

/** What a mock reply callback is told about the request (undici's MockInterceptor.MockResponseCallbackOptions). */
interface ReplyOptions {
  path: string;
  method: string;
  headers?: Headers | Record<string, string>;
  body?: unknown;
}
/** The data argument of a mock reply. */
type ReplyData = NonNullable<Parameters<ReturnType<Interceptable['intercept']>['reply']>[1]>;

function header(opts: ReplyOptions, name: string): string | undefined {
  const headers = opts.headers;
  if (!headers) return undefined;
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  return headers[name] ?? headers[name.toLowerCase()];
}

/** A reply whose data is computed asynchronously (undici supports a promise; its types do not say so). */
function asyncData(fn: (opts: ReplyOptions) => Promise<string | Buffer>): ReplyData {
  return fn as unknown as ReplyData;
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
      `Manifest ${REGISTRY}/acme/app:1.0 not found (MANIFEST_UNKNOWN): GET ${ORIGIN}/v2/acme/app/manifests/1.0 returned 404 Not Found: MANIFEST_UNKNOWN: manifest unknown. ` +
        'Check the reference (registry, repository, tag or digest), and that the job that builds the image pushed it before this step',
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

const basicCredentials = (): CredentialProvider =>
  credentials({ [REGISTRY]: { kind: 'basic', username: 'ci', password: PASSWORD, source: 'the username/password inputs' } });
const BASIC_VALUE = Buffer.from(`ci:${PASSWORD}`).toString('base64');

function expectNoSecrets(texts: string[]): void {
  for (const text of texts) {
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(BASIC_VALUE);
  }
}

describe('authentication', () => {
  it('learns the challenge with the first request alone, then sends N parallel reads with one token', async () => {
    const { agent, registry, client, logger } = setup({ credentials: basicCredentials() });
    const tokenRequests: Array<{ path: string; authorization?: string }> = [];
    agent
      .get(AUTH_ORIGIN)
      .intercept({ path: (p) => p.startsWith('/token?'), method: 'GET' })
      .reply(200, (opts) => {
        tokenRequests.push({ path: opts.path, authorization: header(opts, 'authorization') });
        return { token: TOKEN, expires_in: 300 };
      })
      .persist();
    const sent: Array<string | undefined> = [];
    registry
      .intercept({ path: (p) => /^\/v2\/acme\/[abc]\/manifests\/1\.0$/.test(p), method: 'GET' })
      .reply((opts) => {
        const authorization = header(opts, 'authorization');
        sent.push(authorization);
        if (authorization !== `Bearer ${TOKEN}`) {
          const repository = opts.path.split('/').slice(2, 4).join('/');
          return {
            statusCode: 401,
            data: { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] },
            responseOptions: { headers: { 'www-authenticate': bearerChallenge(`repository:${repository}:pull`) } },
          };
        }
        return { statusCode: 200, data: MANIFEST, responseOptions: { headers: { 'content-type': MediaType.OciManifest } } };
      })
      .persist();
    const repositories = ['acme/a', 'acme/b', 'acme/c'];
    client.declareScopes(REGISTRY, repositories.map((repository) => ({ repository, actions: ['pull'] })));

    const fetched = await Promise.all(repositories.map((repository) => client.fetchManifest({ registry: REGISTRY, repository }, '1.0')));

    expect(fetched.map((f) => f.digest)).toEqual([MANIFEST_DIGEST, MANIFEST_DIGEST, MANIFEST_DIGEST]);
    // one anonymous probe, one token request, then the three reads: N+1 after auth
    expect(client.stats().byKind).toEqual({ 'GET manifest': 4, 'GET token': 1 });
    expect(sent.filter((a) => a === undefined)).toHaveLength(1);
    expect(tokenRequests).toHaveLength(1);
    for (const repository of repositories) expect(decodeURIComponent(tokenRequests[0].path)).toContain(`scope=repository:${repository}:pull`);
    expect(tokenRequests[0].authorization).toBe(`Basic ${BASIC_VALUE}`);
    expectNoSecrets(logger.lines);
  });

  /** Resolves once `count` calls were made (or after 5 s, so that a client that serialises fails instead of hanging). */
  function arrivals(count: number): { arrive: () => void; all: Promise<boolean> } {
    let seen = 0;
    let done: (all: boolean) => void = () => undefined;
    const all = new Promise<boolean>((resolve) => (done = resolve));
    const timer = setTimeout(() => done(false), 5_000);
    return {
      arrive: () => {
        if (++seen >= count) {
          clearTimeout(timer);
          done(true);
        }
      },
      all,
    };
  }

  it('without credentials for the registry, parallel reads do not queue behind the first one', async () => {
    const { registry, client } = setup();
    const { arrive, all } = arrivals(3);
    registry
      .intercept({ path: (p) => /^\/v2\/acme\/[abc]\/manifests\/1\.0$/.test(p), method: 'GET' })
      .reply(
        200,
        // each answer waits until all three requests are in: a client that sent one first would never get it
        asyncData(async () => {
          arrive();
          return (await all) ? MANIFEST : 'serialised';
        }),
        { headers: { 'content-type': MediaType.OciManifest } },
      )
      .persist();
    const fetched = await Promise.all(['acme/a', 'acme/b', 'acme/c'].map((repository) => client.fetchManifest({ registry: REGISTRY, repository }, '1.0')));
    expect(fetched.map((f) => f.digest)).toEqual([MANIFEST_DIGEST, MANIFEST_DIGEST, MANIFEST_DIGEST]);
    expect(client.stats().byKind).toEqual({ 'GET manifest': 3 });
  });

  it('with credentials, waiting reads go once the first one holds an Authorization, not after its retry is answered', async () => {
    const { registry, client } = setup({ credentials: basicCredentials() });
    const { arrive, all } = arrivals(3);
    const sent: Array<string | undefined> = [];
    registry
      .intercept({ path: (p) => /^\/v2\/acme\/[abc]\/manifests\/1\.0$/.test(p), method: 'GET' })
      .reply((opts) => {
        const authorization = header(opts, 'authorization');
        sent.push(authorization);
        if (!authorization) return { statusCode: 401, data: '', responseOptions: { headers: { 'www-authenticate': 'Basic realm="Registry Realm"' } } };
        return {
          statusCode: 200,
          data: asyncData(async () => {
            arrive();
            return (await all) ? MANIFEST : 'serialised';
          }),
          responseOptions: { headers: { 'content-type': MediaType.OciManifest } },
        };
      })
      .persist();
    const fetched = await Promise.all(['acme/a', 'acme/b', 'acme/c'].map((repository) => client.fetchManifest({ registry: REGISTRY, repository }, '1.0')));
    expect(fetched.map((f) => f.digest)).toEqual([MANIFEST_DIGEST, MANIFEST_DIGEST, MANIFEST_DIGEST]);
    // one anonymous probe learns the challenge; the others never go without credentials
    expect(sent).toEqual([undefined, `Basic ${BASIC_VALUE}`, `Basic ${BASIC_VALUE}`, `Basic ${BASIC_VALUE}`]);
  });

  it('reports a 401 after the token as UNAUTHORIZED naming registry, request and where credentials were looked for', async () => {
    const { agent, registry, client, logger } = setup({ credentials: basicCredentials() });
    agent.get(AUTH_ORIGIN).intercept({ path: (p) => p.startsWith('/token?'), method: 'GET' }).reply(200, { token: TOKEN }).persist();
    registry
      .intercept({ path: manifestPath('1.0'), method: 'GET' })
      .reply(401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }, { headers: { 'www-authenticate': bearerChallenge('repository:acme/app:pull') } })
      .times(2);
    const error = (await caught(client.fetchManifest(APP, '1.0'))) as HttpError;
    expect(error).toBeInstanceOf(HttpError);
    expect(error.code).toBe('UNAUTHORIZED');
    expect(error.message).toContain(`Manifest ${REGISTRY}/acme/app:1.0`);
    expect(error.message).toContain(`GET ${ORIGIN}/v2/acme/app/manifests/1.0 returned 401 Unauthorized: UNAUTHORIZED: authentication required`);
    expect(error.message).toContain(`/home/runner/.docker/config.json (auths["${REGISTRY}"])`);
    expect(error.message).toContain('docker/login-action');
    expect(client.stats()).toMatchObject({ requests: 3, retries: 0 });
    expectNoSecrets([error.message, JSON.stringify(error.request), ...logger.lines]);
  });

  it('reports a 401 as UNAUTHORIZED when there are no credentials to answer a Basic challenge', async () => {
    const { registry, client } = setup();
    registry.intercept({ path: manifestPath('1.0'), method: 'GET' }).reply(401, '', { headers: { 'www-authenticate': 'Basic realm="Registry Realm"' } });
    const error = (await caught(client.fetchManifest(APP, '1.0'))) as HttpError;
    expect(error.code).toBe('UNAUTHORIZED');
    expect(error.message).toContain(`${REGISTRY} refused the request as unauthenticated`);
    expect(error.message).toContain('looked for in');
    expect(client.stats().requests).toBe(1);
  });

  it('answers Basic challenges and reports 403 as DENIED with a push-permission hint', async () => {
    const { registry, client, logger } = setup({ credentials: basicCredentials() });
    const seen: Array<string | undefined> = [];
    registry
      .intercept({ path: manifestPath('1.0'), method: 'PUT' })
      .reply((opts) => {
        seen.push(header(opts, 'authorization'));
        return header(opts, 'authorization')
          ? { statusCode: 403, data: { errors: [{ code: 'DENIED', message: 'requested access to the resource is denied' }] } }
          : { statusCode: 401, data: '', responseOptions: { headers: { 'www-authenticate': 'Basic realm="Registry Realm"' } } };
      })
      .times(2);
    const error = (await caught(client.putManifest(APP, '1.0', { bytes: MANIFEST, mediaType: MediaType.OciManifest }))) as HttpError;
    expect(seen).toEqual([undefined, `Basic ${BASIC_VALUE}`]);
    expect(error.code).toBe('DENIED');
    expect(error.status).toBe(403);
    expect(error.message).toContain(`Manifest ${REGISTRY}/acme/app:1.0: ${REGISTRY} denied access (DENIED)`);
    expect(error.message).toContain('push permission');
    expect(client.stats().retries).toBe(0);
    expectNoSecrets([error.message, ...logger.lines]);
  });

  it('asks for a wider token on 401 insufficient_scope and retries', async () => {
    const { agent, registry, client } = setup({ credentials: basicCredentials() });
    let issued = 0;
    const tokenScopes: string[] = [];
    agent
      .get(AUTH_ORIGIN)
      .intercept({ path: (p) => p.startsWith('/token?'), method: 'GET' })
      .reply(200, (opts) => {
        tokenScopes.push(decodeURIComponent(opts.path));
        return { token: `${TOKEN}-${++issued}` };
      })
      .persist();
    registry
      .intercept({ path: manifestPath('1.0'), method: 'PUT' })
      .reply((opts) => {
        const authorization = header(opts, 'authorization');
        if (authorization === `Bearer ${TOKEN}-2`) return { statusCode: 201, data: '', responseOptions: { headers: { 'docker-content-digest': MANIFEST_DIGEST } } };
        const error = authorization ? ',error="insufficient_scope"' : '';
        return { statusCode: 401, data: '', responseOptions: { headers: { 'www-authenticate': bearerChallenge('repository:acme/app:pull,push', error) } } };
      })
      .times(3);
    expect(await client.putManifest(APP, '1.0', { bytes: MANIFEST, mediaType: MediaType.OciManifest })).toBe(MANIFEST_DIGEST);
    expect(issued).toBe(2);
    expect(tokenScopes[0]).toContain('repository:acme/app:pull,push');
    expect(client.stats().byKind).toEqual({ 'PUT manifest': 3, 'GET token': 2 });
  });

  it('replaces a cached token the registry refuses without error= (expired): the refused header is passed to auth', async () => {
    const { agent, registry, client } = setup({ credentials: basicCredentials() });
    let issued = 0;
    agent
      .get(AUTH_ORIGIN)
      .intercept({ path: (p) => p.startsWith('/token?'), method: 'GET' })
      .reply(200, () => ({ token: `${TOKEN}-${++issued}`, expires_in: 300 }))
      .persist();
    const sent: Array<string | undefined> = [];
    let served = 0;
    registry
      .intercept({ path: manifestPath('1.0'), method: 'GET' })
      .reply((opts) => {
        const authorization = header(opts, 'authorization');
        sent.push(authorization);
        // the first token works once, then the registry considers it expired (a bare challenge, no error=)
        const valid = authorization === `Bearer ${TOKEN}-2` || (authorization === `Bearer ${TOKEN}-1` && served++ === 0);
        if (valid) return { statusCode: 200, data: MANIFEST, responseOptions: { headers: { 'content-type': MediaType.OciManifest } } };
        return { statusCode: 401, data: '', responseOptions: { headers: { 'www-authenticate': bearerChallenge('repository:acme/app:pull') } } };
      })
      .persist();
    expect((await client.fetchManifest(APP, '1.0')).digest).toBe(MANIFEST_DIGEST);
    expect((await client.fetchManifest(APP, '1.0')).digest).toBe(MANIFEST_DIGEST);
    expect(sent).toEqual([undefined, `Bearer ${TOKEN}-1`, `Bearer ${TOKEN}-1`, `Bearer ${TOKEN}-2`]);
    expect(client.stats().byKind).toEqual({ 'GET manifest': 4, 'GET token': 2 });
  });

  it('asks for a wider token only once per request; still insufficient_scope is DENIED naming the credentials and the scope', async () => {
    const { agent, registry, client, logger } = setup({ credentials: basicCredentials() });
    let issued = 0;
    agent
      .get(AUTH_ORIGIN)
      .intercept({ path: (p) => p.startsWith('/token?'), method: 'GET' })
      .reply(200, () => ({ token: `${TOKEN}-${++issued}` }))
      .persist();
    registry
      .intercept({ path: manifestPath('1.0'), method: 'PUT' })
      .reply((opts) => {
        const error = header(opts, 'authorization') ? ',error="insufficient_scope"' : '';
        return {
          statusCode: 401,
          data: { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] },
          responseOptions: { headers: { 'www-authenticate': bearerChallenge('repository:acme/app:pull,push', error) } },
        };
      })
      .persist();
    const error = (await caught(client.putManifest(APP, '1.0', { bytes: MANIFEST, mediaType: MediaType.OciManifest }))) as HttpError;
    expect(error).toBeInstanceOf(HttpError);
    expect(error.code).toBe('DENIED');
    expect(error.status).toBe(401);
    expect(error.message).toContain(`${REGISTRY} denied access: the credentials from the username/password inputs do not grant pull,push on acme/app (insufficient_scope)`);
    expect(error.message).toContain('packages: write');
    // anonymous probe, first token, one wider token: then no more
    expect(client.stats().byKind).toEqual({ 'PUT manifest': 3, 'GET token': 2 });
    expectNoSecrets([error.message, ...logger.lines]);
  });

  it('an anonymous token short of a scope stays UNAUTHORIZED, with the log-in hint', async () => {
    const { agent, registry, client } = setup();
    agent.get(AUTH_ORIGIN).intercept({ path: (p) => p.startsWith('/token?'), method: 'GET' }).reply(200, { token: 'anonymous' }).persist();
    registry
      .intercept({ path: manifestPath('1.0'), method: 'GET' })
      .reply((opts) => {
        const error = header(opts, 'authorization') ? ',error="insufficient_scope"' : '';
        return { statusCode: 401, data: '', responseOptions: { headers: { 'www-authenticate': bearerChallenge('repository:acme/app:pull', error) } } };
      })
      .persist();
    const error = (await caught(client.fetchManifest(APP, '1.0'))) as HttpError;
    expect(error.code).toBe('UNAUTHORIZED');
    expect(error.message).toContain('docker/login-action');
  });

  it('never answers a challenge from another origin (object storage after a redirect): no token request, no credentials', async () => {
    const { agent, registry, client } = setup({ credentials: basicCredentials() });
    const { descriptor } = blob(100);
    const storageAuth: Array<string | undefined> = [];
    registry
      .intercept({ path: `/v2/acme/app/blobs/${descriptor.digest}`, method: 'GET' })
      .reply((opts) =>
        header(opts, 'authorization')
          ? { statusCode: 307, data: '', responseOptions: { headers: { location: `${STORAGE_ORIGIN}/blob` } } }
          : { statusCode: 401, data: '', responseOptions: { headers: { 'www-authenticate': 'Basic realm="Registry Realm"' } } },
      )
      .times(2);
    agent
      .get(STORAGE_ORIGIN)
      .intercept({ path: '/blob', method: 'GET' })
      .reply((opts) => {
        storageAuth.push(header(opts, 'authorization'));
        return { statusCode: 401, data: '', responseOptions: { headers: { 'www-authenticate': `Bearer realm="${STORAGE_ORIGIN}/token",service="storage"` } } };
      });
    const error = (await caught(client.fetchBlob(APP, descriptor))) as HttpError;
    expect(error).toBeInstanceOf(HttpError);
    expect(error.status).toBe(401);
    expect(storageAuth).toEqual([undefined]);
    expect(client.stats().byKind).toEqual({ 'GET blob': 3 });
  });
});

describe('manifests: HEAD and PUT', () => {
  it('headManifest returns digest, type and size; undefined on 404', async () => {
    const { registry, client } = setup();
    let accept: string | undefined;
    registry.intercept({ path: manifestPath('1.0'), method: 'HEAD' }).reply(
      200,
      (opts) => {
        accept = header(opts, 'accept');
        return '';
      },
      { headers: { 'docker-content-digest': MANIFEST_DIGEST, 'content-type': MediaType.OciIndex, 'content-length': '1234' } },
    );
    registry.intercept({ path: manifestPath('2.0'), method: 'HEAD' }).reply(404, '');
    expect(await client.headManifest(APP, '1.0')).toEqual({ digest: MANIFEST_DIGEST, mediaType: MediaType.OciIndex, size: 1234 });
    expect(accept?.split(',').map((s) => s.trim())).toEqual(MANIFEST_ACCEPT);
    expect(await client.headManifest(APP, '2.0')).toBeUndefined();
    expect(client.stats().byKind).toEqual({ 'HEAD manifest': 2 });
  });

  it('headManifest falls back to GET when the registry omits Docker-Content-Digest', async () => {
    const { registry, client } = setup();
    registry.intercept({ path: manifestPath('1.0'), method: 'HEAD' }).reply(200, '', { headers: { 'content-type': MediaType.OciManifest, 'content-length': String(MANIFEST.length) } });
    registry.intercept({ path: manifestPath('1.0'), method: 'GET' }).reply(200, MANIFEST, { headers: { 'content-type': MediaType.OciManifest } });
    expect(await client.headManifest(APP, '1.0')).toEqual({ digest: MANIFEST_DIGEST, mediaType: MediaType.OciManifest, size: MANIFEST.length });
    expect(client.stats().byKind).toEqual({ 'HEAD manifest': 1, 'GET manifest': 1 });
  });

  it('putManifest sends the exact bytes with the media type and returns the reported digest', async () => {
    const { registry, client } = setup();
    let received: { contentType?: string; body?: unknown } = {};
    registry.intercept({ path: manifestPath(MANIFEST_DIGEST), method: 'PUT' }).reply(
      201,
      (opts) => {
        received = { contentType: header(opts, 'content-type'), body: opts.body };
        return '';
      },
      { headers: { 'docker-content-digest': MANIFEST_DIGEST } },
    );
    expect(await client.putManifest(APP, MANIFEST_DIGEST, { bytes: MANIFEST, mediaType: MediaType.OciManifest })).toBe(MANIFEST_DIGEST);
    expect(received.contentType).toBe(MediaType.OciManifest);
    expect(Buffer.isBuffer(received.body) && (received.body as Buffer).equals(MANIFEST)).toBe(true);
  });

  it('putManifest computes the digest when the registry does not report one, and retries a 502', async () => {
    const { registry, client } = setup();
    registry.intercept({ path: manifestPath('latest'), method: 'PUT' }).reply(502, 'bad gateway');
    registry.intercept({ path: manifestPath('latest'), method: 'PUT' }).reply(201, '');
    expect(await client.putManifest(APP, 'latest', { bytes: MANIFEST, mediaType: MediaType.OciManifest })).toBe(MANIFEST_DIGEST);
    expect(client.stats()).toMatchObject({ byKind: { 'PUT manifest': 2 }, retries: 1 });
  });

  it('putManifest by digest refuses bytes that do not match, and a registry that stores another digest', async () => {
    const { registry, client } = setup();
    const other = `sha256:${'d'.repeat(64)}`;
    const local = await caught(client.putManifest(APP, other, { bytes: MANIFEST, mediaType: MediaType.OciManifest }));
    expect(local).toBeInstanceOf(DigestMismatchError);
    expect(client.stats().requests).toBe(0);

    registry.intercept({ path: manifestPath(MANIFEST_DIGEST), method: 'PUT' }).reply(201, '', { headers: { 'docker-content-digest': other } });
    const remote = await caught(client.putManifest(APP, MANIFEST_DIGEST, { bytes: MANIFEST, mediaType: MediaType.OciManifest }));
    expect(remote).toBeInstanceOf(DigestMismatchError);
    expect(remote.message).toContain(`Manifest ${REGISTRY}/acme/app@${MANIFEST_DIGEST}`);
  });
});

describe('blobs: HEAD, GET and redirects', () => {
  const { bytes, descriptor } = blob(3000);
  const blobPath = `/v2/acme/app/blobs/${descriptor.digest}`;

  /** Registry wanting Basic auth that redirects blob reads to object storage. */
  function redirectingRegistry(method: 'GET' | 'HEAD') {
    const env = setup({ credentials: basicCredentials() });
    const registryAuth: Array<string | undefined> = [];
    const storageAuth: Array<string | undefined> = [];
    env.registry
      .intercept({ path: blobPath, method })
      .reply((opts) => {
        registryAuth.push(header(opts, 'authorization'));
        return header(opts, 'authorization')
          ? { statusCode: 307, data: '', responseOptions: { headers: { location: `${STORAGE_ORIGIN}/blobs/xyz?X-Amz-Signature=abc-signature&X-Amz-Expires=300` } } }
          : { statusCode: 401, data: '', responseOptions: { headers: { 'www-authenticate': 'Basic realm="Registry Realm"' } } };
      })
      .times(2);
    env.agent
      .get(STORAGE_ORIGIN)
      .intercept({ path: '/blobs/xyz?X-Amz-Signature=abc-signature&X-Amz-Expires=300', method })
      .reply(200, (opts) => {
        storageAuth.push(header(opts, 'authorization'));
        return method === 'GET' ? bytes : '';
      }, { headers: { 'content-length': String(bytes.length) } });
    return { ...env, registryAuth, storageAuth };
  }

  it('fetchBlob follows a redirect to another origin without the Authorization header', async () => {
    const { client, registryAuth, storageAuth, logger } = redirectingRegistry('GET');
    const fetched = await client.fetchBlob(APP, descriptor);
    expect(fetched.equals(bytes)).toBe(true);
    expect(registryAuth).toEqual([undefined, `Basic ${BASIC_VALUE}`]);
    expect(storageAuth).toEqual([undefined]);
    expect(client.stats().byKind).toEqual({ 'GET blob': 3 });
    expect(logger.lines.join('\n')).not.toContain('abc-signature');
  });

  it('hasBlob follows redirects too, and is false on 404', async () => {
    const { client, registry, storageAuth } = redirectingRegistry('HEAD');
    expect(await client.hasBlob(APP, descriptor.digest)).toBe(true);
    expect(storageAuth).toEqual([undefined]);
    registry.intercept({ path: `/v2/acme/app/blobs/sha256:${'e'.repeat(64)}`, method: 'HEAD' }).reply(404, '');
    expect(await client.hasBlob(APP, `sha256:${'e'.repeat(64)}`)).toBe(false);
  });

  it('fetchBlob refuses wrong bytes and wrong sizes, naming the blob and repository', async () => {
    const { registry, client } = setup();
    const altered = Buffer.from(bytes);
    altered[10] ^= 0xff;
    registry.intercept({ path: blobPath, method: 'GET' }).reply(200, altered);
    const digestError = await caught(client.fetchBlob(APP, descriptor));
    expect(digestError).toBeInstanceOf(DigestMismatchError);
    expect(digestError.message).toContain(`Blob ${descriptor.digest} of ${REGISTRY}/acme/app`);

    registry.intercept({ path: blobPath, method: 'GET' }).reply(200, Buffer.concat([bytes, Buffer.from('x')]));
    expect(await caught(client.fetchBlob(APP, descriptor))).toBeInstanceOf(DigestMismatchError);

    const tooLarge = await caught(client.fetchBlob(APP, descriptor, 1000));
    expect(tooLarge).toBeInstanceOf(TooLargeError);
    expect(client.stats().byKind).toEqual({ 'GET blob': 2 });
  });
});

describe('mount', () => {
  const { bytes, descriptor } = blob(5000, 7);
  const BASE = { registry: REGISTRY, repository: 'acme/base' };
  const mountPath = `/v2/acme/app/blobs/uploads/?mount=${encodeURIComponent(descriptor.digest)}&from=${encodeURIComponent('acme/base')}`;

  it('mounts with one token covering pull on the source and pull,push on the target', async () => {
    const { agent, registry, client } = setup({ credentials: basicCredentials() });
    const tokenPaths: string[] = [];
    agent
      .get(AUTH_ORIGIN)
      .intercept({ path: (p) => p.startsWith('/token?'), method: 'GET' })
      .reply(200, (opts) => {
        tokenPaths.push(decodeURIComponent(opts.path));
        return { token: TOKEN };
      });
    registry
      .intercept({ path: mountPath, method: 'POST' })
      .reply((opts) =>
        header(opts, 'authorization') === `Bearer ${TOKEN}`
          ? { statusCode: 201, data: '', responseOptions: { headers: { location: `/v2/acme/app/blobs/${descriptor.digest}` } } }
          : { statusCode: 401, data: '', responseOptions: { headers: { 'www-authenticate': bearerChallenge('repository:acme/app:pull,push') } } },
      )
      .times(2);
    expect(await client.mountBlob(APP, BASE, descriptor)).toBe('mounted');
    expect(tokenPaths).toHaveLength(1);
    expect(tokenPaths[0]).toContain('scope=repository:acme/app:pull,push');
    expect(tokenPaths[0]).toContain('scope=repository:acme/base:pull');
    expect(client.stats().byKind).toEqual({ 'POST mount': 2, 'GET token': 1 });
  });

  it('streams the blob into the upload session the registry opened when it declines the mount (202)', async () => {
    const { registry, client } = setup();
    registry.intercept({ path: mountPath, method: 'POST' }).reply(202, '', { headers: { location: '/v2/acme/app/blobs/uploads/u-1?_state=abc%3D%3D' } });
    registry.intercept({ path: `/v2/acme/app/blobs/${descriptor.digest}`, method: 'HEAD' }).reply(404, '');
    registry.intercept({ path: `/v2/acme/base/blobs/${descriptor.digest}`, method: 'GET' }).reply(200, bytes, { headers: { 'content-length': String(bytes.length) } });
    let received: { bytes: Buffer; error?: unknown } | undefined;
    let contentLength: string | undefined;
    registry.intercept({ path: `/v2/acme/app/blobs/uploads/u-1?_state=abc%3D%3D&digest=${encodeURIComponent(descriptor.digest)}`, method: 'PUT' }).reply(
      201,
      asyncData(async (opts) => {
        contentLength = header(opts, 'content-length');
        received = await consume(opts.body);
        return '';
      }),
    );
    expect(await client.mountBlob(APP, BASE, descriptor)).toBe('copied');
    expect(received?.error).toBeUndefined();
    expect(received?.bytes.equals(bytes)).toBe(true);
    expect(contentLength).toBe(String(bytes.length));
    // the HEAD asked, in parallel with the GET, whether the target had the blob after all
    expect(client.stats().byKind).toEqual({ 'POST mount': 1, 'HEAD blob': 1, 'GET blob': 1, 'PUT upload': 1 });
  });

  it('closes the session unused when a registry declines the mount although it holds the blob (one blob store, as go-containerregistry\'s)', async () => {
    const { registry, client } = setup();
    registry.intercept({ path: mountPath, method: 'POST' }).reply(202, '', { headers: { location: '/v2/acme/app/blobs/uploads/u-2?_state=xyz' } });
    registry.intercept({ path: `/v2/acme/app/blobs/${descriptor.digest}`, method: 'HEAD' }).reply(200, '', { headers: { 'content-length': String(bytes.length) } });
    registry.intercept({ path: `/v2/acme/base/blobs/${descriptor.digest}`, method: 'GET' }).reply(200, bytes, { headers: { 'content-length': String(bytes.length) } });
    let cancelled = false;
    registry.intercept({ path: '/v2/acme/app/blobs/uploads/u-2?_state=xyz', method: 'DELETE' }).reply(() => {
      cancelled = true;
      return { statusCode: 204, data: '' };
    });
    expect(await client.mountBlob(APP, BASE, descriptor)).toBe('exists');
    expect(cancelled).toBe(true);
    expect(client.stats().byKind['PUT upload']).toBeUndefined();
    expect(client.stats().byKind['PATCH upload']).toBeUndefined();
  });
});

describe('copyBlob', () => {
  const SOURCE_REGISTRY = 'src.example.org';
  const SOURCE_ORIGIN = `https://${SOURCE_REGISTRY}`;
  const SOURCE = { registry: SOURCE_REGISTRY, repository: 'acme/base' };

  function copySetup(overrides: Partial<RegistryClientOptions> = {}) {
    const env = setup(overrides);
    return { ...env, source: env.agent.get(SOURCE_ORIGIN) };
  }

  it('streams GET → POST → PUT ?digest= to an absolute Location that already has a query', async () => {
    const { registry, source, client } = copySetup();
    const { bytes, descriptor } = blob(70_000, 3);
    source.intercept({ path: `/v2/acme/base/blobs/${descriptor.digest}`, method: 'GET' }).reply(200, bytes, { headers: { 'content-length': String(bytes.length) } });
    registry.intercept({ path: '/v2/acme/app/blobs/uploads/', method: 'POST' }).reply(202, '', { headers: { location: `${ORIGIN}/v2/acme/app/blobs/uploads/u-2?_state=s%2Bx` } });
    let received: { bytes: Buffer; error?: unknown } | undefined;
    let contentType: string | undefined;
    registry.intercept({ path: `/v2/acme/app/blobs/uploads/u-2?_state=s%2Bx&digest=${encodeURIComponent(descriptor.digest)}`, method: 'PUT' }).reply(
      201,
      asyncData(async (opts) => {
        contentType = header(opts, 'content-type');
        received = await consume(opts.body);
        return '';
      }),
    );
    expect(await client.copyBlob(SOURCE, APP, descriptor)).toBe('copied');
    expect(received?.bytes.equals(bytes)).toBe(true);
    expect(contentType).toBe('application/octet-stream');
    expect(client.stats()).toEqual({ requests: 3, byKind: { 'GET blob': 1, 'POST upload': 1, 'PUT upload': 1 }, retries: 0 });
  });

  it("keeps each registry's credentials to itself, and sends none to an upload Location on another origin or over plain HTTP", async () => {
    const sourceBasic = Buffer.from('src-user:src-secret-pw').toString('base64');
    const { registry, source, agent, client } = copySetup({
      credentials: credentials({
        [REGISTRY]: { kind: 'basic', username: 'ci', password: PASSWORD, source: 'inputs' },
        [SOURCE_REGISTRY]: { kind: 'basic', username: 'src-user', password: 'src-secret-pw', source: 'config.json' },
      }),
    });
    const { bytes, descriptor } = blob(5000, 9);
    const seen: Record<string, Array<string | undefined>> = { source: [], target: [], upload: [] };
    const basicChallenge = { statusCode: 401, data: '', responseOptions: { headers: { 'www-authenticate': 'Basic realm="r"' } } };
    source
      .intercept({ path: `/v2/acme/base/blobs/${descriptor.digest}`, method: 'GET' })
      .reply((opts) => {
        seen.source.push(header(opts, 'authorization'));
        return header(opts, 'authorization') ? { statusCode: 200, data: bytes, responseOptions: { headers: { 'content-length': String(bytes.length) } } } : basicChallenge;
      })
      .times(2);
    registry
      .intercept({ path: '/v2/acme/app/blobs/uploads/', method: 'POST' })
      .reply((opts) => {
        seen.target.push(header(opts, 'authorization'));
        // a registry behind a proxy that gets its own scheme wrong
        return header(opts, 'authorization') ? { statusCode: 202, data: '', responseOptions: { headers: { location: `http://${REGISTRY}/v2/acme/app/blobs/uploads/u-9` } } } : basicChallenge;
      })
      .times(2);
    agent
      .get(`http://${REGISTRY}`)
      .intercept({ path: `/v2/acme/app/blobs/uploads/u-9?digest=${encodeURIComponent(descriptor.digest)}`, method: 'PUT' })
      .reply(
        201,
        asyncData(async (opts) => {
          seen.upload.push(header(opts, 'authorization'));
          await consume(opts.body);
          return '';
        }),
      );
    expect(await client.copyBlob(SOURCE, APP, descriptor)).toBe('copied');
    expect(seen).toEqual({ source: [undefined, `Basic ${sourceBasic}`], target: [undefined, `Basic ${BASIC_VALUE}`], upload: [undefined] });
  });

  it('fails the upload when the source serves other bytes, without letting the registry receive the whole blob', async () => {
    const { registry, source, client } = copySetup();
    const { bytes, descriptor } = blob(50_000, 5);
    const altered = Buffer.from(bytes);
    altered[100] ^= 0x01;
    source.intercept({ path: `/v2/acme/base/blobs/${descriptor.digest}`, method: 'GET' }).reply(200, altered);
    registry.intercept({ path: '/v2/acme/app/blobs/uploads/', method: 'POST' }).reply(202, '', { headers: { location: '/v2/acme/app/blobs/uploads/u-3' } });
    let received: { bytes: Buffer; error?: unknown } | undefined;
    registry.intercept({ path: `/v2/acme/app/blobs/uploads/u-3?digest=${encodeURIComponent(descriptor.digest)}`, method: 'PUT' }).reply(
      201,
      asyncData(async (opts) => {
        received = await consume(opts.body);
        return '';
      }),
    );
    const error = await caught(client.copyBlob(SOURCE, APP, descriptor));
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect(error.message).toContain(`Blob ${descriptor.digest} from ${SOURCE_REGISTRY}/acme/base`);
    expect(error.message).toContain(sha256(altered));
    expect(received?.error).toBeInstanceOf(DigestMismatchError);
    expect(received?.bytes.length).toBeLessThan(bytes.length);
    expect(client.stats().retries).toBe(0);
  });

  it('fails when the source is shorter than the descriptor says', async () => {
    const { registry, source, client } = copySetup();
    const { bytes, descriptor } = blob(4000, 6);
    source.intercept({ path: `/v2/acme/base/blobs/${descriptor.digest}`, method: 'GET' }).reply(200, bytes.subarray(0, 3000));
    registry.intercept({ path: '/v2/acme/app/blobs/uploads/', method: 'POST' }).reply(202, '', { headers: { location: '/v2/acme/app/blobs/uploads/u-4' } });
    registry.intercept({ path: `/v2/acme/app/blobs/uploads/u-4?digest=${encodeURIComponent(descriptor.digest)}`, method: 'PUT' }).reply(
      201,
      asyncData(async (opts) => {
        await consume(opts.body);
        return '';
      }),
    );
    const error = await caught(client.copyBlob(SOURCE, APP, descriptor));
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect(error.message).toContain('3000 bytes instead of 4000');
  });

  it('restarts the whole sequence (new GET, new session) when the upload PUT gets a 503', async () => {
    const { registry, source, client, logger } = copySetup();
    const { bytes, descriptor } = blob(10_000, 8);
    source.intercept({ path: `/v2/acme/base/blobs/${descriptor.digest}`, method: 'GET' }).reply(200, bytes).times(2);
    registry.intercept({ path: '/v2/acme/app/blobs/uploads/', method: 'POST' }).reply(202, '', { headers: { location: '/v2/acme/app/blobs/uploads/first' } });
    registry.intercept({ path: '/v2/acme/app/blobs/uploads/', method: 'POST' }).reply(202, '', { headers: { location: '/v2/acme/app/blobs/uploads/second' } });
    registry.intercept({ path: `/v2/acme/app/blobs/uploads/first?digest=${encodeURIComponent(descriptor.digest)}`, method: 'PUT' }).reply(503, '');
    // the failed attempt's session is cancelled before the next one starts
    const cancelled: string[] = [];
    registry.intercept({ path: '/v2/acme/app/blobs/uploads/first', method: 'DELETE' }).reply(204, (opts) => {
      cancelled.push(opts.path);
      return '';
    });
    let received: Buffer | undefined;
    registry.intercept({ path: `/v2/acme/app/blobs/uploads/second?digest=${encodeURIComponent(descriptor.digest)}`, method: 'PUT' }).reply(
      201,
      asyncData(async (opts) => {
        received = (await consume(opts.body)).bytes;
        return '';
      }),
    );
    expect(await client.copyBlob(SOURCE, APP, descriptor)).toBe('copied');
    expect(received?.equals(bytes)).toBe(true);
    expect(cancelled).toEqual(['/v2/acme/app/blobs/uploads/first']);
    expect(client.stats()).toEqual({ requests: 7, byKind: { 'GET blob': 2, 'POST upload': 2, 'PUT upload': 2, 'DELETE upload': 1 }, retries: 1 });
    expect(logger.lines.some((l) => l.includes('retrying') && l.includes('503'))).toBe(true);
  });

  it('restarts when the source connection resets', async () => {
    const { registry, source, client } = copySetup();
    const { bytes, descriptor } = blob(2000, 9);
    source
      .intercept({ path: `/v2/acme/base/blobs/${descriptor.digest}`, method: 'GET' })
      .replyWithError(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }));
    source.intercept({ path: `/v2/acme/base/blobs/${descriptor.digest}`, method: 'GET' }).reply(200, bytes);
    registry.intercept({ path: '/v2/acme/app/blobs/uploads/', method: 'POST' }).reply(202, '', { headers: { location: '/v2/acme/app/blobs/uploads/u' } }).times(2);
    registry.intercept({ path: `/v2/acme/app/blobs/uploads/u?digest=${encodeURIComponent(descriptor.digest)}`, method: 'PUT' }).reply(
      201,
      asyncData(async (opts) => {
        await consume(opts.body);
        return '';
      }),
    );
    expect(await client.copyBlob(SOURCE, APP, descriptor)).toBe('copied');
    expect(client.stats()).toMatchObject({ byKind: { 'GET blob': 2, 'POST upload': 2, 'PUT upload': 1 }, retries: 1 });
  });

  it('falls back to chunked PATCH uploads when the registry refuses a monolithic PUT, and remembers it', async () => {
    const { registry, source, client } = copySetup();
    const { bytes, descriptor } = blob(UPLOAD_CHUNK_BYTES + 1000, 11);
    const blobPath = `/v2/acme/base/blobs/${descriptor.digest}`;
    const digestQuery = `digest=${encodeURIComponent(descriptor.digest)}`;
    source.intercept({ path: blobPath, method: 'GET' }).reply(200, bytes).times(2);
    registry.intercept({ path: '/v2/acme/app/blobs/uploads/', method: 'POST' }).reply(202, '', { headers: { location: '/v2/acme/app/blobs/uploads/mono' } });
    registry.intercept({ path: `/v2/acme/app/blobs/uploads/mono?${digestQuery}`, method: 'PUT' }).reply(416, { errors: [{ code: 'BLOB_UPLOAD_INVALID', message: 'blob upload invalid' }] });
    registry.intercept({ path: '/v2/acme/app/blobs/uploads/mono', method: 'DELETE' }).reply(204, '');
    registry.intercept({ path: '/v2/acme/app/blobs/uploads/', method: 'POST' }).reply(202, '', { headers: { location: '/v2/acme/app/blobs/uploads/c?_state=0' } });
    const patches: Array<{ range?: string; length: number }> = [];
    const parts: Buffer[] = [];
    // PATCH bodies stream (never a chunk held whole): the registry reads each one
    const patchReply = asyncData(async (opts) => {
      const { bytes: body } = await consume(opts.body);
      parts.push(body);
      patches.push({ range: header(opts, 'content-range'), length: body.length });
      return '';
    });
    registry
      .intercept({ path: '/v2/acme/app/blobs/uploads/c?_state=0', method: 'PATCH' })
      .reply(202, patchReply, { headers: { location: '/v2/acme/app/blobs/uploads/c?_state=1', range: `0-${UPLOAD_CHUNK_BYTES - 1}` } });
    registry
      .intercept({ path: '/v2/acme/app/blobs/uploads/c?_state=1', method: 'PATCH' })
      .reply(202, patchReply, { headers: { location: `${ORIGIN}/v2/acme/app/blobs/uploads/c?_state=2` } });
    registry.intercept({ path: `/v2/acme/app/blobs/uploads/c?_state=2&${digestQuery}`, method: 'PUT' }).reply(201, '');

    expect(await client.copyBlob(SOURCE, APP, descriptor)).toBe('copied');
    expect(patches).toEqual([
      { range: `0-${UPLOAD_CHUNK_BYTES - 1}`, length: UPLOAD_CHUNK_BYTES },
      { range: `${UPLOAD_CHUNK_BYTES}-${bytes.length - 1}`, length: 1000 },
    ]);
    expect(Buffer.concat(parts).equals(bytes)).toBe(true);

    // the next blob goes chunked straight away: no monolithic PUT is even tried
    const small = blob(500, 12);
    source.intercept({ path: `/v2/acme/base/blobs/${small.descriptor.digest}`, method: 'GET' }).reply(200, small.bytes);
    registry.intercept({ path: '/v2/acme/app/blobs/uploads/', method: 'POST' }).reply(202, '', { headers: { location: '/v2/acme/app/blobs/uploads/d' } });
    registry.intercept({ path: '/v2/acme/app/blobs/uploads/d', method: 'PATCH' }).reply(202, patchReply, { headers: { location: '/v2/acme/app/blobs/uploads/d2' } });
    registry.intercept({ path: `/v2/acme/app/blobs/uploads/d2?digest=${encodeURIComponent(small.descriptor.digest)}`, method: 'PUT' }).reply(201, '');
    expect(await client.copyBlob(SOURCE, APP, small.descriptor)).toBe('copied');
    // the refused monolithic session was cancelled, once
    expect(client.stats().byKind).toEqual({ 'GET blob': 3, 'POST upload': 3, 'PUT upload': 3, 'PATCH upload': 3, 'DELETE upload': 1 });
  });

  it('reports a failed upload with the repository, status and registry error code', async () => {
    const { registry, source, client } = copySetup();
    const { bytes, descriptor } = blob(100, 13);
    source.intercept({ path: `/v2/acme/base/blobs/${descriptor.digest}`, method: 'GET' }).reply(200, bytes);
    registry.intercept({ path: '/v2/acme/app/blobs/uploads/', method: 'POST' }).reply(404, { errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }] });
    const error = (await caught(client.copyBlob(SOURCE, APP, descriptor))) as HttpError;
    expect(error.code).toBe('NOT_FOUND');
    expect(error.message).toContain(`copy from ${SOURCE_REGISTRY}/acme/base to ${REGISTRY}/acme/app`);
    expect(error.message).toContain(`POST ${ORIGIN}/v2/acme/app/blobs/uploads/ returned 404 Not Found: NAME_UNKNOWN: repository name not known to registry`);
  });
});

describe('plain HTTP', () => {
  const tlsFailure = (): Error => Object.assign(new Error('SSL routines:ssl3_get_record:wrong version number'), { code: 'EPROTO' });

  it.each([
    ['a loopback registry', 'localhost:5000', []],
    ['a registry listed as insecure', 'registry.internal:5000', ['http://registry.internal:5000/']],
  ])('falls back to HTTP for %s once HTTPS fails, and remembers it', async (_name, host, insecureRegistries) => {
    const { agent, client } = setup({ insecureRegistries });
    agent.get(`https://${host}`).intercept({ path: manifestPath('1.0'), method: 'GET' }).replyWithError(tlsFailure());
    agent.get(`http://${host}`).intercept({ path: manifestPath('1.0'), method: 'GET' }).reply(200, MANIFEST).times(2);
    const repository = { registry: host, repository: 'acme/app' };
    expect((await client.fetchManifest(repository, '1.0')).digest).toBe(MANIFEST_DIGEST);
    expect((await client.fetchManifest(repository, '1.0')).digest).toBe(MANIFEST_DIGEST);
    // the failed HTTPS probe is not counted: it never became an HTTP request
    expect(client.stats()).toEqual({ requests: 2, byKind: { 'GET manifest': 2 }, retries: 0 });
  });

  it('parallel anonymous reads of a loopback registry share one HTTPS attempt, then answer the challenges with one token', async () => {
    const host = 'localhost:5000';
    const { agent, client, logger } = setup();
    agent.get(`https://${host}`).intercept({ path: (p) => p.startsWith('/v2/'), method: 'GET' }).replyWithError(tlsFailure()).persist();
    agent
      .get(`http://${host}`)
      .intercept({ path: (p) => /^\/v2\/acme\/[abc]\/manifests\/1\.0$/.test(p), method: 'GET' })
      .reply((opts) =>
        header(opts, 'authorization') === `Bearer ${TOKEN}`
          ? { statusCode: 200, data: MANIFEST, responseOptions: { headers: { 'content-type': MediaType.OciManifest } } }
          : { statusCode: 401, data: '', responseOptions: { headers: { 'www-authenticate': `Bearer realm="${AUTH_ORIGIN}/token",service="${host}"` } } },
      )
      .persist();
    agent.get(AUTH_ORIGIN).intercept({ path: (p) => p.startsWith('/token?'), method: 'GET' }).reply(200, { token: TOKEN, expires_in: 300 }).persist();
    const repositories = ['acme/a', 'acme/b', 'acme/c'];
    client.declareScopes(host, repositories.map((repository) => ({ repository, actions: ['pull'] })));
    const fetched = await Promise.all(repositories.map((repository) => client.fetchManifest({ registry: host, repository }, '1.0')));
    expect(fetched.map((f) => f.digest)).toEqual([MANIFEST_DIGEST, MANIFEST_DIGEST, MANIFEST_DIGEST]);
    expect(logger.lines.filter((line) => line.includes('HTTPS failed'))).toHaveLength(1);
    expect(client.stats().byKind).toEqual({ 'GET manifest': 6, 'GET token': 1 });
  });

  it('never falls back to HTTP for other registries', async () => {
    const { agent, registry, client } = setup();
    registry.intercept({ path: manifestPath('1.0'), method: 'GET' }).replyWithError(tlsFailure());
    agent.get(`http://${REGISTRY}`).intercept({ path: manifestPath('1.0'), method: 'GET' }).reply(200, MANIFEST);
    const error = await caught(client.fetchManifest(APP, '1.0'));
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.message).toContain('wrong version number');
    expect(client.stats().requests).toBe(1);
  });
});

describe('misc', () => {
  it('close() leaves an injected dispatcher open', async () => {
    const { registry, client } = setup();
    registry.intercept({ path: manifestPath('1.0'), method: 'GET' }).reply(200, MANIFEST);
    await client.close();
    expect((await client.fetchManifest(APP, '1.0')).digest).toBe(MANIFEST_DIGEST);
  });

  it('raises only ManifestMergeErrors for registry failures', async () => {
    const { registry, client } = setup();
    registry.intercept({ path: `/v2/acme/app/blobs/sha256:${'f'.repeat(64)}`, method: 'HEAD' }).reply(500, '').times(3);
    const error = await caught(client.hasBlob(APP, `sha256:${'f'.repeat(64)}`));
    expect(error).toBeInstanceOf(ManifestMergeError);
    expect(error.message).toContain(`Blob sha256:${'f'.repeat(64)} in ${REGISTRY}/acme/app: unexpected response: HEAD`);
    expect(error.message).toContain('returned 500 Internal Server Error');
  });
});

describe('against a real HTTP server on loopback (own undici Agent)', () => {
  /** A tiny registry: serves one blob (optionally altered) and accepts monolithic uploads, hashing what arrives. */
  async function tinyRegistry(content: Buffer, serve: Buffer) {
    const { createServer } = await import('node:http');
    const uploads: Array<{ digest: string | null; received: number; complete: boolean; hash: string }> = [];
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'GET' && url.pathname === `/v2/acme/base/blobs/${sha256(content)}`) {
        res.writeHead(200, { 'content-length': String(serve.length), 'content-type': 'application/octet-stream' });
        // in pieces, as a real registry streams
        let offset = 0;
        const pump = (): void => {
          while (offset < serve.length) {
            const piece = serve.subarray(offset, offset + 65536);
            offset += piece.length;
            if (!res.write(piece)) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
        return;
      }
      if (req.method === 'POST' && url.pathname === '/v2/acme/app/blobs/uploads/') {
        res.writeHead(202, { location: `/v2/acme/app/blobs/uploads/${uploads.length}?_state=x%3D`, 'content-length': '0' });
        res.end();
        return;
      }
      if (req.method === 'PUT' && url.pathname.startsWith('/v2/acme/app/blobs/uploads/')) {
        const upload = { digest: url.searchParams.get('digest'), received: 0, complete: false, hash: '' };
        uploads.push(upload);
        const hash = createHash('sha256');
        req.on('data', (chunk: Buffer) => {
          upload.received += chunk.length;
          hash.update(chunk);
        });
        req.on('end', () => {
          upload.complete = true;
          upload.hash = `sha256:${hash.digest('hex')}`;
          res.writeHead(upload.hash === upload.digest ? 201 : 400, { 'content-length': '0' });
          res.end();
        });
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'NOT_FOUND', message: `${req.method} ${url.pathname}` }] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    return { host: `127.0.0.1:${port}`, uploads, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  it('copies a multi-MiB blob in a stream after finding that the registry speaks plain HTTP', async () => {
    const { bytes, descriptor } = blob(12 * 1024 * 1024 + 123, 21);
    const server = await tinyRegistry(bytes, bytes);
    const client = createRegistryClient({ credentials: credentials(), retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 } });
    try {
      const result = await client.copyBlob({ registry: server.host, repository: 'acme/base' }, { registry: server.host, repository: 'acme/app' }, descriptor);
      expect(result).toBe('copied');
      expect(server.uploads).toEqual([{ digest: descriptor.digest, received: bytes.length, complete: true, hash: descriptor.digest }]);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('aborts the upload before it completes when the source bytes are wrong', async () => {
    const { bytes, descriptor } = blob(3 * 1024 * 1024, 22);
    const altered = Buffer.from(bytes);
    altered[altered.length - 5] ^= 0x10;
    const server = await tinyRegistry(bytes, altered);
    const client = createRegistryClient({ credentials: credentials(), retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 } });
    try {
      const error = await caught(client.copyBlob({ registry: server.host, repository: 'acme/base' }, { registry: server.host, repository: 'acme/app' }, descriptor));
      expect(error).toBeInstanceOf(DigestMismatchError);
      expect(error.message).toContain(`Blob ${descriptor.digest} from ${server.host}/acme/base`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(server.uploads).toHaveLength(1);
      expect(server.uploads[0].complete).toBe(false);
      expect(server.uploads[0].received).toBeLessThan(bytes.length);
    } finally {
      await client.close();
      await server.close();
    }
  });
});
