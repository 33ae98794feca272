// A small file a user or the runner names (a spec, the workflow's event payload), read with every
// wait and buffer bounded: only a regular file (a FIFO's open and read wait for a writer for ever,
// a device may never end), opened without blocking, and never more than the limit of it.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { formatBytes } from './bytes.js';
import { InputError } from './errors.js';

const CHUNK = 64 * 1024;

/** What a path that is not a regular file is, in words. */
function kindOf(stats: Stats): string {
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  return 'not a file';
}

export interface BoundedReadOptions {
  /** at most this many bytes; more is refused (before reading, when the size says so) */
  maxBytes: number;
  /** what to do about a path that is missing or not a regular file */
  hint?: string;
  /** what to do about a file over the limit */
  sizeHint?: string;
}

/** A size next to a limit: in bytes where the rounded sizes would read the same. */
function sizeText(size: number, limit: number): string {
  return formatBytes(size) === formatBytes(limit) ? `${size} bytes` : formatBytes(size);
}

/**
 * The bytes of the regular file at `path`, at most `maxBytes` of them; `label` names where the path
 * came from ("--spec", "GITHUB_EVENT_PATH"). Opened non-blocking (a FIFO's open returns at once)
 * and checked with fstat on the opened descriptor, so what is read is what was checked. Anything
 * else is an InputError saying what the path is and what is allowed.
 */
export function readBoundedFile(label: string, path: string, options: BoundedReadOptions): Buffer {
  const { maxBytes, hint, sizeHint } = options;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(`${label}: no such file "${path}"`, { cause, hint });
    throw new InputError(`${label}: cannot read "${path}" (${code ?? String(cause)})`, { cause, hint });
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new InputError(`${label}: "${path}" is ${kindOf(stats)}, not a regular file`, { hint });
    const over = (size?: number) =>
      new InputError(
        `${label}: "${path}" is ${size === undefined ? '' : `${sizeText(size, maxBytes)}, `}over the limit of ${formatBytes(maxBytes)}`,
        {
          hint: sizeHint,
        },
      );
    if (stats.size > maxBytes) throw over(stats.size);
    // read to the end, not to the size fstat gave: a file may grow (or, under /proc, say 0)
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK, maxBytes + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > maxBytes) throw over();
    }
    return Buffer.concat(chunks, total);
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(`${label}: cannot read "${path}" (${(error as NodeJS.ErrnoException).code ?? String(error)})`, {
      cause: error,
      hint,
    });
  } finally {
    closeSync(fd);
  }
}
