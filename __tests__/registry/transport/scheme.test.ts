// Scheme choice: the layer alone (plain HTTP only where the insecure policy allows it, never
// Authorization over plain HTTP to another host), then through the whole client (the fallback
// remembered, one shared HTTPS attempt for parallel reads, no fallback for other registries).
import { describe, expect, it } from '@jest/globals';
import { NetworkError } from '../../../src/base/errors.js';
import { silentLogger } from '../../../src/base/logger.js';
import { InsecurePolicy } from '../../../src/oci/hosts.js';
import { MediaType } from '../../../src/oci/manifest.js';
import { caught } from '../../support/caught.js';
import {
  REGISTRY,
  AUTH_ORIGIN,
  APP,
  TOKEN,
  MANIFEST,
  MANIFEST_DIGEST,
  header,
  mockRegistryClient,
  manifestPath,
  ok,
} from '../../support/registry-clients.js';
import { SchemeLayer } from '../../../src/registry/transport/scheme.js';
import type { Exchange, Send } from '../../../src/registry/transport/http.js';

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
    const response = await layer.exchange({
      registry: 'registry.internal:5000',
      url: 'https://registry.internal:5000/v2/',
      method: 'GET',
      headers: {},
      kind: 'GET ping',
    });
    expect(response.url).toBe('http://registry.internal:5000/v2/');
    expect(sent.map((e) => [e.url, e.insecureTls, e.probe])).toEqual([
      ['https://registry.internal:5000/v2/', true, true],
      ['http://registry.internal:5000/v2/', false, false],
    ]);
    expect(layer.origin('registry.internal:5000')).toBe('http://registry.internal:5000');

    const other = new SchemeLayer(recording((url) => url.startsWith('https:')).send, new InsecurePolicy([]), silentLogger);
    await expect(
      other.exchange({ registry: 'ghcr.io', url: 'https://ghcr.io/v2/', method: 'GET', headers: {}, kind: 'GET ping' }),
    ).rejects.toThrow('wrong version number');
  });

  it('never sends Authorization over plain HTTP to a host the policy does not allow', async () => {
    const { sent, send } = recording();
    const layer = new SchemeLayer(send, new InsecurePolicy([]), silentLogger);
    await layer.sendTo(
      { url: '', method: 'GET', headers: { authorization: 'Bearer x' }, kind: 'GET blob' },
      'http://storage.example.net/blob',
    );
    await layer.sendTo({ url: '', method: 'GET', headers: { authorization: 'Bearer x' }, kind: 'GET blob' }, 'http://127.0.0.1:9/blob');
    expect(sent.map((e) => e.headers.authorization)).toEqual([undefined, 'Bearer x']);
  });
});

describe('plain HTTP', () => {
  const tlsFailure = (): Error => Object.assign(new Error('SSL routines:ssl3_get_record:wrong version number'), { code: 'EPROTO' });

  it.each([
    ['a loopback registry', 'localhost:5000', []],
    ['a registry listed as insecure', 'registry.internal:5000', ['http://registry.internal:5000/']],
  ])('falls back to HTTP for %s once HTTPS fails, and remembers it', async (_name, host, insecureRegistries) => {
    const { agent, client } = mockRegistryClient({ insecureRegistries });
    agent
      .get(`https://${host}`)
      .intercept({ path: manifestPath('1.0'), method: 'GET' })
      .replyWithError(tlsFailure());
    agent
      .get(`http://${host}`)
      .intercept({ path: manifestPath('1.0'), method: 'GET' })
      .reply(200, MANIFEST)
      .times(2);
    const repository = { registry: host, repository: 'acme/app' };
    expect((await client.fetchManifest(repository, '1.0')).digest).toBe(MANIFEST_DIGEST);
    expect((await client.fetchManifest(repository, '1.0')).digest).toBe(MANIFEST_DIGEST);
    // the failed HTTPS probe is not counted: it never became an HTTP request
    expect(client.stats()).toEqual({ requests: 2, byKind: { 'GET manifest': 2 }, retries: 0 });
  });

  it('parallel anonymous reads of a loopback registry share one HTTPS attempt, then answer the challenges with one token', async () => {
    const host = 'localhost:5000';
    const { agent, client, logger } = mockRegistryClient();
    agent
      .get(`https://${host}`)
      .intercept({ path: (p) => p.startsWith('/v2/'), method: 'GET' })
      .replyWithError(tlsFailure())
      .persist();
    agent
      .get(`http://${host}`)
      .intercept({ path: (p) => /^\/v2\/acme\/[abc]\/manifests\/1\.0$/.test(p), method: 'GET' })
      .reply((opts) =>
        header(opts, 'authorization') === `Bearer ${TOKEN}`
          ? { statusCode: 200, data: MANIFEST, responseOptions: { headers: { 'content-type': MediaType.OciManifest } } }
          : {
              statusCode: 401,
              data: '',
              responseOptions: { headers: { 'www-authenticate': `Bearer realm="${AUTH_ORIGIN}/token",service="${host}"` } },
            },
      )
      .persist();
    agent
      .get(AUTH_ORIGIN)
      .intercept({ path: (p) => p.startsWith('/token?'), method: 'GET' })
      .reply(200, { token: TOKEN, expires_in: 300 })
      .persist();
    const repositories = ['acme/a', 'acme/b', 'acme/c'];
    client.declareScopes(
      host,
      repositories.map((repository) => ({ repository, actions: ['pull'] })),
    );
    const fetched = await Promise.all(repositories.map((repository) => client.fetchManifest({ registry: host, repository }, '1.0')));
    expect(fetched.map((f) => f.digest)).toEqual([MANIFEST_DIGEST, MANIFEST_DIGEST, MANIFEST_DIGEST]);
    expect(logger.lines.filter((line) => line.includes('HTTPS failed'))).toHaveLength(1);
    expect(client.stats().byKind).toEqual({ 'GET manifest': 6, 'GET token': 1 });
  });

  it('never falls back to HTTP for other registries', async () => {
    const { agent, registry, client } = mockRegistryClient();
    registry.intercept({ path: manifestPath('1.0'), method: 'GET' }).replyWithError(tlsFailure());
    agent
      .get(`http://${REGISTRY}`)
      .intercept({ path: manifestPath('1.0'), method: 'GET' })
      .reply(200, MANIFEST);
    const error = await caught(client.fetchManifest(APP, '1.0'));
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.message).toContain('wrong version number');
    expect(client.stats().requests).toBe(1);
  });
});
