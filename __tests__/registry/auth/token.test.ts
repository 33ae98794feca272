// The token protocol against a mocked token service: GET with Basic credentials or anonymously,
// the OAuth2 refresh-token POST, the token and access_token fields, retries, and every way a token
// service can fail (refusal, plain-HTTP realm, not JSON, no token, oversized, no realm).
import { describe, expect, it } from '@jest/globals';
import { CredentialsError, HttpError } from '../../../src/base/errors.js';
import {
  REALM,
  PASSWORD,
  BASIC_B64,
  bearer,
  basicCreds,
  queryOf,
  captured,
  secrets,
  logger,
  requests,
  makeAuth,
  tokenEndpoint,
  pull,
  pullPush,
  useTokenService,
} from '../../support/registry-auth.js';

useTokenService();

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

    await expect(auth.authorize('registry.example.com', bearer('repository:library/alpine:pull'), [pull('library/alpine')])).resolves.toBe(
      'Bearer anon',
    );
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
    await expect(auth.authorize('registry.example.com', `Bearer realm="${origin}/token",service="s"`, [pull('a')])).resolves.toBe(
      'Bearer plain',
    );
    expect(captured[0].headers.authorization).toBe(`Basic ${BASIC_B64}`);
  });

  it('sends credentials over http to a realm on the host of a registry listed as insecure', async () => {
    tokenEndpoint({ json: { token: 'beside' } }, { origin: 'http://registry.internal:5001' });
    const { auth } = makeAuth(basicCreds, { insecureRegistries: ['registry.internal:5000'] });
    await expect(
      auth.authorize('registry.internal:5000', 'Bearer realm="http://registry.internal:5001/token",service="s"', [pull('a')]),
    ).resolves.toBe('Bearer beside');
    // …but not to another host, even for that registry
    await expect(
      auth.authorize('registry.internal:5000', 'Bearer realm="http://auth.elsewhere:5001/token",service="s"', [pull('b')]),
    ).rejects.toBeInstanceOf(CredentialsError);
    expect(captured).toHaveLength(1);
  });

  it('asks a plain-http realm for an anonymous token (no credentials to protect)', async () => {
    tokenEndpoint({ json: { token: 'anon-http' } }, { origin: 'http://auth.example.com' });
    const { auth } = makeAuth(undefined);
    await expect(auth.authorize('registry.example.com', 'Bearer realm="http://auth.example.com/token"', [pull('a')])).resolves.toBe(
      'Bearer anon-http',
    );
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
