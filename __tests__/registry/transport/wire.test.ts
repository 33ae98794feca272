// The innermost layer (src/registry/transport/wire.ts): one HTTP exchange through undici, here on
// a MockAgent that refuses the network. What is sent arrives as sent; what comes back is handed
// over as it came; an injected dispatcher is used for every exchange and never closed by us.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { MockAgent } from 'undici';
import { type ResponseBody, headerValue } from '../../../src/registry/transport/http.js';
import { Wire } from '../../../src/registry/transport/wire.js';

const readWhole = async (body: ResponseBody): Promise<Buffer> => Buffer.concat((await body.toArray()) as Buffer[]);

const ORIGIN = 'https://registry.example.com';
let agent: MockAgent;
let wire: Wire;

beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
  wire = new Wire({ dispatcher: agent, connectionsPerOrigin: 2, requestTimeoutMs: 5000 });
});
afterEach(async () => {
  await wire.close();
  await agent.close();
});

describe('Wire.send', () => {
  it.each<[string, 'GET' | 'HEAD' | 'PUT' | 'POST', string, string | undefined, number, string]>([
    ['a manifest GET with a query', 'GET', '/v2/acme/app/manifests/1?ns=docker.io', undefined, 200, '{"schemaVersion":2}'],
    ['a HEAD', 'HEAD', '/v2/acme/app/blobs/sha256:a', undefined, 404, ''],
    ['a PUT with a body', 'PUT', '/v2/acme/app/manifests/latest', '{"manifests":[]}', 201, ''],
    ['a token POST', 'POST', '/token', 'grant_type=refresh_token', 200, '{"access_token":"t"}'],
  ])(
    '%s: method, path, headers and body as given; status, headers and body as served',
    async (_name, method, path, body, status, reply) => {
      const seen: Array<{ headers: unknown; body: unknown }> = [];
      agent
        .get(ORIGIN)
        .intercept({ path, method })
        .reply(
          status,
          (options) => {
            seen.push({ headers: options.headers, body: options.body });
            return reply;
          },
          { headers: { 'docker-content-digest': 'sha256:served' } },
        );
      const response = await wire.send({
        url: `${ORIGIN}${path}`,
        method,
        headers: { accept: 'application/json', 'x-test': method },
        body,
        kind: 'test',
      });
      expect(response.status).toBe(status);
      expect(headerValue(response.headers, 'Docker-Content-Digest')).toBe('sha256:served');
      expect((await readWhole(response.body)).toString()).toBe(reply);
      expect(seen).toHaveLength(1);
      expect(seen[0].headers).toMatchObject({ accept: 'application/json', 'x-test': method });
      if (body !== undefined) expect(String(seen[0].body)).toBe(body);
    },
  );

  it('uses the injected dispatcher for insecure hosts too (the test owns the connections)', async () => {
    agent.get('https://localhost:5000').intercept({ path: '/v2/', method: 'GET' }).reply(200, '{}');
    const response = await wire.send({ url: 'https://localhost:5000/v2/', method: 'GET', headers: {}, insecureTls: true, kind: 'test' });
    expect(response.status).toBe(200);
    await readWhole(response.body);
  });

  it('passes an abort on: an aborted exchange rejects', async () => {
    agent.get(ORIGIN).intercept({ path: '/v2/', method: 'GET' }).reply(200, '{}').delay(1000);
    const controller = new AbortController();
    const sent = wire.send({ url: `${ORIGIN}/v2/`, method: 'GET', headers: {}, signal: controller.signal, kind: 'test' });
    controller.abort();
    await expect(sent).rejects.toThrow();
  });
});

describe('Wire.close', () => {
  it('may be called twice, and leaves an injected dispatcher open', async () => {
    await wire.close();
    await wire.close();
    agent.get(ORIGIN).intercept({ path: '/v2/', method: 'GET' }).reply(200, 'still open');
    const response = await agent.request({ origin: ORIGIN, path: '/v2/', method: 'GET' });
    expect(await response.body.text()).toBe('still open');
  });

  it('closes the agent it made itself', async () => {
    const own = new Wire({ connectionsPerOrigin: 1, requestTimeoutMs: 1000 });
    await expect(own.close()).resolves.toBeUndefined();
    await expect(own.send({ url: `${ORIGIN}/v2/`, method: 'GET', headers: {}, kind: 'test' })).rejects.toThrow();
  });
});
