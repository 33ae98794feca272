// The layout tar's table of contents (src/sources/tar.ts) on tars built here byte by byte, in
// the formats Go's archive/tar (BuildKit, containerd), GNU tar and bsdtar write.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isExpectedError } from '../../src/base/errors.js';
import { indexTar } from '../../src/sources/tar.js';
import { header, paxRecords, pad, tarOf } from './tar-builder.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mm-tar-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function index(tar: Buffer) {
  const file = join(dir, `t${n++}.tar`);
  await writeFile(file, tar);
  const handle = await open(file, 'r');
  try {
    return await indexTar(handle, 'oci-layout://t.tar');
  } finally {
    await handle.close();
  }
}

async function refusal(tar: Buffer): Promise<string> {
  try {
    await index(tar);
  } catch (error) {
    expect(isExpectedError(error) && error.code).toBe('LAYOUT');
    return (error as Error).message;
  }
  throw new Error('the tar was accepted');
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

function rechecksum(block: Buffer): Buffer {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return block;
}
