// Blobs: HEAD (exists?), GET small ones whole (image configs, digest and size verified), open a
// stream of a big one (checked against its descriptor as it flows), and cross-repository mounts.
import type { Hash } from 'node:crypto';
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import { DigestMismatchError, TooLargeError, type ManifestMergeError } from '../base/errors.js';
import { formatBytes } from '../base/bytes.js';
import { createDigester, verifyDigest } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { formatRepository, type RepositoryRef } from '../oci/reference.js';
import { contentLength } from './content-type.js';
import { pull, pullPush, registryRequest } from './endpoint.js';
import { discard, type HttpRequest, type HttpResponse, type Transport } from './transport/compose.js';

/** Default cap for fetching a blob whole (image configs). */
export const MAX_BLOB_FETCH_BYTES = 4 * 1024 * 1024;

/**
 * Passes a blob through while hashing it; errors the stream when the size or digest is not the
 * descriptor's. It holds back the latest chunk until the end is verified, so a receiver never gets
 * the complete blob when it is wrong.
 */
export class VerifyingStream extends Transform {
  failure?: ManifestMergeError;
  private readonly hash: Hash;
  private readonly algorithm: string;
  private bytes = 0;
  private held?: Buffer;

  constructor(
    private readonly descriptor: Descriptor,
    private readonly subject: string,
  ) {
    super();
    ({ hash: this.hash, algorithm: this.algorithm } = createDigester(descriptor.digest, subject));
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
    callback(null, this.held);
  }

  private fail(actual: string): DigestMismatchError {
    const failure = new DigestMismatchError(this.subject, this.descriptor.digest, actual);
    this.failure = failure;
    return failure;
  }
}

/** A blob being read from its source repository (or from memory, for a blob read once for several targets). */
export interface BlobSource {
  from: RepositoryRef;
  response: HttpResponse;
  request: HttpRequest;
  /** first error the source stream raised, if any */
  error?: unknown;
}

/** What a mount POST got: the blob is there, or the registry opened an upload session instead. */
export type MountResult = { mounted: true } | { mounted: false; response: HttpResponse };

function blobRequest(repository: RepositoryRef, digest: string, fields: Omit<HttpRequest, 'registry' | 'target'>): HttpRequest {
  return registryRequest({ ...repository, path: `blobs/${digest}` }, { ...fields, facts: { reference: digest } });
}

export class Blobs {
  constructor(private readonly http: Transport) {}

  has(repository: RepositoryRef, digest: string): Promise<boolean> {
    const what = `Blob ${digest} in ${formatRepository(repository)}`;
    return this.http.retrying(what, async () => {
      const response = await this.http.request(
        blobRequest(repository, digest, {
          method: 'HEAD',
          kind: 'HEAD blob',
          scopes: [pull(repository)],
          what,
          expect: [200, 404],
          followRedirects: true,
        }),
      );
      await discard(response.body);
      return response.status === 200;
    });
  }

  async fetch(repository: RepositoryRef, descriptor: Descriptor, maxBytes = MAX_BLOB_FETCH_BYTES): Promise<Buffer> {
    const what = `Blob ${descriptor.digest} of ${formatRepository(repository)}`;
    const tooLarge = (size: number): TooLargeError =>
      new TooLargeError(`${what} is ${formatBytes(size)}, over the ${formatBytes(maxBytes)} limit for reading it whole`);
    if (descriptor.size > maxBytes) throw tooLarge(descriptor.size);
    return this.http.retrying(what, async () => {
      const request = blobRequest(repository, descriptor.digest, {
        method: 'GET',
        kind: 'GET blob',
        scopes: [pull(repository)],
        what,
        expect: [200],
        followRedirects: true,
      });
      const response = await this.http.request(request);
      const length = contentLength(response.headers);
      if (length !== undefined && length > maxBytes) {
        response.body.destroy();
        throw tooLarge(length);
      }
      const sizeMismatch = (actual: string): DigestMismatchError =>
        new DigestMismatchError(what, `${descriptor.digest} (${descriptor.size} bytes)`, actual);
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

  /** GET a blob as a stream (following redirects to object storage); a Content-Length that is not the descriptor's size is refused. */
  async open(from: RepositoryRef, descriptor: Descriptor, scopes: RepositoryScopes): Promise<BlobSource> {
    const request = blobRequest(from, descriptor.digest, {
      method: 'GET',
      kind: 'GET blob',
      scopes,
      what: `Blob ${descriptor.digest} of ${formatRepository(from)}`,
      expect: [200],
      followRedirects: true,
    });
    const response = await this.http.request(request);
    const length = contentLength(response.headers);
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

  /** Bytes in memory (or a local stream), served the way a source registry's response would be (uploads read them from `response.body`). */
  fromMemory(from: RepositoryRef, descriptor: Descriptor, data: Buffer | Readable): BlobSource {
    const request = blobRequest(from, descriptor.digest, {
      method: 'GET',
      kind: 'GET blob',
      scopes: [pull(from)],
      what: `Blob ${descriptor.digest} of ${formatRepository(from)}`,
      expect: [200],
    });
    // a stream (a blob on local disk) is passed on as is: never held whole
    const body = (Buffer.isBuffer(data) ? Readable.from([data], { objectMode: false }) : data) as HttpResponse['body'];
    return {
      from,
      request,
      response: { status: 200, headers: {}, body, url: `${this.http.origin(from.registry)}${request.target}`, method: 'GET' },
    };
  }

  /** The source stream piped through a verifier (digest and size of the descriptor). */
  verified(source: BlobSource, descriptor: Descriptor): VerifyingStream {
    const verifier = new VerifyingStream(descriptor, `Blob ${descriptor.digest} from ${formatRepository(source.from)}`);
    pipeline(source.response.body, verifier, () => undefined);
    return verifier;
  }

  /** POST …/blobs/uploads/?mount=&from=: 201 mounted; 202 the registry opened an upload session instead. */
  async mount(to: RepositoryRef, from: RepositoryRef, descriptor: Descriptor, what: string): Promise<MountResult> {
    const response = await this.http.request(
      registryRequest(
        { ...to, path: 'blobs/uploads/', query: { mount: descriptor.digest, from: from.repository } },
        {
          method: 'POST',
          kind: 'POST mount',
          scopes: [pullPush(to), pull(from)],
          what,
          expect: [201, 202],
          body: '',
          facts: { reference: descriptor.digest },
        },
      ),
    );
    await discard(response.body);
    return response.status === 201 ? { mounted: true } : { mounted: false, response };
  }
}

type RepositoryScopes = HttpRequest['scopes'];
