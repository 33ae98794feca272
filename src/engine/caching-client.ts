// A RegistryClient around another that remembers what it learnt, so the engine can simply ask
// again: manifests by digest (immutable) read once, "is it there?" asked once per repository
// and digest (and answered "yes" after this run put it there), config blobs read once and
// uploaded from memory to other registries. Two things it does on its own initiative:
//
// - look-ahead: as soon as a source manifest is read, what targets on other registries will be
//   asked about it (is the child there? its larger blobs?) is asked, reads only, so the answers
//   are in when the plan is;
// - shared small blobs: a blob of at most 1 MiB that several targets on other registries need
//   is read once and uploaded from memory, and let go after its last upload.
//
// Tags are never cached: a tag is a moving pointer, and the engine's read-back must see the
// registry, not this cache.
import type { Readable } from 'node:stream';
import { DEFAULT_CONCURRENCY, Limiter, OnceByKey } from '../base/concurrency.js';
import { isDigest } from '../oci/digest.js';
import {
  type Descriptor,
  type ParsedManifest,
  blobsOf,
  isAttestationDescriptor,
  isImageManifestMediaType,
  isIndexMediaType,
  parseManifest,
} from '../oci/manifest.js';
import { type RepositoryRef, formatRepository } from '../oci/reference.js';
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

/** Blobs up to this size that several targets on other registries need are read once, and uploaded from memory. */
export const SHARED_BLOB_BYTES = 1024 * 1024;
/**
 * Blobs smaller than this go to another registry without asking first whether it has them: asking
 * costs a request and a round trip, uploading one at most two requests and this many bytes (and a
 * fresh target, the usual case, has none of them).
 */
export const ASK_BLOB_BYTES = 64 * 1024;

export interface LookAhead {
  /** target repositories; a manifest read from another registry is looked for in each early */
  targets: RepositoryRef[];
  /** whether attestations and other non-image children are looked for too (not with attestations: strip) */
  nonImages: boolean;
}

export interface CachingClientOptions {
  /** requests the look-ahead sends to one registry at once (default DEFAULT_CONCURRENCY) */
  concurrency?: number;
  lookAhead?: LookAhead;
}

function key(repository: RepositoryRef, digest: string): string {
  return `${formatRepository(repository)}@${digest}`;
}

/** Lets a promise fail unobserved (it is awaited, and its failure reported, where it is used). */
function quietly(promise: Promise<unknown>): void {
  promise.catch(() => undefined);
}

/** What the cache holds; views (withoutLookAhead) share it. */
class Memory {
  readonly manifests = new OnceByKey<FetchedManifest>();
  readonly heads = new OnceByKey<ManifestHead | undefined>();
  readonly blobs = new OnceByKey<boolean>();
  /** blobs read whole with fetchBlob (configs, for their platform): kept, and uploaded from memory */
  readonly kept = new OnceByKey<Buffer>();
  /** bytes of shared small blobs, while uploads of them are still to come */
  readonly shared = new Map<string, Promise<Buffer>>();
  /** uploads still to come per blob (expectCopies) */
  readonly copiesLeft = new Map<string, number>();
  /** keys of `kept`, known as soon as a read starts */
  readonly keptKeys = new Set<string>();
  /** the look-ahead's requests, per registry */
  readonly limiters = new Map<string, Limiter>();
}

export class CachingClient implements RegistryClient {
  private readonly memory: Memory;
  private readonly concurrency: number;

  constructor(
    private readonly inner: RegistryClient,
    private readonly options: CachingClientOptions = {},
    memory?: Memory,
  ) {
    this.memory = memory ?? new Memory();
    this.concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  }

  /** The same cache, without look-ahead: for reads whose children the plan may still drop (the index an append merges into). */
  withoutLookAhead(): CachingClient {
    return new CachingClient(this.inner, { concurrency: this.concurrency }, this.memory);
  }

  declareScopes(registry: string, scopes: Scope[]): void {
    this.inner.declareScopes(registry, scopes);
  }

  async fetchManifest(repository: RepositoryRef, reference: string): Promise<FetchedManifest> {
    let fetched: FetchedManifest;
    if (isDigest(reference)) {
      const k = key(repository, reference);
      const call = this.memory.manifests.run(k, () => this.inner.fetchManifest(repository, reference));
      call.catch(() => this.memory.manifests.forget(k, call));
      fetched = await call;
    } else {
      fetched = await this.inner.fetchManifest(repository, reference);
      this.memory.manifests.set(key(repository, fetched.digest), fetched);
    }
    this.memory.heads.set(key(repository, fetched.digest), { digest: fetched.digest, mediaType: fetched.mediaType, size: fetched.size });
    this.lookAhead(repository, fetched);
    return fetched;
  }

  /** Digests are asked once (answers shared); tags always go to the registry. */
  headManifest(repository: RepositoryRef, reference: string): Promise<ManifestHead | undefined> {
    if (!isDigest(reference)) return this.inner.headManifest(repository, reference);
    return this.memory.heads.run(key(repository, reference), () =>
      this.limited(repository.registry, () => this.inner.headManifest(repository, reference)),
    );
  }

  async putManifest(repository: RepositoryRef, reference: string, manifest: { bytes: Buffer; mediaType: string }): Promise<string> {
    const digest = await this.inner.putManifest(repository, reference, manifest);
    this.memory.heads.set(key(repository, digest), { digest, mediaType: manifest.mediaType, size: manifest.bytes.length });
    return digest;
  }

  /** Tags only are deleted by the engine (a tag it put back): nothing cached is about a tag. */
  deleteManifest(repository: RepositoryRef, reference: string): Promise<void> {
    if (isDigest(reference)) this.memory.heads.set(key(repository, reference), undefined);
    return this.inner.deleteManifest(repository, reference);
  }

  hasBlob(repository: RepositoryRef, digest: string): Promise<boolean> {
    return this.memory.blobs.run(key(repository, digest), () =>
      this.limited(repository.registry, () => this.inner.hasBlob(repository, digest)),
    );
  }

  /** Read once per repository and digest, and kept: a copy to another registry uploads these bytes. */
  fetchBlob(repository: RepositoryRef, descriptor: Descriptor, maxBytes?: number): Promise<Buffer> {
    const k = key(repository, descriptor.digest);
    const call = this.memory.kept.run(k, () => this.inner.fetchBlob(repository, descriptor, maxBytes));
    this.memory.keptKeys.add(k);
    call.catch(() => {
      this.memory.kept.forget(k, call);
      this.memory.keptKeys.delete(k);
    });
    return call;
  }

  async mountBlob(to: RepositoryRef, from: RepositoryRef, descriptor: Descriptor): Promise<BlobTransfer> {
    const outcome = await this.inner.mountBlob(to, from, descriptor);
    this.memory.blobs.set(key(to, descriptor.digest), true);
    return outcome;
  }

  /**
   * Streams the blob, unless its bytes are in memory (a config read for its platform) or it is
   * small and several targets need it (expectCopies): then it is uploaded from memory.
   */
  async copyBlob(from: RepositoryRef, to: RepositoryRef, descriptor: Descriptor): Promise<BlobTransfer> {
    const k = key(from, descriptor.digest);
    let outcome: BlobTransfer;
    if (this.memory.keptKeys.has(k) || (descriptor.size <= SHARED_BLOB_BYTES && (this.memory.copiesLeft.get(k) ?? 0) > 1)) {
      try {
        outcome = await this.inner.uploadBlob(from, to, descriptor, () => this.bytesOf(from, descriptor));
      } finally {
        this.copied(k);
      }
    } else {
      outcome = await this.inner.copyBlob(from, to, descriptor);
      this.copied(k);
    }
    this.memory.blobs.set(key(to, descriptor.digest), true);
    return outcome;
  }

  async uploadBlob(
    from: RepositoryRef,
    to: RepositoryRef,
    descriptor: Descriptor,
    bytes: () => Promise<Buffer | Readable>,
  ): Promise<BlobTransfer> {
    const outcome = await this.inner.uploadBlob(from, to, descriptor, bytes);
    this.memory.blobs.set(key(to, descriptor.digest), true);
    return outcome;
  }

  /** Announces the copies about to be made, so a small blob several targets need is read once. */
  expectCopies(copies: Array<{ from: RepositoryRef; descriptor: Descriptor }>): void {
    for (const { from, descriptor } of copies) {
      const k = key(from, descriptor.digest);
      this.memory.copiesLeft.set(k, (this.memory.copiesLeft.get(k) ?? 0) + 1);
    }
  }

  /** Never cached: a target's listing changes as this run pushes referrers to it. */
  listReferrers(repository: RepositoryRef, digest: string, artifactType?: string): Promise<ReferrersListing> {
    if (!this.inner.listReferrers) return Promise.resolve({ api: false });
    return this.inner.listReferrers(repository, digest, artifactType);
  }

  /** True when this run already knows the manifest or blob is in `repository` (nothing is asked). */
  knownPresent(kind: 'manifest' | 'blob', repository: RepositoryRef, digest: string): Promise<boolean> {
    const k = key(repository, digest);
    const store = kind === 'manifest' ? this.memory.heads : this.memory.blobs;
    const answer: Promise<unknown> | undefined = store.peek(k);
    return answer ? answer.then(Boolean, () => false) : Promise.resolve(false);
  }

  hostedApis(): HostedApis | undefined {
    return this.inner.hostedApis?.();
  }

  stats(): RequestStats {
    return this.inner.stats();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** The bytes of a blob uploaded from memory, for one upload (a retry of that upload may ask again). */
  private bytesOf(from: RepositoryRef, descriptor: Descriptor): Promise<Buffer> {
    const k = key(from, descriptor.digest);
    if (this.memory.keptKeys.has(k)) return this.fetchBlob(from, descriptor);
    let pending = this.memory.shared.get(k);
    if (!pending) {
      const read = this.inner.fetchBlob(from, descriptor, SHARED_BLOB_BYTES);
      this.memory.shared.set(k, read);
      // a failed read is not kept: a retried upload reads again
      read.catch(() => {
        if (this.memory.shared.get(k) === read) this.memory.shared.delete(k);
      });
      pending = read;
    }
    return pending;
  }

  /** One copy of the blob is done; after the last one its shared bytes are let go. */
  private copied(k: string): void {
    const left = (this.memory.copiesLeft.get(k) ?? 1) - 1;
    if (left > 0) this.memory.copiesLeft.set(k, left);
    else {
      this.memory.copiesLeft.delete(k);
      this.memory.shared.delete(k);
    }
  }

  private limited<T>(registry: string, fn: () => Promise<T>): Promise<T> {
    let limiter = this.memory.limiters.get(registry);
    if (!limiter) {
      limiter = new Limiter(this.concurrency);
      this.memory.limiters.set(registry, limiter);
    }
    return limiter.run(fn);
  }

  /**
   * Starts, without waiting, what targets on other registries than `repository` will be asked
   * about this manifest: for an index, each child (is it there? and, read from the source, its
   * blobs); for an image, itself and each of its blobs but the smallest.
   */
  private lookAhead(repository: RepositoryRef, fetched: FetchedManifest): void {
    const targets = this.options.lookAhead?.targets.filter((t) => t.registry !== repository.registry) ?? [];
    if (targets.length === 0) return;
    let parsed: ParsedManifest;
    try {
      parsed = parseManifest(fetched.bytes, fetched.mediaType, formatRepository(repository));
    } catch {
      return; // the caller parses it too, and reports the problem
    }
    if (parsed.kind === 'image') {
      for (const target of targets) {
        quietly(this.headManifest(target, fetched.digest));
        for (const blob of blobsOf(parsed.image!)) if (blob.size >= ASK_BLOB_BYTES) quietly(this.hasBlob(target, blob.digest));
      }
      return;
    }
    for (const child of parsed.index!.manifests) {
      if (isIndexMediaType(child.mediaType) || !isDigest(child.digest)) continue;
      if (!this.options.lookAhead!.nonImages && !looksLikeImage(child)) continue;
      for (const target of targets) quietly(this.headManifest(target, child.digest));
      quietly(this.fetchManifest(repository, child.digest));
    }
  }
}

/** An index child that will be an image entry (not an attestation or another artifact). */
function looksLikeImage(descriptor: Descriptor): boolean {
  return (
    isImageManifestMediaType(descriptor.mediaType) &&
    !descriptor.artifactType &&
    !isAttestationDescriptor(descriptor) &&
    descriptor.platform?.os !== 'unknown'
  );
}
