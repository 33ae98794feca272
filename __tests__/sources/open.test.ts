// Opening the sources of a run (src/sources/open.ts): every layout named is opened once, before
// any request, and each layout source pinned to its manifest's digest; registry sources pass
// through untouched, each request keeping its own.
import { describe, expect, it } from '@jest/globals';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { ImageReference } from '../../src/oci/reference.js';
import { LAYOUT_REGISTRY } from '../../src/sources/layout-reference.js';
import { openSources } from '../../src/sources/open.js';
import { DESCRIPTOR, FILES, MANIFEST_DIGEST, layoutDir, layoutError, zeros } from '../support/layouts.js';
import { header } from '../support/tar-builder.js';
import { useTempDir, useTmpdirOverride } from '../support/temp-dir.js';

const root = useTempDir('mm-open-');
const tmpdir = useTmpdirOverride('mm-open-tmp-');

const layout = (repository: string, extra: Partial<ImageReference> = {}): ImageReference => ({
  registry: LAYOUT_REGISTRY,
  repository,
  ...extra,
});
const REGISTRY_SOURCE: ImageReference = { registry: 'ghcr.io', repository: 'acme/app', tag: 'amd64' };
const NAMED = {
  ...FILES,
  'index.json': Buffer.from(
    JSON.stringify({ schemaVersion: 2, manifests: [{ ...DESCRIPTOR, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }] }),
  ),
};

describe('openSources', () => {
  it('pins each layout source to its manifest digest and leaves registry sources alone, request by request', async () => {
    const [plain, named] = [await layoutDir(root(), 'plain'), await layoutDir(root(), 'named', NAMED)];
    const requests = [
      { name: 'first', sources: [layout(plain), REGISTRY_SOURCE] },
      { name: 'second', sources: [layout(named, { tag: 'v1' }), layout(plain, { digest: MANIFEST_DIGEST })] },
    ];
    const { requests: pinned, layouts } = await openSources(requests);
    try {
      expect(pinned).toEqual([
        { name: 'first', sources: [layout(plain, { digest: MANIFEST_DIGEST }), REGISTRY_SOURCE] },
        { name: 'second', sources: [layout(named, { tag: 'v1', digest: MANIFEST_DIGEST }), layout(plain, { digest: MANIFEST_DIGEST })] },
      ]);
      expect(pinned[0].sources[1]).toBe(REGISTRY_SOURCE);
      // each layout once, however many sources name it
      expect(layouts.size).toBe(2);
      // the requests given are not changed
      expect(requests[0].sources[0]).toEqual(layout(plain));
    } finally {
      await layouts.close();
    }
  });

  it.each<[string, ImageReference[][]]>([
    ['no request', []],
    ['registry sources only', [[REGISTRY_SOURCE], [{ registry: 'docker.io', repository: 'library/alpine', tag: '3' }]]],
  ])('with %s, opens nothing and returns the sources as given', async (_name, sourceLists) => {
    const requests = sourceLists.map((sources) => ({ sources }));
    const { requests: pinned, layouts } = await openSources(requests);
    expect(pinned).toEqual(requests);
    expect(layouts.size).toBe(0);
  });

  it.each<[string, (dir: string) => ImageReference, string]>([
    ['a path that does not exist', (dir) => layout(join(dir, 'missing')), 'no such file or directory'],
    ['a name the layout does not hold', (dir) => layout(dir, { tag: 'v2' }), ':v2: no manifest of that name'],
  ])('fails on %s, before any request, naming the layout', async (_name, source, message) => {
    const dir = await layoutDir(root(), `bad-${message.length}`, NAMED);
    const error = await layoutError(() => openSources([{ sources: [REGISTRY_SOURCE, source(dir)] }]));
    expect(error.message).toContain(`oci-layout://${source(dir).repository}`);
    expect(error.message).toContain(message);
  });

  it('opening sources stops at the deadline it is given, with a timeout error naming the layout', async () => {
    const file = join(root(), 'slow.tar.gz');
    await writeFile(file, Buffer.concat([gzipSync(header({ name: `blobs/sha256/${'e'.repeat(64)}`, size: 2 * 1024 ** 3 })), zeros(128)]));
    const started = Date.now();
    const sources = [{ registry: LAYOUT_REGISTRY, repository: file }];
    const error = await layoutError(() => openSources([{ sources }], { deadline: Date.now() + 50 }), 'TIMEOUT');
    expect(Date.now() - started).toBeLessThan(1500);
    expect(error.message).toContain(`oci-layout://${file}: opening the layout ran out of the time budget`);
    expect(await readdir(tmpdir())).toEqual([]);
    const inTime = await layoutDir(root(), 'in-time');
    const expired = await layoutError(
      () => openSources([{ sources: [{ registry: LAYOUT_REGISTRY, repository: inTime }] }], { deadline: Date.now() - 1 }),
      'TIMEOUT',
    );
    expect(expired.message).toContain('opening the layout ran out of the time budget');
  });
});
