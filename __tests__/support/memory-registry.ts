// An in-memory set of registries behind the RegistryClient interface, for fast engine tests.
// It keeps manifests by digest and tag and blobs per repository, and behaves like distribution
// where that matters to the engine: a PUT of a manifest whose blobs or children are not in the
// repository is refused (so ordering mistakes fail), mounts work within one registry only, and
// every call is logged with the request kinds the real client counts. `onRequest` runs before
// each call: a test throws from it to inject a failure, or writes to the store to act as a
// concurrent writer at an exact moment.
import { DigestMismatchError, HttpError, InvalidManifestError } from '../../src/base/errors.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { type Descriptor, MediaType, blobsOf, isIndexMediaType, parseManifest } from '../../src/oci/manifest.js';
import type { Platform } from '../../src/oci/platform.js';
import { type RepositoryRef, formatRepository } from '../../src/oci/reference.js';
import type { BlobTransfer, FetchedManifest, ManifestHead, RegistryClient, RequestStats, Scope } from '../../src/registry/client-types.js';

export type RequestKind =
  | 'GET manifest'
  | 'HEAD manifest'
  | 'PUT manifest'
  | 'DELETE manifest'
  | 'HEAD blob'
  | 'GET blob'
  | 'POST mount'
  | 'POST upload'
  | 'PUT upload';

export interface LoggedRequest {
  kind: RequestKind;
  /** registry/repository */
  repository: string;
  reference: string;
}

interface Repository {
  manifests: Map<string, { bytes: Buffer; mediaType: string }>;
  tags: Map<string, string>;
  blobs: Map<string, Buffer>;
}

function notFound(what: string, method: string, repository: RepositoryRef, reference: string): HttpError {
  return new HttpError(
    'NOT_FOUND',
    `${what} ${formatRepository(repository)}@${reference} not found`,
    { method, url: `memory://${formatRepository(repository)}/${reference}` },
    404,
    [],
    {
      registry: repository.registry,
      repository: repository.repository,
      reference,
    },
  );
}

export class MemoryRegistry implements RegistryClient {
  readonly requests: LoggedRequest[] = [];
  readonly scopes: Array<{ registry: string; scopes: Scope[] }> = [];
  /** runs before every request; throw to fail it, or change the store to race it */
  onRequest?: (request: LoggedRequest) => void | Promise<void>;
  private readonly repositories = new Map<string, Repository>();
  /** repositories whose existing tags cannot be overwritten (ECR's IMMUTABLE, Harbor's immutability rules) */
  private readonly immutable = new Set<string>();
  /** registries that answer DELETE of a tag with 405, as one with deletes disabled does (distribution 2.8 with deletes on answers 400 DIGEST_INVALID) */
  private readonly noTagDelete = new Set<string>();

  // ---- the store, for tests ----------------------------------------------------------------

  repository(ref: RepositoryRef): Repository {
    const name = formatRepository(ref);
    let repo = this.repositories.get(name);
    if (!repo) {
      repo = { manifests: new Map(), tags: new Map(), blobs: new Map() };
      this.repositories.set(name, repo);
    }
    return repo;
  }

  addBlob(ref: RepositoryRef, bytes: Buffer, mediaType = 'application/octet-stream'): Descriptor {
    const digest = sha256Digest(bytes);
    this.repository(ref).blobs.set(digest, bytes);
    return { mediaType, digest, size: bytes.length };
  }

  /** Stores manifest bytes as they are (no checks: a test may store a hostile one); tags it when `tag` is given. */
  addManifest(ref: RepositoryRef, bytes: Buffer | string, mediaType: string, tag?: string): Descriptor {
    const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
    const digest = sha256Digest(buffer);
    const repo = this.repository(ref);
    repo.manifests.set(digest, { bytes: buffer, mediaType });
    if (tag) repo.tags.set(tag, digest);
    return { mediaType, digest, size: buffer.length };
  }

  /** Removes a manifest by digest, and every tag pointing at it, behind the client's back (a registry's retention policy); no request is counted. */
  removeManifest(ref: RepositoryRef, digest: string): void {
    const repo = this.repository(ref);
    repo.manifests.delete(digest);
    for (const [tag, tagged] of repo.tags) if (tagged === digest) repo.tags.delete(tag);
  }

  /** The manifest a tag or digest points at now, parsed (undefined when absent). */
  read(ref: RepositoryRef, reference: string): { digest: string; mediaType: string; json: Record<string, unknown> } | undefined {
    const repo = this.repository(ref);
    const digest = reference.includes(':') ? reference : repo.tags.get(reference);
    const manifest = digest ? repo.manifests.get(digest) : undefined;
    if (!digest || !manifest) return undefined;
    return { digest, mediaType: manifest.mediaType, json: JSON.parse(manifest.bytes.toString('utf8')) as Record<string, unknown> };
  }

  /**
   * Refuses, from now on, a PUT over an existing tag of `ref` (an index by digest is still taken), as
   * ECR answers for a repository with immutable tags: 400 TAG_INVALID.
   */
  makeTagsImmutable(ref: RepositoryRef): void {
    this.immutable.add(formatRepository(ref));
  }

  /** `registry` answers DELETE of a tag with 405 UNSUPPORTED, as a registry with deletes disabled does. */
  refuseTagDelete(registry: string): void {
    this.noTagDelete.add(registry);
  }

  count(kind?: RequestKind): number {
    return kind ? this.requests.filter((r) => r.kind === kind).length : this.requests.length;
  }

  /** Requests that wrote something. */
  writes(): LoggedRequest[] {
    return this.requests.filter(
      (r) =>
        r.kind === 'PUT manifest' ||
        r.kind === 'DELETE manifest' ||
        r.kind === 'POST mount' ||
        r.kind === 'POST upload' ||
        r.kind === 'PUT upload',
    );
  }

  // ---- RegistryClient -----------------------------------------------------------------------

  declareScopes(registry: string, scopes: Scope[]): void {
    this.scopes.push({ registry, scopes });
  }

  private async request(kind: RequestKind, repository: RepositoryRef, reference: string): Promise<void> {
    await Promise.resolve(); // never answer synchronously: a real registry does not
    const request = { kind, repository: formatRepository(repository), reference };
    this.requests.push(request);
    await this.onRequest?.(request);
  }

  async fetchManifest(repository: RepositoryRef, reference: string): Promise<FetchedManifest> {
    await this.request('GET manifest', repository, reference);
    const repo = this.repository(repository);
    const digest = reference.includes(':') ? reference : repo.tags.get(reference);
    const manifest = digest ? repo.manifests.get(digest) : undefined;
    if (!digest || !manifest) throw notFound('manifest', 'GET', repository, reference);
    return { bytes: manifest.bytes, mediaType: manifest.mediaType, digest, size: manifest.bytes.length };
  }

  async headManifest(repository: RepositoryRef, reference: string): Promise<ManifestHead | undefined> {
    await this.request('HEAD manifest', repository, reference);
    const repo = this.repository(repository);
    const digest = reference.includes(':') ? reference : repo.tags.get(reference);
    const manifest = digest ? repo.manifests.get(digest) : undefined;
    return digest && manifest ? { digest, mediaType: manifest.mediaType, size: manifest.bytes.length } : undefined;
  }

  /** Refuses, as distribution does, a manifest whose blobs (image) or children (index) are not in the repository. */
  async putManifest(repository: RepositoryRef, reference: string, manifest: { bytes: Buffer; mediaType: string }): Promise<string> {
    await this.request('PUT manifest', repository, reference);
    const repo = this.repository(repository);
    const digest = sha256Digest(manifest.bytes);
    if (!reference.includes(':') && repo.tags.has(reference) && this.immutable.has(formatRepository(repository)))
      throw new HttpError(
        'HTTP',
        `PUT ${formatRepository(repository)}:${reference}: the tag already exists and cannot be overwritten (immutable tags)`,
        { method: 'PUT', url: `memory://${formatRepository(repository)}/${reference}` },
        400,
        [
          {
            code: 'TAG_INVALID',
            message: `The image tag '${reference}' already exists and cannot be overwritten because the repository is immutable.`,
          },
        ],
        { registry: repository.registry, repository: repository.repository, reference },
      );
    if (reference.includes(':') && reference !== digest)
      throw new DigestMismatchError(`PUT ${formatRepository(repository)}@${reference}`, reference, digest);
    const parsed = parseManifest(manifest.bytes, manifest.mediaType, `PUT ${formatRepository(repository)}:${reference}`);
    const missing =
      parsed.kind === 'index'
        ? parsed.index!.manifests.filter((d) => !repo.manifests.has(d.digest)).map((d) => `manifest ${d.digest}`)
        : blobsOf(parsed.image!)
            .filter((b) => !repo.blobs.has(b.digest))
            .map((b) => `blob ${b.digest}`);
    if (missing.length > 0) {
      throw new HttpError(
        'HTTP',
        `PUT ${formatRepository(repository)}:${reference}: unknown ${missing.join(', ')}`,
        { method: 'PUT', url: `memory://${formatRepository(repository)}/${reference}` },
        400,
        [{ code: isIndexMediaType(parsed.mediaType) ? 'MANIFEST_UNKNOWN' : 'MANIFEST_BLOB_UNKNOWN' }],
      );
    }
    repo.manifests.set(digest, { bytes: manifest.bytes, mediaType: manifest.mediaType });
    if (!reference.includes(':')) repo.tags.set(reference, digest);
    return digest;
  }

  /** DELETE of a tag (untags it) or of a digest (removes the manifest and the tags on it); 404 when absent. */
  async deleteManifest(repository: RepositoryRef, reference: string): Promise<void> {
    await this.request('DELETE manifest', repository, reference);
    const repo = this.repository(repository);
    if (!reference.includes(':') && this.noTagDelete.has(repository.registry))
      throw new HttpError(
        'HTTP',
        `DELETE ${formatRepository(repository)}:${reference}: HTTP 405 UNSUPPORTED (the registry deletes manifests by digest only)`,
        { method: 'DELETE', url: `memory://${formatRepository(repository)}/${reference}` },
        405,
        [{ code: 'UNSUPPORTED', message: 'The operation is unsupported.' }],
        { registry: repository.registry, repository: repository.repository, reference },
      );
    if (reference.includes(':')) {
      if (!repo.manifests.delete(reference)) throw notFound('manifest', 'DELETE', repository, reference);
      for (const [tag, digest] of repo.tags) if (digest === reference) repo.tags.delete(tag);
      return;
    }
    if (!repo.tags.delete(reference)) throw notFound('manifest', 'DELETE', repository, reference);
  }

  async hasBlob(repository: RepositoryRef, digest: string): Promise<boolean> {
    await this.request('HEAD blob', repository, digest);
    return this.repository(repository).blobs.has(digest);
  }

  async fetchBlob(repository: RepositoryRef, descriptor: Descriptor): Promise<Buffer> {
    await this.request('GET blob', repository, descriptor.digest);
    const bytes = this.repository(repository).blobs.get(descriptor.digest);
    if (!bytes) throw notFound('blob', 'GET', repository, descriptor.digest);
    if (bytes.length !== descriptor.size)
      throw new DigestMismatchError(`blob ${descriptor.digest}`, `${descriptor.size} bytes`, `${bytes.length} bytes`);
    return bytes;
  }

  async mountBlob(to: RepositoryRef, from: RepositoryRef, descriptor: Descriptor): Promise<BlobTransfer> {
    await this.request('POST mount', to, descriptor.digest);
    if (to.registry !== from.registry) throw new InvalidManifestError(`mount across registries (${from.registry} → ${to.registry})`);
    const bytes = this.repository(from).blobs.get(descriptor.digest);
    if (!bytes) throw notFound('blob', 'POST', from, descriptor.digest);
    this.repository(to).blobs.set(descriptor.digest, bytes);
    return 'mounted';
  }

  async copyBlob(from: RepositoryRef, to: RepositoryRef, descriptor: Descriptor): Promise<BlobTransfer> {
    await this.request('GET blob', from, descriptor.digest);
    const bytes = this.repository(from).blobs.get(descriptor.digest);
    if (!bytes) throw notFound('blob', 'GET', from, descriptor.digest);
    await this.request('POST upload', to, descriptor.digest);
    await this.request('PUT upload', to, descriptor.digest);
    this.repository(to).blobs.set(descriptor.digest, bytes);
    return 'copied';
  }

  async uploadBlob(_from: RepositoryRef, to: RepositoryRef, descriptor: Descriptor, bytes: () => Promise<Buffer>): Promise<BlobTransfer> {
    await this.request('POST upload', to, descriptor.digest);
    const body = await bytes();
    if (sha256Digest(body) !== descriptor.digest)
      throw new DigestMismatchError(`upload ${descriptor.digest}`, descriptor.digest, sha256Digest(body));
    await this.request('PUT upload', to, descriptor.digest);
    this.repository(to).blobs.set(descriptor.digest, body);
    return 'copied';
  }

  stats(): RequestStats {
    const byKind: Record<string, number> = {};
    for (const r of this.requests) byKind[r.kind] = (byKind[r.kind] ?? 0) + 1;
    return { requests: this.requests.length, byKind, retries: 0 };
  }

  async close(): Promise<void> {}
}

// ---- images shaped like CI output --------------------------------------------------------------

export interface SeedImage {
  descriptor: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
}

/** An image (config + layers) in `ref`; OCI unless `docker`. Its config carries `config` fields (platform) as given. */
export function addImage(
  registry: MemoryRegistry,
  ref: RepositoryRef,
  options: {
    platform: Platform | Record<string, unknown>;
    seed: string;
    tag?: string;
    docker?: boolean;
    layers?: number;
    layerSize?: number;
  },
): SeedImage {
  const configBytes = Buffer.from(
    JSON.stringify({ ...options.platform, rootfs: { type: 'layers', diff_ids: [] }, config: {}, seed: options.seed }),
  );
  const config = registry.addBlob(ref, configBytes, options.docker ? MediaType.DockerConfig : MediaType.OciConfig);
  const layers = Array.from({ length: options.layers ?? 2 }, (_, i) =>
    registry.addBlob(
      ref,
      Buffer.from(`${options.seed}-layer-${i}-`.padEnd(options.layerSize ?? 32, '.')),
      options.docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar+gzip',
    ),
  );
  const mediaType = options.docker ? MediaType.DockerManifest : MediaType.OciManifest;
  const manifest = { schemaVersion: 2, mediaType, config, layers };
  const descriptor = registry.addManifest(ref, JSON.stringify(manifest), mediaType, options.tag);
  return { descriptor, config, layers };
}

export interface SeedBuildx {
  index: Descriptor;
  image: SeedImage;
  attestation: Descriptor;
}

/** What buildx pushes for one platform: an OCI index of the image and its attestation manifest. */
export function addBuildxImage(
  registry: MemoryRegistry,
  ref: RepositoryRef,
  tag: string,
  options: { platform: Platform; seed: string; layerSize?: number },
): SeedBuildx {
  const image = addImage(registry, ref, { platform: options.platform, seed: options.seed, layerSize: options.layerSize });
  const statement = registry.addBlob(
    ref,
    Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', seed: options.seed })),
    'application/vnd.in-toto+json',
  );
  const emptyConfig = registry.addBlob(
    ref,
    Buffer.from(JSON.stringify({ architecture: 'unknown', os: 'unknown', rootfs: { type: 'layers', diff_ids: [] }, config: {} })),
    MediaType.OciConfig,
  );
  const attestationManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: emptyConfig,
    layers: [{ ...statement, annotations: { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v0.2' } }],
  };
  const attestation = registry.addManifest(ref, JSON.stringify(attestationManifest), MediaType.OciManifest);
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [
      { ...image.descriptor, platform: options.platform },
      {
        ...attestation,
        platform: { architecture: 'unknown', os: 'unknown' },
        annotations: { 'vnd.docker.reference.digest': image.descriptor.digest, 'vnd.docker.reference.type': 'attestation-manifest' },
      },
    ],
  };
  return { index: registry.addManifest(ref, JSON.stringify(index), MediaType.OciIndex, tag), image, attestation };
}
