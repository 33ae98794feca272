// Manifests: GET (exact bytes, digest verified, size capped, media type checked against the body),
// HEAD (digest, type and size; GET when HEAD says too little or is not served) and PUT, against
// undici's MockAgent and small hostile registries on loopback (defect 8: a Content-Type that
// contradicts the body is refused at read time, naming the manifest, before anything is copied).
import { afterEach, describe, expect, it } from '@jest/globals';
import { DigestMismatchError, HttpError, InvalidManifestError, TooLargeError } from '../../src/base/errors.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, MediaType } from '../../src/oci/manifest.js';
import { createRegistryClient } from '../../src/registry/client.js';
import { caught } from '../support/caught.js';
import { startFakeServer, type FakeServer } from '../support/fake-registry.js';
import {
  anonymous,
  REGISTRY,
  ORIGIN,
  APP,
  MANIFEST,
  MANIFEST_DIGEST,
  header,
  mockRegistryClient,
  manifestPath,
} from '../support/registry-clients.js';
import { manifestMediaType } from '../../src/registry/manifests.js';

const servers: FakeServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const IMAGE = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: `sha256:${'a'.repeat(64)}`, size: 2 },
    layers: [],
  }),
);
const INDEX = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] }));
const BARE_IMAGE = Buffer.from(
  JSON.stringify({ schemaVersion: 2, config: { mediaType: MediaType.OciConfig, digest: `sha256:${'a'.repeat(64)}`, size: 2 }, layers: [] }),
);
const DOCKER_IMAGE = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.DockerManifest,
    config: { mediaType: MediaType.DockerConfig, digest: `sha256:${'a'.repeat(64)}`, size: 2 },
    layers: [],
  }),
);

async function serving(bytes: Buffer, contentType: string): Promise<FakeServer> {
  const server = await startFakeServer((_req, res) => {
    res.writeHead(200, {
      'content-type': contentType,
      'content-length': String(bytes.length),
      'docker-content-digest': sha256Digest(bytes),
    });
    res.end(bytes);
  });
  servers.push(server);
  return server;
}

describe('Content-Type against the body (defect 8)', () => {
  it.each([
    ['an index Content-Type over an image manifest', IMAGE, MediaType.OciIndex, MediaType.OciManifest],
    ['an image Content-Type over an index', INDEX, MediaType.OciManifest, MediaType.OciIndex],
    [
      'a Docker list Content-Type over a body without mediaType shaped as an image',
      BARE_IMAGE,
      MediaType.DockerManifestList,
      'an image manifest',
    ],
    ['an OCI Content-Type over a Docker manifest', DOCKER_IMAGE, MediaType.OciManifest, MediaType.DockerManifest],
  ])('refuses %s, naming the manifest', async (_label, bytes, contentType, body) => {
    const server = await serving(bytes, contentType);
    const client = createRegistryClient({ credentials: anonymous, retry: { maxAttempts: 1 } });
    try {
      const error = await client.fetchManifest({ registry: server.host, repository: 'acme/app' }, 'v1').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InvalidManifestError);
      const invalid = error as InvalidManifestError;
      expect(invalid.code).toBe('INVALID_MANIFEST');
      expect(invalid.summary).toBe(
        `Manifest ${server.host}/acme/app:v1: the registry says it is ${contentType} (Content-Type) but the body is ${body}; refusing a manifest whose type is contradictory`,
      );
      expect(invalid.facts).toMatchObject({ registry: server.host, repository: 'acme/app', reference: 'v1' });
      // one read, not retried
      expect(server.requests.map((r) => r.method)).toEqual(['GET']);
    } finally {
      await client.close();
    }
  });

  it('accepts agreeing types, and a generic Content-Type (the body says what it is)', () => {
    expect(manifestMediaType('m', MediaType.OciIndex, INDEX)).toBe(MediaType.OciIndex);
    expect(manifestMediaType('m', MediaType.OciManifest, BARE_IMAGE)).toBe(MediaType.OciManifest);
    expect(manifestMediaType('m', 'application/json', DOCKER_IMAGE)).toBe(MediaType.DockerManifest);
    expect(manifestMediaType('m', undefined, Buffer.from('not json'))).toBe('');
  });

  it('a manifest labelled application/json or text/plain without mediaType: the type comes from its shape', () => {
    const BARE_INDEX = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] }));
    for (const label of ['application/json', 'text/plain']) {
      expect(manifestMediaType('m', label, BARE_IMAGE)).toBe(MediaType.OciManifest);
      expect(manifestMediaType('m', label, BARE_INDEX)).toBe(MediaType.OciIndex);
      expect(manifestMediaType('m', label, INDEX)).toBe(MediaType.OciIndex);
    }
    // neither a type nor a shape: what the registry said, for parseManifest to refuse by name
    expect(manifestMediaType('m', 'text/plain', Buffer.from('{"schemaVersion":2}'))).toBe('text/plain');
  });

  it('HEAD answered 405: the manifest is read with GET, and HEAD is not asked of that registry again', async () => {
    const server = await startFakeServer((req, res) => {
      if (req.method === 'HEAD') {
        res.writeHead(405, { 'content-length': '0' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(BARE_IMAGE.length) });
      res.end(BARE_IMAGE);
    });
    servers.push(server);
    const client = createRegistryClient({ credentials: anonymous, retry: { maxAttempts: 1 } });
    try {
      const repository = { registry: server.host, repository: 'acme/app' };
      const expected = { digest: sha256Digest(BARE_IMAGE), mediaType: MediaType.OciManifest, size: BARE_IMAGE.length };
      expect(await client.headManifest(repository, 'v1')).toEqual(expected);
      expect(await client.headManifest(repository, 'v2')).toEqual(expected);
      expect(server.requests.map((r) => r.method)).toEqual(['HEAD', 'GET', 'GET']);
    } finally {
      await client.close();
    }
  });

  it('altered bytes are a digest error before any type check', async () => {
    const server = await startFakeServer((_req, res) => {
      res.writeHead(200, { 'content-type': MediaType.OciIndex, 'docker-content-digest': sha256Digest(INDEX) });
      res.end(IMAGE);
    });
    servers.push(server);
    const client = createRegistryClient({ credentials: anonymous, retry: { maxAttempts: 1 } });
    try {
      await expect(client.fetchManifest({ registry: server.host, repository: 'acme/app' }, 'v1')).rejects.toBeInstanceOf(
        DigestMismatchError,
      );
    } finally {
      await client.close();
    }
  });
});

describe('fetchManifest', () => {
  it('sends every manifest Accept type and returns the exact bytes, digest and media type', async () => {
    const { registry, client } = mockRegistryClient();
    let accept: string | undefined;
    registry.intercept({ path: manifestPath('1.0'), method: 'GET' }).reply(
      200,
      (opts) => {
        accept = header(opts, 'accept');
        return MANIFEST;
      },
      { headers: { 'content-type': `${MediaType.OciManifest}; charset=utf-8`, 'docker-content-digest': MANIFEST_DIGEST } },
    );
    const fetched = await client.fetchManifest(APP, '1.0');
    for (const type of MANIFEST_ACCEPT) expect(accept).toContain(type);
    expect(accept?.split(',').map((s) => s.trim())).toEqual(MANIFEST_ACCEPT);
    expect(fetched.bytes.equals(MANIFEST)).toBe(true);
    expect(fetched.digest).toBe(MANIFEST_DIGEST);
    expect(fetched.size).toBe(MANIFEST.length);
    expect(fetched.mediaType).toBe(MediaType.OciManifest);
    expect(client.stats()).toEqual({ requests: 1, byKind: { 'GET manifest': 1 }, retries: 0 });
  });

  it('takes the media type from the body when Content-Type is not a manifest type', async () => {
    const { registry, client } = mockRegistryClient();
    registry
      .intercept({ path: manifestPath(MANIFEST_DIGEST), method: 'GET' })
      .reply(200, MANIFEST, { headers: { 'content-type': 'application/json' } });
    expect((await client.fetchManifest(APP, MANIFEST_DIGEST)).mediaType).toBe(MediaType.OciManifest);
  });

  it('refuses bytes that do not hash to the digest asked for, naming the image', async () => {
    const { registry, client } = mockRegistryClient();
    const wanted = `sha256:${'b'.repeat(64)}`;
    registry
      .intercept({ path: manifestPath(wanted), method: 'GET' })
      .reply(200, MANIFEST, { headers: { 'content-type': MediaType.OciManifest } });
    const error = await caught(client.fetchManifest(APP, wanted));
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect((error as DigestMismatchError).code).toBe('DIGEST_MISMATCH');
    expect(error.message).toContain(`Manifest ${REGISTRY}/acme/app@${wanted}`);
    expect(error.message).toContain(MANIFEST_DIGEST);
  });

  it('checks a tag against Docker-Content-Digest', async () => {
    const { registry, client } = mockRegistryClient();
    registry
      .intercept({ path: manifestPath('latest'), method: 'GET' })
      .reply(200, MANIFEST, { headers: { 'content-type': MediaType.OciManifest, 'docker-content-digest': `sha256:${'c'.repeat(64)}` } });
    const error = await caught(client.fetchManifest(APP, 'latest'));
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect(error.message).toContain(`Manifest ${REGISTRY}/acme/app:latest`);
  });

  it('refuses a manifest whose Content-Length is over the limit, before reading it', async () => {
    const { registry, client } = mockRegistryClient();
    registry
      .intercept({ path: manifestPath('huge'), method: 'GET' })
      .reply(200, '{}', { headers: { 'content-type': MediaType.OciManifest, 'content-length': String(MAX_MANIFEST_BYTES + 1) } });
    const error = await caught(client.fetchManifest(APP, 'huge'));
    expect(error).toBeInstanceOf(TooLargeError);
    expect(error.message).toContain(`Manifest ${REGISTRY}/acme/app:huge`);
  });

  it('stops reading a manifest body that grows over the limit without a Content-Length', async () => {
    const { registry, client } = mockRegistryClient();
    registry
      .intercept({ path: manifestPath('huge'), method: 'GET' })
      .reply(200, Buffer.alloc(MAX_MANIFEST_BYTES + 10, 0x20), { headers: { 'content-type': MediaType.OciManifest } });
    const error = await caught(client.fetchManifest(APP, 'huge'));
    expect(error).toBeInstanceOf(TooLargeError);
    expect((error as TooLargeError).code).toBe('TOO_LARGE');
  });

  it('reports 404 with the image, the request and the registry error code', async () => {
    const { registry, client } = mockRegistryClient();
    registry
      .intercept({ path: manifestPath('1.0'), method: 'GET' })
      .reply(
        404,
        { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: '1.0' } }] },
        { headers: { 'content-type': 'application/json' } },
      );
    const error = await caught(client.fetchManifest(APP, '1.0'));
    expect(error).toBeInstanceOf(HttpError);
    const http = error as HttpError;
    expect(http.code).toBe('NOT_FOUND');
    expect(http.status).toBe(404);
    expect(http.registryErrors[0]?.code).toBe('MANIFEST_UNKNOWN');
    expect(http.message).toBe(
      `Manifest ${REGISTRY}/acme/app:1.0 not found (MANIFEST_UNKNOWN): GET ${ORIGIN}/v2/acme/app/manifests/1.0 returned 404 Not Found: MANIFEST_UNKNOWN: manifest unknown. ` +
        'Check the reference (registry, repository, tag or digest), and that the job that builds the image pushed it before this step',
    );
    expect(http.request).toEqual({ method: 'GET', url: `${ORIGIN}/v2/acme/app/manifests/1.0` });
    expect(client.stats().retries).toBe(0);
  });

  it('uses registry-1.docker.io for docker.io', async () => {
    const { agent, client } = mockRegistryClient();
    agent
      .get('https://registry-1.docker.io')
      .intercept({ path: '/v2/library/alpine/manifests/3.20', method: 'GET' })
      .reply(200, MANIFEST, { headers: { 'content-type': MediaType.OciManifest } });
    const fetched = await client.fetchManifest({ registry: 'docker.io', repository: 'library/alpine' }, '3.20');
    expect(fetched.digest).toBe(MANIFEST_DIGEST);
  });
});

describe('manifests: HEAD and PUT', () => {
  it('headManifest returns digest, type and size; undefined on 404', async () => {
    const { registry, client } = mockRegistryClient();
    let accept: string | undefined;
    registry.intercept({ path: manifestPath('1.0'), method: 'HEAD' }).reply(
      200,
      (opts) => {
        accept = header(opts, 'accept');
        return '';
      },
      { headers: { 'docker-content-digest': MANIFEST_DIGEST, 'content-type': MediaType.OciIndex, 'content-length': '1234' } },
    );
    registry.intercept({ path: manifestPath('2.0'), method: 'HEAD' }).reply(404, '');
    expect(await client.headManifest(APP, '1.0')).toEqual({ digest: MANIFEST_DIGEST, mediaType: MediaType.OciIndex, size: 1234 });
    expect(accept?.split(',').map((s) => s.trim())).toEqual(MANIFEST_ACCEPT);
    expect(await client.headManifest(APP, '2.0')).toBeUndefined();
    expect(client.stats().byKind).toEqual({ 'HEAD manifest': 2 });
  });

  it('headManifest falls back to GET when the registry omits Docker-Content-Digest', async () => {
    const { registry, client } = mockRegistryClient();
    registry
      .intercept({ path: manifestPath('1.0'), method: 'HEAD' })
      .reply(200, '', { headers: { 'content-type': MediaType.OciManifest, 'content-length': String(MANIFEST.length) } });
    registry
      .intercept({ path: manifestPath('1.0'), method: 'GET' })
      .reply(200, MANIFEST, { headers: { 'content-type': MediaType.OciManifest } });
    expect(await client.headManifest(APP, '1.0')).toEqual({
      digest: MANIFEST_DIGEST,
      mediaType: MediaType.OciManifest,
      size: MANIFEST.length,
    });
    expect(client.stats().byKind).toEqual({ 'HEAD manifest': 1, 'GET manifest': 1 });
  });

  it('putManifest sends the exact bytes with the media type and returns the reported digest', async () => {
    const { registry, client } = mockRegistryClient();
    let received: { contentType?: string; body?: unknown } = {};
    registry.intercept({ path: manifestPath(MANIFEST_DIGEST), method: 'PUT' }).reply(
      201,
      (opts) => {
        received = { contentType: header(opts, 'content-type'), body: opts.body };
        return '';
      },
      { headers: { 'docker-content-digest': MANIFEST_DIGEST } },
    );
    expect(await client.putManifest(APP, MANIFEST_DIGEST, { bytes: MANIFEST, mediaType: MediaType.OciManifest })).toBe(MANIFEST_DIGEST);
    expect(received.contentType).toBe(MediaType.OciManifest);
    expect(Buffer.isBuffer(received.body) && (received.body as Buffer).equals(MANIFEST)).toBe(true);
  });

  it('deleteManifest DELETEs a tag (202); a registry that does not delete tags says so with its status and code', async () => {
    const { registry, client } = mockRegistryClient();
    registry.intercept({ path: manifestPath('v1'), method: 'DELETE' }).reply(202, '');
    await client.deleteManifest(APP, 'v1');
    registry
      .intercept({ path: manifestPath('v2'), method: 'DELETE' })
      .reply(
        405,
        { errors: [{ code: 'UNSUPPORTED', message: 'The operation is unsupported.' }] },
        { headers: { 'content-type': 'application/json' } },
      );
    const error = await caught(client.deleteManifest(APP, 'v2'));
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).status).toBe(405);
    expect(error.message).toContain(`Manifest ${REGISTRY}/acme/app:v2`);
    expect(error.message).toContain('UNSUPPORTED');
    expect(client.stats().byKind).toEqual({ 'DELETE manifest': 2 });
  });

  it('putManifest computes the digest when the registry does not report one, and retries a 502', async () => {
    const { registry, client } = mockRegistryClient();
    registry.intercept({ path: manifestPath('latest'), method: 'PUT' }).reply(502, 'bad gateway');
    registry.intercept({ path: manifestPath('latest'), method: 'PUT' }).reply(201, '');
    expect(await client.putManifest(APP, 'latest', { bytes: MANIFEST, mediaType: MediaType.OciManifest })).toBe(MANIFEST_DIGEST);
    expect(client.stats()).toMatchObject({ byKind: { 'PUT manifest': 2 }, retries: 1 });
  });

  it('putManifest by digest refuses bytes that do not match, and a registry that stores another digest', async () => {
    const { registry, client } = mockRegistryClient();
    const other = `sha256:${'d'.repeat(64)}`;
    const local = await caught(client.putManifest(APP, other, { bytes: MANIFEST, mediaType: MediaType.OciManifest }));
    expect(local).toBeInstanceOf(DigestMismatchError);
    expect(client.stats().requests).toBe(0);

    registry
      .intercept({ path: manifestPath(MANIFEST_DIGEST), method: 'PUT' })
      .reply(201, '', { headers: { 'docker-content-digest': other } });
    const remote = await caught(client.putManifest(APP, MANIFEST_DIGEST, { bytes: MANIFEST, mediaType: MediaType.OciManifest }));
    expect(remote).toBeInstanceOf(DigestMismatchError);
    expect(remote.message).toContain(`Manifest ${REGISTRY}/acme/app@${MANIFEST_DIGEST}`);
  });
});
