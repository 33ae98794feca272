// Opening layouts (src/sources/layout.ts) on small layouts and hostile archives made here: the
// path the user gave is followed, links inside a layout that lead out are refused, and a gzip
// that expands without end is stopped early, within the run's one deadline.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { isExpectedError } from '../../src/base/errors.js';
import { Layout } from '../../src/sources/layout.js';
import { openSources } from '../../src/sources/open.js';
import { LAYOUT_REGISTRY } from '../../src/sources/layout-reference.js';
import { header, pad, tarOf } from './tar-builder.js';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mm-layout-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const MANIFEST = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'c'.repeat(64)}`, size: 2 },
    layers: [],
  }),
);
const MANIFEST_DIGEST = `sha256:${createHash('sha256').update(MANIFEST).digest('hex')}`;
const MANIFEST_BLOB = `blobs/sha256/${MANIFEST_DIGEST.slice(7)}`;
const DESCRIPTOR = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: MANIFEST_DIGEST, size: MANIFEST.length };
const FILES: Record<string, Buffer> = {
  'oci-layout': Buffer.from('{"imageLayoutVersion":"1.0.0"}'),
  'index.json': Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [DESCRIPTOR] })),
  [MANIFEST_BLOB]: MANIFEST,
};

/** A layout directory holding FILES (or those given). */
async function layoutDir(name: string, files: Record<string, Buffer> = FILES): Promise<string> {
  const dir = join(work, name);
  for (const [file, bytes] of Object.entries(files)) {
    await mkdir(join(dir, file, '..'), { recursive: true });
    await writeFile(join(dir, file), bytes);
  }
  return dir;
}

function layoutTar(files: Record<string, Buffer> = FILES): Buffer {
  return tarOf(Object.entries(files).flatMap(([name, bytes]) => [header({ name, size: bytes.length }), pad(bytes)]));
}

async function layoutError(run: () => Promise<unknown>, code = 'LAYOUT'): Promise<Error> {
  try {
    await run();
  } catch (error) {
    expect(isExpectedError(error) && error.code).toBe(code);
    return error as Error;
  }
  throw new Error('no error');
}

describe('layout paths', () => {
  it('follows a symbolic link the user gave, to a layout directory or a layout tar', async () => {
    const dir = await layoutDir('real-dir');
    await symlink(dir, join(work, 'link-to-dir'));
    const tar = join(work, 'real.tar');
    await writeFile(tar, layoutTar());
    await symlink(tar, join(work, 'link-to.tar'));
    for (const path of [join(work, 'link-to-dir'), join(work, 'link-to.tar')]) {
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

/** `count` gzip members of 16 MiB of zeros each, compressed once: small on disk, `count` × 16 MiB expanded. */
function zeros(count: number): Buffer {
  const member = gzipSync(Buffer.alloc(16 * 1024 * 1024), { level: 9 });
  return Buffer.concat(Array.from({ length: count }, () => member));
}

describe('gzipped layout tars that expand without end', () => {
  let tmp: string;
  let savedTmpdir: string | undefined;
  beforeAll(async () => {
    // the extraction's temporary directory is made here, so the test can see what is left of it
    tmp = await mkdtemp(join(work, 'tmp-'));
    savedTmpdir = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
  });
  afterAll(() => {
    if (savedTmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmpdir;
  });

  it('a gzip of zeros (no tar at all) is refused at its first header, before a block is written', async () => {
    const file = join(work, 'zeros.tar.gz');
    await writeFile(file, zeros(128)); // 2 GiB expanded
    const started = Date.now();
    const error = await layoutError(() => Layout.open(file));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(error.message).toContain(`oci-layout://${file}: the gzip does not hold a tar (its first block is zeros)`);
    expect(await readdir(tmp)).toEqual([]);
  });

  it('a first member that is not part of a layout is refused at once', async () => {
    const file = join(work, 'not-layout.tar.gz');
    await writeFile(file, Buffer.concat([gzipSync(header({ name: 'etc/passwd', size: 2 * 1024 ** 3 })), zeros(128)]));
    const started = Date.now();
    const error = await layoutError(() => Layout.open(file));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(error.message).toContain(`oci-layout://${file}: the tar is not an OCI image layout: its first member is "etc/passwd"`);
    expect(await readdir(tmp)).toEqual([]);
  });

  it('a layout-shaped 2 GiB member of zeros in a 2 MiB file: stops after a bounded number of bytes, saying how many', async () => {
    const file = join(work, 'bomb.tar.gz');
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
    expect(await readdir(tmp)).toEqual([]);
  });

  it('opening sources stops at the deadline it is given, with a timeout error naming the layout', async () => {
    const file = join(work, 'slow.tar.gz');
    await writeFile(file, Buffer.concat([gzipSync(header({ name: `blobs/sha256/${'e'.repeat(64)}`, size: 2 * 1024 ** 3 })), zeros(128)]));
    const started = Date.now();
    const sources = [{ registry: LAYOUT_REGISTRY, repository: file }];
    const error = await layoutError(() => openSources([{ sources }], { deadline: Date.now() + 50 }), 'TIMEOUT');
    expect(Date.now() - started).toBeLessThan(1500);
    expect(error.message).toContain(`oci-layout://${file}: opening the layout ran out of the time budget`);
    expect(await readdir(tmp)).toEqual([]);
    const inTime = await layoutDir('in-time');
    const expired = await layoutError(
      () => openSources([{ sources: [{ registry: LAYOUT_REGISTRY, repository: inTime }] }], { deadline: Date.now() - 1 }),
      'TIMEOUT',
    );
    expect(expired.message).toContain('opening the layout ran out of the time budget');
  });

  it('a good gzipped layout tar still opens', async () => {
    const file = join(work, 'good.tar.gz');
    await writeFile(file, gzipSync(layoutTar()));
    const layout = await Layout.open(file);
    try {
      expect((await layout.readBlob(DESCRIPTOR)).equals(MANIFEST)).toBe(true);
    } finally {
      await layout.close();
    }
  });
});
