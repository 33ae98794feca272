// Tars built byte by byte for tests: ustar headers, PAX records and GNU long names, with
// nothing a real tool would add, so that each test says exactly what the reader must handle.

export interface HeaderFields {
  name: string;
  size?: number;
  /** typeflag: '0' file, '1' hard link, '2' symlink, '5' directory, 'x' PAX, 'L'/'K' GNU long name/link */
  type?: string;
  linkname?: string;
}

/** One 512-byte ustar header with a valid checksum. */
export function header({ name, size = 0, type = '0', linkname = '' }: HeaderFields): Buffer {
  const block = Buffer.alloc(512);
  block.write(name.slice(0, 100), 0, 'utf8');
  block.write('0000644\0', 100, 'ascii');
  block.write('0000000\0', 108, 'ascii');
  block.write('0000000\0', 116, 'ascii');
  block.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
  block.write('00000000000\0', 136, 'ascii');
  block.write(type, 156, 'ascii');
  block.write(linkname.slice(0, 100), 157, 'utf8');
  block.write('ustar\u000000', 257, 'ascii');
  return rechecksum(block);
}

/** `block` with its checksum field recomputed (after a test changed a field), in place. */
export function rechecksum(block: Buffer): Buffer {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return block;
}

/** PAX extended header records, `<length> <key>=<value>\n` each. */
export function paxRecords(records: Record<string, string>): Buffer {
  let text = '';
  for (const [key, value] of Object.entries(records)) {
    const body = ` ${key}=${value}\n`;
    let length = body.length + 1;
    while (String(length).length + body.length !== length) length = String(length).length + body.length;
    text += `${length}${body}`;
  }
  return Buffer.from(text, 'utf8');
}

/** `data` padded with zeros to a whole number of blocks. */
export function pad(data: Buffer): Buffer {
  return Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

/** The parts, then the two zero blocks that end an archive. */
export function tarOf(parts: Buffer[]): Buffer {
  return Buffer.concat([...parts, Buffer.alloc(1024)]);
}
