// The whole transport against small hostile servers: the one deadline covers token service,
// registry and body reads (defect 4); token requests are retried and counted like any other;
// secrets a server echoes never reach an error (defect 6).
import { afterEach, describe, expect, it } from '@jest/globals';
import { HttpError, TimeoutError, isTimeout } from '../../../src/base/errors.js';
import { createMemoryLogger } from '../../../src/base/logger.js';
import { createRegistryClient } from '../../../src/registry/client.js';
import type { CredentialProvider, RegistryClientOptions } from '../../../src/registry/client-types.js';
import { caught } from '../../support/caught.js';
import { json, startFakeServer, type FakeServer } from '../../support/fake-registry.js';
import { renderActionError } from '../../../src/action/wording.js';
import { renderCliError } from '../../../src/cli/wording.js';

const servers: FakeServer[] = [];
const clients: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const PASSWORD = 'pw-7c1e9a55-never-shown';
const withPassword: CredentialProvider = {
  credentialsFor: async () => ({ kind: 'basic', username: 'ci', password: PASSWORD, source: 'the username and password inputs' }),
  describeLookup: () => 'the username and password inputs',
};

function client(overrides: Partial<RegistryClientOptions>) {
  const made = createRegistryClient({
    credentials: withPassword,
    logger: createMemoryLogger(),
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
    ...overrides,
  });
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
    if (req.headers.authorization === `Bearer ${token}`)
      return json(
        res,
        200,
        { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] },
        { 'content-type': 'application/vnd.oci.image.index.v1+json' },
      );
    json(
      res,
      401,
      { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] },
      { 'www-authenticate': `Bearer realm="${realm}",service="fake"` },
    );
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
    expect((error as TimeoutError).facts).toMatchObject({
      wait: 'registry',
      registry: registry.host,
      repository: 'acme/app',
      reference: 'v1',
    });
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
      if (!req.headers.authorization)
        return json(res, 401, {}, { 'www-authenticate': `Bearer realm="${tokens.url}/token",service="fake"` });
      const sent = String(req.headers.authorization).slice('Bearer '.length);
      json(res, 400, { errors: [{ code: 'MANIFEST_INVALID', message: `you sent ${sent} for acme/app` }] });
    });
    const c = client({ retry: { maxAttempts: 1 } });
    const error = await caught(c.fetchManifest({ registry: registry.host, repository: 'acme/app' }, 'v1'));
    expect(error).toBeInstanceOf(HttpError);
    for (const render of [renderActionError, renderCliError]) {
      const shown = render(error);
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
    for (const render of [renderActionError, renderCliError]) {
      const shown = render(error);
      expect(shown).toContain('account ci:*** is malformed');
      expect(shown).not.toContain(PASSWORD);
    }
  });
});
