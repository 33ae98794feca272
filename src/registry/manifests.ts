// Manifests: GET (exact bytes, digest verified, 4 MiB cap, media type checked against the body),
// HEAD (digest, type and size without the bytes), PUT and DELETE.
import { DigestMismatchError, InvalidManifestError, TooLargeError, isNotFound, type ErrorFacts } from '../base/errors.js';
import type { Logger } from '../base/logger.js';
import { formatBytes } from '../base/bytes.js';
import { isDigest, sha256Digest, verifyDigest } from '../oci/digest.js';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, MediaType, isImageManifestMediaType, isIndexMediaType } from '../oci/manifest.js';
import { formatRepository, type RepositoryRef } from '../oci/reference.js';
import { contentLength, responseMediaType } from './content-type.js';
import { pull, pullPush, pullPushDelete, registryRequest } from './endpoint.js';
import { discard, headerValue, type Transport } from './transport/compose.js';
import type { FetchedManifest, ManifestHead } from './client-types.js';

const SCHEMA1_TYPES = new Set<string>([MediaType.DockerSchema1, MediaType.DockerSchema1Signed]);
const KNOWN_MANIFEST_TYPES = new Set<string>([...MANIFEST_ACCEPT, ...SCHEMA1_TYPES]);

export function manifestName(repository: RepositoryRef, reference: string): string {
  return `Manifest ${formatRepository(repository)}${isDigest(reference) ? '@' : ':'}${reference}`;
}

function kindOf(mediaType: string): 'index' | 'image' | undefined {
  return isIndexMediaType(mediaType) ? 'index' : isImageManifestMediaType(mediaType) ? 'image' : undefined;
}

/**
 * The manifest's media type: Content-Type when it names a manifest type, else the body's own
 * `mediaType`, else whatever Content-Type said. A Content-Type that contradicts the body (an
 * index type over an image manifest, or the other way round) is refused here, before anything
 * is copied: the registry it is pushed to would refuse it only after the blobs went up.
 */
export function manifestMediaType(what: string, contentType: string | undefined, bytes: Buffer, facts: ErrorFacts = {}): string {
  let body: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(bytes.toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
  } catch {
    // not JSON: parseManifest reports it with the image's name
  }
  const declared = typeof body?.mediaType === 'string' && body.mediaType ? body.mediaType : undefined;
  if (contentType && KNOWN_MANIFEST_TYPES.has(contentType)) {
    if (body && !SCHEMA1_TYPES.has(contentType)) {
      // what the body is, by its own word or else by its shape
      const shape = Array.isArray(body.manifests) ? 'index' : body.config !== undefined || Array.isArray(body.layers) ? 'image' : undefined;
      const bodyKind = declared !== undefined ? kindOf(declared) : shape;
      const headerKind = kindOf(contentType);
      if (
        (declared !== undefined && declared !== contentType && bodyKind !== undefined) ||
        (bodyKind !== undefined && bodyKind !== headerKind)
      ) {
        throw new InvalidManifestError(
          `${what}: the registry says it is ${contentType} (Content-Type) but the body is ${declared ?? `an ${bodyKind} manifest`}; refusing a manifest whose type is contradictory`,
          {
            ...facts,
            hint: 'The registry (or a proxy before it) serves a wrong Content-Type; push the image again, or report it to the registry operator',
          },
        );
      }
    }
    return contentType;
  }
  // Proxies and older registries label manifests `application/json` or `text/plain`: the body's
  // own word, else its shape (as parseManifest decides), is the type pushed on with the bytes.
  if (declared !== undefined) return declared;
  const shape =
    body && Array.isArray(body.manifests)
      ? MediaType.OciIndex
      : body && typeof body.config === 'object' && body.config !== null
        ? MediaType.OciManifest
        : undefined;
  return shape ?? contentType ?? '';
}

export class Manifests {
  /** registries that answered HEAD on a manifest with 405: asked with GET from then on */
  private readonly noHead = new Set<string>();

  constructor(
    private readonly http: Transport,
    private readonly logger: Logger,
  ) {}

  fetch(repository: RepositoryRef, reference: string): Promise<FetchedManifest> {
    const what = manifestName(repository, reference);
    return this.http.retrying(what, () => this.attemptFetch(repository, reference, what));
  }

  private async attemptFetch(repository: RepositoryRef, reference: string, what: string): Promise<FetchedManifest> {
    const request = registryRequest(
      { ...repository, path: `manifests/${reference}` },
      {
        method: 'GET',
        kind: 'GET manifest',
        scopes: [pull(repository)],
        what,
        expect: [200],
        headers: { accept: MANIFEST_ACCEPT.join(', ') },
        followRedirects: true,
        facts: { reference },
      },
    );
    const response = await this.http.request(request);
    const tooLarge = (size?: number): TooLargeError =>
      new TooLargeError(
        `${what} is ${size === undefined ? 'larger than' : `${formatBytes(size)}, over`} the ${formatBytes(MAX_MANIFEST_BYTES)} limit for a manifest`,
        {
          registry: repository.registry,
          repository: repository.repository,
          reference,
          hint: 'Registries refuse manifests this large; check that the reference names an image and not something else',
        },
      );
    const length = contentLength(response.headers);
    if (length !== undefined && length > MAX_MANIFEST_BYTES) {
      response.body.destroy();
      throw tooLarge(length);
    }
    const bytes = await this.http.readBody(request, response, MAX_MANIFEST_BYTES, () => tooLarge());
    const headerDigest = headerValue(response.headers, 'docker-content-digest')?.trim();
    // A signed schema 1 manifest's digest covers its payload without the signatures, which the
    // registry re-signs on every GET: the bytes cannot hash to it. Such a manifest is refused by
    // type (parseManifest says "schema 1" and what to do), so its digest is not checked here.
    const contentType = responseMediaType(response.headers);
    let mediaType: string | undefined;
    let contradiction: unknown;
    try {
      mediaType = manifestMediaType(what, contentType, bytes, {
        registry: repository.registry,
        repository: repository.repository,
        reference,
      });
    } catch (error) {
      contradiction = error;
    }
    // altered bytes are a digest error first: the type check speaks of an intact manifest
    if (!SCHEMA1_TYPES.has(mediaType ?? contentType ?? '')) {
      if (isDigest(reference)) verifyDigest(what, reference, bytes);
      else if (headerDigest) verifyDigest(`${what} (Docker-Content-Digest)`, headerDigest, bytes);
    }
    if (mediaType === undefined) throw contradiction;
    return { bytes, mediaType, digest: sha256Digest(bytes), size: bytes.length };
  }

  async head(repository: RepositoryRef, reference: string): Promise<ManifestHead | undefined> {
    const what = manifestName(repository, reference);
    const head = this.noHead.has(repository.registry) ? 'no HEAD' : await this.ask(repository, reference, what);
    if (head !== 'incomplete' && head !== 'no HEAD') return head;
    if (head === 'incomplete')
      this.logger.debug(
        `${what}: HEAD lacked Docker-Content-Digest, Content-Length or a manifest Content-Type; reading the manifest instead`,
      );
    try {
      const fetched = await this.fetch(repository, reference);
      return { digest: fetched.digest, mediaType: fetched.mediaType, size: fetched.size };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** HEAD the manifest: what it says, 'incomplete' when it says too little, 'no HEAD' when the registry does not answer HEAD (405). */
  private async ask(
    repository: RepositoryRef,
    reference: string,
    what: string,
  ): Promise<ManifestHead | 'incomplete' | 'no HEAD' | undefined> {
    return this.http.retrying(what, async (): Promise<ManifestHead | 'incomplete' | 'no HEAD' | undefined> => {
      const response = await this.http.request(
        registryRequest(
          { ...repository, path: `manifests/${reference}` },
          {
            method: 'HEAD',
            kind: 'HEAD manifest',
            scopes: [pull(repository)],
            what,
            expect: [200, 404, 405],
            headers: { accept: MANIFEST_ACCEPT.join(', ') },
            followRedirects: true,
            facts: { reference },
          },
        ),
      );
      await discard(response.body);
      if (response.status === 404) return undefined;
      if (response.status === 405) {
        // some proxies and older registries serve manifests to GET only: remembered per registry
        this.noHead.add(repository.registry);
        this.logger.debug(`${repository.registry} answered HEAD on a manifest with 405; reading manifests with GET instead`);
        return 'no HEAD';
      }
      const reported = headerValue(response.headers, 'docker-content-digest')?.trim();
      if (reported && isDigest(reference) && reported !== reference)
        throw new DigestMismatchError(`${what} (HEAD Docker-Content-Digest)`, reference, reported);
      const digest =
        reported && reported.startsWith('sha256:')
          ? reported
          : isDigest(reference) && reference.startsWith('sha256:')
            ? reference
            : undefined;
      const size = contentLength(response.headers);
      const mediaType = responseMediaType(response.headers);
      // a type that names no manifest (`application/json`, `text/plain`) is learnt from the body
      if (!digest || size === undefined || !mediaType || !KNOWN_MANIFEST_TYPES.has(mediaType)) return 'incomplete';
      return { digest, mediaType, size };
    });
  }

  async put(repository: RepositoryRef, reference: string, manifest: { bytes: Buffer; mediaType: string }): Promise<string> {
    const what = manifestName(repository, reference);
    const computed = sha256Digest(manifest.bytes);
    if (isDigest(reference)) verifyDigest(`${what} (bytes to push)`, reference, manifest.bytes);
    return this.http.retrying(what, async () => {
      const response = await this.http.request(
        registryRequest(
          { ...repository, path: `manifests/${reference}` },
          {
            method: 'PUT',
            kind: 'PUT manifest',
            scopes: [pullPush(repository)],
            what,
            expect: [200, 201, 202, 204],
            headers: { 'content-type': manifest.mediaType },
            body: manifest.bytes,
            facts: { reference },
          },
        ),
      );
      await discard(response.body);
      const reported = headerValue(response.headers, 'docker-content-digest')?.trim();
      if (reported && isDigest(reference) && reported !== reference)
        throw new DigestMismatchError(`${what} (as stored by the registry)`, reference, reported);
      if (reported && reported.startsWith('sha256:') && reported !== computed) {
        this.logger.warning(`${what}: the registry reports digest ${reported} for a manifest whose bytes hash to ${computed}`);
      }
      return reported || computed;
    });
  }

  /**
   * DELETE a manifest by digest, or a tag (untagging it: OCI distribution 1.1, optional; distribution
   * v3 with deletes enabled does it, 2.8 deletes by digest only). 404: it was not there.
   */
  async delete(repository: RepositoryRef, reference: string): Promise<void> {
    const what = manifestName(repository, reference);
    await this.http.retrying(what, async () => {
      const response = await this.http.request(
        registryRequest(
          { ...repository, path: `manifests/${reference}` },
          {
            method: 'DELETE',
            kind: 'DELETE manifest',
            scopes: [pullPushDelete(repository)],
            what,
            expect: [200, 202, 204],
            facts: { reference },
          },
        ),
      );
      await discard(response.body);
    });
  }
}
