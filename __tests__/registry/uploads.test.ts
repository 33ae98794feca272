// Uploads against small hostile registries on loopback: chunk demands (capped, streamed, never
// buffered whole), the monolithic-refused memory, and the cancel (DELETE) of a failed session.
import { afterEach, describe, expect, it } from '@jest/globals';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, TooLargeError, isHttpError } from '../../src/base/errors.js';
import { createMemoryLogger } from '../../src/base/logger.js';
import { createRegistryClient, MAX_CHUNK_BYTES, UPLOAD_CHUNK_BYTES } from '../../src/registry/client.js';
import type { RegistryClientOptions } from '../../src/registry/client-types.js';
import { blob, drain, json, startFakeServer, type FakeServer } from '../support/fake-registry.js';

const anonymous = { credentialsFor: async () => undefined, describeLookup: () => 'nowhere' };
const servers: FakeServer[] = [];
const clients: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function client(overrides: Partial<RegistryClientOptions> = {}) {
  const logger = createMemoryLogger();
  const made = createRegistryClient({ credentials: anonymous, logger, retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 }, deadline: Date.now() + 20_000, ...overrides });
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
      patches.push({ range: req.headers['content-range'], size: body.length, digest: `sha256:${createHash('sha256').update(body).digest('hex')}` });
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
    const error = await c.copyBlob({ registry: source.host, repository: 'acme/src' }, { registry: target.server.host, repository: 'acme/app' }, descriptor).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TooLargeError);
    const message = (error as TooLargeError).message;
    expect(message).toContain('OCI-Chunk-Min-Length: 99999999999');
    expect(message).toContain(`${target.server.host} demands chunks of at least 93 GiB`);
    expect(message).toContain('over the 64 MiB');
    expect((error as TooLargeError).facts).toMatchObject({ registry: target.server.host, repository: 'acme/app', reference: descriptor.digest });
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
    await c.uploadBlob({ registry: source.host, repository: 'acme/src' }, { registry: target.server.host, repository: 'acme/app' }, blob(10, 1).descriptor, async () => blob(10, 1).bytes);
    target.patches.length = 0;
    target.received.length = 0;

    expect(await c.copyBlob({ registry: source.host, repository: 'acme/src' }, { registry: target.server.host, repository: 'acme/app' }, descriptor)).toBe('copied');
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
    const error = await c.copyBlob({ registry: source.host, repository: 'acme/src' }, { registry: target.host, repository: 'acme/app' }, descriptor).then(
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
    const error = await c.copyBlob({ registry: source.host, repository: 'acme/src' }, { registry: target.host, repository: 'acme/app' }, descriptor).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect(target.requests.filter((r) => r.method === 'PUT' && r.path.includes('digest=')).length).toBe(1); // only the refused monolithic one: never committed
    expect(target.requests.filter((r) => r.method === 'DELETE').length).toBe(2);
  });
});
