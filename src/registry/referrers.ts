// The OCI 1.1 referrers of a manifest: the API (`GET /v2/<name>/referrers/<digest>`) and, on
// registries without it, the fallback tag schema (`sha256-<hex>` tags holding an index of the
// referrers). What a registry lists is checked here, where it enters: every descriptor must be
// well formed, the listing bounded in size and pages.
import { InvalidManifestError, TooLargeError } from '../base/errors.js';
import { formatBytes } from '../base/bytes.js';
import { isDigest } from '../oci/digest.js';
import { type Descriptor, type ImageIndex, type ImageManifest, MAX_MANIFEST_BYTES, MediaType } from '../oci/manifest.js';
import { sanitizeLine } from '../base/redact.js';
import { formatRepository, type RepositoryRef } from '../oci/reference.js';
import { contentLength } from './content-type.js';
import { pull, registryRequest } from './endpoint.js';
import { headerValue, type Transport } from './transport/compose.js';
import type { ReferrersListing } from './client-types.js';

/**
 * The way out of a referrers listing that cannot be read: the merge copies referrers by default,
 * and a registry that lists them in a form nobody can read must not hold every merge hostage.
 */
const UNREADABLE_LISTING_HINT =
  'Report it to the registry operator; to merge without copying referrers (signatures, SBOMs), set {referrers} to `skip`';

/** Pages of one referrers listing followed (Link rel="next") before the rest is refused. */
export const MAX_REFERRERS_PAGES = 16;

export type { ReferrersListing } from './client-types.js';

/**
 * The fallback tag of a subject (OCI distribution spec 1.1, "Referrers Tag Schema"):
 * `<alg>-<ref>`, truncated to the 128 characters a tag may have.
 */
export function fallbackTag(subject: string): string {
  if (!isDigest(subject)) throw new InvalidManifestError(`Not a digest: ${sanitizeLine(subject)}`);
  return subject.replace(':', '-').slice(0, 128);
}

/** Checks one descriptor of a referrers list, as served; throws naming `what`. */
export function checkReferrerDescriptor(value: unknown, what: string): Descriptor {
  const d = value as Partial<Descriptor> | null;
  const ok =
    typeof d === 'object' &&
    d !== null &&
    typeof d.mediaType === 'string' &&
    typeof d.digest === 'string' &&
    isDigest(d.digest) &&
    typeof d.size === 'number' &&
    Number.isSafeInteger(d.size) &&
    d.size >= 0 &&
    d.size <= MAX_MANIFEST_BYTES &&
    (d.artifactType === undefined || typeof d.artifactType === 'string') &&
    (d.annotations === undefined ||
      (typeof d.annotations === 'object' && d.annotations !== null && Object.values(d.annotations).every((v) => typeof v === 'string')));
  if (!ok) {
    throw new InvalidManifestError(
      `${what}: the registry lists a referrer that is not a valid manifest descriptor: ${sanitizeLine(JSON.stringify(value) ?? String(value)).slice(0, 200)}`,
      {
        hint: `The referrers list (or fallback tag) of this registry is malformed. ${UNREADABLE_LISTING_HINT}`,
      },
    );
  }
  const out: Descriptor = { mediaType: d.mediaType!, digest: d.digest!, size: d.size! };
  if (d.artifactType) out.artifactType = d.artifactType;
  if (d.annotations && Object.keys(d.annotations).length > 0) out.annotations = { ...d.annotations };
  return out;
}

/**
 * The descriptors of a referrers index (API answer or fallback tag), checked. Lenient where the
 * meaning is clear, strict on what is copied: `"manifests": null` is an empty list (olareg v0.1.2
 * answers a subject without referrers so: Go writes a nil slice as null, and Go clients read it
 * back as empty), and a missing or other `schemaVersion` or `mediaType` is not looked at (the
 * entries say what is listed). A body that is not an object, `manifests` missing or neither an
 * array nor null, and every entry that is not a well-formed descriptor are refused.
 */
export function referrersOf(index: unknown, what: string): Descriptor[] {
  if (typeof index !== 'object' || index === null || Array.isArray(index)) {
    throw new InvalidManifestError(
      `${what}: the referrers index is not a JSON object but ${index === null ? 'null' : Array.isArray(index) ? 'an array' : `a ${typeof index}`}`,
      { hint: UNREADABLE_LISTING_HINT },
    );
  }
  const manifests = (index as { manifests?: unknown }).manifests;
  if (manifests === null) return [];
  if (!Array.isArray(manifests)) {
    throw new InvalidManifestError(
      `${what}: the referrers index has no "manifests" array (${manifests === undefined ? 'it is missing' : `it is ${typeof manifests === 'object' ? 'an object' : `a ${typeof manifests}`}`})`,
      { hint: UNREADABLE_LISTING_HINT },
    );
  }
  return manifests.map((m) => checkReferrerDescriptor(m, what));
}

/** The descriptor a referrer is listed under: its artifactType (or its config's media type) and its annotations. */
export function referrerDescriptor(manifest: ImageManifest | ImageIndex, mediaType: string, digest: string, size: number): Descriptor {
  const out: Descriptor = { mediaType, digest, size };
  const artifactType = manifest.artifactType ?? ('config' in manifest ? manifest.config?.mediaType : undefined);
  if (artifactType) out.artifactType = artifactType;
  if (manifest.annotations && Object.keys(manifest.annotations).length > 0) out.annotations = { ...manifest.annotations };
  return out;
}

/**
 * A fallback tag's index with `added` in it: the entries already there are kept as they are, in
 * their order (someone else's are never dropped), and each new digest is appended once.
 * `changed`: whether anything was added (nothing to push otherwise).
 */
export function mergeFallbackIndex(
  existing: Descriptor[] | undefined,
  added: Descriptor[],
): { index: ImageIndex; bytes: Buffer; changed: boolean } {
  const manifests = [...(existing ?? [])];
  const have = new Set(manifests.map((m) => m.digest));
  let changed = existing === undefined;
  for (const d of added) {
    if (have.has(d.digest)) continue;
    have.add(d.digest);
    manifests.push(d);
    changed = true;
  }
  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests };
  return { index, bytes: Buffer.from(JSON.stringify(index)), changed };
}

/** `<https://…>; rel="next"` → the URL (relative to the registry), if any. */
function nextLink(link: string | undefined): string | undefined {
  if (!link) return undefined;
  const match = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(link);
  return match?.[1];
}

export class Referrers {
  /**
   * Per registry: does it serve the API? A registry that does never answers the API with 404
   * (distribution spec: an empty index for a subject without referrers), so one 404 settles it for
   * the whole registry. The first lookup on a registry asks; lookups started meanwhile wait for
   * its answer instead of each asking too (no round trip is added: they would wait for theirs).
   */
  private readonly apiServed = new Map<string, Promise<boolean>>();

  constructor(private readonly http: Transport) {}

  /**
   * Lists the referrers of `digest` in `repository` through the API; `{ api: false }` when the
   * registry has no API (the caller reads the fallback tag). With `artifactType`, only those
   * (filtered here too when the registry did not say it filtered: OCI-Filters-Applied).
   */
  async list(repository: RepositoryRef, digest: string, artifactType?: string): Promise<ReferrersListing> {
    const known = this.apiServed.get(repository.registry);
    if (known && !(await known)) return { api: false };
    if (known) return this.listThroughApi(repository, digest, artifactType);
    let settle: (served: boolean) => void = () => undefined;
    this.apiServed.set(repository.registry, new Promise<boolean>((resolve) => (settle = resolve)));
    try {
      const listing = await this.listThroughApi(repository, digest, artifactType);
      settle(listing.api);
      return listing;
    } catch (error) {
      // no answer: the next lookup asks again
      this.apiServed.delete(repository.registry);
      settle(true);
      throw error;
    }
  }

  private async listThroughApi(repository: RepositoryRef, digest: string, artifactType?: string): Promise<ReferrersListing> {
    const what = `Referrers of ${formatRepository(repository)}@${digest}`;
    const descriptors: Descriptor[] = [];
    let target: { path: string; query?: Record<string, string> } | { url: string } = {
      path: `referrers/${digest}`,
      ...(artifactType ? { query: { artifactType } } : {}),
    };
    for (let page = 0; ; page++) {
      if (page >= MAX_REFERRERS_PAGES) {
        throw new TooLargeError(`${what}: the registry lists more than ${MAX_REFERRERS_PAGES} pages of referrers`, {
          registry: repository.registry,
          repository: repository.repository,
          hint: UNREADABLE_LISTING_HINT,
        });
      }
      const answer = await this.http.retrying(what, async () => {
        const fields = {
          method: 'GET' as const,
          kind: 'GET referrers',
          scopes: [pull(repository)],
          what,
          expect: [200, 404],
          headers: { accept: MediaType.OciIndex },
          followRedirects: true,
          facts: { reference: digest },
        };
        const request =
          'url' in target
            ? {
                ...fields,
                registry: repository.registry,
                target: target.url,
                facts: { repository: repository.repository, reference: digest },
              }
            : registryRequest({ ...repository, ...target }, fields);
        const response = await this.http.request(request);
        const tooLarge = (size?: number) =>
          new TooLargeError(
            `${what}: the listing is ${size === undefined ? 'larger than' : `${formatBytes(size)}, over`} the ${formatBytes(MAX_MANIFEST_BYTES)} limit`,
            { registry: repository.registry, repository: repository.repository, hint: UNREADABLE_LISTING_HINT },
          );
        if (response.status === 404) {
          // read whole, not discarded: a 404 cut short is a failed answer (retried), not "no API"
          await this.http.readBody(request, response, MAX_MANIFEST_BYTES, () => tooLarge());
          return undefined;
        }
        const length = contentLength(response.headers);
        if (length !== undefined && length > MAX_MANIFEST_BYTES) {
          response.body.destroy();
          throw tooLarge(length);
        }
        const bytes = await this.http.readBody(request, response, MAX_MANIFEST_BYTES, () => tooLarge());
        let parsed: unknown;
        try {
          parsed = JSON.parse(bytes.toString('utf8'));
        } catch (cause) {
          throw new InvalidManifestError(`${what}: the registry answered 200 with a body that is not JSON`, {
            cause,
            registry: repository.registry,
            repository: repository.repository,
            hint: UNREADABLE_LISTING_HINT,
          });
        }
        const filtered = (headerValue(response.headers, 'oci-filters-applied') ?? '')
          .split(',')
          .map((s) => s.trim())
          .includes('artifactType');
        return { descriptors: referrersOf(parsed, what), filtered, next: nextLink(headerValue(response.headers, 'link')) };
      });
      if (!answer) {
        if (page === 0) return { api: false };
        break;
      }
      descriptors.push(
        ...(artifactType && !answer.filtered ? answer.descriptors.filter((d) => d.artifactType === artifactType) : answer.descriptors),
      );
      if (!answer.next) break;
      target = { url: answer.next };
    }
    return { api: true, descriptors };
  }
}
