// The transport's layers, each alone (stubbed sends), then the whole against small hostile
// servers: the one deadline covers token service, registry and body reads (defect 4); token
// requests are retried and counted like any other; secrets a server echoes never reach an error
// (defect 6).
import { afterEach, describe, expect, it } from '@jest/globals';
import { HttpError, TimeoutError, TransientError, renderError, isTimeout } from '../../../src/base/errors.js';
import { InsecurePolicy } from '../../../src/oci/hosts.js';
import { createMemoryLogger, silentLogger } from '../../../src/base/logger.js';
import { createRegistryClient } from '../../../src/registry/client.js';
import { Retrier, parseRetryAfter, RETRYABLE_STATUS } from '../../../src/registry/transport/retry.js';
import { SchemeLayer } from '../../../src/registry/transport/scheme.js';
import { counted, RequestCounter } from '../../../src/registry/transport/stats.js';
import { StatusErrors, redactUrl } from '../../../src/registry/transport/status.js';
import type { Exchange, Send } from '../../../src/registry/transport/http.js';
import type { CredentialProvider, RegistryClientOptions } from '../../../src/registry/client-types.js';
import { json, startFakeServer, type FakeServer } from '../../support/fake-registry.js';

const servers: FakeServer[] = [];
const clients: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

const ok = (): ReturnType<Send> => Promise.resolve({ status: 200, headers: {}, body: undefined as never });

describe('retry layer (alone)', () => {
  const final = () => new HttpError('HTTP', 'Manifest x: unexpected response: GET u returned 503', { method: 'GET', url: 'u' }, 503);

  it('retries a TransientError, counts the retry, and unwraps `final` once attempts run out', async () => {
    const counter = new RequestCounter();
    const retrier = new Retrier({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 }, logger: silentLogger, counter });
    let calls = 0;
    const error = await caught(
      retrier.run('Manifest x', async () => {
        calls++;
        throw new TransientError(final(), 'GET returned 503');
      }),
    );
    expect(calls).toBe(3);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).not.toBeInstanceOf(TransientError);
    expect(counter.stats().retries).toBe(2);
  });

  it('never waits past the deadline: a Retry-After beyond it is a TimeoutError that says "timed out" and which wait', async () => {
    const retrier = new Retrier({ retry: { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 60_000 }, deadline: Date.now() + 1_000, logger: silentLogger, counter: new RequestCounter() });
    const started = Date.now();
    const error = await caught(
      retrier.run(
        'Token',
        async () => {
          throw new TransientError(final(), 'busy', 30_000);
        },
        'token service',
      ),
    );
    expect(Date.now() - started).toBeLessThan(500);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).facts.wait).toBe('token service');
    expect((error as TimeoutError).summary).toContain('timed out');
  });

  it('caps a deadline signal at what a timer can hold (a huge budget does not overflow into an instant abort)', () => {
    const retrier = new Retrier({ retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 }, deadline: Date.now() + 10 * 365 * 24 * 3600 * 1000, logger: silentLogger, counter: new RequestCounter() });
    const signal = retrier.signal();
    expect(signal?.aborted).toBe(false);
  });

  it('retries 408 like 429 and the 5xx gateway family; parses Retry-After seconds and dates', () => {
    expect([...RETRYABLE_STATUS].sort()).toEqual([408, 429, 500, 502, 503, 504]);
    expect(parseRetryAfter('7')).toBe(7000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('stats layer (alone)', () => {
  it('counts answered and failed exchanges by kind, but not a failed HTTPS probe', async () => {
    const counter = new RequestCounter();
    const failing: Send = () => Promise.reject(new Error('ECONNREFUSED'));
    const exchange = (kind: string, probe = false): Exchange => ({ url: 'https://r/v2/', method: 'GET', headers: {}, kind, probe });
    await counted(ok, counter)(exchange('GET manifest'));
    await caught(counted(failing, counter)(exchange('GET manifest')));
    await caught(counted(failing, counter)(exchange('GET manifest', true)));
    await counted(ok, counter)(exchange('GET token'));
    expect(counter.stats()).toEqual({ requests: 3, byKind: { 'GET manifest': 2, 'GET token': 1 }, retries: 0 });
  });
});

describe('scheme layer (alone)', () => {
  function recording(fail: (url: string) => boolean = () => false) {
    const sent: Exchange[] = [];
    const send: Send = (exchange) => {
      sent.push(exchange);
      return fail(exchange.url) ? Promise.reject(Object.assign(new Error('wrong version number'), { code: 'EPROTO' })) : ok();
    };
    return { sent, send };
  }

  it('falls back to plain HTTP only where the insecure policy allows, with unverified TLS for those hosts', async () => {
    const { sent, send } = recording((url) => url.startsWith('https:'));
    const layer = new SchemeLayer(send, new InsecurePolicy(['registry.internal']), silentLogger);
    const response = await layer.exchange({ registry: 'registry.internal:5000', url: 'https://registry.internal:5000/v2/', method: 'GET', headers: {}, kind: 'GET ping' });
    expect(response.url).toBe('http://registry.internal:5000/v2/');
    expect(sent.map((e) => [e.url, e.insecureTls, e.probe])).toEqual([
      ['https://registry.internal:5000/v2/', true, true],
      ['http://registry.internal:5000/v2/', false, false],
    ]);
    expect(layer.origin('registry.internal:5000')).toBe('http://registry.internal:5000');

    const other = new SchemeLayer(recording((url) => url.startsWith('https:')).send, new InsecurePolicy([]), silentLogger);
    await expect(other.exchange({ registry: 'ghcr.io', url: 'https://ghcr.io/v2/', method: 'GET', headers: {}, kind: 'GET ping' })).rejects.toThrow('wrong version number');
  });

  it('never sends Authorization over plain HTTP to a host the policy does not allow', async () => {
    const { sent, send } = recording();
    const layer = new SchemeLayer(send, new InsecurePolicy([]), silentLogger);
    await layer.sendTo({ url: '', method: 'GET', headers: { authorization: 'Bearer x' }, kind: 'GET blob' }, 'http://storage.example.net/blob');
    await layer.sendTo({ url: '', method: 'GET', headers: { authorization: 'Bearer x' }, kind: 'GET blob' }, 'http://127.0.0.1:9/blob');
    expect(sent.map((e) => e.headers.authorization)).toEqual([undefined, 'Bearer x']);
  });
});

describe('status layer (alone)', () => {
  const credentials: CredentialProvider = { credentialsFor: async () => undefined, describeLookup: () => '~/.docker/config.json' };

  it('gives a 401 the facts and advice for each surface', () => {
    const error = new StatusErrors({ credentials, credentialSource: () => undefined }).statusError(
      { what: 'Manifest ghcr.io/acme/app:1', method: 'GET', registry: 'ghcr.io', facts: { repository: 'acme/app', reference: '1' } },
      'https://ghcr.io/v2/acme/app/manifests/1?X-Amz-Signature=secret',
      401,
      [{ code: 'UNAUTHORIZED', message: 'authentication required' }],
    );
    expect(error.facts).toMatchObject({ registry: 'ghcr.io', repository: 'acme/app', reference: '1', status: 401, method: 'GET', registryCodes: ['UNAUTHORIZED'] });
    expect(error.facts.url).toBe('https://ghcr.io/v2/acme/app/manifests/1?X-Amz-Signature=REDACTED');
    expect(renderError(error, 'action')).toContain('Log in with docker/login-action');
    expect(renderError(error, 'cli')).toContain('Run `docker login` for that registry first');
    expect(renderError(error, 'cli')).not.toMatch(/docker\/login-action|inputs?\b/);
  });

  it('redacts signed query parameters, and survives a malformed escape', () => {
    expect(redactUrl('https://s/b?sig=abc&part=1&%E0%A4%A=x')).toBe('https://s/b?sig=REDACTED&part=1&%E0%A4%A=x');
  });
});

// ---- the whole transport against hostile servers ----------------------------------------

const PASSWORD = 'pw-7c1e9a55-never-shown';
const withPassword: CredentialProvider = {
  credentialsFor: async () => ({ kind: 'basic', username: 'ci', password: PASSWORD, source: 'the username and password inputs' }),
  describeLookup: () => 'the username and password inputs',
};

function client(overrides: Partial<RegistryClientOptions>) {
  const made = createRegistryClient({ credentials: withPassword, logger: createMemoryLogger(), retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 }, ...overrides });
  clients.push(made);
  return made;
}

async function server(handler: Parameters<typeof startFakeServer>[0]): Promise<FakeServer> {
  const made = await startFakeServer(handler);
  servers.push(made);
  return made;
}

/** A registry asking for a Bearer token from `realm` until it gets `token`. */
async function bearerRegistry(realm: string, token = 'tok-0f3a-good'): Promise<FakeServer> {
  return server((req, res) => {
    if (req.headers.authorization === `Bearer ${token}`) return json(res, 200, { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }, { 'content-type': 'application/vnd.oci.image.index.v1+json' });
    json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }, { 'www-authenticate': `Bearer realm="${realm}",service="fake"` });
  });
}

describe('the one deadline covers every wait (defect 4)', () => {
  it('a token service that never answers ends at the deadline with a TimeoutError naming the token service', async () => {
    const tokens = await server(() => undefined); // accepts, never answers
    const registry = await bearerRegistry(`${tokens.url}/token`);
    const c = client({ deadline: Date.now() + 1_000, requestTimeoutMs: 60_000 });
    const started = Date.now();
    const error = await caught(c.fetchManifest({ registry: registry.host, repository: 'acme/app' }, 'v1'));
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(isTimeout(error)).toBe(true);
    const timeout = error as TimeoutError;
    expect(timeout.facts.wait).toBe('token service');
    expect(timeout.facts.registry).toBe(registry.host);
    expect(timeout.summary).toMatch(/timed out/);
    expect(timeout.summary).toContain('token service');
    expect(tokens.requests).toHaveLength(1);
  });

  it('a registry that never answers ends at the deadline with a TimeoutError naming the registry', async () => {
    const registry = await server(() => undefined);
    const c = client({ deadline: Date.now() + 800 });
    const started = Date.now();
    const error = await caught(c.fetchManifest({ registry: registry.host, repository: 'acme/app' }, 'v1'));
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).facts).toMatchObject({ wait: 'registry', registry: registry.host, repository: 'acme/app', reference: 'v1' });
    expect((error as TimeoutError).summary).toContain('timed out: no answer from the registry');
  });

  it('a body that stalls after the headers ends at the deadline too', async () => {
    const registry = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', 'content-length': '1000' });
      res.write('{"schemaVersion":');
    });
    const c = client({ deadline: Date.now() + 800 });
    const error = await caught(c.fetchManifest({ registry: registry.host, repository: 'acme/app' }, 'v1'));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).facts.wait).toBe('registry');
  });
});

describe('token requests go through the same layers', () => {
  it('a token service answering 408 is retried, and both exchanges are counted', async () => {
    let calls = 0;
    const tokens = await server((_req, res) => (++calls === 1 ? json(res, 408, {}) : json(res, 200, { token: 'tok-0f3a-good' })));
    const registry = await bearerRegistry(`${tokens.url}/token`);
    const c = client({});
    await c.fetchManifest({ registry: registry.host, repository: 'acme/app' }, 'v1');
    expect(c.stats()).toEqual({ requests: 4, byKind: { 'GET manifest': 2, 'GET token': 2 }, retries: 1 });
  });
});

describe('secrets a server echoes never reach an error (defect 6)', () => {
  it('a token echoed in a registry error body, in no credential shape, is redacted on both surfaces', async () => {
    const token = 'tok-5d41402abc4b2a76b9719d911017c592';
    const tokens = await server((_req, res) => json(res, 200, { token }));
    const registry = await server((req, res) => {
      if (!req.headers.authorization) return json(res, 401, {}, { 'www-authenticate': `Bearer realm="${tokens.url}/token",service="fake"` });
      const sent = String(req.headers.authorization).slice('Bearer '.length);
      json(res, 400, { errors: [{ code: 'MANIFEST_INVALID', message: `you sent ${sent} for acme/app` }] });
    });
    const c = client({ retry: { maxAttempts: 1 } });
    const error = await caught(c.fetchManifest({ registry: registry.host, repository: 'acme/app' }, 'v1'));
    expect(error).toBeInstanceOf(HttpError);
    for (const surface of ['action', 'cli'] as const) {
      const shown = renderError(error, surface);
      expect(shown).toContain('you sent *** for acme/app');
      expect(shown).not.toContain(token);
    }
  });

  it('a password echoed by the token service is redacted on both surfaces', async () => {
    const tokens = await server((req, res) => {
      const basic = Buffer.from(String(req.headers.authorization).slice('Basic '.length), 'base64').toString('utf8');
      json(res, 400, { errors: [{ code: 'BAD_REQUEST', message: `account ${basic} is malformed` }] });
    });
    const registry = await bearerRegistry(`${tokens.url}/token`);
    const c = client({ retry: { maxAttempts: 1 } });
    const error = await caught(c.fetchManifest({ registry: registry.host, repository: 'acme/app' }, 'v1'));
    expect(error).toBeInstanceOf(HttpError);
    for (const surface of ['action', 'cli'] as const) {
      const shown = renderError(error, surface);
      expect(shown).toContain('account ci:*** is malformed');
      expect(shown).not.toContain(PASSWORD);
    }
  });
});
