// The registry client: manifests, blobs, cross-repository mounts and streamed uploads, on
// top of the transport in http.ts (auth, retries, redirects) and auth.ts (tokens).
import { createHash, type Hash } from 'node:crypto';
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import { DigestMismatchError, HttpError, ManifestMergeError, TimeoutError, TooLargeError, UnsupportedMediaTypeError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { isDigest } from '../digest.js';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, MediaType, type Descriptor } from '../oci.js';
import { formatRepository, sameRepository, type RepositoryRef } from '../reference.js';
import { RegistryAuth } from './auth.js';
import {
  RegistryTransport,
  TIME_BUDGET_HINT,
  Transient,
  appendQuery,
  discard,
  headerValue,
  isTransientNetworkError,
  type HttpRequest,
  type HttpResponse,
} from './http.js';
import type {
  BlobTransfer,
  FetchedManifest,
  ManifestHead,
  RegistryClient,
  RegistryClientOptions,
  RequestStats,
  Scope,
} from './types.js';

/** Chunk size for PATCH uploads, used when a registry refuses a monolithic PUT. */
export const UPLOAD_CHUNK_BYTES = 8 * 1024 * 1024;
/** Default cap for fetchBlob (image configs). */
export const MAX_BLOB_FETCH_BYTES = 4 * 1024 * 1024;
/** Statuses by which a registry says it will not take a blob in one PUT. */
const MONOLITHIC_REFUSED = new Set([400, 405, 411, 413, 416, 501]);
/** Registry error codes that mean the blob itself is wrong, not the upload method. */
const BLOB_REJECTED_CODES = new Set(['DIGEST_INVALID', 'SIZE_INVALID', 'NAME_INVALID', 'NAME_UNKNOWN', 'DENIED', 'UNAUTHORIZED']);
const SCHEMA1_TYPES = new Set<string>([MediaType.DockerSchema1, MediaType.DockerSchema1Signed]);
const KNOWN_MANIFEST_TYPES = new Set<string>([...MANIFEST_ACCEPT, ...SCHEMA1_TYPES]);
const HASHES = new Set(['sha256', 'sha512']);

export function createRegistryClient(options: RegistryClientOptions): RegistryClient {
  const logger = options.logger ?? silentLogger;
  const insecureRegistries = options.insecureRegistries ?? [];
  const userAgent = options.userAgent ?? 'manifest-merge';
  const requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
  const transport = new RegistryTransport({
    createAuth: (dispatcher, onRequest) =>
      new RegistryAuth({
        credentials: options.credentials,
        dispatcher,
        logger,
        onSecret: options.onSecret,
        insecureRegistries,
        userAgent,
        requestTimeoutMs,
        onRequest,
        retry: options.retry,
      }),
    credentials: options.credentials,
    logger,
    insecureRegistries,
    dispatcher: options.dispatcher,
    connectionsPerOrigin: options.connectionsPerOrigin ?? 8,
    retry: {
      maxAttempts: Math.max(1, options.retry?.maxAttempts ?? 5),
      baseDelayMs: options.retry?.baseDelayMs ?? 200,
      maxDelayMs: options.retry?.maxDelayMs ?? 10_000,
    },
    requestTimeoutMs,
    deadline: options.deadline,
    userAgent,
  });
  return new Client(transport, logger);
}

function pull(repository: RepositoryRef): Scope {
  return { repository: repository.repository, actions: ['pull'] };
}

function pullPush(repository: RepositoryRef): Scope {
  return { repository: repository.repository, actions: ['pull', 'push'] };
}

function manifestName(repository: RepositoryRef, reference: string): string {
  return `Manifest ${formatRepository(repository)}${isDigest(reference) ? '@' : ':'}${reference}`;
}

function contentLength(response: HttpResponse): number | undefined {
  const value = headerValue(response.headers, 'content-length');
  return value !== undefined && /^\d+$/.test(value.trim()) ? Number(value) : undefined;
}

function mediaTypeOf(contentType: string | undefined): string | undefined {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  return type ? type : undefined;
}

function algorithmOf(digest: string, subject: string): string {
  const algorithm = digest.slice(0, Math.max(0, digest.indexOf(':')));
  if (!HASHES.has(algorithm)) {
    throw new UnsupportedMediaTypeError(`${subject}: digest "${digest}" uses an algorithm this tool cannot verify (supported: sha256, sha512)`);
  }
  return algorithm;
}

function digestWith(algorithm: string, bytes: Uint8Array): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** Throws DigestMismatchError unless `bytes` hash to `expected` (sha256 or sha512). */
function verifyDigest(subject: string, expected: string, bytes: Uint8Array): void {
  const actual = digestWith(algorithmOf(expected, subject), bytes);
  if (actual !== expected) throw new DigestMismatchError(subject, expected, actual);
}

function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(1).replace(/\.0$/, '')} MiB` : `${n} bytes`;
}

/**
 * Passes a blob through while hashing it; errors the stream when the size or digest is not the
 * descriptor's. It holds back the latest chunk until the end is verified, so a receiver never gets
 * the complete blob when it is wrong.
 */
class VerifyingStream extends Transform {
  failure?: ManifestMergeError;
  verified = false;
  private readonly hash: Hash;
  private readonly algorithm: string;
  private bytes = 0;
  private held?: Buffer;

  constructor(
    private readonly descriptor: Descriptor,
    private readonly subject: string,
  ) {
    super();
    this.algorithm = algorithmOf(descriptor.digest, subject);
    this.hash = createHash(this.algorithm);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.descriptor.size) {
      callback(this.fail(`more than the ${this.descriptor.size} bytes the descriptor declares`));
      return;
    }
    this.hash.update(chunk);
    const previous = this.held;
    this.held = chunk;
    callback(null, previous);
  }

  override _flush(callback: TransformCallback): void {
    const actual = `${this.algorithm}:${this.hash.digest('hex')}`;
    if (this.bytes !== this.descriptor.size) {
      callback(this.fail(`${this.bytes} bytes instead of ${this.descriptor.size}`));
      return;
    }
    if (actual !== this.descriptor.digest) {
      callback(this.fail(actual));
      return;
    }
    this.verified = true;
    callback(null, this.held);
  }

  private fail(actual: string): DigestMismatchError {
    const failure = new DigestMismatchError(this.subject, this.descriptor.digest, actual);
    this.failure = failure;
    return failure;
  }
}

/** A blob being read from its source repository. */
interface BlobSource {
  from: RepositoryRef;
  response: HttpResponse;
  request: HttpRequest;
  /** first error the source stream raised, if any */
  error?: unknown;
}

interface UploadSession {
  location: string;
  /** OCI-Chunk-Min-Length, when the registry announces one */
  minChunkBytes?: number;
}

class Client implements RegistryClient {
  constructor(
    private readonly http: RegistryTransport,
    private readonly logger: Logger,
  ) {}

  declareScopes(registry: string, scopes: Scope[]): void {
    this.http.auth.declareScopes(registry, scopes);
  }

  stats(): RequestStats {
    return this.http.stats();
  }

  close(): Promise<void> {
    return this.http.close();
  }

  // ---- manifests ----------------------------------------------------------

  fetchManifest(repository: RepositoryRef, reference: string): Promise<FetchedManifest> {
    const what = manifestName(repository, reference);
    return this.http.retrying(what, () => this.attemptFetchManifest(repository, reference, what));
  }

  private async attemptFetchManifest(repository: RepositoryRef, reference: string, what: string): Promise<FetchedManifest> {
    const request: HttpRequest = {
      registry: repository.registry,
      method: 'GET',
      target: `/v2/${repository.repository}/manifests/${reference}`,
      kind: 'GET manifest',
      scopes: [pull(repository)],
      what,
      expect: [200],
      headers: { accept: MANIFEST_ACCEPT.join(', ') },
      followRedirects: true,
    };
    const response = await this.http.request(request);
    const tooLarge = (size?: number): TooLargeError =>
      new TooLargeError(`${what} is ${size === undefined ? 'larger than' : `${formatBytes(size)}, over`} the ${formatBytes(MAX_MANIFEST_BYTES)} limit for a manifest`, {
        hint: 'Registries refuse manifests this large; check that the reference names an image and not something else',
      });
    const length = contentLength(response);
    if (length !== undefined && length > MAX_MANIFEST_BYTES) {
      response.body.destroy();
      throw tooLarge(length);
    }
    const bytes = await this.http.readBody(request, response, MAX_MANIFEST_BYTES, () => tooLarge());
    const sha256 = digestWith('sha256', bytes);
    const headerDigest = headerValue(response.headers, 'docker-content-digest')?.trim();
    const mediaType = this.manifestMediaType(response, bytes);
    // A signed schema 1 manifest's digest covers its payload without the signatures, which the
    // registry re-signs on every GET: the bytes cannot hash to it. Such a manifest is refused by
    // type (parseManifest says "schema 1" and what to do), so its digest is not checked here.
    if (!SCHEMA1_TYPES.has(mediaType)) {
      if (isDigest(reference)) verifyDigest(what, reference, bytes);
      else if (headerDigest) verifyDigest(`${what} (Docker-Content-Digest)`, headerDigest, bytes);
    }
    return { bytes, mediaType, digest: sha256, size: bytes.length };
  }

  /** Content-Type when it names a manifest type, else the body's own mediaType, else whatever Content-Type said. */
  private manifestMediaType(response: HttpResponse, bytes: Buffer): string {
    const fromHeader = mediaTypeOf(headerValue(response.headers, 'content-type'));
    if (fromHeader && KNOWN_MANIFEST_TYPES.has(fromHeader)) return fromHeader;
    try {
      const body: unknown = JSON.parse(bytes.toString('utf8'));
      const declared = (body as { mediaType?: unknown } | null)?.mediaType;
      if (typeof declared === 'string' && declared) return declared;
    } catch {
      // not JSON: parseManifest reports it with the image's name
    }
    return fromHeader ?? '';
  }

  async headManifest(repository: RepositoryRef, reference: string): Promise<ManifestHead | undefined> {
    const what = manifestName(repository, reference);
    const head = await this.http.retrying(what, async (): Promise<ManifestHead | 'incomplete' | undefined> => {
      const response = await this.http.request({
        registry: repository.registry,
        method: 'HEAD',
        target: `/v2/${repository.repository}/manifests/${reference}`,
        kind: 'HEAD manifest',
        scopes: [pull(repository)],
        what,
        expect: [200, 404],
        headers: { accept: MANIFEST_ACCEPT.join(', ') },
        followRedirects: true,
      });
      await discard(response);
      if (response.status === 404) return undefined;
      const reported = headerValue(response.headers, 'docker-content-digest')?.trim();
      if (reported && isDigest(reference) && reported !== reference) throw new DigestMismatchError(`${what} (HEAD Docker-Content-Digest)`, reference, reported);
      const digest = reported && reported.startsWith('sha256:') ? reported : isDigest(reference) && reference.startsWith('sha256:') ? reference : undefined;
      const size = contentLength(response);
      const mediaType = mediaTypeOf(headerValue(response.headers, 'content-type'));
      if (!digest || size === undefined || !mediaType) return 'incomplete';
      return { digest, mediaType, size };
    });
    if (head !== 'incomplete') return head;
    this.logger.debug(`${what}: HEAD lacked Docker-Content-Digest, Content-Length or Content-Type; reading the manifest instead`);
    try {
      const fetched = await this.fetchManifest(repository, reference);
      return { digest: fetched.digest, mediaType: fetched.mediaType, size: fetched.size };
    } catch (error) {
      if (error instanceof HttpError && error.status === 404) return undefined;
      throw error;
    }
  }

  async putManifest(repository: RepositoryRef, reference: string, manifest: { bytes: Buffer; mediaType: string }): Promise<string> {
    const what = manifestName(repository, reference);
    const computed = digestWith('sha256', manifest.bytes);
    if (isDigest(reference)) verifyDigest(`${what} (bytes to push)`, reference, manifest.bytes);
    return this.http.retrying(what, async () => {
      const response = await this.http.request({
        registry: repository.registry,
        method: 'PUT',
        target: `/v2/${repository.repository}/manifests/${reference}`,
        kind: 'PUT manifest',
        scopes: [pullPush(repository)],
        what,
        expect: [200, 201, 202, 204],
        headers: { 'content-type': manifest.mediaType },
        body: manifest.bytes,
      });
      await discard(response);
      const reported = headerValue(response.headers, 'docker-content-digest')?.trim();
      if (reported && isDigest(reference) && reported !== reference) throw new DigestMismatchError(`${what} (as stored by the registry)`, reference, reported);
      if (reported && reported.startsWith('sha256:') && reported !== computed) {
        this.logger.warning(`${what}: the registry reports digest ${reported} for a manifest whose bytes hash to ${computed}`);
      }
      return reported || computed;
    });
  }

  // ---- blobs --------------------------------------------------------------

  hasBlob(repository: RepositoryRef, digest: string): Promise<boolean> {
    const what = `Blob ${digest} in ${formatRepository(repository)}`;
    return this.http.retrying(what, async () => {
      const response = await this.http.request({
        registry: repository.registry,
        method: 'HEAD',
        target: `/v2/${repository.repository}/blobs/${digest}`,
        kind: 'HEAD blob',
        scopes: [pull(repository)],
        what,
        expect: [200, 404],
        followRedirects: true,
      });
      await discard(response);
      return response.status === 200;
    });
  }

  async fetchBlob(repository: RepositoryRef, descriptor: Descriptor, maxBytes = MAX_BLOB_FETCH_BYTES): Promise<Buffer> {
    const what = `Blob ${descriptor.digest} of ${formatRepository(repository)}`;
    const tooLarge = (size: number): TooLargeError => new TooLargeError(`${what} is ${formatBytes(size)}, over the ${formatBytes(maxBytes)} limit for reading it whole`);
    if (descriptor.size > maxBytes) throw tooLarge(descriptor.size);
    return this.http.retrying(what, async () => {
      const request: HttpRequest = {
        registry: repository.registry,
        method: 'GET',
        target: `/v2/${repository.repository}/blobs/${descriptor.digest}`,
        kind: 'GET blob',
        scopes: [pull(repository)],
        what,
        expect: [200],
        followRedirects: true,
      };
      const response = await this.http.request(request);
      const length = contentLength(response);
      if (length !== undefined && length > maxBytes) {
        response.body.destroy();
        throw tooLarge(length);
      }
      const sizeMismatch = (actual: string): DigestMismatchError => new DigestMismatchError(what, `${descriptor.digest} (${descriptor.size} bytes)`, actual);
      if (length !== undefined && length !== descriptor.size) {
        response.body.destroy();
        throw sizeMismatch(`${length} bytes`);
      }
      const bytes = await this.http.readBody(request, response, descriptor.size, () => sizeMismatch(`more than ${descriptor.size} bytes`));
      if (bytes.length !== descriptor.size) throw sizeMismatch(`${bytes.length} bytes`);
      verifyDigest(what, descriptor.digest, bytes);
      return bytes;
    });
  }

  async mountBlob(to: RepositoryRef, from: RepositoryRef, descriptor: Descriptor): Promise<BlobTransfer> {
    if (to.registry !== from.registry) return this.copyBlob(from, to, descriptor);
    const what = `Blob ${descriptor.digest} (mount from ${formatRepository(from)} into ${formatRepository(to)})`;
    // one token for both repositories
    const scopes = [pullPush(to), pull(from)];
    return this.http.retrying(what, async (): Promise<BlobTransfer> => {
      const query = `mount=${encodeURIComponent(descriptor.digest)}&from=${encodeURIComponent(from.repository)}`;
      const response = await this.http.request({
        registry: to.registry,
        method: 'POST',
        target: `/v2/${to.repository}/blobs/uploads/?${query}`,
        kind: 'POST mount',
        scopes,
        what,
        expect: [201, 202],
        body: '',
      });
      await discard(response);
      if (response.status === 201) return 'mounted';
      // The registry declined the mount and opened an upload session instead: fill it.
      const session = this.uploadSession(response, what);
      this.logger.debug(`${what}: the registry declined the mount; streaming the blob instead`);
      const source = await this.openSource(from, descriptor, scopes);
      await this.upload(to, descriptor, scopes, { source, session }, () => this.openBoth(from, to, descriptor, scopes, scopes, what));
      return 'copied';
    });
  }

  async copyBlob(from: RepositoryRef, to: RepositoryRef, descriptor: Descriptor): Promise<BlobTransfer> {
    if (sameRepository(from, to)) return 'exists';
    const what = `Blob ${descriptor.digest} (copy from ${formatRepository(from)} to ${formatRepository(to)})`;
    const sameRegistry = from.registry === to.registry;
    const sourceScopes = sameRegistry ? [pullPush(to), pull(from)] : [pull(from)];
    const targetScopes = sameRegistry ? sourceScopes : [pullPush(to)];
    const open = (): Promise<[BlobSource, UploadSession]> => this.openBoth(from, to, descriptor, sourceScopes, targetScopes, what);
    return this.http.retrying(what, async (): Promise<BlobTransfer> => {
      const [source, session] = await open();
      await this.upload(to, descriptor, targetScopes, { source, session }, open);
      return 'copied';
    });
  }

  async uploadBlob(from: RepositoryRef, to: RepositoryRef, descriptor: Descriptor, bytes: () => Promise<Buffer>): Promise<BlobTransfer> {
    const what = `Blob ${descriptor.digest} (copy from ${formatRepository(from)} to ${formatRepository(to)})`;
    const scopes = [pullPush(to)];
    const open = async (): Promise<[BlobSource, UploadSession]> => {
      const [data, session] = await Promise.all([bytes(), this.startUpload(to, scopes, what)]);
      return [this.bufferSource(from, descriptor, data), session];
    };
    return this.http.retrying(what, async (): Promise<BlobTransfer> => {
      const [source, session] = await open();
      await this.upload(to, descriptor, scopes, { source, session }, open);
      return 'copied';
    });
  }

  /** Bytes in memory, served the way a source registry's response would be (uploads read them from `response.body`). */
  private bufferSource(from: RepositoryRef, descriptor: Descriptor, data: Buffer): BlobSource {
    const request: HttpRequest = {
      registry: from.registry,
      method: 'GET',
      target: `/v2/${from.repository}/blobs/${descriptor.digest}`,
      kind: 'GET blob',
      scopes: [pull(from)],
      what: `Blob ${descriptor.digest} of ${formatRepository(from)}`,
      expect: [200],
    };
    const body = Readable.from([data], { objectMode: false }) as unknown as HttpResponse['body'];
    return { from, request, response: { status: 200, headers: {}, body, url: `${this.http.origin(from.registry)}${request.target}`, method: 'GET' } };
  }

  /** Opens the source stream and the upload session in parallel (one round trip); cleans up the other if one fails. */
  private async openBoth(
    from: RepositoryRef,
    to: RepositoryRef,
    descriptor: Descriptor,
    sourceScopes: Scope[],
    targetScopes: Scope[],
    what: string,
  ): Promise<[BlobSource, UploadSession]> {
    const [source, session] = await Promise.allSettled([this.openSource(from, descriptor, sourceScopes), this.startUpload(to, targetScopes, what)]);
    if (source.status === 'fulfilled' && session.status === 'fulfilled') return [source.value, session.value];
    if (source.status === 'fulfilled') source.value.response.body.destroy();
    throw source.status === 'rejected' ? source.reason : (session as PromiseRejectedResult).reason;
  }

  /** GET a blob as a stream (following redirects to object storage). */
  private async openSource(from: RepositoryRef, descriptor: Descriptor, scopes: Scope[]): Promise<BlobSource> {
    const request: HttpRequest = {
      registry: from.registry,
      method: 'GET',
      target: `/v2/${from.repository}/blobs/${descriptor.digest}`,
      kind: 'GET blob',
      scopes,
      what: `Blob ${descriptor.digest} of ${formatRepository(from)}`,
      expect: [200],
      followRedirects: true,
    };
    const response = await this.http.request(request);
    const length = contentLength(response);
    if (length !== undefined && length !== descriptor.size) {
      response.body.destroy();
      throw new DigestMismatchError(request.what, `${descriptor.digest} (${descriptor.size} bytes)`, `${length} bytes (Content-Length)`);
    }
    const source: BlobSource = { from, response, request };
    response.body.once('error', (error: unknown) => {
      source.error ??= error;
    });
    return source;
  }

  /** POST /v2/<to>/blobs/uploads/: opens an upload session. */
  private async startUpload(to: RepositoryRef, scopes: Scope[], what: string): Promise<UploadSession> {
    const response = await this.http.request({
      registry: to.registry,
      method: 'POST',
      target: `/v2/${to.repository}/blobs/uploads/`,
      kind: 'POST upload',
      scopes,
      what,
      expect: [202],
      body: '',
    });
    await discard(response);
    return this.uploadSession(response, what);
  }

  private uploadSession(response: HttpResponse, what: string): UploadSession {
    const location = headerValue(response.headers, 'location');
    if (!location) {
      throw new HttpError('HTTP', `${what}: ${response.method} ${response.url} returned ${response.status} without a Location header for the upload`, { method: response.method, url: response.url }, response.status);
    }
    const minimum = Number(headerValue(response.headers, 'oci-chunk-min-length'));
    const session: UploadSession = { location: this.http.resolve(location, response.url) };
    if (Number.isFinite(minimum) && minimum > 0) session.minChunkBytes = minimum;
    return session;
  }

  /**
   * Uploads the source stream into the session: one streamed PUT, or chunked PATCHes when this
   * registry refuses that (then with a fresh source and session from `reopen`, the first being spent).
   */
  private async upload(
    to: RepositoryRef,
    descriptor: Descriptor,
    scopes: Scope[],
    opened: { source: BlobSource; session: UploadSession },
    reopen: () => Promise<[BlobSource, UploadSession]>,
  ): Promise<void> {
    const state = this.http.state(to.registry);
    let { source, session } = opened;
    if (!state.chunkedUploads) {
      try {
        await this.putMonolithic(to, descriptor, scopes, source, session);
        return;
      } catch (error) {
        if (!(error instanceof HttpError) || !MONOLITHIC_REFUSED.has(error.status) || error.registryErrors.some((e) => BLOB_REJECTED_CODES.has(e.code))) throw error;
        state.chunkedUploads = true;
        this.logger.debug(`${to.registry} refused a monolithic blob upload (${error.status}); using chunked uploads from now on`);
      }
      [source, session] = await reopen();
    }
    await this.putChunked(to, descriptor, scopes, source, session);
  }

  private uploadWhat(to: RepositoryRef, descriptor: Descriptor): string {
    return `Upload of blob ${descriptor.digest} to ${formatRepository(to)}`;
  }

  private verifier(source: BlobSource, descriptor: Descriptor): VerifyingStream {
    const verifier = new VerifyingStream(descriptor, `Blob ${descriptor.digest} from ${formatRepository(source.from)}`);
    pipeline(source.response.body, verifier, () => undefined);
    return verifier;
  }

  /** What to throw when an upload failed: the blob's own fault, the source's, or the upload's. */
  private uploadFailure(error: unknown, source: BlobSource, verifier: VerifyingStream): unknown {
    source.response.body.destroy();
    verifier.destroy();
    if (verifier.failure) return verifier.failure;
    if (error instanceof DigestMismatchError || error instanceof TimeoutError) return error;
    if (source.error !== undefined && source.response.signal?.aborted) {
      return new TimeoutError(`${source.request.what}: reading the blob did not finish within the time budget`, { cause: source.error, hint: TIME_BUDGET_HINT });
    }
    if (source.error !== undefined && !(source.error instanceof ManifestMergeError)) {
      const failure = this.http.networkError(source.request, source.response.url, source.error, 'reading the blob failed');
      return isTransientNetworkError(source.error) ? new Transient(failure, `reading the source blob failed: ${failure.message}`) : failure;
    }
    return error;
  }

  private async putMonolithic(to: RepositoryRef, descriptor: Descriptor, scopes: Scope[], source: BlobSource, session: UploadSession): Promise<void> {
    const verifier = this.verifier(source, descriptor);
    let response: HttpResponse;
    try {
      response = await this.http.request({
        registry: to.registry,
        method: 'PUT',
        target: appendQuery(session.location, 'digest', descriptor.digest),
        kind: 'PUT upload',
        scopes,
        what: this.uploadWhat(to, descriptor),
        expect: [200, 201, 202, 204],
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(descriptor.size) },
        body: verifier,
      });
    } catch (error) {
      throw this.uploadFailure(error, source, verifier);
    }
    await discard(response);
    if (verifier.failure) throw verifier.failure;
  }

  private async putChunked(to: RepositoryRef, descriptor: Descriptor, scopes: Scope[], source: BlobSource, session: UploadSession): Promise<void> {
    const what = this.uploadWhat(to, descriptor);
    const chunkBytes = Math.max(UPLOAD_CHUNK_BYTES, session.minChunkBytes ?? 0);
    const verifier = this.verifier(source, descriptor);
    let location = session.location;
    let offset = 0;
    const pending: Buffer[] = [];
    let pendingBytes = 0;
    const take = (n: number): Buffer => {
      const all = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
      pending.length = 0;
      const chunk = all.subarray(0, n);
      if (all.length > n) pending.push(all.subarray(n));
      pendingBytes = all.length - n;
      return chunk;
    };
    const patch = async (chunk: Buffer): Promise<void> => {
      const response = await this.http.request({
        registry: to.registry,
        method: 'PATCH',
        target: location,
        kind: 'PATCH upload',
        scopes,
        what,
        expect: [202, 204],
        headers: {
          'content-type': 'application/octet-stream',
          'content-range': `${offset}-${offset + chunk.length - 1}`,
          'content-length': String(chunk.length),
        },
        body: chunk,
      });
      await discard(response);
      const next = headerValue(response.headers, 'location');
      if (next) location = this.http.resolve(next, response.url);
      offset += chunk.length;
    };
    try {
      for await (const chunk of verifier as AsyncIterable<Buffer>) {
        pending.push(chunk);
        pendingBytes += chunk.length;
        while (pendingBytes >= chunkBytes) await patch(take(chunkBytes));
      }
      if (pendingBytes > 0) await patch(take(pendingBytes));
    } catch (error) {
      throw this.uploadFailure(error, source, verifier);
    }
    if (verifier.failure) throw verifier.failure;
    const response = await this.http.request({
      registry: to.registry,
      method: 'PUT',
      target: appendQuery(location, 'digest', descriptor.digest),
      kind: 'PUT upload',
      scopes,
      what,
      expect: [200, 201, 202, 204],
      body: '',
    });
    await discard(response);
  }
}
