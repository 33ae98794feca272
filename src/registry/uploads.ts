// Blob uploads: open a session, then one streamed PUT (monolithic), or chunked PATCHes for a
// registry that refused that once (remembered per registry, here and nowhere else), then the
// committing PUT ?digest=. PATCH bodies stream from the source: memory stays flat whatever chunk
// size the registry asks for, and a demand over MAX_CHUNK_BYTES is refused. An upload that fails
// cancels (DELETE) its session, so the registry does not keep a half-written blob around.
import { Readable } from 'node:stream';
import {
  DigestMismatchError,
  HttpError,
  ManifestMergeError,
  TimeoutError,
  TooLargeError,
  TransientError,
  isHttpError,
} from '../base/errors.js';
import type { Logger } from '../base/logger.js';
import { formatBytes } from '../base/bytes.js';
import type { Descriptor } from '../oci/manifest.js';
import { formatRepository, type RepositoryRef } from '../oci/reference.js';
import type { BlobSource, Blobs, VerifyingStream } from './blobs.js';
import { appendQuery, locationRequest, registryRequest } from './endpoint.js';
import { discard, headerValue, type HttpResponse, type Transport } from './transport/compose.js';
import type { Scope } from './client-types.js';

/** Chunk size for PATCH uploads when the registry does not ask for more. */
export const UPLOAD_CHUNK_BYTES = 8 * 1024 * 1024;
/** The most one PATCH carries, whatever OCI-Chunk-Min-Length says: above it the upload is refused. */
export const MAX_CHUNK_BYTES = 64 * 1024 * 1024;
/** Statuses by which a registry says it will not take a blob in one PUT. */
const MONOLITHIC_REFUSED = new Set([400, 405, 411, 413, 416, 501]);
/** Registry error codes that mean the blob itself is wrong, not the upload method. */
const BLOB_REJECTED_CODES = new Set(['DIGEST_INVALID', 'SIZE_INVALID', 'NAME_INVALID', 'NAME_UNKNOWN', 'DENIED', 'UNAUTHORIZED']);

export interface UploadSession {
  registry: string;
  location: string;
  /** OCI-Chunk-Min-Length, when the registry announces one */
  minChunkBytes?: number;
}

export interface Opened {
  source: BlobSource;
  session: UploadSession;
}

/** Pulls exact-length pieces off one stream, one PATCH body after another. */
class ChunkReader {
  private readonly iterator: AsyncIterator<Buffer>;
  private rest?: Buffer;
  /** bytes handed to PATCH bodies so far */
  position = 0;

  constructor(stream: Readable) {
    this.iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** The next `length` bytes, as a stream (never held whole). */
  async *take(length: number): AsyncGenerator<Buffer> {
    let left = length;
    while (left > 0) {
      let chunk = this.rest;
      this.rest = undefined;
      if (!chunk) {
        const next = await this.iterator.next();
        if (next.done) throw new Error(`the blob ended ${left} bytes early`);
        chunk = next.value;
      }
      if (chunk.length > left) {
        this.rest = chunk.subarray(left);
        chunk = chunk.subarray(0, left);
      }
      left -= chunk.length;
      this.position += chunk.length;
      yield chunk;
    }
  }

  /** Reads to the end (where the verifier checks digest and size). */
  async end(): Promise<void> {
    if (this.rest?.length) throw new Error('the blob is longer than its descriptor');
    const next = await this.iterator.next();
    if (!next.done) throw new Error('the blob is longer than its descriptor');
  }
}

export class Uploads {
  /** registries that refused a monolithic upload once: chunked from then on */
  private readonly chunked = new Set<string>();

  constructor(
    private readonly http: Transport,
    private readonly blobs: Blobs,
    private readonly logger: Logger,
  ) {}

  /** POST …/blobs/uploads/: opens an upload session. */
  async start(to: RepositoryRef, scopes: Scope[], what: string): Promise<UploadSession> {
    const response = await this.http.request(
      registryRequest({ ...to, path: 'blobs/uploads/' }, { method: 'POST', kind: 'POST upload', scopes, what, expect: [202], body: '' }),
    );
    await discard(response.body);
    return this.session(to.registry, response, what);
  }

  /** The session a 202 answer (to an upload or a declined mount) opened. */
  session(registry: string, response: HttpResponse, what: string): UploadSession {
    const location = headerValue(response.headers, 'location');
    if (!location) {
      throw new HttpError(
        'HTTP',
        `${what}: ${response.method} ${response.url} returned ${response.status} without a Location header for the upload`,
        { method: response.method, url: response.url },
        response.status,
        [],
        { registry },
      );
    }
    const minimum = Number(headerValue(response.headers, 'oci-chunk-min-length'));
    const session: UploadSession = { registry, location: new URL(location, response.url).href };
    if (Number.isFinite(minimum) && minimum > 0) session.minChunkBytes = minimum;
    return session;
  }

  /**
   * Uploads the source stream into the session: one streamed PUT, or chunked PATCHes when this
   * registry refuses that (then with a fresh source and session from `reopen`, the first being
   * spent). Every session that is not committed is cancelled.
   */
  async upload(to: RepositoryRef, descriptor: Descriptor, scopes: Scope[], opened: Opened, reopen: () => Promise<Opened>): Promise<void> {
    let { source, session } = opened;
    if (!this.chunked.has(to.registry)) {
      try {
        await this.putMonolithic(to, descriptor, scopes, source, session);
        return;
      } catch (error) {
        await this.cancel(session, scopes);
        if (
          !isHttpError(error) ||
          !MONOLITHIC_REFUSED.has(error.status) ||
          error.registryErrors.some((e) => BLOB_REJECTED_CODES.has(e.code))
        )
          throw error;
        this.chunked.add(to.registry);
        this.logger.debug(`${to.registry} refused a monolithic blob upload (${error.status}); using chunked uploads from now on`);
      }
      ({ source, session } = await reopen());
    }
    try {
      await this.putChunked(to, descriptor, scopes, source, session);
    } catch (error) {
      source.response.body.destroy();
      await this.cancel(session, scopes);
      throw error;
    }
  }

  /** DELETE the session: best effort (the upload already failed; its error is what the user reads). */
  async cancel(session: UploadSession, scopes: Scope[]): Promise<void> {
    try {
      const response = await this.http.request(
        locationRequest(session.registry, session.location, {
          method: 'DELETE',
          kind: 'DELETE upload',
          scopes,
          what: `Upload session ${session.location}`,
          expect: [200, 202, 204, 404],
        }),
      );
      await discard(response.body);
    } catch (error) {
      this.logger.debug(`could not cancel the upload session: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private what(to: RepositoryRef, descriptor: Descriptor): string {
    return `Upload of blob ${descriptor.digest} to ${formatRepository(to)}`;
  }

  /** What to throw when an upload failed: the blob's own fault, the source's, or the upload's. */
  private failure(error: unknown, source: BlobSource, verifier: VerifyingStream): unknown {
    source.response.body.destroy();
    verifier.destroy();
    if (verifier.failure) return verifier.failure;
    if (error instanceof DigestMismatchError || error instanceof TimeoutError) return error;
    // A front end that refuses the body's size answers before reading it (nginx's 413), and the
    // source stream is cut short because of that answer: the answer is what happened.
    if (isHttpError(error) && error.status === 413) return error;
    if (source.error !== undefined && !(source.error instanceof ManifestMergeError)) {
      return this.http.bodyFailure(source.request, source.response, source.error, 'reading the blob failed');
    }
    if (error instanceof TransientError && error.final instanceof TimeoutError) return error.final;
    return error;
  }

  private async putMonolithic(
    to: RepositoryRef,
    descriptor: Descriptor,
    scopes: Scope[],
    source: BlobSource,
    session: UploadSession,
  ): Promise<void> {
    const verifier = this.blobs.verified(source, descriptor);
    let response: HttpResponse;
    try {
      response = await this.http.request(
        locationRequest(to.registry, appendQuery(session.location, 'digest', descriptor.digest), {
          method: 'PUT',
          kind: 'PUT upload',
          scopes,
          what: this.what(to, descriptor),
          expect: [200, 201, 202, 204],
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(descriptor.size) },
          body: verifier,
        }),
      );
    } catch (error) {
      throw this.failure(error, source, verifier);
    }
    await discard(response.body);
    if (verifier.failure) throw verifier.failure;
  }

  /** The PATCH size for this session: ours, or the registry's minimum up to MAX_CHUNK_BYTES. */
  private chunkSize(to: RepositoryRef, descriptor: Descriptor, session: UploadSession): number {
    const demand = session.minChunkBytes ?? 0;
    if (demand > MAX_CHUNK_BYTES) {
      throw new TooLargeError(
        `${this.what(to, descriptor)}: ${to.registry} demands chunks of at least ${formatBytes(demand)} (OCI-Chunk-Min-Length: ${demand}), over the ${formatBytes(MAX_CHUNK_BYTES)} this tool sends in one request`,
        {
          registry: to.registry,
          repository: to.repository,
          reference: descriptor.digest,
          hint: 'The registry refuses monolithic uploads and asks for chunks larger than any client should send; report it to the registry operator',
        },
      );
    }
    return Math.max(UPLOAD_CHUNK_BYTES, demand);
  }

  private async putChunked(
    to: RepositoryRef,
    descriptor: Descriptor,
    scopes: Scope[],
    source: BlobSource,
    session: UploadSession,
  ): Promise<void> {
    const what = this.what(to, descriptor);
    const chunkBytes = this.chunkSize(to, descriptor, session);
    const verifier = this.blobs.verified(source, descriptor);
    const reader = new ChunkReader(verifier);
    let location = session.location;
    try {
      for (let offset = 0; offset < descriptor.size;) {
        const length = Math.min(chunkBytes, descriptor.size - offset);
        const response = await this.http.request(
          locationRequest(to.registry, location, {
            method: 'PATCH',
            kind: 'PATCH upload',
            scopes,
            what,
            expect: [202, 204],
            headers: {
              'content-type': 'application/octet-stream',
              'content-range': `${offset}-${offset + length - 1}`,
              'content-length': String(length),
            },
            body: Readable.from(reader.take(length), { objectMode: false }),
          }),
        );
        await discard(response.body);
        offset += length;
        // a registry that answers before it took the whole chunk would get the next one misplaced
        if (reader.position !== offset)
          throw new Error(`the registry answered the PATCH of bytes ${offset - length}-${offset - 1} before receiving them`);
        const next = headerValue(response.headers, 'location');
        if (next) location = new URL(next, response.url).href;
        session.location = location;
      }
      await reader.end();
    } catch (error) {
      throw this.failure(error, source, verifier);
    }
    if (verifier.failure) throw verifier.failure;
    const response = await this.http.request(
      locationRequest(to.registry, appendQuery(location, 'digest', descriptor.digest), {
        method: 'PUT',
        kind: 'PUT upload',
        scopes,
        what,
        expect: [200, 201, 202, 204],
        body: '',
      }),
    );
    await discard(response.body);
  }
}
