// Where a layout's files are read from: a directory (links followed, but never out of it), a tar
// (members indexed in place, nothing extracted), or a gzipped tar (extracted to a temporary
// directory, bounded in bytes and by the run's deadline, and checked to be a layout from its
// first member on). layout.ts reads the layout through the Backend this opens.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, sep } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { LayoutError, ManifestMergeError, TimeoutError } from '../base/errors.js';
import { sanitizeLine } from '../base/redact.js';
import { type PendingRecords, TAR_BLOCK, type TarIndex, applyMeta, checkMember, decodeHeader, indexTar, isMetaHeader } from './tar.js';

export const REBUILD_HINT =
  'Write the layout again (docker buildx build --output type=oci,dest=FILE, or skopeo copy … oci:DIR:TAG), and upload and download it whole';

/** Where the files of a layout are: a directory, or members of a tar. */
export interface Backend {
  /** size of a regular file, undefined when absent (or not a regular file) */
  size(name: string): Promise<number | undefined>;
  stream(name: string): Readable;
  close(): Promise<void>;
}

/**
 * A layout directory. Its files are found through symbolic links (a layout copied with links,
 * or a link to shared storage inside it, is followed), but a path that leads out of the layout
 * (a `blobs/` linked to another directory, say) is refused: a descriptor must not be able to
 * make this program read, and push, a file elsewhere on the runner.
 */
function directoryBackend(root: string, label: string): Backend {
  /** names checked so far, and the real path each is read from */
  const resolved = new Map<string, string>();
  return {
    async size(name) {
      let real: string;
      try {
        real = await realpath(join(root, name));
      } catch {
        return undefined;
      }
      const inside = relative(root, real);
      if (inside === '') return undefined;
      if (inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
        throw new LayoutError(`${label}: ${name} leads out of the layout (through a symbolic link, to ${real}); refusing it`, {
          hint: 'A layout holds its own files: copy the blobs into it (cp -rL), and check where the link came from',
        });
      }
      try {
        const stats = await stat(real);
        if (!stats.isFile()) return undefined;
        resolved.set(name, real);
        return stats.size;
      } catch {
        return undefined;
      }
    },
    // every read is preceded by size(), which checked the name; the file is opened at the path it resolved to
    stream: (name) => createReadStream(resolved.get(name) ?? join(root, name)),
    close: async () => undefined,
  };
}

function tarBackend(file: string, members: TarIndex, cleanup: () => Promise<void>): Backend {
  return {
    size: async (name) => members.get(name)?.size,
    stream(name) {
      const member = members.get(name)!;
      if (member.size === 0) return Readable.from([], { objectMode: false });
      return createReadStream(file, { start: member.offset, end: member.offset + member.size - 1 });
    },
    close: cleanup,
  };
}

export async function readWhole(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Bounds on what a gzipped layout tar may expand to on disk (see `openBackend`). */
const GZIP_LIMITS = {
  /** whatever the file's size, this much may always be extracted */
  minBytes: 64 * 1024 * 1024,
  /** and beyond that, this many times the gzip file's size */
  ratio: 8,
};

/** The deadline of the run, and what to say when it passes. */
export interface Deadline {
  at?: number;
}

function timedOut(label: string, detail = ''): TimeoutError {
  return new TimeoutError(`${label}: opening the layout ran out of the time budget${detail}`, { wait: 'layout' });
}

function checkDeadline(deadline: Deadline, label: string): void {
  if (deadline.at !== undefined && Date.now() >= deadline.at) throw timedOut(label);
}

export async function openBackend(path: string, label: string, deadline: Deadline): Promise<Backend> {
  checkDeadline(deadline, label);
  let stats;
  let real: string;
  try {
    // the path the user gave is followed, links and all; links inside the layout are checked as they are read
    real = await realpath(path);
    stats = await stat(real);
  } catch (cause) {
    throw new LayoutError(`${label}: no such file or directory`, {
      cause,
      hint: 'Give the layout directory or tar the build wrote (download the artifact before this step)',
    });
  }
  if (stats.isDirectory()) return directoryBackend(real, label);
  if (!stats.isFile())
    throw new LayoutError(`${label} is neither a directory nor a file`, { hint: 'Give the layout directory or tar the build wrote' });
  const handle = await open(real, 'r');
  try {
    const magic = Buffer.alloc(2);
    await handle.read(magic, 0, 2, 0);
    if (magic[0] !== 0x1f || magic[1] !== 0x8b) {
      return tarBackend(real, await indexTar(handle, label, () => checkDeadline(deadline, label)), async () => undefined);
    }
  } finally {
    await handle.close();
  }
  return gunzipBackend(real, stats.size, label, deadline);
}

/**
 * A gzipped layout tar has no random access, so it is decompressed once to a temporary tar
 * (streamed; removed at the end) and indexed like any other. What it expands to is not known
 * until it has, so the extraction is held to three bounds: the first member must be part of a
 * layout (a gzip of zeros, or of anything else, is refused at its first block); the tar may
 * not grow past GZIP_LIMITS (a real layout's layers are compressed already, so a layout tar
 * hardly shrinks under gzip: a file that expands eightfold is not one); and the run's deadline.
 */
async function gunzipBackend(file: string, fileSize: number, label: string, deadline: Deadline): Promise<Backend> {
  const limit = Math.max(GZIP_LIMITS.minBytes, GZIP_LIMITS.ratio * fileSize);
  const dir = await mkdtemp(join(tmpdir(), 'manifest-merge-layout-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    const tar = join(dir, 'layout.tar');
    const guard = new ExtractionGuard(label, limit, fileSize);
    const signal = deadline.at === undefined ? undefined : AbortSignal.timeout(Math.max(0, deadline.at - Date.now()));
    try {
      await pipeline(createReadStream(file), createGunzip(), guard, createWriteStream(tar), signal ? { signal } : {});
    } catch (cause) {
      if (cause instanceof ManifestMergeError) throw cause;
      if (signal?.aborted) throw timedOut(label, ` (${guard.bytes} bytes of the gzip extracted)`);
      throw new LayoutError(`${label}: the gzip data is damaged (${cause instanceof Error ? cause.message : String(cause)})`, {
        cause,
        hint: REBUILD_HINT,
      });
    }
    const tarHandle = await open(tar, 'r');
    try {
      return tarBackend(tar, await indexTar(tarHandle, label, () => checkDeadline(deadline, label)), cleanup);
    } finally {
      await tarHandle.close();
    }
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** A name a layout tar's first member may have: the top directory, or one of a layout's own. */
function isLayoutMember(name: string): boolean {
  return name === '' || name === 'oci-layout' || name === 'index.json' || name === 'blobs' || name.startsWith('blobs/');
}

/** PAX records and GNU long names before the first member, at most (node-tar's own default is 1 MiB). */
const MAX_LEAD_BYTES = 2 * 1024 * 1024;

/**
 * Passes a decompressing tar through, holding back nothing once its first member is known:
 * refuses a stream whose first member is not part of a layout, and one that grows past `limit`.
 */
class ExtractionGuard extends Transform {
  bytes = 0;
  /** the start of the stream, until its first member is known */
  private lead: Buffer[] | undefined = [];
  private leadBytes = 0;

  constructor(
    private readonly label: string,
    private readonly limit: number,
    private readonly fileSize: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      callback(
        new LayoutError(
          `${this.label}: the gzip expands past ${this.limit} bytes (the file is ${this.fileSize} bytes): refusing it as a gzip bomb, or a tar that is not a layout`,
          {
            hint: 'A layout tar hardly shrinks under gzip (its layers are compressed already). If this one is a layout, gunzip it and give the .tar: a plain tar is read where it is, with nothing extracted',
          },
        ),
      );
      return;
    }
    if (!this.lead) {
      callback(null, chunk);
      return;
    }
    this.lead.push(chunk);
    this.leadBytes += chunk.length;
    try {
      if (!this.firstMemberKnown()) {
        callback();
        return;
      }
    } catch (error) {
      callback(error as Error);
      return;
    }
    const held = Buffer.concat(this.lead);
    this.lead = undefined;
    callback(null, held);
  }

  override _flush(callback: TransformCallback): void {
    // a stream that ended before its first member: let the tar reader say what it is
    if (this.lead) {
      const held = Buffer.concat(this.lead);
      this.lead = undefined;
      if (held.length >= TAR_BLOCK && held.subarray(0, TAR_BLOCK).every((b) => b === 0)) {
        callback(this.zeros());
        return;
      }
      callback(null, held);
      return;
    }
    callback();
  }

  /** Walks the held bytes to the first member; true once it is known (and was a layout's). */
  private firstMemberKnown(): boolean {
    const bytes = this.lead!.length === 1 ? this.lead![0] : Buffer.concat(this.lead!);
    this.lead = [bytes];
    const pending: PendingRecords = {};
    let position = 0;
    for (;;) {
      if (position + TAR_BLOCK > bytes.length) return this.tooLong(position);
      const block = bytes.subarray(position, position + TAR_BLOCK);
      if (block.every((b) => b === 0)) throw this.zeros();
      const header = decodeHeader(block, position, this.label, pending);
      if (!isMetaHeader(header)) {
        const name = checkMember(header, this.label);
        if (!isLayoutMember(name)) {
          throw new LayoutError(`${this.label}: the tar is not an OCI image layout: its first member is "${sanitizeLine(header.path)}"`, {
            hint: 'A layout tar holds oci-layout, index.json and blobs/ at its top, as buildx writes it (--output type=oci,dest=FILE); give that tar, gzipped or not, or the layout directory',
          });
        }
        return true;
      }
      const end = position + TAR_BLOCK + header.size;
      if (end > bytes.length) return this.tooLong(end);
      applyMeta(header, bytes.subarray(position + TAR_BLOCK, end), pending);
      position += TAR_BLOCK + Math.ceil(header.size / TAR_BLOCK) * TAR_BLOCK;
    }
  }

  private tooLong(needed: number): false {
    if (needed > MAX_LEAD_BYTES || this.leadBytes > MAX_LEAD_BYTES) {
      throw new LayoutError(
        `${this.label}: the tar's first member is preceded by over ${MAX_LEAD_BYTES} bytes of records: the tar is damaged or hostile`,
        { hint: REBUILD_HINT },
      );
    }
    return false;
  }

  private zeros(): LayoutError {
    return new LayoutError(`${this.label}: the gzip does not hold a tar (its first block is zeros)`, {
      hint: 'Give the .tar buildx wrote (--output type=oci,dest=FILE), a gzip of it, or the layout directory',
    });
  }
}
