// A RegistryClient that answers for `oci-layout://` sources from disk and passes everything else
// to the registry client it wraps. The engine asks it as it asks any registry: manifests by
// digest (read whole, bounded, digest-checked), configs (the same), and copies of blobs to
// targets, which stream each blob from the file into the target's upload, verified as it flows
// and never held whole. A layout is never a target.
import type { Readable } from 'node:stream';
import { InputError, LayoutError, isDigestMismatch } from '../base/errors.js';
import { type Descriptor, blobsOf, parseManifest } from '../oci/manifest.js';
import { type ImageReference, type RepositoryRef, formatRepository } from '../oci/reference.js';
import type { ReferrersListing } from '../registry/referrers.js';
import type {
  BlobTransfer,
  FetchedManifest,
  HostedApis,
  ManifestHead,
  RegistryClient,
  RequestStats,
  Scope,
} from '../registry/client-types.js';
import { Layout } from './layout.js';
import { LAYOUT_REGISTRY, LAYOUT_SCHEME, isLayoutRepository } from './layout-reference.js';

/** The layouts a run reads, each opened once however many sources name it. */
export class LayoutSet {
  private readonly layouts = new Map<string, Layout>();

  private constructor(private readonly deadline?: number) {}

  /**
   * Opens every layout `sources` name, and pins each layout source to the digest it means; past
   * `deadline` (epoch ms) it gives up with a TimeoutError.
   */
  static async open(
    sources: ImageReference[],
    options: { deadline?: number } = {},
  ): Promise<{ set: LayoutSet; sources: ImageReference[] }> {
    const set = new LayoutSet(options.deadline);
    try {
      const pinned: ImageReference[] = [];
      for (const source of sources) {
        if (!isLayoutRepository(source)) {
          pinned.push(source);
          continue;
        }
        const layout = await set.add(source.repository);
        const descriptor = await layout.select(source);
        pinned.push({ ...source, digest: descriptor.digest });
      }
      return { set, sources: pinned };
    } catch (error) {
      await set.close();
      throw error;
    }
  }

  get size(): number {
    return this.layouts.size;
  }

  private async add(path: string): Promise<Layout> {
    let layout = this.layouts.get(path);
    if (!layout) {
      layout = await Layout.open(path, `${LAYOUT_SCHEME}${path}`, { deadline: this.deadline });
      this.layouts.set(path, layout);
    }
    return layout;
  }

  get(repository: RepositoryRef): Layout {
    const layout = this.layouts.get(repository.repository);
    if (!layout) throw new Error(`internal: layout ${repository.repository} was not opened`);
    return layout;
  }

  async close(): Promise<void> {
    await Promise.all([...this.layouts.values()].map((l) => l.close()));
    this.layouts.clear();
  }
}

/** `inner` itself when no source is a layout. */
export function withLayouts(inner: RegistryClient, layouts: LayoutSet): RegistryClient {
  return layouts.size === 0 ? inner : new LayoutClient(inner, layouts);
}

class LayoutClient implements RegistryClient {
  constructor(
    private readonly inner: RegistryClient,
    private readonly layouts: LayoutSet,
  ) {}

  hostedApis(): HostedApis | undefined {
    return this.inner.hostedApis?.();
  }

  declareScopes(registry: string, scopes: Scope[]): void {
    if (registry !== LAYOUT_REGISTRY) this.inner.declareScopes(registry, scopes);
  }

  async fetchManifest(repository: RepositoryRef, reference: string): Promise<FetchedManifest> {
    if (!isLayoutRepository(repository)) return this.inner.fetchManifest(repository, reference);
    const layout = this.layouts.get(repository);
    const listed = await layout.select(reference.includes(':') ? { digest: reference } : { tag: reference });
    const size = listed.size;
    const bytes = await layout.readBlob({ digest: listed.digest, size });
    const parsed = parseManifest(bytes, listed.mediaType || undefined, `${layout.label}@${listed.digest}`);
    // Every blob of an image is looked for now, while nothing is written: a missing one fails the plan, not an upload.
    if (parsed.kind === 'image') {
      for (const blob of blobsOf(parsed.image!)) {
        const onDisk = await layout.blobSize(blob.digest);
        if (onDisk === undefined) {
          throw new LayoutError(`${layout.label}: blob ${blob.digest} of manifest ${listed.digest} is missing from the layout`, {
            reference: blob.digest,
            hint: 'Write the layout again (docker buildx build --output type=oci,dest=FILE, or skopeo copy … oci:DIR:TAG), and upload and download it whole',
          });
        }
        if (onDisk !== blob.size) throw layout.mismatch(blob.digest, `${onDisk} bytes on disk, ${blob.size} in manifest ${listed.digest}`);
      }
    }
    return { bytes, mediaType: parsed.mediaType, digest: listed.digest, size: bytes.length };
  }

  async headManifest(repository: RepositoryRef, reference: string): Promise<ManifestHead | undefined> {
    if (!isLayoutRepository(repository)) return this.inner.headManifest(repository, reference);
    const { digest, mediaType, size } = await this.fetchManifest(repository, reference);
    return { digest, mediaType, size };
  }

  /**
   * A layout's referrers are not read (a build job's layout holds the image and its attestations
   * in the index): it lists none, as a registry with the API would, so no fallback tag is looked for.
   */
  async listReferrers(repository: RepositoryRef, digest: string, artifactType?: string): Promise<ReferrersListing> {
    if (isLayoutRepository(repository)) return { api: true, descriptors: [] };
    return this.inner.listReferrers ? this.inner.listReferrers(repository, digest, artifactType) : { api: false };
  }

  putManifest(repository: RepositoryRef, reference: string, manifest: { bytes: Buffer; mediaType: string }): Promise<string> {
    if (isLayoutRepository(repository)) throw notATarget(repository);
    return this.inner.putManifest(repository, reference, manifest);
  }

  deleteManifest(repository: RepositoryRef, reference: string): Promise<void> {
    if (isLayoutRepository(repository)) throw notATarget(repository);
    return this.inner.deleteManifest(repository, reference);
  }

  async hasBlob(repository: RepositoryRef, digest: string): Promise<boolean> {
    if (!isLayoutRepository(repository)) return this.inner.hasBlob(repository, digest);
    return (await this.layouts.get(repository).blobSize(digest)) !== undefined;
  }

  fetchBlob(repository: RepositoryRef, descriptor: Descriptor, maxBytes?: number): Promise<Buffer> {
    if (!isLayoutRepository(repository)) return this.inner.fetchBlob(repository, descriptor, maxBytes);
    return this.layouts.get(repository).readBlob(descriptor, maxBytes);
  }

  mountBlob(to: RepositoryRef, from: RepositoryRef, descriptor: Descriptor): Promise<BlobTransfer> {
    if (isLayoutRepository(from)) return this.copyBlob(from, to, descriptor);
    return this.inner.mountBlob(to, from, descriptor);
  }

  copyBlob(from: RepositoryRef, to: RepositoryRef, descriptor: Descriptor): Promise<BlobTransfer> {
    if (isLayoutRepository(to)) throw notATarget(to);
    if (!isLayoutRepository(from)) return this.inner.copyBlob(from, to, descriptor);
    const layout = this.layouts.get(from);
    return this.fromLayout(layout, descriptor, () => this.inner.uploadBlob(from, to, descriptor, () => layout.openBlob(descriptor)));
  }

  uploadBlob(
    from: RepositoryRef,
    to: RepositoryRef,
    descriptor: Descriptor,
    bytes: () => Promise<Buffer | Readable>,
  ): Promise<BlobTransfer> {
    if (isLayoutRepository(to)) throw notATarget(to);
    const upload = () => this.inner.uploadBlob(from, to, descriptor, bytes);
    return isLayoutRepository(from) ? this.fromLayout(this.layouts.get(from), descriptor, upload) : upload();
  }

  stats(): RequestStats {
    return this.inner.stats();
  }

  async close(): Promise<void> {
    try {
      await this.inner.close();
    } finally {
      await this.layouts.close();
    }
  }

  /** A blob that did not hash to its digest on the way out is the layout's fault: say so, naming its path. */
  private async fromLayout(layout: Layout, descriptor: Descriptor, upload: () => Promise<BlobTransfer>): Promise<BlobTransfer> {
    try {
      return await upload();
    } catch (error) {
      if (isDigestMismatch(error)) throw layout.mismatch(descriptor.digest, error);
      throw error;
    }
  }
}

function notATarget(repository: RepositoryRef): InputError {
  return new InputError(`${formatRepository(repository)} cannot be written to: an OCI layout is a source only`, {
    hint: 'Targets are registry tags, e.g. ghcr.io/acme/app:latest',
  });
}
