// The lookup: explicit credentials for their registry only, the order docker follows, every
// secret passed on, and the places looked at described without any secret.
import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { b64, useCredentialHelpers, calls, make } from '../../support/docker-credentials.js';

useCredentialHelpers();

describe('explicit input credentials', () => {
  it('win over config.json for their registry only', async () => {
    const { provider, secrets } = make(
      { auths: { 'ghcr.io': { auth: b64('file:pw') }, 'quay.io': { auth: b64('quay:pw') } } },
      { explicit: { registry: 'ghcr.io', username: 'input-user', password: 'input-pw' } },
    );
    await expect(provider.credentialsFor('ghcr.io')).resolves.toEqual({
      kind: 'basic',
      username: 'input-user',
      password: 'input-pw',
      source: 'inputs username/password',
    });
    await expect(provider.credentialsFor('quay.io')).resolves.toMatchObject({ username: 'quay' });
    expect(secrets).toContain('input-pw');
    expect(provider.describeLookup('ghcr.io')).toContain('inputs username/password');
    expect(provider.describeLookup('quay.io')).toContain('given for ghcr.io');
  });

  it('match Docker Hub under any of its names', async () => {
    const { provider } = make(undefined, { explicit: { registry: 'index.docker.io', username: 'hub-input', password: 'pw' } });
    await expect(provider.credentialsFor('docker.io')).resolves.toMatchObject({
      username: 'hub-input',
      source: 'inputs username/password',
    });
  });

  it('are named as the surface names them (the CLI: its flags)', async () => {
    const { provider } = make(undefined, {
      explicit: { registry: 'ghcr.io', username: 'u', password: 'pw' },
      explicitSource: '--username/--password-stdin',
    });
    await expect(provider.credentialsFor('ghcr.io')).resolves.toMatchObject({ source: '--username/--password-stdin' });
    expect(provider.describeLookup('quay.io')).toMatch(/^--username\/--password-stdin \(given for ghcr.io, not quay.io\)/);
  });
});

describe('the lookup order: explicit, credHelpers for the host, auths, credsStore', () => {
  it('credHelpers for the host win over auths and credsStore', async () => {
    const before = calls().length;
    const { provider } = make({ auths: { 'ghcr.io': { auth: b64('file:pw') } }, credHelpers: { 'ghcr.io': 'test' }, credsStore: 'broken' });
    await expect(provider.credentialsFor('ghcr.io')).resolves.toMatchObject({
      username: 'helper-user',
      source: 'credential helper docker-credential-test',
    });
    expect(calls().slice(before)).toEqual(['docker-credential-test get ghcr.io']);
  });

  it('auths win over credsStore when they hold a secret', async () => {
    const { provider } = make({ auths: { 'quay.io': { auth: b64('file:pw') } }, credsStore: 'broken' });
    await expect(provider.credentialsFor('quay.io')).resolves.toMatchObject({ username: 'file' });
  });

  it('falls back to auths when the host helper has nothing, but never to credsStore', async () => {
    const { provider } = make({
      auths: { 'unknown.example.com': { auth: b64('file:pw') } },
      credHelpers: { 'unknown.example.com': 'test', 'other.example.com': 'test' },
      credsStore: 'broken',
    });
    await expect(provider.credentialsFor('unknown.example.com')).resolves.toMatchObject({ username: 'file' });
    await expect(provider.credentialsFor('other.example.com')).resolves.toBeUndefined();
  });
});

describe('secrets and descriptions', () => {
  it('passes every secret to onSecret', async () => {
    const { provider, secrets } = make({
      auths: {
        'a.example.com': { auth: b64('a:secret-a') },
        'b.example.com': { username: 'b', password: 'secret-b' },
        'c.example.com': { identitytoken: 'secret-c' },
        'd.example.com': { registrytoken: 'secret-d' },
      },
      credHelpers: { 'ghcr.io': 'test' },
    });
    for (const registry of ['a.example.com', 'b.example.com', 'c.example.com', 'd.example.com', 'ghcr.io'])
      await provider.credentialsFor(registry);
    expect(secrets).toEqual(expect.arrayContaining([b64('a:secret-a'), 'secret-a', 'secret-b', 'secret-c', 'secret-d', 'helper-secret']));
  });

  it('describes the places looked at, never the secrets', async () => {
    const { provider, dir, logger } = make(
      { auths: { 'ghcr.io': { auth: b64('u:very-secret') } }, credHelpers: { 'quay.io': 'test' }, credsStore: 'desktop' },
      { explicit: { registry: 'ghcr.io', username: 'x', password: 'input-secret' } },
    );
    await provider.credentialsFor('ghcr.io');
    const text = provider.describeLookup('ghcr.io');
    expect(text).toBe(
      `inputs username/password, ${join(dir, 'config.json')} (no credHelpers entry for ghcr.io, auths["ghcr.io"], credsStore "desktop")`,
    );
    expect(provider.describeLookup('quay.io')).toContain('credHelpers["quay.io"] "test"');
    const everything = `${text}\n${logger.lines.join('\n')}`;
    for (const secret of ['very-secret', b64('u:very-secret'), 'input-secret']) expect(everything).not.toContain(secret);
  });
});
