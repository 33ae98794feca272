// An OCI image layout on disk (image-layout.md): a directory, or a tar of one as
// `docker buildx build --output type=oci,dest=out.tar` writes it (gzip-compressed too). Small
// files (oci-layout, index.json, manifests, configs) are read whole, bounded; blobs are only ever
// opened as streams. Every name is derived from a digest checked against the grammar first, so a
// descriptor cannot point outside the layout. Errors name the layout as the user wrote it.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, sep } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { isDigest, verifyDigest } from '../oci/digest.js';
import { LayoutError, ManifestMergeError, TimeoutError } from '../base/errors.js';
import { type Descriptor, MAX_MANIFEST_BYTES, isDescriptor } from '../oci/manifest.js';
import { sanitizeLine } from '../base/redact.js';
import { type PendingRecords, TAR_BLOCK, type TarIndex, applyMeta, checkMember, decodeHeader, indexTar, isMetaHeader } from './tar.js';

/** Annotations that name a manifest in index.json: the OCI one (skopeo, buildx), and containerd's full image name. */
export const REF_NAME = 'org.opencontainers.image.ref.name';
const CONTAINERD_NAME = 'io.containerd.image.name';

const REBUILD_HINT = 'Write the layout again (docker buildx build --output type=oci,dest=FILE, or skopeo copy … oci:DIR:TAG), and upload and download it whole';

/** Where the files of a layout are: a directory, or members of a tar. */
interface Backend {
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

async function readWhole(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Bounds on what a gzipped layout tar may expand to on disk (see `openBackend`). */
export const GZIP_LIMITS = {
  /** whatever the file's size, this much may always be extracted */
  minBytes: 64 * 1024 * 1024,
  /** and beyond that, this many times the gzip file's size */
  ratio: 8,
};

/** The deadline of the run, and what to say when it passes. */
interface Deadline {
  at?: number;
}

function timedOut(label: string, detail = ''): TimeoutError {
  return new TimeoutError(`${label}: opening the layout ran out of the time budget${detail}`, { wait: 'layout' });
}

function checkDeadline(deadline: Deadline, label: string): void {
  if (deadline.at !== undefined && Date.now() >= deadline.at) throw timedOut(label);
}

async function openBackend(path: string, label: string, deadline: Deadline): Promise<Backend> {
  checkDeadline(deadline, label);
  let stats;
  let real: string;
  try {
    // the path the user gave is followed, links and all; links inside the layout are checked as they are read
    real = await realpath(path);
    stats = await stat(real);
  } catch (cause) {
    throw new LayoutError(`${label}: no such file or directory`, { cause, hint: 'Give the layout directory or tar the build wrote (download the artifact before this step)' });
  }
  if (stats.isDirectory()) return directoryBackend(real, label);
  if (!stats.isFile()) throw new LayoutError(`${label} is neither a directory nor a file`, { hint: 'Give the layout directory or tar the build wrote' });
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
      throw new LayoutError(`${label}: the gzip data is damaged (${cause instanceof Error ? cause.message : String(cause)})`, { cause, hint: REBUILD_HINT });
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
        new LayoutError(`${this.label}: the gzip expands past ${this.limit} bytes (the file is ${this.fileSize} bytes): refusing it as a gzip bomb, or a tar that is not a layout`, {
          hint: 'A layout tar hardly shrinks under gzip (its layers are compressed already). If this one is a layout, gunzip it and give the .tar: a plain tar is read where it is, with nothing extracted',
        }),
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
      throw new LayoutError(`${this.label}: the tar's first member is preceded by over ${MAX_LEAD_BYTES} bytes of records: the tar is damaged or hostile`, { hint: REBUILD_HINT });
    }
    return false;
  }

  private zeros(): LayoutError {
    return new LayoutError(`${this.label}: the gzip does not hold a tar (its first block is zeros)`, {
      hint: 'Give the .tar buildx wrote (--output type=oci,dest=FILE), a gzip of it, or the layout directory',
    });
  }
}

/** `blobs/<algorithm>/<encoded>`, for a digest that passed the grammar (no `/`, no `..`). */
function blobName(digest: string): string {
  const at = digest.indexOf(':');
  return `blobs/${digest.slice(0, at)}/${digest.slice(at + 1)}`;
}

export class Layout {
  private constructor(
    /** `oci-layout://PATH`, as the user wrote it */
    readonly label: string,
    private readonly backend: Backend,
    /** index.json's manifests */
    readonly manifests: Descriptor[],
  ) {}

  /**
   * Opens the layout at `path` and checks its oci-layout and index.json files; past `deadline`
   * (epoch ms: the run's one time budget) it gives up with a TimeoutError.
   */
  static async open(path: string, label = `oci-layout://${path}`, options: { deadline?: number } = {}): Promise<Layout> {
    const backend = await openBackend(path, label, { at: options.deadline });
    try {
      const layoutFile = await readSmall(backend, 'oci-layout', label);
      if (layoutFile === undefined) {
        throw new LayoutError(`${label} is not an OCI image layout: it has no \`oci-layout\` file`, {
          hint: 'Give the directory (or tar) holding oci-layout, index.json and blobs/ — for a tar as buildx writes it, the .tar itself',
        });
      }
      const version = (parseJson(layoutFile, `${label}: oci-layout`) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
      if (typeof version !== 'string' || !version.startsWith('1.')) {
        throw new LayoutError(`${label}: oci-layout declares imageLayoutVersion ${sanitizeLine(JSON.stringify(version) ?? 'undefined')}; only 1.x layouts are read`, { hint: REBUILD_HINT });
      }
      const indexFile = await readSmall(backend, 'index.json', label);
      if (indexFile === undefined) throw new LayoutError(`${label}: the layout has no index.json`, { hint: REBUILD_HINT });
      const index = parseJson(indexFile, `${label}: index.json`) as { manifests?: unknown };
      if (!Array.isArray(index.manifests) || !index.manifests.every((d) => isDescriptor(d) && isDigest(d.digest))) {
        throw new LayoutError(`${label}: index.json has no valid "manifests" list`, { hint: REBUILD_HINT });
      }
      return new Layout(label, backend, index.manifests as Descriptor[]);
    } catch (error) {
      await backend.close();
      throw error;
    }
  }

  /** The names index.json gives its manifests (or their digests), for messages. */
  names(): string[] {
    return this.manifests.map((d) => d.annotations?.[REF_NAME] ?? d.annotations?.[CONTAINERD_NAME] ?? d.digest);
  }

  /**
   * The top-level manifest a source means: by digest (listed in index.json or not), by name, or,
   * with neither, the only one index.json lists.
   */
  async select(reference: { tag?: string; digest?: string }): Promise<Descriptor> {
    const listed = () => ` (index.json lists: ${this.names().map(sanitizeLine).join(', ') || 'nothing'})`;
    if (reference.digest) {
      const found = this.manifests.find((d) => d.digest === reference.digest);
      if (found) return found;
      const size = await this.blobSize(reference.digest);
      if (size === undefined) throw new LayoutError(`${this.label}@${reference.digest}: no such manifest in the layout${listed()}`, { hint: 'Check the digest, or give the tag the build wrote' });
      return { mediaType: '', digest: reference.digest, size };
    }
    if (reference.tag) {
      const tag = reference.tag;
      const found = this.manifests.filter((d) => d.annotations?.[REF_NAME] === tag || d.annotations?.[CONTAINERD_NAME] === tag);
      if (found.length === 1) return found[0];
      throw new LayoutError(`${this.label}:${tag}: ${found.length === 0 ? 'no manifest of that name' : 'several manifests of that name'}${listed()}`, {
        hint: 'Give one of the names listed, or @sha256:… for a digest',
      });
    }
    if (this.manifests.length === 1) return this.manifests[0];
    throw new LayoutError(`${this.label} holds ${this.manifests.length === 0 ? 'no manifest' : `${this.manifests.length} manifests`}${listed()}, so which one to merge is not clear`, {
      hint: 'Name one: oci-layout://PATH:NAME, or oci-layout://PATH@sha256:…',
    });
  }

  /** Size of a blob in the layout, undefined when it is missing. */
  blobSize(digest: string): Promise<number | undefined> {
    return isDigest(digest) ? this.backend.size(blobName(digest)) : Promise.resolve(undefined);
  }

  /** A small blob (manifest, config) read whole and held to its descriptor: size and digest. */
  async readBlob(descriptor: Pick<Descriptor, 'digest' | 'size'>, maxBytes = MAX_MANIFEST_BYTES): Promise<Buffer> {
    await this.checkBlob(descriptor);
    if (descriptor.size > maxBytes) throw new LayoutError(`${this.label}: blob ${descriptor.digest} is ${descriptor.size} bytes, over the ${maxBytes}-byte limit for reading it whole`);
    const bytes = await readWhole(this.backend.stream(blobName(descriptor.digest)));
    try {
      verifyDigest(`${this.label}: ${blobName(descriptor.digest)}`, descriptor.digest, bytes);
    } catch (error) {
      throw this.mismatch(descriptor.digest, error);
    }
    return bytes;
  }

  /** A blob as a stream; the caller verifies it as it flows (the upload does). */
  async openBlob(descriptor: Pick<Descriptor, 'digest' | 'size'>): Promise<Readable> {
    await this.checkBlob(descriptor);
    return this.backend.stream(blobName(descriptor.digest));
  }

  /** The error for a blob whose bytes are not its digest. */
  mismatch(digest: string, cause: unknown): LayoutError {
    const detail = cause instanceof ManifestMergeError ? cause.summary : String(cause);
    return new LayoutError(`${this.label}: ${isDigest(digest) ? blobName(digest) : digest} does not match its digest (${detail})`, { cause, hint: REBUILD_HINT });
  }

  /** Refuses a blob that is missing, or whose size is not the descriptor's (before a byte is sent). */
  private async checkBlob(descriptor: Pick<Descriptor, 'digest' | 'size'>): Promise<void> {
    if (!isDigest(descriptor.digest)) throw new LayoutError(`${this.label}: "${sanitizeLine(descriptor.digest)}" is not a digest`, { hint: REBUILD_HINT });
    const size = await this.blobSize(descriptor.digest);
    if (size === undefined) {
      throw new LayoutError(`${this.label}: blob ${descriptor.digest} is missing (no ${blobName(descriptor.digest)} in the layout)`, {
        reference: descriptor.digest,
        hint: REBUILD_HINT,
      });
    }
    if (size !== descriptor.size) throw this.mismatch(descriptor.digest, `${size} bytes on disk, ${descriptor.size} in its descriptor`);
  }

  close(): Promise<void> {
    return this.backend.close();
  }
}

async function readSmall(backend: Backend, name: string, label: string): Promise<Buffer | undefined> {
  const size = await backend.size(name);
  if (size === undefined) return undefined;
  if (size > MAX_MANIFEST_BYTES) throw new LayoutError(`${label}: ${name} is ${size} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`, { hint: REBUILD_HINT });
  return readWhole(backend.stream(name));
}

function parseJson(bytes: Buffer, subject: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch (cause) {
    throw new LayoutError(`${subject} is not valid JSON`, { cause, hint: REBUILD_HINT });
  }
  throw new LayoutError(`${subject} is not a JSON object`, { hint: REBUILD_HINT });
}
