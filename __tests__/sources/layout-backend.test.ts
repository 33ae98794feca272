// Where a layout's files are read from (src/sources/layout-backend.ts), through Layout.open on
// small layouts and hostile archives made here: the path the user gave is followed, links inside
// a layout that lead out are refused, and a gzip that expands without end is stopped early.
import { describe, expect, it } from '@jest/globals';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Layout } from '../../src/sources/layout.js';
import { DESCRIPTOR, FILES, MANIFEST, MANIFEST_BLOB, layoutDir as layoutDirIn, layoutError, layoutTar, zeros } from '../support/layouts.js';
import { header } from '../support/tar-builder.js';
import { useTempDir, useTmpdirOverride } from '../support/temp-dir.js';

const root = useTempDir('mm-layout-');
const layoutDir = (name: string, files?: Record<string, Buffer>) => layoutDirIn(root(), name, files);

describe('layout paths', () => {
  it('follows a symbolic link the user gave, to a layout directory or a layout tar', async () => {
    const dir = await layoutDir('real-dir');
    await symlink(dir, join(root(), 'link-to-dir'));
    const tar = join(root(), 'real.tar');
    await writeFile(tar, layoutTar());
    await symlink(tar, join(root(), 'link-to.tar'));
    for (const path of [join(root(), 'link-to-dir'), join(root(), 'link-to.tar')]) {
      const layout = await Layout.open(path);
      try {
        expect((await layout.readBlob(DESCRIPTOR)).equals(MANIFEST)).toBe(true);
      } finally {
        await layout.close();
      }
    }
  });

  it('refuses a blobs/ that is a link to a directory outside the layout', async () => {
    const outside = await layoutDir('outside', { [MANIFEST_BLOB]: MANIFEST });
    const dir = await layoutDir('blobs-out', { 'oci-layout': FILES['oci-layout'], 'index.json': FILES['index.json'] });
    await symlink(join(outside, 'blobs'), join(dir, 'blobs'));
    const layout = await Layout.open(dir);
    try {
      const error = await layoutError(() => layout.readBlob(DESCRIPTOR));
      expect(error.message).toContain(
        `oci-layout://${dir}: ${MANIFEST_BLOB} leads out of the layout (through a symbolic link, to ${join(outside, MANIFEST_BLOB)}); refusing it`,
      );
    } finally {
      await layout.close();
    }
  });

  it('refuses an index.json that is a link out of the layout, and keeps links that stay inside', async () => {
    const outside = await layoutDir('outside-index', { 'index.json': FILES['index.json'] });
    const dir = await layoutDir('index-out', { 'oci-layout': FILES['oci-layout'], [MANIFEST_BLOB]: MANIFEST });
    await symlink(join(outside, 'index.json'), join(dir, 'index.json'));
    expect((await layoutError(() => Layout.open(dir))).message).toContain(`oci-layout://${dir}: index.json leads out of the layout`);

    const inside = await layoutDir('link-inside', {
      'oci-layout': FILES['oci-layout'],
      'index.json': FILES['index.json'],
      'store/manifest': MANIFEST,
    });
    await mkdir(join(inside, 'blobs', 'sha256'), { recursive: true });
    await symlink('../../store/manifest', join(inside, MANIFEST_BLOB));
    const layout = await Layout.open(inside);
    try {
      expect((await layout.readBlob(DESCRIPTOR)).equals(MANIFEST)).toBe(true);
    } finally {
      await layout.close();
    }
  });
});

describe('gzipped layout tars that expand without end', () => {
  // the extraction's temporary directory is made here, so the tests can see what is left of it
  const tmpdir = useTmpdirOverride('mm-layout-tmp-');

  it('a gzip of zeros (no tar at all) is refused at its first header, before a block is written', async () => {
    const file = join(root(), 'zeros.tar.gz');
    await writeFile(file, zeros(128)); // 2 GiB expanded
    const started = Date.now();
    const error = await layoutError(() => Layout.open(file));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(error.message).toContain(`oci-layout://${file}: the gzip does not hold a tar (its first block is zeros)`);
    expect(await readdir(tmpdir())).toEqual([]);
  });

  it('a first member that is not part of a layout is refused at once', async () => {
    const file = join(root(), 'not-layout.tar.gz');
    await writeFile(file, Buffer.concat([gzipSync(header({ name: 'etc/passwd', size: 2 * 1024 ** 3 })), zeros(128)]));
    const started = Date.now();
    const error = await layoutError(() => Layout.open(file));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(error.message).toContain(`oci-layout://${file}: the tar is not an OCI image layout: its first member is "etc/passwd"`);
    expect(await readdir(tmpdir())).toEqual([]);
  });

  it('a layout-shaped 2 GiB member of zeros in a 2 MiB file: stops after a bounded number of bytes, saying how many', async () => {
    const file = join(root(), 'bomb.tar.gz');
    const bomb = Buffer.concat([gzipSync(header({ name: `blobs/sha256/${'d'.repeat(64)}`, size: 2 * 1024 ** 3 })), zeros(128)]);
    await writeFile(file, bomb);
    const started = Date.now();
    const error = await layoutError(() => Layout.open(file));
    const elapsed = Date.now() - started;
    const match = /expands past (\d+) bytes \(the file is (\d+) bytes\)/.exec(error.message);
    expect(match).not.toBeNull();
    const [written, size] = [Number(match![1]), Number(match![2])];
    expect(size).toBe(bomb.length);
    expect(written).toBeLessThanOrEqual(128 * 1024 * 1024);
    expect(error.message).toContain('gunzip it and give the .tar');
    expect(elapsed).toBeLessThan(5000);
    expect(await readdir(tmpdir())).toEqual([]);
  });

  it('a good gzipped layout tar still opens', async () => {
    const file = join(root(), 'good.tar.gz');
    await writeFile(file, gzipSync(layoutTar()));
    const layout = await Layout.open(file);
    try {
      expect((await layout.readBlob(DESCRIPTOR)).equals(MANIFEST)).toBe(true);
    } finally {
      await layout.close();
    }
  });
});
