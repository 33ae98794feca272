// The layout tar's table of contents (src/sources/tar.ts) on tars built here byte by byte, in
// the formats Go's archive/tar (BuildKit, containerd), GNU tar and bsdtar write.
import { describe, expect, it } from '@jest/globals';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isExpectedError } from '../../src/base/errors.js';
import { indexTar, normaliseMemberName } from '../../src/sources/tar.js';
import { caught } from '../support/caught.js';
import { header, paxRecords, pad, rechecksum, tarOf } from '../support/tar-builder.js';
import { useTempDir } from '../support/temp-dir.js';

const dir = useTempDir('mm-tar-');

let n = 0;
async function index(tar: Buffer) {
  const file = join(dir(), `t${n++}.tar`);
  await writeFile(file, tar);
  const handle = await open(file, 'r');
  try {
    return await indexTar(handle, 'oci-layout://t.tar');
  } finally {
    await handle.close();
  }
}

/** The message a tar is refused with (a LAYOUT error). */
async function refusal(tar: Buffer): Promise<string> {
  const error = await caught(index(tar));
  expect(isExpectedError(error) && error.code).toBe('LAYOUT');
  return error.message;
}

const DATA = Buffer.from('{"imageLayoutVersion":"1.0.0"}');

describe('indexTar', () => {
  it('reads a PAX size record when the ustar size field is 0 (Go archive/tar, members over 8 GiB)', async () => {
    const blob = Buffer.alloc(1500, 7);
    const tar = tarOf([
      header({ name: 'PaxHeaders.0/blob', type: 'x', size: paxRecords({ size: String(blob.length) }).length }),
      pad(paxRecords({ size: String(blob.length) })),
      header({ name: 'blobs/sha256/big', size: 0 }),
      pad(blob),
      header({ name: 'oci-layout', size: DATA.length }),
      pad(DATA),
    ]);
    const members = await index(tar);
    expect(members.get('blobs/sha256/big')).toEqual({ offset: 3 * 512, size: 1500 });
    expect(members.get('oci-layout')).toEqual({ offset: 3 * 512 + 1536 + 512, size: DATA.length });
  });

  it('reads PAX path, and a GNU long name (././@LongLink)', async () => {
    const long = `blobs/sha256/${'a'.repeat(64)}`;
    const longer = `./blobs/sha256/${'b'.repeat(120)}`;
    const tar = tarOf([
      header({ name: 'PaxHeaders.0/x', type: 'x', size: paxRecords({ path: long }).length }),
      pad(paxRecords({ path: long })),
      header({ name: 'truncated', size: DATA.length }),
      pad(DATA),
      header({ name: '././@LongLink', type: 'L', size: longer.length + 1 }),
      pad(Buffer.from(`${longer}\0`)),
      header({ name: longer.slice(0, 99), size: DATA.length }),
      pad(DATA),
    ]);
    const members = await index(tar);
    expect([...members.keys()]).toEqual([long, longer.slice(2)]);
  });

  it('reads a base-256 size (GNU, and Go for sizes over 8 GiB without PAX)', async () => {
    const blob = Buffer.alloc(700, 1);
    const block = header({ name: 'blobs/sha256/b256', size: 0 });
    block.fill(0, 124, 136);
    block[124] = 0x80;
    block.writeUInt32BE(blob.length, 132);
    const tar = tarOf([rechecksum(block), pad(blob)]);
    expect((await index(tar)).get('blobs/sha256/b256')).toEqual({ offset: 512, size: 700 });
  });

  it('refuses a PAX linkpath that leads out of the archive', async () => {
    const records = paxRecords({ linkpath: '../../../etc/passwd' });
    const tar = tarOf([
      header({ name: 'PaxHeaders.0/l', type: 'x', size: records.length }),
      pad(records),
      header({ name: 'blobs/sha256/link', type: '2', linkname: 'ok' }),
    ]);
    expect(await refusal(tar)).toContain(
      'oci-layout://t.tar: the tar links "blobs/sha256/link" to "../../../etc/passwd", a path outside the archive; refusing the whole tar',
    );
  });

  it('refuses a GNU long link name (type K) that leads out of the archive', async () => {
    const target = `/${'x/'.repeat(60)}etc/passwd`;
    const tar = tarOf([
      header({ name: '././@LongLink', type: 'K', size: target.length + 1 }),
      pad(Buffer.from(`${target}\0`)),
      header({ name: 'blobs/sha256/link', type: '1', linkname: 'ok' }),
    ]);
    expect(await refusal(tar)).toContain(`the tar links "blobs/sha256/link" to "${target}", a path outside the archive`);
  });

  it('refuses a PAX path that leads out of the archive', async () => {
    const records = paxRecords({ path: 'blobs/../../evil' });
    const tar = tarOf([
      header({ name: 'PaxHeaders.0/p', type: 'x', size: records.length }),
      pad(records),
      header({ name: 'harmless', size: DATA.length }),
      pad(DATA),
    ]);
    expect(await refusal(tar)).toContain('the tar holds "blobs/../../evil", a path outside the archive');
  });

  it('refuses a PAX size that runs past the end of the file, and a damaged header', async () => {
    const records = paxRecords({ size: String(10 * 1024 ** 3) });
    expect(
      await refusal(
        tarOf([
          header({ name: 'PaxHeaders.0/s', type: 'x', size: records.length }),
          pad(records),
          header({ name: 'blobs/sha256/huge', size: 0 }),
        ]),
      ),
    ).toContain('the tar ends inside a member');
    const broken = header({ name: 'oci-layout', size: DATA.length });
    broken[0] ^= 1;
    expect(await refusal(tarOf([broken, pad(DATA)]))).toContain('bad header checksum at byte 0');
  });
});

describe('normaliseMemberName', () => {
  it('tar member names that leave the archive are refused', () => {
    expect(normaliseMemberName('./blobs//sha256/x')).toBe('blobs/sha256/x');
    for (const bad of ['../x', 'blobs/../../x', '/etc/passwd', 'C:\\x']) expect(normaliseMemberName(bad)).toBeUndefined();
  });
});

describe('normaliseMemberName: names as tools write them', () => {
  it.each<[string, string, string | undefined]>([
    ['buildx (no prefix)', 'index.json', 'index.json'],
    ['tar -C dir . (./ prefix)', './oci-layout', 'oci-layout'],
    ['a directory entry', 'blobs/sha256/', 'blobs/sha256'],
    ['the top directory', './', ''],
    ['doubled slashes', 'blobs//sha256///x', 'blobs/sha256/x'],
    ['Windows separators', 'blobs\\sha256\\x', 'blobs/sha256/x'],
    ['a dot inside a name', 'blobs/sha256/a.b', 'blobs/sha256/a.b'],
    ['.. as part of a name', 'blobs/..x', 'blobs/..x'],
    ['.. at the start', '../index.json', undefined],
    ['.. in the middle', 'blobs/sha256/../../../etc/passwd', undefined],
    ['.. after a Windows separator', 'blobs\\..\\..\\x', undefined],
    ['an absolute path', '/etc/passwd', undefined],
    ['a Windows drive path', 'D:/x', undefined],
  ])('%s: %j → %j', (_name, name, normalised) => {
    expect(normaliseMemberName(name)).toBe(normalised);
  });
});
