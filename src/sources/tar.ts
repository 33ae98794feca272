// A tar file's table of contents, read by seeking from header to header (ustar, pax and GNU long
// names, as buildx and `tar` write them): a layout tar of gigabytes is indexed by reading a few
// kilobytes, and each member is then streamed straight from its offset. Nothing is extracted, but
// a member whose name climbs out of the archive (`../`, an absolute path) is refused all the same:
// such a tar is hostile or broken, and another tool would write outside its directory.
import type { FileHandle } from 'node:fs/promises';
import { LayoutError } from '../base/errors.js';

const BLOCK = 512;
/** Pax and GNU long-name records larger than this are not names: refused rather than read. */
const MAX_META_BYTES = 1024 * 1024;

export interface TarMember {
  /** byte offset of the member's data in the tar */
  offset: number;
  size: number;
}

/** Regular files by normalised name (`./blobs/x` and `blobs/x` are the same member). */
export type TarIndex = Map<string, TarMember>;

function field(block: Buffer, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? raw.length : end).toString('utf8');
}

/** Sizes are octal text, or base-256 (GNU) when the first byte's high bit is set. */
function sizeField(block: Buffer, label: string): number {
  const raw = block.subarray(124, 136);
  if (raw[0] & 0x80) {
    let value = 0;
    for (let i = 1; i < raw.length; i++) value = value * 256 + raw[i];
    return value;
  }
  const text = field(block, 124, 12).trim();
  if (!/^[0-7]*$/.test(text)) throw new LayoutError(`${label}: a tar header has the size "${text}", which is not octal: the tar is damaged`);
  return text === '' ? 0 : parseInt(text, 8);
}

function checksumOk(block: Buffer): boolean {
  const stored = parseInt(field(block, 148, 8).trim(), 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  return stored === sum;
}

/** Pax extended header records: `<length> <key>=<value>\n`. */
function paxPath(data: Buffer): string | undefined {
  let path: string | undefined;
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space === -1) break;
    const length = Number(data.subarray(at, space).toString('ascii'));
    if (!Number.isInteger(length) || length <= 0) break;
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq !== -1 && record.slice(0, eq) === 'path') path = record.slice(eq + 1);
    at += length;
  }
  return path;
}

/** `./a//b/` → `a/b`; undefined for a name that leaves the archive (absolute, or `..` anywhere). */
export function normaliseMemberName(name: string): string | undefined {
  if (name.startsWith('/') || /^[A-Za-z]:[\\/]/.test(name)) return undefined;
  const parts = name.split(/[\\/]+/).filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return undefined;
  return parts.join('/');
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  return buffer.subarray(0, bytesRead);
}

/** Reads the table of contents of the tar open in `handle`; `label` names it in errors. */
export async function indexTar(handle: FileHandle, label: string): Promise<TarIndex> {
  const { size: fileSize } = await handle.stat();
  const members: TarIndex = new Map();
  let position = 0;
  let longName: string | undefined;
  while (position + BLOCK <= fileSize) {
    const header = await readAt(handle, position, BLOCK);
    if (header.length < BLOCK) break;
    if (header.every((b) => b === 0)) break; // end of archive
    if (!checksumOk(header)) throw new LayoutError(`${label}: not a tar file, or a damaged one (bad header checksum at byte ${position})`, { hint: 'Give the .tar buildx wrote (--output type=oci,dest=FILE), a gzip of it, or the layout directory' });
    const size = sizeField(header, label);
    const type = String.fromCharCode(header[156] || 0x30);
    const dataStart = position + BLOCK;
    position = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (dataStart + size > fileSize) throw new LayoutError(`${label}: the tar ends inside a member (truncated download?)`, { hint: 'Upload and download the layout tar again' });
    if (type === 'x' || type === 'L') {
      if (size > MAX_META_BYTES) throw new LayoutError(`${label}: a tar name record of ${size} bytes: the tar is damaged or hostile`);
      const data = await readAt(handle, dataStart, size);
      longName = type === 'L' ? field(data, 0, data.length) : (paxPath(data) ?? longName);
      continue;
    }
    if (type === 'g') continue;
    const prefix = header.subarray(257, 262).toString('ascii') === 'ustar' ? field(header, 345, 155) : '';
    const raw = longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
    longName = undefined;
    const name = normaliseMemberName(raw);
    if (name === undefined) {
      throw new LayoutError(`${label}: the tar holds "${raw}", a path outside the archive; refusing the whole tar`, {
        hint: 'A layout tar as buildx writes it holds only oci-layout, index.json and blobs/…: rebuild it, and check where this one came from',
      });
    }
    // A link that points out of the archive is refused like such a name; other links are not
    // members (layouts have none, and a blob behind a link counts as missing).
    if (type === '1' || type === '2') {
      const target = field(header, 157, 100);
      if (normaliseMemberName(target) === undefined) {
        throw new LayoutError(`${label}: the tar links "${raw}" to "${target}", a path outside the archive; refusing the whole tar`, {
          hint: 'A layout tar as buildx writes it holds only oci-layout, index.json and blobs/…: rebuild it, and check where this one came from',
        });
      }
      continue;
    }
    if (type === '0' || type === '7') members.set(name, { offset: dataStart, size });
  }
  return members;
}
