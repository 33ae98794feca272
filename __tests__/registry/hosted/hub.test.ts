// Docker Hub's API client: one login with docker.io's username and password (the token it answers
// is a secret from then on), then DELETE of each tag; credentials that are a token only are refused.
import { describe, expect, it } from '@jest/globals';
import { isUnauthorized } from '../../../src/base/errors.js';
import { type ReplyOptions, credentials, header, mockRegistryClient } from '../../support/registry-clients.js';

const HUB = 'https://hub.example';
const HUB_REPO = { registry: 'docker.io', repository: 'acme/app' };
const PAT = 'dckr_pat_unitTestSecret';

function setup(provider = credentials({ 'docker.io': { kind: 'basic', username: 'ci', password: PAT, source: 'config.json' } })) {
  const secrets: string[] = [];
  const mock = mockRegistryClient({ credentials: provider, hostedApis: { hubApiUrl: HUB }, onSecret: (s) => secrets.push(s) });
  return { ...mock, api: mock.agent.get(HUB), hub: mock.client.hostedApis!()!.hub, secrets };
}

describe('HubTags', () => {
  it('logs in once, then deletes each tag with the token it got', async () => {
    const { api, hub, secrets } = setup();
    const logins: unknown[] = [];
    api.intercept({ path: '/v2/users/login', method: 'POST' }).reply(200, (opts: ReplyOptions) => {
      logins.push(JSON.parse(String(opts.body)));
      return JSON.stringify({ token: 'hub-jwt-1' });
    });
    const deletes: string[] = [];
    for (const tag of ['amd64', 'arm64'])
      api.intercept({ path: `/v2/repositories/acme/app/tags/${tag}/`, method: 'DELETE' }).reply(204, (opts: ReplyOptions) => {
        deletes.push(`${tag} ${header(opts, 'authorization')}`);
        return '';
      });
    await hub.deleteTag(HUB_REPO, 'amd64');
    await hub.deleteTag(HUB_REPO, 'arm64');
    expect(logins).toEqual([{ username: 'ci', password: PAT }]);
    expect(deletes).toEqual(['amd64 Bearer hub-jwt-1', 'arm64 Bearer hub-jwt-1']);
    expect(secrets).toContain('hub-jwt-1');
  });

  it('a refused login is an UNAUTHORIZED error quoting Hub, never the password', async () => {
    const { api, hub } = setup();
    api.intercept({ path: '/v2/users/login', method: 'POST' }).reply(401, { detail: 'Incorrect authentication credentials.' });
    const error = await hub.deleteTag(HUB_REPO, 'amd64').catch((e: unknown) => e);
    expect(isUnauthorized(error)).toBe(true);
    expect((error as Error).message).toContain('Incorrect authentication credentials.');
    expect((error as Error).message).not.toContain(PAT);
  });

  it('credentials that are a token only, or none, are a CREDENTIALS error before any request', async () => {
    const token = setup(credentials({ 'docker.io': { kind: 'registry-token', token: 't', source: 'config.json' } }));
    await expect(token.hub.deleteTag(HUB_REPO, 'amd64')).rejects.toMatchObject({ code: 'CREDENTIALS' });
    const none = setup(credentials());
    await expect(none.hub.deleteTag(HUB_REPO, 'amd64')).rejects.toMatchObject({ code: 'CREDENTIALS' });
  });
});
