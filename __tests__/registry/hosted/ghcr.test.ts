// GitHub's packages API client: versions found page by page (organisation, else user), deleted by
// id, the token only in Authorization, failures typed with GitHub's own message escaped.
import { describe, expect, it } from '@jest/globals';
import { isDenied, isHttpError } from '../../../src/base/errors.js';
import { type ReplyOptions, header, mockRegistryClient } from '../../support/registry-clients.js';

const API = 'https://api.github.example';
const TOKEN = 'ghs_unitTestToken0123456789';
const GHCR = { registry: 'ghcr.io', repository: 'acme/team/app' };
const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const version = (n: number, tags: string[] = []) => ({ id: n, name: digest(n), metadata: { container: { tags } } });
const VERSIONS = '/orgs/acme/packages/container/team%2Fapp/versions';

function setup() {
  const secrets: string[] = [];
  const mock = mockRegistryClient({ hostedApis: { githubToken: TOKEN, githubApiUrl: API }, onSecret: (s) => secrets.push(s) });
  return { ...mock, api: mock.agent.get(API), ghcr: mock.client.hostedApis!()!.ghcr!, secrets };
}

describe('GhcrPackages', () => {
  it('finds a version on a later page of an organisation package (package path URL-encoded), sending the token as Bearer', async () => {
    const { api, ghcr, secrets } = setup();
    const seen: string[] = [];
    const reply = (body: unknown) => (opts: ReplyOptions) => {
      seen.push(`${opts.path} ${header(opts, 'authorization')}`);
      return JSON.stringify(body);
    };
    api.intercept({ path: `${VERSIONS}?per_page=1&page=1`, method: 'GET' }).reply(200, reply([version(1)]));
    api
      .intercept({ path: `${VERSIONS}?per_page=100&page=1`, method: 'GET' })
      .reply(200, reply(Array.from({ length: 100 }, (_, i) => version(i + 1))));
    api.intercept({ path: `${VERSIONS}?per_page=100&page=2`, method: 'GET' }).reply(200, reply([version(150, ['amd64'])]));
    await expect(ghcr.findVersion(GHCR, digest(150))).resolves.toEqual({ id: 150, digest: digest(150), tags: ['amd64'] });
    expect(seen.every((s) => s.endsWith(`Bearer ${TOKEN}`))).toBe(true);
    expect(secrets).toContain(TOKEN);
  });

  it("falls back to the user's packages when the owner is no organisation (404), and deletes the version by id there", async () => {
    const { api, ghcr } = setup();
    api.intercept({ path: `${VERSIONS}?per_page=1&page=1`, method: 'GET' }).reply(404, { message: 'Not Found' });
    const users = '/users/acme/packages/container/team%2Fapp/versions';
    api.intercept({ path: `${users}?per_page=1&page=1`, method: 'GET' }).reply(200, [version(7)]);
    api.intercept({ path: `${users}?per_page=100&page=1`, method: 'GET' }).reply(200, [version(7, ['arm64'])]);
    api.intercept({ path: `${users}/7`, method: 'DELETE' }).reply(204, '');
    const found = await ghcr.findVersion(GHCR, digest(7));
    await expect(ghcr.deleteVersion(GHCR, found!)).resolves.toBeUndefined();
  });

  it('a version the package does not list is undefined', async () => {
    const { api, ghcr } = setup();
    api.intercept({ path: `${VERSIONS}?per_page=1&page=1`, method: 'GET' }).reply(200, [version(1)]);
    api.intercept({ path: `${VERSIONS}?per_page=100&page=1`, method: 'GET' }).reply(200, [version(1)]);
    await expect(ghcr.findVersion(GHCR, digest(2))).resolves.toBeUndefined();
  });

  it("a refusal is a typed error quoting GitHub's message, escaped, without the token", async () => {
    const { api, ghcr } = setup();
    api.intercept({ path: `${VERSIONS}?per_page=1&page=1`, method: 'GET' }).reply(200, [version(1)]);
    api
      .intercept({ path: `${VERSIONS}/1`, method: 'DELETE' })
      .reply(403, { message: 'Resource not accessible by integration\n::error::x' });
    const error = await ghcr.deleteVersion(GHCR, { id: 1, digest: digest(1), tags: [] }).catch((e: unknown) => e);
    expect(isHttpError(error) && isDenied(error)).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain('Resource not accessible by integration');
    expect(message).not.toContain('\n');
    expect(message).not.toContain(TOKEN);
  });

  it('is absent without a token', () => {
    const { client } = mockRegistryClient();
    expect(client.hostedApis!()!.ghcr).toBeUndefined();
  });
});
