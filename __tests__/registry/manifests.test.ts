// Manifests against small hostile registries: a Content-Type that contradicts the body is refused
// at read time (defect 8), naming the manifest, before anything could be copied.
import { afterEach, describe, expect, it } from '@jest/globals';
import { InvalidManifestError, DigestMismatchError } from '../../src/base/errors.js';
import { MediaType } from '../../src/oci/manifest.js';
import { createRegistryClient } from '../../src/registry/client.js';
import { manifestMediaType } from '../../src/registry/manifests.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { startFakeServer, type FakeServer } from '../support/fake-registry.js';

const anonymous = { credentialsFor: async () => undefined, describeLookup: () => 'nowhere' };
const servers: FakeServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const IMAGE = Buffer.from(
  JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: MediaType.OciConfig, digest: `sha256:${'a'.repeat(64)}`, size: 2 }, layers: [] }),
);
const INDEX = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] }));
const BARE_IMAGE = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: MediaType.OciConfig, digest: `sha256:${'a'.repeat(64)}`, size: 2 }, layers: [] }));
const DOCKER_IMAGE = Buffer.from(
  JSON.stringify({ schemaVersion: 2, mediaType: MediaType.DockerManifest, config: { mediaType: MediaType.DockerConfig, digest: `sha256:${'a'.repeat(64)}`, size: 2 }, layers: [] }),
);

async function serving(bytes: Buffer, contentType: string): Promise<FakeServer> {
  const server = await startFakeServer((_req, res) => {
    res.writeHead(200, { 'content-type': contentType, 'content-length': String(bytes.length), 'docker-content-digest': sha256Digest(bytes) });
    res.end(bytes);
  });
  servers.push(server);
  return server;
}

describe('Content-Type against the body (defect 8)', () => {
  it.each([
    ['an index Content-Type over an image manifest', IMAGE, MediaType.OciIndex, MediaType.OciManifest],
    ['an image Content-Type over an index', INDEX, MediaType.OciManifest, MediaType.OciIndex],
    ['a Docker list Content-Type over a body without mediaType shaped as an image', BARE_IMAGE, MediaType.DockerManifestList, 'an image manifest'],
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
      await expect(client.fetchManifest({ registry: server.host, repository: 'acme/app' }, 'v1')).rejects.toBeInstanceOf(DigestMismatchError);
    } finally {
      await client.close();
    }
  });
});
