// Tokens cached per registry and scope set: handed out again while they cover what is asked and
// have not expired (issued_at, the default lifetime, the margin), never again once refused, and
// fetched once for concurrent callers.
import { describe, expect, it } from '@jest/globals';
import { parseScopeParam } from '../../../src/registry/auth/scope.js';
import { TokenCache } from '../../../src/registry/auth/token-cache.js';
import {
  bearer,
  basicCreds,
  queryOf,
  agent,
  captured,
  clock,
  setClock,
  requests,
  makeAuth,
  tokenEndpoint,
  pull,
  pullPush,
  useTokenService,
} from '../../support/registry-auth.js';

useTokenService();

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
    setClock(start + 40_000);
    expect(auth.cachedAuthorization('registry.example.com', [pull('a')])).toBe('Bearer short');
    setClock(start + 55_000); // within the margin before 60 s
    expect(auth.cachedAuthorization('registry.example.com', [pull('a')])).toBeUndefined();

    await auth.authorize('registry.example.com', bearer(), [pull('a')]);
    setClock(clock + 3_000_000);
    expect(auth.cachedAuthorization('registry.example.com', [pull('a')])).toBe('Bearer long');
    setClock(clock + 600_000);
    expect(auth.cachedAuthorization('registry.example.com', [pull('a')])).toBeUndefined();
    expect(requests()).toHaveLength(2);
  });

  it('counts the lifetime from issued_at when the service says when it issued the token', async () => {
    const issued = new Date(clock - 100_000).toISOString();
    tokenEndpoint({ json: { token: 'old', expires_in: 300, issued_at: issued } });
    const { auth } = makeAuth(basicCreds);
    await auth.authorize('registry.example.com', bearer(), [pull('a')]);
    setClock(clock + 150_000);
    expect(auth.cachedAuthorization('registry.example.com', [pull('a')])).toBe('Bearer old');
    setClock(clock + 50_000); // 300 s after issued_at, minus the margin
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
    await expect(auth.authorize('registry.example.com', bearer('repository:a:pull', ',error="invalid_token"'), [pull('a')])).resolves.toBe(
      'Bearer second',
    );
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
    await expect(
      auth.authorize('registry.example.com', bearer('repository:a:pull', ',error="invalid_token"'), [pull('a')], 'Bearer first'),
    ).resolves.toBe('Bearer second');
    // …and the later 401 for the same old token gets 'second' too, without a third token request
    await expect(
      auth.authorize('registry.example.com', bearer('repository:a:pull', ',error="invalid_token"'), [pull('a')], 'Bearer first'),
    ).resolves.toBe('Bearer second');
    expect(requests()).toEqual(['GET token', 'GET token']);
  });

  it('asks again when the refused header is the newest token (one re-request on insufficient_scope)', async () => {
    tokenEndpoint({ json: { token: 'narrow', expires_in: 300 } }, { times: 1 });
    tokenEndpoint({ json: { token: 'wide', expires_in: 300 } }, { times: 1 });
    const { auth } = makeAuth(basicCreds);
    await auth.authorize('registry.example.com', bearer(), [pullPush('a')]);
    const header = await auth.authorize(
      'registry.example.com',
      bearer('repository:a:pull,push', ',error="insufficient_scope"'),
      [pullPush('a')],
      'Bearer narrow',
    );
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

describe('TokenCache (alone)', () => {
  const scopes = (value: string) => parseScopeParam(value);

  it('hands out a token covering what is asked, per registry, until its expiry less the margin', () => {
    let now = 1_000_000;
    const cache = new TokenCache(() => now);
    cache.add('r.example.com', scopes('repository:a:pull,push repository:b:pull'), 'Bearer t1', now + 300_000, 300_000);
    expect(cache.find('r.example.com', scopes('repository:a:pull'))?.header).toBe('Bearer t1');
    expect(cache.find('r.example.com', scopes('repository:b:push'))).toBeUndefined();
    expect(cache.find('other.example.com', scopes('repository:a:pull'))).toBeUndefined();
    now += 290_000 - 1;
    expect(cache.find('r.example.com', scopes('repository:a:pull'))?.header).toBe('Bearer t1');
    now += 1; // 10 s before it expires: dropped
    expect(cache.find('r.example.com', scopes('repository:a:pull'))).toBeUndefined();
  });

  it('keeps a short-lived token for three quarters of its lifetime', () => {
    let now = 0;
    const cache = new TokenCache(() => now);
    cache.add('r', scopes('repository:a:pull'), 'Bearer short', 20_000, 20_000);
    now = 14_999;
    expect(cache.find('r', scopes('repository:a:pull'))).toBeDefined();
    now = 15_000;
    expect(cache.find('r', scopes('repository:a:pull'))).toBeUndefined();
  });

  it('drops a refused header, and every token covering scopes a registry rejected', () => {
    const cache = new TokenCache(() => 0);
    cache.add('r', scopes('repository:a:pull'), 'Bearer a', 60_000, 60_000);
    cache.add('r', scopes('repository:a:pull repository:b:pull'), 'Bearer ab', 60_000, 60_000);
    cache.add('r', scopes('repository:c:pull'), 'Bearer c', 60_000, 60_000);
    cache.drop('r', 'Bearer a');
    expect(cache.find('r', scopes('repository:a:pull'))?.header).toBe('Bearer ab');
    cache.dropCovering('r', scopes('repository:a:pull'));
    expect(cache.find('r', scopes('repository:a:pull'))).toBeUndefined();
    expect(cache.find('r', scopes('repository:c:pull'))?.header).toBe('Bearer c');
  });
});
