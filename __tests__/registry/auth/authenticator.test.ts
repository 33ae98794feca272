// Answering challenges: where the credentials came from, anonymous pulls when the credential
// lookup fails (a broken helper), Basic answered and remembered, unsupported schemes left alone.
import { describe, expect, it } from '@jest/globals';
import { CredentialsError } from '../../../src/base/errors.js';
import {
  PASSWORD,
  BASIC_B64,
  bearer,
  basicCreds,
  captured,
  secrets,
  logger,
  requests,
  authWith,
  makeAuth,
  tokenEndpoint,
  pull,
  pullPush,
  useTokenService,
} from '../../support/registry-auth.js';
import { RegistryAuth } from '../../../src/registry/auth/authenticator.js';

useTokenService();

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
  const helperError = () =>
    new CredentialsError(
      'Credential helper docker-credential-desktop failed for registry.example.com (configured by credsStore in /home/u/.docker/config.json; exit code 1)',
    );

  function failingAuth(error: Error = helperError()): RegistryAuth {
    return authWith({ credentialsFor: () => Promise.reject(error), describeLookup: () => 'credsStore "desktop"' }, [], 1);
  }

  it('tries an anonymous token for a pull, warning once naming the helper and the registry', async () => {
    tokenEndpoint({ json: { token: 'anon', expires_in: 300 } }, { times: 1 });
    const auth = failingAuth();
    await expect(auth.authorize('registry.example.com', bearer('repository:public/app:pull'), [pull('public/app')])).resolves.toBe(
      'Bearer anon',
    );
    expect(captured[0].headers.authorization).toBeUndefined();
    // another anonymous 401 (a concurrent request) gets the cached token, with no second warning
    await expect(auth.authorize('registry.example.com', bearer('repository:public/app:pull'), [pull('public/app')])).resolves.toBe(
      'Bearer anon',
    );
    const warnings = logger.lines.filter((l) => l.startsWith('warning:'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('docker-credential-desktop');
    expect(warnings[0]).toContain('registry.example.com');
    expect(warnings[0]).toContain('anonymous');
    expect(requests()).toEqual(['GET token']);
  });

  it('throws the helper error when the registry refuses the anonymous token', async () => {
    tokenEndpoint({ status: 401, json: { details: 'access denied' } }, { times: 1 });
    await expect(failingAuth().authorize('registry.example.com', bearer(), [pull('private/app')])).rejects.toThrow(
      /docker-credential-desktop failed for registry\.example\.com/,
    );
  });

  it('throws the helper error when the anonymous token was not enough (the registry refused it)', async () => {
    tokenEndpoint({ json: { token: 'anon', expires_in: 300 } }, { times: 1 });
    const auth = failingAuth();
    await auth.authorize('registry.example.com', bearer(), [pull('private/app')]);
    await expect(
      auth.authorize(
        'registry.example.com',
        bearer('repository:private/app:pull', ',error="insufficient_scope"'),
        [pull('private/app')],
        'Bearer anon',
      ),
    ).rejects.toBeInstanceOf(CredentialsError);
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
