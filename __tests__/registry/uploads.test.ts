// Blob uploads: a streamed copy GET → POST → PUT ?digest= (restarted whole on a transient failure,
// credentials kept to their registry), chunked PATCHes for a registry that refuses one PUT
// (remembered), and against small hostile registries on loopback: chunk demands (capped, streamed,
// never buffered whole) and the cancel (DELETE) of a failed session.
import { afterEach, describe, expect, it } from '@jest/globals';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DigestMismatchError, HttpError, TooLargeError, isHttpError } from '../../src/base/errors.js';
import { createMemoryLogger } from '../../src/base/logger.js';
import { createRegistryClient, MAX_CHUNK_BYTES, UPLOAD_CHUNK_BYTES } from '../../src/registry/client.js';
import type { RegistryClientOptions } from '../../src/registry/client-types.js';
import { caught } from '../support/caught.js';
import { blob, drain, json, startFakeServer, type FakeServer } from '../support/fake-registry.js';
import {
  anonymous,
  REGISTRY,
  ORIGIN,
  APP,
  PASSWORD,
  sha256,
  credentials,
  header,
  asyncData,
  consume,
  mockRegistryClient,
  BASIC_VALUE,
} from '../support/registry-clients.js';

const servers: FakeServer[] = [];
const clients: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function client(overrides: Partial<RegistryClientOptions> = {}) {
  const logger = createMemoryLogger();
  const made = createRegistryClient({
    credentials: anonymous,
    logger,
    retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 },
    deadline: Date.now() + 20_000,
    ...overrides,
  });
  clients.push(made);
  return { client: made, logger };
}

/** A source registry serving one blob, optionally pausing after `pauseAfter` bytes until `resume` settles. */
async function sourceRegistry(bytes: Buffer, pause?: { after: number; until: Promise<unknown> }): Promise<FakeServer> {
  const server = await startFakeServer(async (_req, res) => {
    res.writeHead(200, { 'content-length': String(bytes.length), 'content-type': 'application/octet-stream' });
    const first = pause ? bytes.subarray(0, pause.after) : bytes;
    res.write(first);
    if (pause) {
      await pause.until;
      res.write(bytes.subarray(pause.after));
    }
    res.end();
  });
  servers.push(server);
  return server;
}

interface Patch {
  range?: string;
  size: number;
  digest: string;
}

/**
 * A target that refuses monolithic uploads (405, as some registries do) and answers chunked ones,
 * announcing `minChunk` as OCI-Chunk-Min-Length; `onPatch` is told when a PATCH's headers arrive.
 */
async function chunkedOnlyTarget(options: { minChunk?: string; onPatch?: () => void; commit?: (res: ServerResponse) => void } = {}) {
  const patches: Patch[] = [];
  const received: Buffer[] = [];
  let sessions = 0;
  const server = await startFakeServer(async (req: IncomingMessage, res, url) => {
    if (req.method === 'POST' && url.pathname === '/v2/acme/app/blobs/uploads/') {
      const headers: Record<string, string> = { location: `/v2/acme/app/blobs/uploads/s${++sessions}`, 'content-length': '0' };
      if (options.minChunk) headers['oci-chunk-min-length'] = options.minChunk;
      res.writeHead(202, headers);
      res.end();
      return;
    }
    if (req.method === 'PATCH') {
      options.onPatch?.();
      const chunks: Buffer[] = [];
      for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
      const body = Buffer.concat(chunks);
      received.push(body);
      const { createHash } = await import('node:crypto');
      patches.push({
        range: req.headers['content-range'],
        size: body.length,
        digest: `sha256:${createHash('sha256').update(body).digest('hex')}`,
      });
      res.writeHead(202, { location: url.pathname, 'content-length': '0' });
      res.end();
      return;
    }
    if (req.method === 'PUT' && url.searchParams.has('digest')) {
      const { size } = await drain(req);
      if (size > 0) {
        json(res, 405, { errors: [{ code: 'UNSUPPORTED', message: 'monolithic uploads are not supported' }] });
        return;
      }
      if (options.commit) return options.commit(res);
      res.writeHead(201, { 'content-length': '0' });
      res.end();
      return;
    }
    if (req.method === 'DELETE') {
      res.writeHead(204);
      res.end();
      return;
    }
    json(res, 404, { errors: [{ code: 'NOT_FOUND', message: `${req.method} ${url.pathname}` }] });
  });
  servers.push(server);
  return { server, patches, received, deletes: () => server.requests.filter((r) => r.method === 'DELETE').map((r) => r.path) };
}

describe('chunk demands (defect 3: a registry could make the copy buffer a whole blob)', () => {
  it('refuses an OCI-Chunk-Min-Length over the cap with an error naming the demand, cancels the session, sends no PATCH', async () => {
    const { bytes, descriptor } = blob(256 * 1024, 3);
    const source = await sourceRegistry(bytes);
    const target = await chunkedOnlyTarget({ minChunk: '99999999999' });
    const { client: c } = client();
    const error = await c
      .copyBlob({ registry: source.host, repository: 'acme/src' }, { registry: target.server.host, repository: 'acme/app' }, descriptor)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(TooLargeError);
    const message = (error as TooLargeError).message;
    expect(message).toContain('OCI-Chunk-Min-Length: 99999999999');
    expect(message).toContain(`${target.server.host} demands chunks of at least 93 GiB`);
    expect(message).toContain('over the 64 MiB');
    expect((error as TooLargeError).facts).toMatchObject({
      registry: target.server.host,
      repository: 'acme/app',
      reference: descriptor.digest,
    });
    expect(target.patches).toEqual([]);
    // the refused monolithic session and the chunked one, both cancelled
    expect(target.deletes()).toEqual(['/v2/acme/app/blobs/uploads/s1', '/v2/acme/app/blobs/uploads/s2']);
  });

  it('streams each PATCH body as the source delivers it: a chunk is never held whole in memory', async () => {
    // 12 MiB demanded, 20 MiB blob: PATCHes of 12 and 8 MiB. The source sends 1 MiB, then waits for
    // the first PATCH to arrive: a client that filled a 12 MiB buffer before sending would never send it.
    const { bytes, descriptor } = blob(20 * 1024 * 1024, 5);
    let patchArrived: () => void = () => undefined;
    const arrived = new Promise<void>((resolve) => (patchArrived = resolve));
    const target = await chunkedOnlyTarget({ minChunk: String(12 * 1024 * 1024), onPatch: () => patchArrived() });
    const source = await sourceRegistry(bytes, { after: 1024 * 1024, until: arrived });
    const { client: c } = client({ deadline: Date.now() + 15_000 });
    // the first blob teaches the client that this target refuses monolithic uploads
    await c.uploadBlob(
      { registry: source.host, repository: 'acme/src' },
      { registry: target.server.host, repository: 'acme/app' },
      blob(10, 1).descriptor,
      async () => blob(10, 1).bytes,
    );
    target.patches.length = 0;
    target.received.length = 0;

    expect(
      await c.copyBlob(
        { registry: source.host, repository: 'acme/src' },
        { registry: target.server.host, repository: 'acme/app' },
        descriptor,
      ),
    ).toBe('copied');
    expect(target.patches.map((p) => [p.range, p.size])).toEqual([
      [`0-${12 * 1024 * 1024 - 1}`, 12 * 1024 * 1024],
      [`${12 * 1024 * 1024}-${bytes.length - 1}`, 8 * 1024 * 1024],
    ]);
    expect(Buffer.concat(target.received).equals(bytes)).toBe(true);
    expect(c.stats().byKind['PATCH upload']).toBe(3);
  });

  it('uses the default chunk size when the registry demands less, and the cap is 64 MiB', () => {
    expect(UPLOAD_CHUNK_BYTES).toBe(8 * 1024 * 1024);
    expect(MAX_CHUNK_BYTES).toBe(64 * 1024 * 1024);
  });
});

describe('a failed upload cancels its session', () => {
  it('DELETEs the session when the committing PUT is refused (DIGEST_INVALID)', async () => {
    const { bytes, descriptor } = blob(4096, 7);
    const source = await sourceRegistry(bytes);
    const target = await startFakeServer(async (req, res, url) => {
      if (req.method === 'POST') {
        res.writeHead(202, { location: '/v2/acme/app/blobs/uploads/abc?_state=xyz', 'content-length': '0' });
        res.end();
      } else if (req.method === 'PUT') {
        await drain(req);
        json(res, 400, { errors: [{ code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content' }] });
      } else if (req.method === 'DELETE' && url.pathname === '/v2/acme/app/blobs/uploads/abc') {
        res.writeHead(204);
        res.end();
      } else {
        json(res, 404, {});
      }
    });
    servers.push(target);
    const { client: c } = client();
    const error = await c
      .copyBlob({ registry: source.host, repository: 'acme/src' }, { registry: target.host, repository: 'acme/app' }, descriptor)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isHttpError(error)).toBe(true);
    expect((error as HttpError).registryErrors[0].code).toBe('DIGEST_INVALID');
    expect(target.requests.map((r) => `${r.method} ${r.path.split('?')[0]}`)).toEqual([
      'POST /v2/acme/app/blobs/uploads/',
      'PUT /v2/acme/app/blobs/uploads/abc',
      'DELETE /v2/acme/app/blobs/uploads/abc',
    ]);
    // the session URL's own query (upload state) goes with the DELETE
    expect(target.requests[2].path).toBe('/v2/acme/app/blobs/uploads/abc?_state=xyz');
    expect(c.stats().byKind['DELETE upload']).toBe(1);
  });

  it('a registry that answers a PATCH before reading its body is refused (the next chunk would be misplaced)', async () => {
    const { bytes, descriptor } = blob(9 * 1024 * 1024, 9);
    const source = await sourceRegistry(bytes);
    const target = await startFakeServer(async (req, res) => {
      if (req.method === 'POST') {
        res.writeHead(202, { location: '/v2/acme/app/blobs/uploads/x', 'content-length': '0' });
        res.end();
      } else if (req.method === 'PUT') {
        await drain(req);
        json(res, 405, { errors: [{ code: 'UNSUPPORTED', message: 'no' }] });
      } else if (req.method === 'PATCH') {
        res.writeHead(202, { location: '/v2/acme/app/blobs/uploads/x', 'content-length': '0' });
        res.end();
        req.resume();
      } else {
        res.writeHead(204);
        res.end();
      }
    });
    servers.push(target);
    const { client: c } = client({ retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
    const error = await c
      .copyBlob({ registry: source.host, repository: 'acme/src' }, { registry: target.host, repository: 'acme/app' }, descriptor)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(Error);
    expect(target.requests.filter((r) => r.method === 'PUT' && r.path.includes('digest=')).length).toBe(1); // only the refused monolithic one: never committed
    expect(target.requests.filter((r) => r.method === 'DELETE').length).toBe(2);
  });
});

describe('copyBlob', () => {
  const SOURCE_REGISTRY = 'src.example.org';
  const SOURCE_ORIGIN = `https://${SOURCE_REGISTRY}`;
  const SOURCE = { registry: SOURCE_REGISTRY, repository: 'acme/base' };

  function copySetup(overrides: Partial<RegistryClientOptions> = {}) {
    const env = mockRegistryClient(overrides);
    return { ...env, source: env.agent.get(SOURCE_ORIGIN) };
  }

  it('streams GET → POST → PUT ?digest= to an absolute Location that already has a query', async () => {
    const { registry, source, client } = copySetup();
    const { bytes, descriptor } = blob(70_000, 3);
    source
      .intercept({ path: `/v2/acme/base/blobs/${descriptor.digest}`, method: 'GET' })
      .reply(200, bytes, { headers: { 'content-length': String(bytes.length) } });
    registry
      .intercept({ path: '/v2/acme/app/blobs/uploads/', method: 'POST' })
      .reply(202, '', { headers: { location: `${ORIGIN}/v2/acme/app/blobs/uploads/u-2?_state=s%2Bx` } });
    let received: { bytes: Buffer; error?: unknown } | undefined;
    let contentType: string | undefined;
    registry
      .intercept({ path: `/v2/acme/app/blobs/uploads/u-2?_state=s%2Bx&digest=${encodeURIComponent(descriptor.digest)}`, method: 'PUT' })
      .reply(
        201,
        asyncData(async (opts) => {
          contentType = header(opts, 'content-type');
          received = await consume(opts.body);
          return '';
        }),
      );
    expect(await client.copyBlob(SOURCE, APP, descriptor)).toBe('copied');
    expect(received?.bytes.equals(bytes)).toBe(true);
    expect(contentType).toBe('application/octet-stream');
    expect(client.stats()).toEqual({ requests: 3, byKind: { 'GET blob': 1, 'POST upload': 1, 'PUT upload': 1 }, retries: 0 });
  });

  it("keeps each registry's credentials to itself, and sends none to an upload Location on another origin or over plain HTTP", async () => {
    const sourceBasic = Buffer.from('src-user:src-secret-pw').toString('base64');
    const { registry, source, agent, client } = copySetup({
      credentials: credentials({
        [REGISTRY]: { kind: 'basic', username: 'ci', password: PASSWORD, source: 'inputs' },
        [SOURCE_REGISTRY]: { kind: 'basic', username: 'src-user', password: 'src-secret-pw', source: 'config.json' },
      }),
    });
    const { bytes, descriptor } = blob(5000, 9);
    const seen: Record<string, Array<string | undefined>> = { source: [], target: [], upload: [] };
    const basicChallenge = { statusCode: 401, data: '', responseOptions: { headers: { 'www-authenticate': 'Basic realm="r"' } } };
    source
      .intercept({ path: `/v2/acme/base/blobs/${descriptor.digest}`, method: 'GET' })
      .reply((opts) => {
        seen.source.push(header(opts, 'authorization'));
        return header(opts, 'authorization')
          ? { statusCode: 200, data: bytes, responseOptions: { headers: { 'content-length': String(bytes.length) } } }
          : basicChallenge;
      })
      .times(2);
    registry
      .intercept({ path: '/v2/acme/app/blobs/uploads/', method: 'POST' })
      .reply((opts) => {
        seen.target.push(header(opts, 'authorization'));
        // a registry behind a proxy that gets its own scheme wrong
        return header(opts, 'authorization')
          ? { statusCode: 202, data: '', responseOptions: { headers: { location: `http://${REGISTRY}/v2/acme/app/blobs/uploads/u-9` } } }
          : basicChallenge;
      })
      .times(2);
    agent
      .get(`http://${REGISTRY}`)
      .intercept({ path: `/v2/acme/app/blobs/uploads/u-9?digest=${encodeURIComponent(descriptor.digest)}`, method: 'PUT' })
      .reply(
        201,
        asyncData(async (opts) => {
          seen.upload.push(header(opts, 'authorization'));
          await consume(opts.body);
          return '';
        }),
      );
    expect(await client.copyBlob(SOURCE, APP, descriptor)).toBe('copied');
    expect(seen).toEqual({ source: [undefined, `Basic ${sourceBasic}`], target: [undefined, `Basic ${BASIC_VALUE}`], upload: [undefined] });
  });

  it('fails the upload when the source serves other bytes, without letting the registry receive the whole blob', async () => {
    const { registry, source, client } = copySetup();
    const { bytes, descriptor } = blob(50_000, 5);
    const altered = Buffer.from(bytes);
    altered[100] ^= 0x01;
    source.intercept({ path: `/v2/acme/base/blobs/${descriptor.digest}`, method: 'GET' }).reply(200, altered);
    registry
      .intercept({ path: '/v2/acme/app/blobs/uploads/', method: 'POST' })
      .reply(202, '', { headers: { location: '/v2/acme/app/blobs/uploads/u-3' } });
    let received: { bytes: Buffer; error?: unknown } | undefined;
    registry.intercept({ path: `/v2/acme/app/blobs/uploads/u-3?digest=${encodeURIComponent(descriptor.digest)}`, method: 'PUT' }).reply(
      201,
      asyncData(async (opts) => {
        received = await consume(opts.body);
        return '';
      }),
    );
    const error = await caught(client.copyBlob(SOURCE, APP, descriptor));
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect(error.message).toContain(`Blob ${descriptor.digest} from ${SOURCE_REGISTRY}/acme/base`);
    expect(error.message).toContain(sha256(altered));
    expect(received?.error).toBeInstanceOf(DigestMismatchError);
    expect(received?.bytes.length).toBeLessThan(bytes.length);
    expect(client.stats().retries).toBe(0);
  });

  it('fails when the source is shorter than the descriptor says', async () => {
    const { registry, source, client } = copySetup();
    const { bytes, descriptor } = blob(4000, 6);
    source.intercept({ path: `/v2/acme/base/blobs/${descriptor.digest}`, method: 'GET' }).reply(200, bytes.subarray(0, 3000));
    registry
      .intercept({ path: '/v2/acme/app/blobs/uploads/', method: 'POST' })
      .reply(202, '', { headers: { location: '/v2/acme/app/blobs/uploads/u-4' } });
    registry.intercept({ path: `/v2/acme/app/blobs/uploads/u-4?digest=${encodeURIComponent(descriptor.digest)}`, method: 'PUT' }).reply(
      201,
      asyncData(async (opts) => {
        await consume(opts.body);
        return '';
      }),
    );
    const error = await caught(client.copyBlob(SOURCE, APP, descriptor));
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect(error.message).toContain('3000 bytes instead of 4000');
  });

  it('restarts the whole sequence (new GET, new session) when the upload PUT gets a 503', async () => {
    const { registry, source, client, logger } = copySetup();
    const { bytes, descriptor } = blob(10_000, 8);
    source
      .intercept({ path: `/v2/acme/base/blobs/${descriptor.digest}`, method: 'GET' })
      .reply(200, bytes)
      .times(2);
    registry
      .intercept({ path: '/v2/acme/app/blobs/uploads/', method: 'POST' })
      .reply(202, '', { headers: { location: '/v2/acme/app/blobs/uploads/first' } });
    registry
      .intercept({ path: '/v2/acme/app/blobs/uploads/', method: 'POST' })
      .reply(202, '', { headers: { location: '/v2/acme/app/blobs/uploads/second' } });
    registry
      .intercept({ path: `/v2/acme/app/blobs/uploads/first?digest=${encodeURIComponent(descriptor.digest)}`, method: 'PUT' })
      .reply(503, '');
    // the failed attempt's session is cancelled before the next one starts
    const cancelled: string[] = [];
    registry.intercept({ path: '/v2/acme/app/blobs/uploads/first', method: 'DELETE' }).reply(204, (opts) => {
      cancelled.push(opts.path);
      return '';
    });
    let received: Buffer | undefined;
    registry.intercept({ path: `/v2/acme/app/blobs/uploads/second?digest=${encodeURIComponent(descriptor.digest)}`, method: 'PUT' }).reply(
      201,
      asyncData(async (opts) => {
        received = (await consume(opts.body)).bytes;
        return '';
      }),
    );
    expect(await client.copyBlob(SOURCE, APP, descriptor)).toBe('copied');
    expect(received?.equals(bytes)).toBe(true);
    expect(cancelled).toEqual(['/v2/acme/app/blobs/uploads/first']);
    expect(client.stats()).toEqual({
      requests: 7,
      byKind: { 'GET blob': 2, 'POST upload': 2, 'PUT upload': 2, 'DELETE upload': 1 },
      retries: 1,
    });
    expect(logger.lines.some((l) => l.includes('retrying') && l.includes('503'))).toBe(true);
  });

  it('restarts when the source connection resets', async () => {
    const { registry, source, client } = copySetup();
    const { bytes, descriptor } = blob(2000, 9);
    source
      .intercept({ path: `/v2/acme/base/blobs/${descriptor.digest}`, method: 'GET' })
      .replyWithError(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }));
    source.intercept({ path: `/v2/acme/base/blobs/${descriptor.digest}`, method: 'GET' }).reply(200, bytes);
    registry
      .intercept({ path: '/v2/acme/app/blobs/uploads/', method: 'POST' })
      .reply(202, '', { headers: { location: '/v2/acme/app/blobs/uploads/u' } })
      .times(2);
    registry.intercept({ path: `/v2/acme/app/blobs/uploads/u?digest=${encodeURIComponent(descriptor.digest)}`, method: 'PUT' }).reply(
      201,
      asyncData(async (opts) => {
        await consume(opts.body);
        return '';
      }),
    );
    expect(await client.copyBlob(SOURCE, APP, descriptor)).toBe('copied');
    expect(client.stats()).toMatchObject({ byKind: { 'GET blob': 2, 'POST upload': 2, 'PUT upload': 1 }, retries: 1 });
  });

  it('falls back to chunked PATCH uploads when the registry refuses a monolithic PUT, and remembers it', async () => {
    const { registry, source, client } = copySetup();
    const { bytes, descriptor } = blob(UPLOAD_CHUNK_BYTES + 1000, 11);
    const blobPath = `/v2/acme/base/blobs/${descriptor.digest}`;
    const digestQuery = `digest=${encodeURIComponent(descriptor.digest)}`;
    source.intercept({ path: blobPath, method: 'GET' }).reply(200, bytes).times(2);
    registry
      .intercept({ path: '/v2/acme/app/blobs/uploads/', method: 'POST' })
      .reply(202, '', { headers: { location: '/v2/acme/app/blobs/uploads/mono' } });
    registry
      .intercept({ path: `/v2/acme/app/blobs/uploads/mono?${digestQuery}`, method: 'PUT' })
      .reply(416, { errors: [{ code: 'BLOB_UPLOAD_INVALID', message: 'blob upload invalid' }] });
    registry.intercept({ path: '/v2/acme/app/blobs/uploads/mono', method: 'DELETE' }).reply(204, '');
    registry
      .intercept({ path: '/v2/acme/app/blobs/uploads/', method: 'POST' })
      .reply(202, '', { headers: { location: '/v2/acme/app/blobs/uploads/c?_state=0' } });
    const patches: Array<{ range?: string; length: number }> = [];
    const parts: Buffer[] = [];
    // PATCH bodies stream (never a chunk held whole): the registry reads each one
    const patchReply = asyncData(async (opts) => {
      const { bytes: body } = await consume(opts.body);
      parts.push(body);
      patches.push({ range: header(opts, 'content-range'), length: body.length });
      return '';
    });
    registry
      .intercept({ path: '/v2/acme/app/blobs/uploads/c?_state=0', method: 'PATCH' })
      .reply(202, patchReply, { headers: { location: '/v2/acme/app/blobs/uploads/c?_state=1', range: `0-${UPLOAD_CHUNK_BYTES - 1}` } });
    registry
      .intercept({ path: '/v2/acme/app/blobs/uploads/c?_state=1', method: 'PATCH' })
      .reply(202, patchReply, { headers: { location: `${ORIGIN}/v2/acme/app/blobs/uploads/c?_state=2` } });
    registry.intercept({ path: `/v2/acme/app/blobs/uploads/c?_state=2&${digestQuery}`, method: 'PUT' }).reply(201, '');

    expect(await client.copyBlob(SOURCE, APP, descriptor)).toBe('copied');
    expect(patches).toEqual([
      { range: `0-${UPLOAD_CHUNK_BYTES - 1}`, length: UPLOAD_CHUNK_BYTES },
      { range: `${UPLOAD_CHUNK_BYTES}-${bytes.length - 1}`, length: 1000 },
    ]);
    expect(Buffer.concat(parts).equals(bytes)).toBe(true);

    // the next blob goes chunked straight away: no monolithic PUT is even tried
    const small = blob(500, 12);
    source.intercept({ path: `/v2/acme/base/blobs/${small.descriptor.digest}`, method: 'GET' }).reply(200, small.bytes);
    registry
      .intercept({ path: '/v2/acme/app/blobs/uploads/', method: 'POST' })
      .reply(202, '', { headers: { location: '/v2/acme/app/blobs/uploads/d' } });
    registry
      .intercept({ path: '/v2/acme/app/blobs/uploads/d', method: 'PATCH' })
      .reply(202, patchReply, { headers: { location: '/v2/acme/app/blobs/uploads/d2' } });
    registry
      .intercept({ path: `/v2/acme/app/blobs/uploads/d2?digest=${encodeURIComponent(small.descriptor.digest)}`, method: 'PUT' })
      .reply(201, '');
    expect(await client.copyBlob(SOURCE, APP, small.descriptor)).toBe('copied');
    // the refused monolithic session was cancelled, once
    expect(client.stats().byKind).toEqual({ 'GET blob': 3, 'POST upload': 3, 'PUT upload': 3, 'PATCH upload': 3, 'DELETE upload': 1 });
  });

  it('reports a failed upload with the repository, status and registry error code', async () => {
    const { registry, source, client } = copySetup();
    const { bytes, descriptor } = blob(100, 13);
    source.intercept({ path: `/v2/acme/base/blobs/${descriptor.digest}`, method: 'GET' }).reply(200, bytes);
    registry
      .intercept({ path: '/v2/acme/app/blobs/uploads/', method: 'POST' })
      .reply(404, { errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }] });
    const error = (await caught(client.copyBlob(SOURCE, APP, descriptor))) as HttpError;
    expect(error.code).toBe('NOT_FOUND');
    expect(error.message).toContain(`copy from ${SOURCE_REGISTRY}/acme/base to ${REGISTRY}/acme/app`);
    expect(error.message).toContain(
      `POST ${ORIGIN}/v2/acme/app/blobs/uploads/ returned 404 Not Found: NAME_UNKNOWN: repository name not known to registry`,
    );
  });
});
