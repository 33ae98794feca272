// The auth layer through the whole client, with the real authenticator and a mocked token service:
// the first request learns the challenge alone, a 401 is answered once (once more with a wider
// token on insufficient_scope), a refused token is replaced, and a challenge from another origin
// (object storage after a redirect) is never answered.
import { describe, expect, it } from '@jest/globals';
import { HttpError } from '../../../src/base/errors.js';
import { MediaType } from '../../../src/oci/manifest.js';
import { caught } from '../../support/caught.js';
import { blob } from '../../support/fake-registry.js';
import {
  REGISTRY,
  ORIGIN,
  AUTH_ORIGIN,
  STORAGE_ORIGIN,
  APP,
  TOKEN,
  MANIFEST,
  MANIFEST_DIGEST,
  header,
  asyncData,
  mockRegistryClient,
  manifestPath,
  bearerChallenge,
  basicCredentials,
  BASIC_VALUE,
  expectNoSecrets,
} from '../../support/registry-clients.js';
import { renderActionError } from '../../../src/action/wording.js';

describe('authentication', () => {
  it('learns the challenge with the first request alone, then sends N parallel reads with one token', async () => {
    const { agent, registry, client, logger } = mockRegistryClient({ credentials: basicCredentials() });
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
    client.declareScopes(
      REGISTRY,
      repositories.map((repository) => ({ repository, actions: ['pull'] })),
    );

    const fetched = await Promise.all(repositories.map((repository) => client.fetchManifest({ registry: REGISTRY, repository }, '1.0')));

    expect(fetched.map((f) => f.digest)).toEqual([MANIFEST_DIGEST, MANIFEST_DIGEST, MANIFEST_DIGEST]);
    // one anonymous probe, one token request, then the three reads: N+1 after auth
    expect(client.stats().byKind).toEqual({ 'GET manifest': 4, 'GET token': 1 });
    expect(sent.filter((a) => a === undefined)).toHaveLength(1);
    expect(tokenRequests).toHaveLength(1);
    for (const repository of repositories)
      expect(decodeURIComponent(tokenRequests[0].path)).toContain(`scope=repository:${repository}:pull`);
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
    const { registry, client } = mockRegistryClient();
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
    const fetched = await Promise.all(
      ['acme/a', 'acme/b', 'acme/c'].map((repository) => client.fetchManifest({ registry: REGISTRY, repository }, '1.0')),
    );
    expect(fetched.map((f) => f.digest)).toEqual([MANIFEST_DIGEST, MANIFEST_DIGEST, MANIFEST_DIGEST]);
    expect(client.stats().byKind).toEqual({ 'GET manifest': 3 });
  });

  it('with credentials, waiting reads go once the first one holds an Authorization, not after its retry is answered', async () => {
    const { registry, client } = mockRegistryClient({ credentials: basicCredentials() });
    const { arrive, all } = arrivals(3);
    const sent: Array<string | undefined> = [];
    registry
      .intercept({ path: (p) => /^\/v2\/acme\/[abc]\/manifests\/1\.0$/.test(p), method: 'GET' })
      .reply((opts) => {
        const authorization = header(opts, 'authorization');
        sent.push(authorization);
        if (!authorization)
          return { statusCode: 401, data: '', responseOptions: { headers: { 'www-authenticate': 'Basic realm="Registry Realm"' } } };
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
    const fetched = await Promise.all(
      ['acme/a', 'acme/b', 'acme/c'].map((repository) => client.fetchManifest({ registry: REGISTRY, repository }, '1.0')),
    );
    expect(fetched.map((f) => f.digest)).toEqual([MANIFEST_DIGEST, MANIFEST_DIGEST, MANIFEST_DIGEST]);
    // one anonymous probe learns the challenge; the others never go without credentials
    expect(sent).toEqual([undefined, `Basic ${BASIC_VALUE}`, `Basic ${BASIC_VALUE}`, `Basic ${BASIC_VALUE}`]);
  });

  it('reports a 401 after the token as UNAUTHORIZED naming registry, request and where credentials were looked for', async () => {
    const { agent, registry, client, logger } = mockRegistryClient({ credentials: basicCredentials() });
    agent
      .get(AUTH_ORIGIN)
      .intercept({ path: (p) => p.startsWith('/token?'), method: 'GET' })
      .reply(200, { token: TOKEN })
      .persist();
    registry
      .intercept({ path: manifestPath('1.0'), method: 'GET' })
      .reply(
        401,
        { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] },
        { headers: { 'www-authenticate': bearerChallenge('repository:acme/app:pull') } },
      )
      .times(2);
    const error = (await caught(client.fetchManifest(APP, '1.0'))) as HttpError;
    expect(error).toBeInstanceOf(HttpError);
    expect(error.code).toBe('UNAUTHORIZED');
    expect(error.message).toContain(`Manifest ${REGISTRY}/acme/app:1.0`);
    expect(error.message).toContain(
      `GET ${ORIGIN}/v2/acme/app/manifests/1.0 returned 401 Unauthorized: UNAUTHORIZED: authentication required`,
    );
    expect(error.message).toContain(`/home/runner/.docker/config.json (auths["${REGISTRY}"])`);
    expect(renderActionError(error)).toContain('docker/login-action');
    expect(client.stats()).toMatchObject({ requests: 3, retries: 0 });
    expectNoSecrets([error.message, JSON.stringify(error.request), ...logger.lines]);
  });

  it('reports a 401 as UNAUTHORIZED when there are no credentials to answer a Basic challenge', async () => {
    const { registry, client } = mockRegistryClient();
    registry
      .intercept({ path: manifestPath('1.0'), method: 'GET' })
      .reply(401, '', { headers: { 'www-authenticate': 'Basic realm="Registry Realm"' } });
    const error = (await caught(client.fetchManifest(APP, '1.0'))) as HttpError;
    expect(error.code).toBe('UNAUTHORIZED');
    expect(error.message).toContain(`${REGISTRY} refused the request as unauthenticated`);
    expect(error.message).toContain('looked for in');
    expect(client.stats().requests).toBe(1);
  });

  it('answers Basic challenges and reports 403 as DENIED with a push-permission hint', async () => {
    const { registry, client, logger } = mockRegistryClient({ credentials: basicCredentials() });
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
    const { agent, registry, client } = mockRegistryClient({ credentials: basicCredentials() });
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
        if (authorization === `Bearer ${TOKEN}-2`)
          return { statusCode: 201, data: '', responseOptions: { headers: { 'docker-content-digest': MANIFEST_DIGEST } } };
        const error = authorization ? ',error="insufficient_scope"' : '';
        return {
          statusCode: 401,
          data: '',
          responseOptions: { headers: { 'www-authenticate': bearerChallenge('repository:acme/app:pull,push', error) } },
        };
      })
      .times(3);
    expect(await client.putManifest(APP, '1.0', { bytes: MANIFEST, mediaType: MediaType.OciManifest })).toBe(MANIFEST_DIGEST);
    expect(issued).toBe(2);
    expect(tokenScopes[0]).toContain('repository:acme/app:pull,push');
    expect(client.stats().byKind).toEqual({ 'PUT manifest': 3, 'GET token': 2 });
  });

  it('replaces a cached token the registry refuses without error= (expired): the refused header is passed to auth', async () => {
    const { agent, registry, client } = mockRegistryClient({ credentials: basicCredentials() });
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
        return {
          statusCode: 401,
          data: '',
          responseOptions: { headers: { 'www-authenticate': bearerChallenge('repository:acme/app:pull') } },
        };
      })
      .persist();
    expect((await client.fetchManifest(APP, '1.0')).digest).toBe(MANIFEST_DIGEST);
    expect((await client.fetchManifest(APP, '1.0')).digest).toBe(MANIFEST_DIGEST);
    expect(sent).toEqual([undefined, `Bearer ${TOKEN}-1`, `Bearer ${TOKEN}-1`, `Bearer ${TOKEN}-2`]);
    expect(client.stats().byKind).toEqual({ 'GET manifest': 4, 'GET token': 2 });
  });

  it('asks for a wider token only once per request; still insufficient_scope is DENIED naming the credentials and the scope', async () => {
    const { agent, registry, client, logger } = mockRegistryClient({ credentials: basicCredentials() });
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
    expect(error.message).toContain(
      `${REGISTRY} denied access: the credentials from the username/password inputs do not grant pull,push on acme/app (insufficient_scope)`,
    );
    expect(error.message).toContain('packages: write');
    // anonymous probe, first token, one wider token: then no more
    expect(client.stats().byKind).toEqual({ 'PUT manifest': 3, 'GET token': 2 });
    expectNoSecrets([error.message, ...logger.lines]);
  });

  it('an anonymous token short of a scope stays UNAUTHORIZED, with the log-in hint', async () => {
    const { agent, registry, client } = mockRegistryClient();
    agent
      .get(AUTH_ORIGIN)
      .intercept({ path: (p) => p.startsWith('/token?'), method: 'GET' })
      .reply(200, { token: 'anonymous' })
      .persist();
    registry
      .intercept({ path: manifestPath('1.0'), method: 'GET' })
      .reply((opts) => {
        const error = header(opts, 'authorization') ? ',error="insufficient_scope"' : '';
        return {
          statusCode: 401,
          data: '',
          responseOptions: { headers: { 'www-authenticate': bearerChallenge('repository:acme/app:pull', error) } },
        };
      })
      .persist();
    const error = (await caught(client.fetchManifest(APP, '1.0'))) as HttpError;
    expect(error.code).toBe('UNAUTHORIZED');
    expect(renderActionError(error)).toContain('docker/login-action');
  });

  it('never answers a challenge from another origin (object storage after a redirect): no token request, no credentials', async () => {
    const { agent, registry, client } = mockRegistryClient({ credentials: basicCredentials() });
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
        return {
          statusCode: 401,
          data: '',
          responseOptions: { headers: { 'www-authenticate': `Bearer realm="${STORAGE_ORIGIN}/token",service="storage"` } },
        };
      });
    const error = (await caught(client.fetchBlob(APP, descriptor))) as HttpError;
    expect(error).toBeInstanceOf(HttpError);
    expect(error.status).toBe(401);
    expect(storageAuth).toEqual([undefined]);
    expect(client.stats().byKind).toEqual({ 'GET blob': 3 });
  });
});
