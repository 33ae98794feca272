// The client that answers for layout sources from disk (src/sources/layout-client.ts) and passes
// every other repository to the registry client it wraps; a layout is never written to.
import { describe, expect, it, jest } from '@jest/globals';
import { createHash } from 'node:crypto';
import { InputError } from '../../src/base/errors.js';
import type { Descriptor } from '../../src/oci/manifest.js';
import type { RegistryClient } from '../../src/registry/client-types.js';
import { LayoutSet, withLayouts } from '../../src/sources/layout-client.js';
import { LAYOUT_REGISTRY } from '../../src/sources/layout-reference.js';
import { caught } from '../support/caught.js';
import { FILES, MANIFEST_DIGEST, OCI_LAYOUT, layoutDir, layoutError } from '../support/layouts.js';
import { useTempDir } from '../support/temp-dir.js';

const root = useTempDir('mm-layout-client-');

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const CONFIG = Buffer.from('{"architecture":"amd64","os":"linux"}');
const CONFIG_DESCRIPTOR: Descriptor = {
  mediaType: 'application/vnd.oci.image.config.v1+json',
  digest: sha256(CONFIG),
  size: CONFIG.length,
};
const IMAGE = Buffer.from(
  JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: CONFIG_DESCRIPTOR, layers: [] }),
);
const IMAGE_DESCRIPTOR = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(IMAGE), size: IMAGE.length };
/** A whole layout: the manifest and its config. */
const COMPLETE = {
  'oci-layout': OCI_LAYOUT,
  'index.json': Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [IMAGE_DESCRIPTOR] })),
  [`blobs/sha256/${IMAGE_DESCRIPTOR.digest.slice(7)}`]: IMAGE,
  [`blobs/sha256/${CONFIG_DESCRIPTOR.digest.slice(7)}`]: CONFIG,
};

const REGISTRY_REPO = { registry: 'ghcr.io', repository: 'acme/app' };

/** A registry client whose every method records its call and answers `inner`. */
function innerClient() {
  const client = {
    declareScopes: jest.fn<RegistryClient['declareScopes']>(),
    fetchManifest: jest.fn<RegistryClient['fetchManifest']>(async () => ({
      bytes: Buffer.from('{}'),
      mediaType: 'x',
      digest: 'sha256:inner',
      size: 2,
    })),
    headManifest: jest.fn(async () => undefined),
    putManifest: jest.fn(async () => 'sha256:put'),
    hasBlob: jest.fn<RegistryClient['hasBlob']>(async () => true),
    fetchBlob: jest.fn(async () => Buffer.from('inner')),
    mountBlob: jest.fn(async () => ({ how: 'mounted' })),
    copyBlob: jest.fn(async () => ({ how: 'copied' })),
    uploadBlob: jest.fn(async () => ({ how: 'uploaded' })),
    stats: jest.fn(() => ({ requests: 0, retries: 0, byKind: {} })),
    close: jest.fn(async () => undefined),
  };
  return client;
}

async function layoutClient(files: Record<string, Buffer> = COMPLETE) {
  const dir = await layoutDir(root(), `l${Math.random().toString(36).slice(2)}`, files);
  const source = { registry: LAYOUT_REGISTRY, repository: dir };
  const { set } = await LayoutSet.open([source]);
  const inner = innerClient();
  return { client: withLayouts(inner as unknown as RegistryClient, set), inner, layout: source, set };
}

describe('withLayouts', () => {
  it('is the registry client itself when no source is a layout', async () => {
    const inner = innerClient() as unknown as RegistryClient;
    const { set } = await LayoutSet.open([{ ...REGISTRY_REPO, tag: '1' }]);
    expect(set.size).toBe(0);
    expect(withLayouts(inner, set)).toBe(inner);
  });
});

describe('the layout client', () => {
  it('reads a layout manifest from disk, checking its blobs are there', async () => {
    const { client, inner, layout } = await layoutClient();
    const fetched = await client.fetchManifest(layout, IMAGE_DESCRIPTOR.digest);
    expect(fetched).toEqual({ bytes: IMAGE, mediaType: IMAGE_DESCRIPTOR.mediaType, digest: IMAGE_DESCRIPTOR.digest, size: IMAGE.length });
    await expect(client.headManifest(layout, IMAGE_DESCRIPTOR.digest)).resolves.toEqual({
      digest: IMAGE_DESCRIPTOR.digest,
      mediaType: IMAGE_DESCRIPTOR.mediaType,
      size: IMAGE.length,
    });
    await expect(client.hasBlob(layout, CONFIG_DESCRIPTOR.digest)).resolves.toBe(true);
    await expect(client.hasBlob(layout, `sha256:${'0'.repeat(64)}`)).resolves.toBe(false);
    await expect(client.fetchBlob(layout, CONFIG_DESCRIPTOR)).resolves.toEqual(CONFIG);
    expect(inner.fetchManifest).not.toHaveBeenCalled();
    expect(inner.hasBlob).not.toHaveBeenCalled();
  });

  it('refuses a manifest whose blob is missing from the layout, before anything is written', async () => {
    const { client, layout } = await layoutClient(FILES);
    const error = await layoutError(() => client.fetchManifest(layout, MANIFEST_DIGEST));
    expect(error.message).toContain(`blob sha256:${'c'.repeat(64)} of manifest ${MANIFEST_DIGEST} is missing from the layout`);
  });

  it.each<[string, (c: RegistryClient, layout: typeof REGISTRY_REPO) => Promise<unknown>]>([
    ['putManifest', (c, l) => Promise.resolve().then(() => c.putManifest(l, 'v1', { bytes: IMAGE, mediaType: 'x' }))],
    ['copyBlob', (c, l) => Promise.resolve().then(() => c.copyBlob(REGISTRY_REPO, l, CONFIG_DESCRIPTOR))],
    ['uploadBlob', (c, l) => Promise.resolve().then(() => c.uploadBlob(REGISTRY_REPO, l, CONFIG_DESCRIPTOR, async () => CONFIG))],
  ])('%s to a layout is refused: a layout is a source only', async (_name, write) => {
    const { client, inner, layout } = await layoutClient();
    const error = await caught(write(client, layout));
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toContain('cannot be written to: an OCI layout is a source only');
    expect(inner.putManifest).not.toHaveBeenCalled();
    expect(inner.uploadBlob).not.toHaveBeenCalled();
  });

  it('copies a layout blob to a registry by uploading it from disk', async () => {
    const { client, inner, layout } = await layoutClient();
    await expect(client.mountBlob(REGISTRY_REPO, layout, CONFIG_DESCRIPTOR)).resolves.toEqual({ how: 'uploaded' });
    expect(inner.mountBlob).not.toHaveBeenCalled();
    expect(inner.uploadBlob).toHaveBeenCalledTimes(1);
  });

  it('lists no referrers for a layout, as a registry with the API would', async () => {
    const { client, layout } = await layoutClient();
    await expect(client.listReferrers!(layout, IMAGE_DESCRIPTOR.digest)).resolves.toEqual({ api: true, descriptors: [] });
    // the wrapped client has no referrers API: none is claimed for it either
    await expect(client.listReferrers!(REGISTRY_REPO, IMAGE_DESCRIPTOR.digest)).resolves.toEqual({ api: false });
  });

  it('passes registry repositories to the client it wraps, and keeps layout scopes from it', async () => {
    const { client, inner, layout } = await layoutClient();
    await client.fetchManifest(REGISTRY_REPO, '1');
    await client.hasBlob(REGISTRY_REPO, CONFIG_DESCRIPTOR.digest);
    await client.mountBlob(REGISTRY_REPO, { registry: 'ghcr.io', repository: 'acme/base' }, CONFIG_DESCRIPTOR);
    client.declareScopes(LAYOUT_REGISTRY, [{ repository: layout.repository, actions: ['pull'] }]);
    client.declareScopes('ghcr.io', [{ repository: 'acme/app', actions: ['pull', 'push'] }]);
    expect(inner.fetchManifest).toHaveBeenCalledWith(REGISTRY_REPO, '1');
    expect(inner.hasBlob).toHaveBeenCalledWith(REGISTRY_REPO, CONFIG_DESCRIPTOR.digest);
    expect(inner.mountBlob).toHaveBeenCalledTimes(1);
    expect(inner.declareScopes).toHaveBeenCalledTimes(1);
    expect(inner.declareScopes).toHaveBeenCalledWith('ghcr.io', [{ repository: 'acme/app', actions: ['pull', 'push'] }]);
  });

  it('closes the client it wraps and the layouts', async () => {
    const { client, inner, set } = await layoutClient();
    await client.close();
    expect(inner.close).toHaveBeenCalledTimes(1);
    expect(set.size).toBe(0);
  });
});
