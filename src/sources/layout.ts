// An OCI image layout on disk (image-layout.md): a directory, or a tar of one as
// `docker buildx build --output type=oci,dest=out.tar` writes it (gzip-compressed too). Small
// files (oci-layout, index.json, manifests, configs) are read whole, bounded; blobs are only ever
// opened as streams. Every name is derived from a digest checked against the grammar first, so a
// descriptor cannot point outside the layout. Errors name the layout as the user wrote it.
import { Readable } from 'node:stream';
import { isDigest, verifyDigest } from '../oci/digest.js';
import { LayoutError, ManifestMergeError } from '../base/errors.js';
import { type Descriptor, MAX_MANIFEST_BYTES, isDescriptor } from '../oci/manifest.js';
import { sanitizeLine } from '../base/redact.js';
import { type Backend, REBUILD_HINT, openBackend, readWhole } from './layout-backend.js';

/** Annotations that name a manifest in index.json: the OCI one (skopeo, buildx), and containerd's full image name. */
export const REF_NAME = 'org.opencontainers.image.ref.name';
const CONTAINERD_NAME = 'io.containerd.image.name';

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
        throw new LayoutError(
          `${label}: oci-layout declares imageLayoutVersion ${sanitizeLine(JSON.stringify(version) ?? 'undefined')}; only 1.x layouts are read`,
          { hint: REBUILD_HINT },
        );
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
      if (size === undefined)
        throw new LayoutError(`${this.label}@${reference.digest}: no such manifest in the layout${listed()}`, {
          hint: 'Check the digest, or give the tag the build wrote',
        });
      return { mediaType: '', digest: reference.digest, size };
    }
    if (reference.tag) {
      const tag = reference.tag;
      const found = this.manifests.filter((d) => d.annotations?.[REF_NAME] === tag || d.annotations?.[CONTAINERD_NAME] === tag);
      if (found.length === 1) return found[0];
      throw new LayoutError(
        `${this.label}:${tag}: ${found.length === 0 ? 'no manifest of that name' : 'several manifests of that name'}${listed()}`,
        {
          hint: 'Give one of the names listed, or @sha256:… for a digest',
        },
      );
    }
    if (this.manifests.length === 1) return this.manifests[0];
    throw new LayoutError(
      `${this.label} holds ${this.manifests.length === 0 ? 'no manifest' : `${this.manifests.length} manifests`}${listed()}, so which one to merge is not clear`,
      {
        hint: 'Name one: oci-layout://PATH:NAME, or oci-layout://PATH@sha256:…',
      },
    );
  }

  /** Size of a blob in the layout, undefined when it is missing. */
  blobSize(digest: string): Promise<number | undefined> {
    return isDigest(digest) ? this.backend.size(blobName(digest)) : Promise.resolve(undefined);
  }

  /** A small blob (manifest, config) read whole and held to its descriptor: size and digest. */
  async readBlob(descriptor: Pick<Descriptor, 'digest' | 'size'>, maxBytes = MAX_MANIFEST_BYTES): Promise<Buffer> {
    await this.checkBlob(descriptor);
    if (descriptor.size > maxBytes)
      throw new LayoutError(
        `${this.label}: blob ${descriptor.digest} is ${descriptor.size} bytes, over the ${maxBytes}-byte limit for reading it whole`,
      );
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
    return new LayoutError(`${this.label}: ${isDigest(digest) ? blobName(digest) : digest} does not match its digest (${detail})`, {
      cause,
      hint: REBUILD_HINT,
    });
  }

  /** Refuses a blob that is missing, or whose size is not the descriptor's (before a byte is sent). */
  private async checkBlob(descriptor: Pick<Descriptor, 'digest' | 'size'>): Promise<void> {
    if (!isDigest(descriptor.digest))
      throw new LayoutError(`${this.label}: "${sanitizeLine(descriptor.digest)}" is not a digest`, { hint: REBUILD_HINT });
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
  if (size > MAX_MANIFEST_BYTES)
    throw new LayoutError(`${label}: ${name} is ${size} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`, { hint: REBUILD_HINT });
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
