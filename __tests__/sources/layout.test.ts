// An OCI image layout on disk (src/sources/layout.ts): its oci-layout and index.json checked on
// opening, the manifest a source means selected by digest, name or as the only one, and blobs
// held to their descriptors.
import { describe, expect, it } from '@jest/globals';
import { Layout } from '../../src/sources/layout.js';
import { DESCRIPTOR, FILES, MANIFEST, MANIFEST_BLOB, MANIFEST_DIGEST, OCI_LAYOUT, layoutDir, layoutError } from '../support/layouts.js';
import { filledDigest } from '../support/digests.js';
import { useTempDir } from '../support/temp-dir.js';

const root = useTempDir('mm-layout-');
let n = 0;
const dirOf = (files: Record<string, Buffer>) => layoutDir(root(), `l${n++}`, files);
const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const named = (...names: string[]) =>
  json({
    schemaVersion: 2,
    manifests: names.map((name) => ({ ...DESCRIPTOR, annotations: { 'org.opencontainers.image.ref.name': name } })),
  });

async function opened<T>(files: Record<string, Buffer>, use: (layout: Layout) => Promise<T>): Promise<T> {
  const layout = await Layout.open(await dirOf(files));
  try {
    return await use(layout);
  } finally {
    await layout.close();
  }
}

describe('Layout.open refuses what is not a 1.x layout', () => {
  it.each<[string, Record<string, Buffer>, string]>([
    ['no oci-layout file', { 'index.json': FILES['index.json'] }, 'is not an OCI image layout: it has no `oci-layout` file'],
    ['a 2.x layout', { ...FILES, 'oci-layout': json({ imageLayoutVersion: '2.0.0' }) }, 'oci-layout declares imageLayoutVersion "2.0.0"'],
    ['no version at all', { ...FILES, 'oci-layout': json({}) }, 'declares imageLayoutVersion undefined'],
    ['oci-layout not JSON', { ...FILES, 'oci-layout': Buffer.from('{') }, 'oci-layout is not valid JSON'],
    ['oci-layout a JSON list', { ...FILES, 'oci-layout': json([]) }, 'oci-layout is not a JSON object'],
    ['no index.json', { 'oci-layout': OCI_LAYOUT }, 'the layout has no index.json'],
    ['index.json without manifests', { ...FILES, 'index.json': json({ schemaVersion: 2 }) }, 'index.json has no valid "manifests" list'],
    [
      'index.json with a bad digest',
      { ...FILES, 'index.json': json({ schemaVersion: 2, manifests: [{ ...DESCRIPTOR, digest: 'sha256:../../etc' }] }) },
      'index.json has no valid "manifests" list',
    ],
  ])('%s', async (_name, files, message) => {
    const dir = await dirOf(files);
    const error = await layoutError(() => Layout.open(dir));
    expect(error.message).toContain(`oci-layout://${dir}`);
    expect(error.message).toContain(message);
  });
});

describe('Layout.select: the manifest a source means', () => {
  it.each<[string, Record<string, Buffer>, { tag?: string; digest?: string }]>([
    ['the only one, unnamed', FILES, {}],
    ['by name', { ...FILES, 'index.json': named('v1') }, { tag: 'v1' }],
    ['by digest, listed', FILES, { digest: MANIFEST_DIGEST }],
    [
      'by digest, not listed but in blobs/',
      { ...FILES, 'index.json': json({ schemaVersion: 2, manifests: [] }) },
      { digest: MANIFEST_DIGEST },
    ],
  ])('%s', async (_name, files, reference) => {
    const selected = await opened(files, (layout) => layout.select(reference));
    expect(selected.digest).toBe(MANIFEST_DIGEST);
  });

  it.each<[string, Record<string, Buffer>, { tag?: string; digest?: string }, string]>([
    ['a name not listed', { ...FILES, 'index.json': named('v1') }, { tag: 'v2' }, ':v2: no manifest of that name (index.json lists: v1)'],
    ['a name listed twice', { ...FILES, 'index.json': named('v1', 'v1') }, { tag: 'v1' }, ':v1: several manifests of that name'],
    ['a digest not there', FILES, { digest: filledDigest('d') }, `@${filledDigest('d')}: no such manifest in the layout`],
    [
      'no name with two manifests',
      { ...FILES, 'index.json': named('a', 'b') },
      {},
      'holds 2 manifests (index.json lists: a, b), so which one',
    ],
    [
      'no name with none',
      { ...FILES, 'index.json': json({ schemaVersion: 2, manifests: [] }) },
      {},
      'holds no manifest (index.json lists: nothing)',
    ],
  ])('refuses %s, listing what there is', async (_name, files, reference, message) => {
    const error = await opened(files, (layout) => layoutError(() => layout.select(reference)));
    expect(error.message).toContain(message);
  });
});

describe('Layout.readBlob: held to its descriptor', () => {
  it('reads a blob that matches its descriptor', async () => {
    const bytes = await opened(FILES, (layout) => layout.readBlob(DESCRIPTOR));
    expect(bytes.equals(MANIFEST)).toBe(true);
  });

  it.each<[string, Record<string, Buffer>, { digest: string; size: number }, string]>([
    ['a missing blob', FILES, { digest: filledDigest('e'), size: 2 }, `blob ${filledDigest('e')} is missing`],
    ['a size other than the descriptor’s', FILES, { digest: MANIFEST_DIGEST, size: MANIFEST.length + 1 }, 'does not match its digest'],
    [
      'bytes that do not hash to the digest',
      { ...FILES, [MANIFEST_BLOB]: Buffer.from(MANIFEST).fill(0x20, 0, 1) },
      DESCRIPTOR,
      'does not match its digest',
    ],
    ['a digest that is not one', FILES, { digest: 'sha256:../../x', size: 1 }, '"sha256:../../x" is not a digest'],
  ])('refuses %s', async (_name, files, descriptor, message) => {
    const error = await opened(files, (layout) => layoutError(() => layout.readBlob(descriptor)));
    expect(error.message).toContain(message);
  });

  it('refuses a blob over the limit for reading it whole, before reading it', async () => {
    const error = await opened(FILES, (layout) => layoutError(() => layout.readBlob(DESCRIPTOR, MANIFEST.length - 1)));
    expect(error.message).toContain(`is ${MANIFEST.length} bytes, over the ${MANIFEST.length - 1}-byte limit`);
  });
});

describe('Layout.names', () => {
  it('gives each manifest’s name, containerd’s, or its digest', async () => {
    const index = json({
      schemaVersion: 2,
      manifests: [
        { ...DESCRIPTOR, annotations: { 'org.opencontainers.image.ref.name': 'v1' } },
        { ...DESCRIPTOR, annotations: { 'io.containerd.image.name': 'docker.io/acme/app:2' } },
        DESCRIPTOR,
      ],
    });
    expect(await opened({ ...FILES, 'index.json': index }, async (layout) => layout.names())).toEqual([
      'v1',
      'docker.io/acme/app:2',
      MANIFEST_DIGEST,
    ]);
  });
});
