import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { MockAgent } from 'undici';
import { CredentialsError, HttpError } from '../../src/base/errors.js';
import { createMemoryLogger } from '../../src/base/logger.js';
import { RegistryAuth } from '../../src/registry/auth/authenticator.js';
import { parseWwwAuthenticate } from '../../src/registry/auth/challenge.js';
import { formatScopes } from '../../src/registry/auth/scope.js';
import { Transport } from '../../src/registry/transport/compose.js';
import type { AuthChallenge } from '../../src/registry/auth/challenge.js';
import type { CredentialProvider, Credentials, Scope } from '../../src/registry/client-types.js';

const REALM = 'https://auth.example.com/token';
const AUTH_ORIGIN = 'https://auth.example.com';
const PASSWORD = 'p4ss-w0rd-s3cret';
const BASIC_B64 = Buffer.from(`alice:${PASSWORD}`).toString('base64');

function bearer(scope?: string, extra = ''): string {
  return `Bearer realm="${REALM}",service="registry.example.com"${scope ? `,scope="${scope}"` : ''}${extra}`;
}

function provider(credentials: Credentials | undefined): CredentialProvider & { calls: number } {
  return {
    calls: 0,
    async credentialsFor() {
      this.calls++;
      return credentials;
    },
    describeLookup: (registry) => `inputs username/password, /home/u/.docker/config.json (auths["${registry}"])`,
  };
}

const basicCreds: Credentials = { kind: 'basic', username: 'alice', password: PASSWORD, source: 'config.json auths["registry.example.com"]' };

interface Captured {
  path: string;
  method: string;
  headers: Record<string, string>;
  body: string;
}

function headersOf(opts: { headers?: unknown }): Record<string, string> {
  const result: Record<string, string> = {};
  const h = opts.headers;
  if (h && typeof h === 'object') {
    for (const [k, v] of Object.entries(h as Record<string, unknown>)) result[k.toLowerCase()] = String(v);
  }
  return result;
}

function queryOf(path: string): URLSearchParams {
  return new URL(path, AUTH_ORIGIN).searchParams;
}

let agent: MockAgent;
let captured: Captured[];
let secrets: string[];
/** the transport of the last auth made: its stats are the token requests sent */
let transport: Transport | undefined;
let logger: ReturnType<typeof createMemoryLogger>;
let clock: number;

beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
  captured = [];
  secrets = [];
  transport = undefined;
  logger = createMemoryLogger();
  clock = Date.parse('2025-01-01T00:00:00Z');
});

afterEach(async () => {
  await agent.close();
});

/** Every HTTP exchange the auth's transport made, by kind (tests use one kind at a time). */
function requests(): string[] {
  return Object.entries(transport?.stats().byKind ?? {}).flatMap(([kind, n]) => Array<string>(n).fill(kind));
}

/** A RegistryAuth whose token requests go through a real transport over the MockAgent. */
function authWith(credentials: CredentialProvider, insecureRegistries: string[] = [], maxAttempts = 3): RegistryAuth {
  transport = new Transport({
    createAuth: (tokens) => new RegistryAuth({ credentials, tokens, logger, onSecret: (s) => secrets.push(s), insecureRegistries, now: () => clock }),
    credentials,
    logger,
    insecureRegistries,
    dispatcher: agent,
    connectionsPerOrigin: 8,
    retry: { maxAttempts, baseDelayMs: 1, maxDelayMs: 5 },
    requestTimeoutMs: 60_000,
    userAgent: 'manifest-merge-test',
  });
  return transport.auth as RegistryAuth;
}

function makeAuth(credentials: Credentials | undefined, extra: { insecureRegistries?: string[] } = {}): { auth: RegistryAuth; creds: CredentialProvider & { calls: number } } {
  const creds = provider(credentials);
  return { auth: authWith(creds, extra.insecureRegistries ?? []), creds };
}

/** Token endpoint answering `reply` for `times` requests, recording each request. */
function tokenEndpoint(
  reply: { status?: number; json?: unknown; raw?: string; headers?: Record<string, string> },
  options: { method?: string; origin?: string; path?: string; times?: number; delay?: number } = {},
): void {
  const scope = agent
    .get(options.origin ?? AUTH_ORIGIN)
    .intercept({ path: (p) => p.split('?')[0] === (options.path ?? '/token'), method: options.method ?? 'GET' })
    .reply((opts) => {
      captured.push({ path: opts.path, method: opts.method, headers: headersOf(opts), body: typeof opts.body === 'string' ? opts.body : '' });
      return {
        statusCode: reply.status ?? 200,
        data: reply.raw ?? JSON.stringify(reply.json ?? {}),
        responseOptions: { headers: { 'content-type': reply.raw ? 'text/html' : 'application/json', ...reply.headers } },
      };
    });
  if (options.times) scope.times(options.times);
  if (options.delay) scope.delay(options.delay);
}

const pull = (repository: string): Scope => ({ repository, actions: ['pull'] });
const pullPush = (repository: string): Scope => ({ repository, actions: ['pull', 'push'] });

describe('parseWwwAuthenticate', () => {
  it.each<[string, string, AuthChallenge[]]>([
    [
      'docker hub bearer',
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
      [{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' } }],
    ],
    ['basic', 'Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    [
      'comma inside a quoted value',
      'Bearer realm="https://ghcr.io/token",scope="repository:acme/app:pull,push"',
      [{ scheme: 'bearer', params: { realm: 'https://ghcr.io/token', scope: 'repository:acme/app:pull,push' } }],
    ],
    ['escaped quotes and backslashes', 'Basic realm="a \\"quoted\\" \\\\ realm"', [{ scheme: 'basic', params: { realm: 'a "quoted" \\ realm' } }]],
    [
      'several challenges',
      'Basic realm="r1", Bearer realm="https://a.example/token", service="a.example"',
      [
        { scheme: 'basic', params: { realm: 'r1' } },
        { scheme: 'bearer', params: { realm: 'https://a.example/token', service: 'a.example' } },
      ],
    ],
    [
      'case-insensitive scheme and names, unquoted tokens, spaces around =',
      'BEARER Realm=https://a.example/token , SERVICE = a.example',
      [{ scheme: 'bearer', params: { realm: 'https://a.example/token', service: 'a.example' } }],
    ],
    [
      'insufficient_scope error',
      'Bearer realm="https://r/token",service="r",scope="repository:a:pull,push",error="insufficient_scope"',
      [{ scheme: 'bearer', params: { realm: 'https://r/token', service: 'r', scope: 'repository:a:pull,push', error: 'insufficient_scope' } }],
    ],
    [
      'token68 challenge before a parameter challenge',
      'Negotiate YII=, Basic realm="x"',
      [
        { scheme: 'negotiate', params: { token68: 'YII=' } },
        { scheme: 'basic', params: { realm: 'x' } },
      ],
    ],
    ['scheme without parameters', 'Basic', [{ scheme: 'basic', params: {} }]],
    ['empty header', '', []],
    ['first of duplicate parameters wins', 'Bearer realm="a", realm="b"', [{ scheme: 'bearer', params: { realm: 'a' } }]],
  ])('%s', (_name, header, expected) => {
    expect(parseWwwAuthenticate(header)).toEqual(expected);
  });
});

describe('formatScopes', () => {
  it('merges actions per repository in a deterministic order', () => {
    expect(
      formatScopes([
        { repository: 'b/two', actions: ['push'] },
        { repository: 'a/one', actions: ['pull'] },
        { repository: 'b/two', actions: ['pull'] },
        { repository: 'a/one', actions: ['pull'] },
      ]),
    ).toEqual(['repository:a/one:pull', 'repository:b/two:pull,push']);
  });

  it('drops scopes without actions', () => {
    expect(formatScopes([{ repository: 'x', actions: [] }])).toEqual([]);
  });
});

describe('RegistryAuth bearer tokens', () => {
  it('asks for every scope in one GET with Basic credentials and registers each secret', async () => {
    tokenEndpoint({ json: { token: 'tok-1', expires_in: 300 } });
    const { auth } = makeAuth(basicCreds);
    auth.declareScopes('registry.example.com', [pull('acme/src'), pullPush('acme/app')]);

    const header = await auth.authorize('registry.example.com', bearer('repository:acme/challenge:pull'), [pull('acme/app')]);

    expect(header).toBe('Bearer tok-1');
    expect(captured).toHaveLength(1);
    expect(requests()).toEqual(['GET token']);
    const query = queryOf(captured[0].path);
    expect(query.getAll('scope')).toEqual(['repository:acme/app:pull,push', 'repository:acme/challenge:pull', 'repository:acme/src:pull']);
    expect(query.get('service')).toBe('registry.example.com');
    expect(query.get('account')).toBe('alice');
    expect(captured[0].headers.authorization).toBe(`Basic ${BASIC_B64}`);
    expect(captured[0].headers['user-agent']).toBe('manifest-merge-test');
    expect(secrets).toEqual(expect.arrayContaining([PASSWORD, BASIC_B64, 'tok-1']));
    expect(logger.lines.join('\n')).not.toContain(PASSWORD);
    expect(logger.lines.join('\n')).not.toContain(BASIC_B64);
  });

  it('accepts access_token as the token field', async () => {
    tokenEndpoint({ json: { access_token: 'tok-access' } });
    const { auth } = makeAuth(basicCreds);
    await expect(auth.authorize('registry.example.com', bearer(), [pull('a')])).resolves.toBe('Bearer tok-access');
  });

  it('requests an anonymous token when there are no credentials', async () => {
    tokenEndpoint({ json: { token: 'anon' } });
    const { auth } = makeAuth(undefined);

    await expect(auth.authorize('registry.example.com', bearer('repository:library/alpine:pull'), [pull('library/alpine')])).resolves.toBe('Bearer anon');
    expect(captured[0].headers.authorization).toBeUndefined();
    expect(queryOf(captured[0].path).get('account')).toBeNull();
    expect(queryOf(captured[0].path).getAll('scope')).toEqual(['repository:library/alpine:pull']);
  });

  it('returns undefined when the anonymous token is refused', async () => {
    tokenEndpoint({ status: 401, json: { details: 'access denied' } });
    const { auth } = makeAuth(undefined);
    await expect(auth.authorize('registry.example.com', bearer(), [pull('private/app')])).resolves.toBeUndefined();
  });

  it('exchanges an identity token with an OAuth2 refresh-token POST', async () => {
    tokenEndpoint({ json: { access_token: 'oauth-tok', refresh_token: 'new-refresh', expires_in: 600 } }, { method: 'POST' });
    const { auth } = makeAuth({ kind: 'identity-token', token: 'refresh-123', source: 'config.json auths["registry.example.com"]' });
    auth.declareScopes('registry.example.com', [pull('acme/src')]);

    await expect(auth.authorize('registry.example.com', bearer(), [pullPush('acme/app')])).resolves.toBe('Bearer oauth-tok');

    expect(requests()).toEqual(['POST token']);
    expect(captured[0].headers['content-type']).toBe('application/x-www-form-urlencoded');
    const form = new URLSearchParams(captured[0].body);
    expect(Object.fromEntries(form)).toEqual({
      grant_type: 'refresh_token',
      service: 'registry.example.com',
      client_id: 'manifest-merge',
      refresh_token: 'refresh-123',
      scope: 'repository:acme/app:pull,push repository:acme/src:pull',
    });
    expect(captured[0].path).toBe('/token');
    expect(secrets).toEqual(expect.arrayContaining(['refresh-123', 'oauth-tok', 'new-refresh']));
  });

  it('uses a registry token directly, without a token request', async () => {
    const { auth } = makeAuth({ kind: 'registry-token', token: 'reg-tok', source: 'config.json auths["r"]' });
    await expect(auth.authorize('registry.example.com', bearer(), [pull('a')])).resolves.toBe('Bearer reg-tok');
    expect(auth.cachedAuthorization('registry.example.com', [pullPush('other')])).toBe('Bearer reg-tok');
    expect(requests()).toEqual([]);
    expect(secrets).toContain('reg-tok');
  });

  it('answers the Bearer challenge when a header offers Basic and Bearer', async () => {
    tokenEndpoint({ json: { token: 'tok-b' } });
    const { auth } = makeAuth(basicCreds);
    await expect(auth.authorize('registry.example.com', `Basic realm="x", ${bearer()}`, [pull('a')])).resolves.toBe('Bearer tok-b');
  });

  it('retries a token request that met a 503', async () => {
    tokenEndpoint({ status: 503, json: {} }, { times: 1 });
    tokenEndpoint({ json: { token: 'after-retry' } });
    const { auth } = makeAuth(basicCreds);
    await expect(auth.authorize('registry.example.com', bearer(), [pull('a')])).resolves.toBe('Bearer after-retry');
    expect(requests()).toEqual(['GET token', 'GET token']);
  });

  it('asks again with only the needed scopes when the token service refuses the declared ones', async () => {
    tokenEndpoint({ status: 403, json: {} }, { times: 1 });
    tokenEndpoint({ json: { token: 'narrow' } });
    const { auth } = makeAuth(basicCreds);
    auth.declareScopes('registry.example.com', [pull('forbidden/repo')]);

    await expect(auth.authorize('registry.example.com', bearer(), [pull('acme/app')])).resolves.toBe('Bearer narrow');
    expect(queryOf(captured[0].path).getAll('scope')).toEqual(['repository:acme/app:pull', 'repository:forbidden/repo:pull']);
    expect(queryOf(captured[1].path).getAll('scope')).toEqual(['repository:acme/app:pull']);
    expect(auth.cachedAuthorization('registry.example.com', [pull('acme/app')])).toBe('Bearer narrow');
    expect(auth.cachedAuthorization('registry.example.com', [pull('forbidden/repo')])).toBeUndefined();
  });
});

describe('RegistryAuth cache', () => {
  it('knows nothing before the first challenge', () => {
    const { auth } = makeAuth(basicCreds);
    expect(auth.cachedAuthorization('registry.example.com', [pull('a')])).toBeUndefined();
  });

  it('serves a covering token from cache without a second request', async () => {
    tokenEndpoint({ json: { token: 'tok-cache', expires_in: 300 } }, { times: 1 });
    const { auth } = makeAuth(basicCreds);
    auth.declareScopes('registry.example.com', [pull('acme/src'), pullPush('acme/app')]);

    await auth.authorize('registry.example.com', bearer(), [pull('acme/src')]);
    expect(auth.cachedAuthorization('registry.example.com', [pullPush('acme/app'), pull('acme/src')])).toBe('Bearer tok-cache');
    expect(auth.cachedAuthorization('registry.example.com', [pull('acme/unknown')])).toBeUndefined();
    // a 401 on an anonymous request that a concurrent call already got a token for
    await expect(auth.authorize('registry.example.com', bearer(), [pull('acme/app')])).resolves.toBe('Bearer tok-cache');
    expect(requests()).toEqual(['GET token']);
    agent.assertNoPendingInterceptors();
  });

  it('drops a token before it expires, and defaults the lifetime to 60 s', async () => {
    tokenEndpoint({ json: { token: 'short' } }, { times: 1 });
    tokenEndpoint({ json: { token: 'long', expires_in: 3600 } }, { times: 1 });
    const { auth } = makeAuth(basicCreds);
    const start = clock;

    await auth.authorize('registry.example.com', bearer(), [pull('a')]);
    clock = start + 40_000;
    expect(auth.cachedAuthorization('registry.example.com', [pull('a')])).toBe('Bearer short');
    clock = start + 55_000; // within the margin before 60 s
    expect(auth.cachedAuthorization('registry.example.com', [pull('a')])).toBeUndefined();

    await auth.authorize('registry.example.com', bearer(), [pull('a')]);
    clock += 3_000_000;
    expect(auth.cachedAuthorization('registry.example.com', [pull('a')])).toBe('Bearer long');
    clock += 600_000;
    expect(auth.cachedAuthorization('registry.example.com', [pull('a')])).toBeUndefined();
    expect(requests()).toHaveLength(2);
  });

  it('counts the lifetime from issued_at when the service says when it issued the token', async () => {
    const issued = new Date(clock - 100_000).toISOString();
    tokenEndpoint({ json: { token: 'old', expires_in: 300, issued_at: issued } });
    const { auth } = makeAuth(basicCreds);
    await auth.authorize('registry.example.com', bearer(), [pull('a')]);
    clock += 150_000;
    expect(auth.cachedAuthorization('registry.example.com', [pull('a')])).toBe('Bearer old');
    clock += 50_000; // 300 s after issued_at, minus the margin
    expect(auth.cachedAuthorization('registry.example.com', [pull('a')])).toBeUndefined();
  });

  it('widens the token on insufficient_scope', async () => {
    tokenEndpoint({ json: { token: 'pull-only', expires_in: 300 } }, { times: 1 });
    tokenEndpoint({ json: { token: 'pull-push', expires_in: 300 } }, { times: 1 });
    const { auth } = makeAuth(basicCreds);

    await auth.authorize('registry.example.com', bearer('repository:acme/app:pull'), [pull('acme/app')]);
    expect(auth.cachedAuthorization('registry.example.com', [pullPush('acme/app')])).toBeUndefined();

    const header = await auth.authorize(
      'registry.example.com',
      bearer('repository:acme/app:pull,push repository:acme/other:pull', ',error="insufficient_scope"'),
      [pull('acme/app')],
    );
    expect(header).toBe('Bearer pull-push');
    expect(queryOf(captured[1].path).getAll('scope')).toEqual(['repository:acme/app:pull,push', 'repository:acme/other:pull']);
    expect(auth.cachedAuthorization('registry.example.com', [pullPush('acme/app'), pull('acme/other')])).toBe('Bearer pull-push');
  });

  it('fetches a new token when the registry rejects one that covers the scopes', async () => {
    tokenEndpoint({ json: { token: 'first', expires_in: 300 } }, { times: 1 });
    tokenEndpoint({ json: { token: 'second', expires_in: 300 } }, { times: 1 });
    const { auth } = makeAuth(basicCreds);
    await auth.authorize('registry.example.com', bearer(), [pull('a')]);
    await expect(auth.authorize('registry.example.com', bearer('repository:a:pull', ',error="invalid_token"'), [pull('a')])).resolves.toBe('Bearer second');
    expect(auth.cachedAuthorization('registry.example.com', [pull('a')])).toBe('Bearer second');
  });

  it('never hands out again the token the refused request carried', async () => {
    tokenEndpoint({ json: { token: 'first', expires_in: 300 } }, { times: 1 });
    tokenEndpoint({ json: { token: 'second', expires_in: 300 } }, { times: 1 });
    const { auth } = makeAuth(basicCreds);
    await auth.authorize('registry.example.com', bearer(), [pull('a')]);
    // no error= in the challenge (some registries leave it out): the sent header tells
    await expect(auth.authorize('registry.example.com', bearer(), [pull('a')], 'Bearer first')).resolves.toBe('Bearer second');
    expect(requests()).toEqual(['GET token', 'GET token']);
  });

  it('hands out the token a concurrent refused request already fetched, instead of asking again', async () => {
    tokenEndpoint({ json: { token: 'first', expires_in: 300 } }, { times: 1 });
    tokenEndpoint({ json: { token: 'second', expires_in: 300 } }, { times: 1 });
    const { auth } = makeAuth(basicCreds);
    await auth.authorize('registry.example.com', bearer(), [pull('a')]);
    // two requests went out with 'first'; the registry refused both (expired); the first 401 gets 'second'…
    await expect(auth.authorize('registry.example.com', bearer('repository:a:pull', ',error="invalid_token"'), [pull('a')], 'Bearer first')).resolves.toBe('Bearer second');
    // …and the later 401 for the same old token gets 'second' too, without a third token request
    await expect(auth.authorize('registry.example.com', bearer('repository:a:pull', ',error="invalid_token"'), [pull('a')], 'Bearer first')).resolves.toBe('Bearer second');
    expect(requests()).toEqual(['GET token', 'GET token']);
  });

  it('asks again when the refused header is the newest token (one re-request on insufficient_scope)', async () => {
    tokenEndpoint({ json: { token: 'narrow', expires_in: 300 } }, { times: 1 });
    tokenEndpoint({ json: { token: 'wide', expires_in: 300 } }, { times: 1 });
    const { auth } = makeAuth(basicCreds);
    await auth.authorize('registry.example.com', bearer(), [pullPush('a')]);
    const header = await auth.authorize('registry.example.com', bearer('repository:a:pull,push', ',error="insufficient_scope"'), [pullPush('a')], 'Bearer narrow');
    expect(header).toBe('Bearer wide');
    expect(queryOf(captured[1].path).getAll('scope')).toEqual(['repository:a:pull,push']);
  });

  it('shares one token request between concurrent calls (single flight)', async () => {
    tokenEndpoint({ json: { token: 'shared', expires_in: 300 } }, { times: 1, delay: 20 });
    const { auth } = makeAuth(basicCreds);
    const [a, b] = await Promise.all([
      auth.authorize('registry.example.com', bearer(), [pull('acme/app')]),
      auth.authorize('registry.example.com', bearer(), [pull('acme/app')]),
    ]);
    expect(a).toBe('Bearer shared');
    expect(b).toBe('Bearer shared');
    expect(requests()).toEqual(['GET token']);
    expect(captured).toHaveLength(1);
  });

  it('keeps registries apart', async () => {
    tokenEndpoint({ json: { token: 'for-one', expires_in: 300 } });
    const { auth } = makeAuth(basicCreds);
    await auth.authorize('one.example.com', bearer(), [pull('a')]);
    expect(auth.cachedAuthorization('two.example.com', [pull('a')])).toBeUndefined();
  });
});

describe('RegistryAuth credentialSource', () => {
  it('is undefined while anonymous, then names where the credentials came from', async () => {
    tokenEndpoint({ json: { token: 'anon' } });
    const anonymous = makeAuth(undefined).auth;
    await anonymous.authorize('registry.example.com', bearer(), [pull('a')]);
    expect(anonymous.credentialSource('registry.example.com')).toBeUndefined();

    const { auth } = makeAuth(basicCreds);
    expect(auth.credentialSource('localhost:5000')).toBeUndefined();
    await auth.authorize('localhost:5000', 'Basic realm="r"', [pull('a')]);
    expect(auth.credentialSource('localhost:5000')).toBe(basicCreds.source);
  });
});

describe('RegistryAuth when the credential lookup fails (a broken credential helper)', () => {
  const helperError = () => new CredentialsError('Credential helper docker-credential-desktop failed for registry.example.com (configured by credsStore in /home/u/.docker/config.json; exit code 1)');

  function failingAuth(error: Error = helperError()): RegistryAuth {
    return authWith({ credentialsFor: () => Promise.reject(error), describeLookup: () => 'credsStore "desktop"' }, [], 1);
  }

  it('tries an anonymous token for a pull, warning once naming the helper and the registry', async () => {
    tokenEndpoint({ json: { token: 'anon', expires_in: 300 } }, { times: 1 });
    const auth = failingAuth();
    await expect(auth.authorize('registry.example.com', bearer('repository:public/app:pull'), [pull('public/app')])).resolves.toBe('Bearer anon');
    expect(captured[0].headers.authorization).toBeUndefined();
    // another anonymous 401 (a concurrent request) gets the cached token, with no second warning
    await expect(auth.authorize('registry.example.com', bearer('repository:public/app:pull'), [pull('public/app')])).resolves.toBe('Bearer anon');
    const warnings = logger.lines.filter((l) => l.startsWith('warning:'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('docker-credential-desktop');
    expect(warnings[0]).toContain('registry.example.com');
    expect(warnings[0]).toContain('anonymous');
    expect(requests()).toEqual(['GET token']);
  });

  it('throws the helper error when the registry refuses the anonymous token', async () => {
    tokenEndpoint({ status: 401, json: { details: 'access denied' } }, { times: 1 });
    await expect(failingAuth().authorize('registry.example.com', bearer(), [pull('private/app')])).rejects.toThrow(/docker-credential-desktop failed for registry\.example\.com/);
  });

  it('throws the helper error when the anonymous token was not enough (the registry refused it)', async () => {
    tokenEndpoint({ json: { token: 'anon', expires_in: 300 } }, { times: 1 });
    const auth = failingAuth();
    await auth.authorize('registry.example.com', bearer(), [pull('private/app')]);
    await expect(auth.authorize('registry.example.com', bearer('repository:private/app:pull', ',error="insufficient_scope"'), [pull('private/app')], 'Bearer anon')).rejects.toBeInstanceOf(
      CredentialsError,
    );
    expect(requests()).toEqual(['GET token']);
  });

  it.each([
    ['a push', bearer(), [pullPush('acme/app')]],
    ['a push the challenge asks for', bearer('repository:acme/app:pull,push'), [pull('acme/app')]],
    ['a Basic challenge', 'Basic realm="r"', [pull('acme/app')]],
  ])('throws the helper error at once for %s, asking for no token', async (_name, challenge, scopes) => {
    await expect(failingAuth().authorize('registry.example.com', challenge, scopes)).rejects.toBeInstanceOf(CredentialsError);
    expect(requests()).toEqual([]);
  });

  it('rethrows anything that is not a CredentialsError', async () => {
    await expect(failingAuth(new Error('bug')).authorize('registry.example.com', bearer(), [pull('a')])).rejects.toThrow('bug');
    expect(requests()).toEqual([]);
  });
});

describe('RegistryAuth Basic', () => {
  it('answers Basic with the credentials, and remembers it for the registry', async () => {
    const { auth } = makeAuth(basicCreds);
    await expect(auth.authorize('localhost:5000', 'Basic realm="Registry Realm"', [pull('a')])).resolves.toBe(`Basic ${BASIC_B64}`);
    expect(auth.cachedAuthorization('localhost:5000', [pullPush('b')])).toBe(`Basic ${BASIC_B64}`);
    expect(secrets).toEqual(expect.arrayContaining([PASSWORD, BASIC_B64]));
    expect(requests()).toEqual([]);
  });

  it('has nothing to answer Basic with when there are no credentials', async () => {
    const { auth } = makeAuth(undefined);
    await expect(auth.authorize('localhost:5000', 'Basic realm="Registry Realm"', [pull('a')])).resolves.toBeUndefined();
    expect(auth.cachedAuthorization('localhost:5000', [pull('a')])).toBeUndefined();
  });

  it('returns undefined for an unsupported scheme', async () => {
    const { auth } = makeAuth(basicCreds);
    await expect(auth.authorize('r.example.com', 'Negotiate abc==', [pull('a')])).resolves.toBeUndefined();
  });
});

describe('RegistryAuth failures', () => {
  it('reports a 401 from the token service as UNAUTHORIZED naming registry, realm and lookup, without secrets', async () => {
    tokenEndpoint({ status: 401, json: { details: 'incorrect username or password' } }, { times: 2 });
    const { auth } = makeAuth(basicCreds);
    auth.declareScopes('registry.example.com', [pull('acme/src')]);

    const error = await auth.authorize('registry.example.com', bearer(), [pull('acme/app')]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(HttpError);
    const httpError = error as HttpError;
    expect(httpError.code).toBe('UNAUTHORIZED');
    expect(httpError.status).toBe(401);
    expect(httpError.message).toContain('registry.example.com');
    expect(httpError.message).toContain(REALM);
    expect(httpError.message).toContain('config.json auths["registry.example.com"]');
    expect(httpError.message).toContain('/home/u/.docker/config.json');
    expect(httpError.message).toContain('incorrect username or password');
    for (const secret of [PASSWORD, BASIC_B64]) {
      expect(httpError.message).not.toContain(secret);
      expect(JSON.stringify(httpError.request)).not.toContain(secret);
      expect(logger.lines.join('\n')).not.toContain(secret);
    }
  });

  it('refuses to send credentials to a plain-http realm', async () => {
    const { auth } = makeAuth(basicCreds);
    const challenge = 'Bearer realm="http://auth.example.com/token",service="s"';
    const error = await auth.authorize('registry.example.com', challenge, [pull('a')]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CredentialsError);
    expect((error as CredentialsError).message).toContain('plain HTTP');
    expect((error as CredentialsError).message).toContain('http://auth.example.com/token');
    expect((error as CredentialsError).message).not.toContain(PASSWORD);
    expect(requests()).toEqual([]);
  });

  it.each([
    ['a loopback realm', 'http://127.0.0.1:5001', []],
    ['a realm listed as insecure', 'http://auth.internal:8080', ['auth.internal:8080']],
  ])('sends credentials to %s over http', async (_name, origin, insecure) => {
    tokenEndpoint({ json: { token: 'plain' } }, { origin });
    const { auth } = makeAuth(basicCreds, { insecureRegistries: insecure });
    await expect(auth.authorize('registry.example.com', `Bearer realm="${origin}/token",service="s"`, [pull('a')])).resolves.toBe('Bearer plain');
    expect(captured[0].headers.authorization).toBe(`Basic ${BASIC_B64}`);
  });

  it('sends credentials over http to a realm on the host of a registry listed as insecure', async () => {
    tokenEndpoint({ json: { token: 'beside' } }, { origin: 'http://registry.internal:5001' });
    const { auth } = makeAuth(basicCreds, { insecureRegistries: ['registry.internal:5000'] });
    await expect(auth.authorize('registry.internal:5000', 'Bearer realm="http://registry.internal:5001/token",service="s"', [pull('a')])).resolves.toBe('Bearer beside');
    // …but not to another host, even for that registry
    await expect(auth.authorize('registry.internal:5000', 'Bearer realm="http://auth.elsewhere:5001/token",service="s"', [pull('b')])).rejects.toBeInstanceOf(CredentialsError);
    expect(captured).toHaveLength(1);
  });

  it('asks a plain-http realm for an anonymous token (no credentials to protect)', async () => {
    tokenEndpoint({ json: { token: 'anon-http' } }, { origin: 'http://auth.example.com' });
    const { auth } = makeAuth(undefined);
    await expect(auth.authorize('registry.example.com', 'Bearer realm="http://auth.example.com/token"', [pull('a')])).resolves.toBe('Bearer anon-http');
  });

  it('says clearly when the token service does not answer JSON', async () => {
    tokenEndpoint({ raw: '<html>login</html>' });
    const { auth } = makeAuth(basicCreds);
    await expect(auth.authorize('registry.example.com', bearer(), [pull('a')])).rejects.toThrow(/not JSON \(content-type text\/html/);
  });

  it('says clearly when the answer has no token', async () => {
    tokenEndpoint({ json: { nothing: true } });
    const { auth } = makeAuth(basicCreds);
    await expect(auth.authorize('registry.example.com', bearer(), [pull('a')])).rejects.toThrow(/without a token/);
  });

  it('refuses an oversized token response', async () => {
    tokenEndpoint({ json: { token: 'x'.repeat(1024 * 1024 + 10) } });
    const { auth } = makeAuth(basicCreds);
    await expect(auth.authorize('registry.example.com', bearer(), [pull('a')])).rejects.toThrow(/over the 1048576 byte limit/);
  });

  it('rejects a Bearer challenge without a realm', async () => {
    const { auth } = makeAuth(basicCreds);
    await expect(auth.authorize('registry.example.com', 'Bearer service="s"', [pull('a')])).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });
});
