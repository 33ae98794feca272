// config.json: keys in any of docker's spellings, auths entries (auth, username/password,
// identitytoken, registrytoken), Docker Hub under its names, $DOCKER_CONFIG, malformed files
// refused without quoting them.
import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { CredentialsError } from '../../../src/base/errors.js';
import type { Credentials } from '../../../src/registry/client-types.js';
import { caught } from '../../support/caught.js';
import { b64, root, useCredentialHelpers, configDir, env, make } from '../../support/docker-credentials.js';
import { createDockerCredentialProvider } from '../../../src/registry/credentials/lookup.js';
import { credentialHost } from '../../../src/registry/credentials/docker-config.js';

useCredentialHelpers();

describe('credentialHost', () => {
  it.each([
    ['ghcr.io', 'ghcr.io'],
    ['https://ghcr.io', 'ghcr.io'],
    ['http://localhost:5000', 'localhost:5000'],
    ['localhost:5000/v1/', 'localhost:5000'],
    ['https://ghcr.io/v2/', 'ghcr.io'],
    ['https://index.docker.io/v1/', 'docker.io'],
    ['index.docker.io', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
    ['docker.io', 'docker.io'],
    ['GHCR.IO', 'ghcr.io'],
  ])('%s → %s', (key, host) => {
    expect(credentialHost(key)).toBe(host);
  });
});

describe('config.json auths', () => {
  it.each<[string, Record<string, unknown>, string, Credentials]>([
    [
      'auth (base64 user:pass)',
      { 'ghcr.io': { auth: b64('u1:pw:with:colons') } },
      'ghcr.io',
      { kind: 'basic', username: 'u1', password: 'pw:with:colons', source: 'config.json auths["ghcr.io"]' },
    ],
    [
      'username/password',
      { 'ghcr.io': { username: 'u2', password: 'pw2' } },
      'ghcr.io',
      { kind: 'basic', username: 'u2', password: 'pw2', source: 'config.json auths["ghcr.io"]' },
    ],
    [
      'identitytoken',
      { 'myacr.azurecr.io': { auth: b64('00000000-0000-0000-0000-000000000000:'), identitytoken: 'refresh-tok' } },
      'myacr.azurecr.io',
      {
        kind: 'identity-token',
        username: '00000000-0000-0000-0000-000000000000',
        token: 'refresh-tok',
        source: 'config.json auths["myacr.azurecr.io"]',
      },
    ],
    [
      'registrytoken',
      { 'r.example.com': { registrytoken: 'reg-tok' } },
      'r.example.com',
      { kind: 'registry-token', token: 'reg-tok', source: 'config.json auths["r.example.com"]' },
    ],
    [
      'https:// key',
      { 'https://ghcr.io': { auth: b64('u3:pw3') } },
      'ghcr.io',
      { kind: 'basic', username: 'u3', password: 'pw3', source: 'config.json auths["https://ghcr.io"]' },
    ],
    [
      'http:// key with port',
      { 'http://localhost:5000': { auth: b64('u4:pw4') } },
      'localhost:5000',
      { kind: 'basic', username: 'u4', password: 'pw4', source: 'config.json auths["http://localhost:5000"]' },
    ],
    [
      'host/v1/ key',
      { 'quay.io/v1/': { auth: b64('u5:pw5') } },
      'quay.io',
      { kind: 'basic', username: 'u5', password: 'pw5', source: 'config.json auths["quay.io/v1/"]' },
    ],
    [
      'https://host/v2/ key',
      { 'https://quay.io/v2/': { auth: b64('u6:pw6') } },
      'quay.io',
      { kind: 'basic', username: 'u6', password: 'pw6', source: 'config.json auths["https://quay.io/v2/"]' },
    ],
    [
      'Docker Hub key',
      { 'https://index.docker.io/v1/': { auth: b64('hub:hubpw') } },
      'docker.io',
      { kind: 'basic', username: 'hub', password: 'hubpw', source: 'config.json auths["https://index.docker.io/v1/"]' },
    ],
    [
      'Docker Hub as index.docker.io',
      { 'index.docker.io': { auth: b64('hub2:pw') } },
      'docker.io',
      { kind: 'basic', username: 'hub2', password: 'pw', source: 'config.json auths["index.docker.io"]' },
    ],
    [
      'Docker Hub as docker.io',
      { 'docker.io': { auth: b64('hub3:pw') } },
      'docker.io',
      { kind: 'basic', username: 'hub3', password: 'pw', source: 'config.json auths["docker.io"]' },
    ],
    [
      'Docker Hub as registry-1.docker.io',
      { 'registry-1.docker.io': { auth: b64('hub4:pw') } },
      'docker.io',
      { kind: 'basic', username: 'hub4', password: 'pw', source: 'config.json auths["registry-1.docker.io"]' },
    ],
    [
      'exact key preferred over other spellings',
      { 'http://ghcr.io': { auth: b64('plain:pw') }, 'ghcr.io': { auth: b64('exact:pw') } },
      'ghcr.io',
      { kind: 'basic', username: 'exact', password: 'pw', source: 'config.json auths["ghcr.io"]' },
    ],
    [
      'an empty entry is skipped for a populated spelling',
      { 'ghcr.io': {}, 'https://ghcr.io': { auth: b64('filled:pw') } },
      'ghcr.io',
      { kind: 'basic', username: 'filled', password: 'pw', source: 'config.json auths["https://ghcr.io"]' },
    ],
  ])('%s', async (_name, auths, registry, expected) => {
    const { provider } = make({ auths });
    await expect(provider.credentialsFor(registry)).resolves.toEqual(expected);
  });

  it('is anonymous without a matching entry, and when config.json is missing', async () => {
    const { provider } = make({ auths: { 'ghcr.io': { auth: b64('u:p') } } });
    await expect(provider.credentialsFor('quay.io')).resolves.toBeUndefined();
    const missing = createDockerCredentialProvider({ configDir: join(root, 'does-not-exist'), env: env() });
    await expect(missing.credentialsFor('ghcr.io')).resolves.toBeUndefined();
    expect(missing.describeLookup('ghcr.io')).toContain('not found');
  });

  it('does not confuse Docker Hub with another registry', async () => {
    const { provider } = make({ auths: { 'https://index.docker.io/v1/': { auth: b64('hub:pw') } } });
    await expect(provider.credentialsFor('ghcr.io')).resolves.toBeUndefined();
  });

  it('finds config.json through $DOCKER_CONFIG', async () => {
    const dir = configDir({ auths: { 'ghcr.io': { auth: b64('from-env:pw') } } });
    const provider = createDockerCredentialProvider({ env: { ...env(), DOCKER_CONFIG: dir } });
    await expect(provider.credentialsFor('ghcr.io')).resolves.toMatchObject({ username: 'from-env' });
  });

  it('rejects malformed JSON naming the file and quoting none of it', async () => {
    const { provider, dir } = make('{"auths": {"ghcr.io": {"auth": "c2VjcmV0LXZhbHVl" ');
    const error = await caught(provider.credentialsFor('ghcr.io'));
    expect(error).toBeInstanceOf(CredentialsError);
    expect(error.message).toContain(join(dir, 'config.json'));
    expect(error.message).toContain('not valid JSON');
    expect(error.message).not.toContain('c2VjcmV0LXZhbHVl');
  });

  it('rejects an auth value that is not base64 of user:pass', async () => {
    const { provider } = make({ auths: { 'ghcr.io': { auth: b64('no-colon-here') } } });
    const error = await caught(provider.credentialsFor('ghcr.io'));
    expect(error).toBeInstanceOf(CredentialsError);
    expect(error.message).toContain('auths["ghcr.io"]');
    expect(error.message).not.toContain(b64('no-colon-here'));
  });
});
