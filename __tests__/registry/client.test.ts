// The registry client facade: cross-repository mounts (and what it does when a registry declines
// one), close(), the errors it raises, and a whole streamed copy through its own undici Agent
// against a real HTTP server on loopback.
import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { DigestMismatchError, ManifestMergeError } from '../../src/base/errors.js';
import { createRegistryClient } from '../../src/registry/client.js';
import { caught } from '../support/caught.js';
import { blob } from '../support/fake-registry.js';
import {
  REGISTRY,
  AUTH_ORIGIN,
  APP,
  TOKEN,
  sha256,
  MANIFEST,
  MANIFEST_DIGEST,
  credentials,
  header,
  asyncData,
  consume,
  mockRegistryClient,
  manifestPath,
  bearerChallenge,
  basicCredentials,
} from '../support/registry-clients.js';

describe('mount', () => {
  const { bytes, descriptor } = blob(5000, 7);
  const BASE = { registry: REGISTRY, repository: 'acme/base' };
  const mountPath = `/v2/acme/app/blobs/uploads/?mount=${encodeURIComponent(descriptor.digest)}&from=${encodeURIComponent('acme/base')}`;

  it('mounts with one token covering pull on the source and pull,push on the target', async () => {
    const { agent, registry, client } = mockRegistryClient({ credentials: basicCredentials() });
    const tokenPaths: string[] = [];
    agent
      .get(AUTH_ORIGIN)
      .intercept({ path: (p) => p.startsWith('/token?'), method: 'GET' })
      .reply(200, (opts) => {
        tokenPaths.push(decodeURIComponent(opts.path));
        return { token: TOKEN };
      });
    registry
      .intercept({ path: mountPath, method: 'POST' })
      .reply((opts) =>
        header(opts, 'authorization') === `Bearer ${TOKEN}`
          ? { statusCode: 201, data: '', responseOptions: { headers: { location: `/v2/acme/app/blobs/${descriptor.digest}` } } }
          : {
              statusCode: 401,
              data: '',
              responseOptions: { headers: { 'www-authenticate': bearerChallenge('repository:acme/app:pull,push') } },
            },
      )
      .times(2);
    expect(await client.mountBlob(APP, BASE, descriptor)).toBe('mounted');
    expect(tokenPaths).toHaveLength(1);
    expect(tokenPaths[0]).toContain('scope=repository:acme/app:pull,push');
    expect(tokenPaths[0]).toContain('scope=repository:acme/base:pull');
    expect(client.stats().byKind).toEqual({ 'POST mount': 2, 'GET token': 1 });
  });

  it('streams the blob into the upload session the registry opened when it declines the mount (202)', async () => {
    const { registry, client } = mockRegistryClient();
    registry
      .intercept({ path: mountPath, method: 'POST' })
      .reply(202, '', { headers: { location: '/v2/acme/app/blobs/uploads/u-1?_state=abc%3D%3D' } });
    registry.intercept({ path: `/v2/acme/app/blobs/${descriptor.digest}`, method: 'HEAD' }).reply(404, '');
    registry
      .intercept({ path: `/v2/acme/base/blobs/${descriptor.digest}`, method: 'GET' })
      .reply(200, bytes, { headers: { 'content-length': String(bytes.length) } });
    let received: { bytes: Buffer; error?: unknown } | undefined;
    let contentLength: string | undefined;
    registry
      .intercept({ path: `/v2/acme/app/blobs/uploads/u-1?_state=abc%3D%3D&digest=${encodeURIComponent(descriptor.digest)}`, method: 'PUT' })
      .reply(
        201,
        asyncData(async (opts) => {
          contentLength = header(opts, 'content-length');
          received = await consume(opts.body);
          return '';
        }),
      );
    expect(await client.mountBlob(APP, BASE, descriptor)).toBe('copied');
    expect(received?.error).toBeUndefined();
    expect(received?.bytes.equals(bytes)).toBe(true);
    expect(contentLength).toBe(String(bytes.length));
    // the HEAD asked, in parallel with the GET, whether the target had the blob after all
    expect(client.stats().byKind).toEqual({ 'POST mount': 1, 'HEAD blob': 1, 'GET blob': 1, 'PUT upload': 1 });
  });

  it("closes the session unused when a registry declines the mount although it holds the blob (one blob store, as go-containerregistry's)", async () => {
    const { registry, client } = mockRegistryClient();
    registry
      .intercept({ path: mountPath, method: 'POST' })
      .reply(202, '', { headers: { location: '/v2/acme/app/blobs/uploads/u-2?_state=xyz' } });
    registry
      .intercept({ path: `/v2/acme/app/blobs/${descriptor.digest}`, method: 'HEAD' })
      .reply(200, '', { headers: { 'content-length': String(bytes.length) } });
    registry
      .intercept({ path: `/v2/acme/base/blobs/${descriptor.digest}`, method: 'GET' })
      .reply(200, bytes, { headers: { 'content-length': String(bytes.length) } });
    let cancelled = false;
    registry.intercept({ path: '/v2/acme/app/blobs/uploads/u-2?_state=xyz', method: 'DELETE' }).reply(() => {
      cancelled = true;
      return { statusCode: 204, data: '' };
    });
    expect(await client.mountBlob(APP, BASE, descriptor)).toBe('exists');
    expect(cancelled).toBe(true);
    expect(client.stats().byKind['PUT upload']).toBeUndefined();
    expect(client.stats().byKind['PATCH upload']).toBeUndefined();
  });
  it('a mount refused with 405 holds for the whole registry: streamed, and no further mount asked of it', async () => {
    const { registry, client } = mockRegistryClient();
    const other = blob(3000, 9);
    registry
      .intercept({ path: (p) => p.startsWith('/v2/acme/app/blobs/uploads/?') && p.includes('mount='), method: 'POST' })
      .reply(405, { errors: [{ code: 'UNSUPPORTED', message: 'mounts are not supported' }] })
      .persist();
    registry
      .intercept({ path: (p) => p === '/v2/acme/app/blobs/uploads/' || p === '/v2/acme/app/blobs/uploads', method: 'POST' })
      .reply(202, '', { headers: { location: '/v2/acme/app/blobs/uploads/u-9' } })
      .persist();
    for (const b of [{ bytes, descriptor }, other])
      registry
        .intercept({ path: `/v2/acme/base/blobs/${b.descriptor.digest}`, method: 'GET' })
        .reply(200, b.bytes, { headers: { 'content-length': String(b.bytes.length) } });
    registry
      .intercept({ path: (p) => p.startsWith('/v2/acme/app/blobs/uploads/u-9?digest='), method: 'PUT' })
      .reply(
        201,
        asyncData(async (opts) => (await consume(opts.body), '')),
      )
      .persist();
    expect(await client.mountBlob(APP, BASE, descriptor)).toBe('copied');
    expect(await client.mountBlob(APP, BASE, other.descriptor)).toBe('copied');
    // the first blob asked for a mount; the second went straight to the stream
    expect(client.stats().byKind['POST mount']).toBe(1);
    expect(client.stats().byKind['PUT upload']).toBe(2);
  });
});

describe('misc', () => {
  it('close() leaves an injected dispatcher open', async () => {
    const { registry, client } = mockRegistryClient();
    registry.intercept({ path: manifestPath('1.0'), method: 'GET' }).reply(200, MANIFEST);
    await client.close();
    expect((await client.fetchManifest(APP, '1.0')).digest).toBe(MANIFEST_DIGEST);
  });

  it('raises only ManifestMergeErrors for registry failures', async () => {
    const { registry, client } = mockRegistryClient();
    registry
      .intercept({ path: `/v2/acme/app/blobs/sha256:${'f'.repeat(64)}`, method: 'HEAD' })
      .reply(500, '')
      .times(3);
    const error = await caught(client.hasBlob(APP, `sha256:${'f'.repeat(64)}`));
    expect(error).toBeInstanceOf(ManifestMergeError);
    expect(error.message).toContain(`Blob sha256:${'f'.repeat(64)} in ${REGISTRY}/acme/app: unexpected response: HEAD`);
    expect(error.message).toContain('returned 500 Internal Server Error');
  });
});

describe('against a real HTTP server on loopback (own undici Agent)', () => {
  /** A tiny registry: serves one blob (optionally altered) and accepts monolithic uploads, hashing what arrives. */
  async function tinyRegistry(content: Buffer, serve: Buffer) {
    const { createServer } = await import('node:http');
    const uploads: Array<{ digest: string | null; received: number; complete: boolean; hash: string }> = [];
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'GET' && url.pathname === `/v2/acme/base/blobs/${sha256(content)}`) {
        res.writeHead(200, { 'content-length': String(serve.length), 'content-type': 'application/octet-stream' });
        // in pieces, as a real registry streams
        let offset = 0;
        const pump = (): void => {
          while (offset < serve.length) {
            const piece = serve.subarray(offset, offset + 65536);
            offset += piece.length;
            if (!res.write(piece)) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
        return;
      }
      if (req.method === 'POST' && url.pathname === '/v2/acme/app/blobs/uploads/') {
        res.writeHead(202, { location: `/v2/acme/app/blobs/uploads/${uploads.length}?_state=x%3D`, 'content-length': '0' });
        res.end();
        return;
      }
      if (req.method === 'PUT' && url.pathname.startsWith('/v2/acme/app/blobs/uploads/')) {
        const upload = { digest: url.searchParams.get('digest'), received: 0, complete: false, hash: '' };
        uploads.push(upload);
        const hash = createHash('sha256');
        req.on('data', (chunk: Buffer) => {
          upload.received += chunk.length;
          hash.update(chunk);
        });
        req.on('end', () => {
          upload.complete = true;
          upload.hash = `sha256:${hash.digest('hex')}`;
          res.writeHead(upload.hash === upload.digest ? 201 : 400, { 'content-length': '0' });
          res.end();
        });
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'NOT_FOUND', message: `${req.method} ${url.pathname}` }] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    return { host: `127.0.0.1:${port}`, uploads, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  it('copies a multi-MiB blob in a stream after finding that the registry speaks plain HTTP', async () => {
    const { bytes, descriptor } = blob(12 * 1024 * 1024 + 123, 21);
    const server = await tinyRegistry(bytes, bytes);
    const client = createRegistryClient({ credentials: credentials(), retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 } });
    try {
      const result = await client.copyBlob(
        { registry: server.host, repository: 'acme/base' },
        { registry: server.host, repository: 'acme/app' },
        descriptor,
      );
      expect(result).toBe('copied');
      expect(server.uploads).toEqual([{ digest: descriptor.digest, received: bytes.length, complete: true, hash: descriptor.digest }]);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('aborts the upload before it completes when the source bytes are wrong', async () => {
    const { bytes, descriptor } = blob(3 * 1024 * 1024, 22);
    const altered = Buffer.from(bytes);
    altered[altered.length - 5] ^= 0x10;
    const server = await tinyRegistry(bytes, altered);
    const client = createRegistryClient({ credentials: credentials(), retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 } });
    try {
      const error = await caught(
        client.copyBlob({ registry: server.host, repository: 'acme/base' }, { registry: server.host, repository: 'acme/app' }, descriptor),
      );
      expect(error).toBeInstanceOf(DigestMismatchError);
      expect(error.message).toContain(`Blob ${descriptor.digest} from ${server.host}/acme/base`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(server.uploads).toHaveLength(1);
      expect(server.uploads[0].complete).toBe(false);
      expect(server.uploads[0].received).toBeLessThan(bytes.length);
    } finally {
      await client.close();
      await server.close();
    }
  });
});
