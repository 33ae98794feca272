// Finding the referrers of a merge's children: signatures, SBOMs and other artifacts whose
// `subject` is a child of the index. Listed in the source repository by the referrers API, or by
// the fallback tag where there is none; read and held to their own `subject`; followed
// recursively (a signature of an SBOM counts too). A listed entry whose manifest the registry no
// longer has (a retention policy deleted it; the listing, a plain tag, was left behind) is stale:
// warned, left out and counted, never a failure. Reads only: copying them into a target is
// referrer-transfer.ts, and `inspect --referrers` lists them with the same listIn.
import { mapLimit } from '../base/concurrency.js';
import { isNotFound } from '../base/errors.js';
import type { Logger } from '../base/logger.js';
import type { Descriptor, ImageManifest } from '../oci/manifest.js';
import { type RepositoryRef, formatRepository } from '../oci/reference.js';
import { sanitizeLine } from '../base/redact.js';
import { fallbackTag, referrersOf } from '../registry/referrers.js';
import type { FetchedManifest, RegistryClient } from '../registry/client-types.js';
import { type Reader, readManifest } from './resolve.js';

/** Referrers of referrers are followed this many levels deep (a signature of an SBOM is 2). */
export const MAX_REFERRER_DEPTH = 4;

/** A referrer found in a source repository. */
export interface FoundReferrer {
  /** the digest its `subject` names */
  subject: string;
  source: RepositoryRef;
  /** as it is listed (API or fallback tag) */
  descriptor: Descriptor;
  fetched: FetchedManifest;
  image: ImageManifest;
  /** 1: refers to a child of the index; 2: to such a referrer; … */
  depth: number;
  /**
   * Set for a buildx attestation taken out of the index (`attestations: referrers`): it goes to
   * every target, its own repository too (there it may lack a fallback tag entry). `original`: its
   * digest in the source, which differs from `fetched.digest` when `subject` was added here.
   */
  attestation?: { original: string };
}

/** A listed referrer whose manifest the registry does not have (404): deleted since, the listing left behind. */
export interface StaleReferrer {
  /** the digest it is listed under */
  subject: string;
  source: RepositoryRef;
  /** as it is listed */
  descriptor: Descriptor;
  /** what listed it: the referrers API or the fallback tag */
  via: 'api' | 'tag';
}

/** What a search for the referrers of one subject found: the referrers (deepest last), and the stale entries on the way. */
export interface ReferrerSearch {
  found: FoundReferrer[];
  stale: StaleReferrer[];
}

/** Finds referrers once per source repository and subject, shared by every target (and every attempt of an append). */
export class ReferrerFinder {
  private readonly searches = new Map<string, Promise<ReferrerSearch>>();

  constructor(private readonly run: Reader & { readonly logger: Logger }) {}

  /** Every referrer of `subject` in `source`, recursively (deepest last). */
  async of(source: RepositoryRef, subject: string): Promise<FoundReferrer[]> {
    return (await this.find(source, subject)).found;
  }

  /** Every referrer of `subject` in `source`, recursively (deepest last), and every stale entry listed on the way. */
  async find(source: RepositoryRef, subject: string, depth = 1): Promise<ReferrerSearch> {
    const key = `${formatRepository(source)}@${subject}`;
    let pending = this.searches.get(key);
    if (!pending) {
      pending = this.discover(source, subject, depth);
      this.searches.set(key, pending);
    }
    return pending;
  }

  private async discover(source: RepositoryRef, subject: string, depth: number): Promise<ReferrerSearch> {
    const { client, concurrency, logger } = this.run;
    const label = `Referrers of ${formatRepository(source)}@${subject}`;
    const listed = await listIn(client, source, subject, label);
    const via = listed.api ? ('api' as const) : ('tag' as const);
    const stale: StaleReferrer[] = [];
    const direct = await mapLimit(listed.descriptors, concurrency, async (descriptor): Promise<FoundReferrer | undefined> => {
      let read: Awaited<ReturnType<typeof readManifest>>;
      try {
        read = await readManifest(client, source, descriptor.digest, `${label} > ${descriptor.digest}`, descriptor);
      } catch (error) {
        if (!isNotFound(error)) throw error;
        stale.push({ subject, source, descriptor, via });
        const type = descriptor.artifactType ? ` (${sanitizeLine(descriptor.artifactType)})` : '';
        const by = listed.api ? 'the referrers API' : `tag ${fallbackTag(subject)}`;
        logger.warning(
          `${label}: ${descriptor.digest}${type} is listed by ${by} but the registry has no such manifest (deleted since?); it was left out`,
        );
        return undefined;
      }
      if (read.parsed.kind !== 'image') {
        logger.warning(`${label}: ${descriptor.digest} is an index; only image manifests are copied as referrers, it was left out`);
        return undefined;
      }
      const image = read.parsed.image!;
      // a fallback tag is a plain tag anyone can write: hold each entry to its own `subject`
      if (image.subject?.digest !== subject) {
        logger.warning(
          `${label}: ${descriptor.digest} is listed but its subject is ${image.subject ? sanitizeLine(image.subject.digest) : 'absent'}; it was left out`,
        );
        return undefined;
      }
      return { subject, source, descriptor, fetched: read.fetched, image, depth };
    });
    const found = direct.filter((r): r is FoundReferrer => r !== undefined);
    stale.sort((a, b) => listed.descriptors.indexOf(a.descriptor) - listed.descriptors.indexOf(b.descriptor));
    if (depth >= MAX_REFERRER_DEPTH) {
      if (found.length > 0) logger.warning(`${label}: referrers nested more than ${MAX_REFERRER_DEPTH} deep are not followed further`);
      return { found, stale };
    }
    const deeper = await mapLimit(found, concurrency, (r) => this.find(source, r.fetched.digest, depth + 1));
    return { found: [...found, ...deeper.flatMap((d) => d.found)], stale: [...stale, ...deeper.flatMap((d) => d.stale)] };
  }
}

/** The referrers of `subject` in `repository`: the API's answer, or the fallback tag's index (none when absent). */
export async function listIn(
  client: RegistryClient,
  repository: RepositoryRef,
  subject: string,
  label: string,
): Promise<{ api: boolean; descriptors: Descriptor[] }> {
  const listing = client.listReferrers ? await client.listReferrers(repository, subject) : { api: false as const };
  if (listing.api) return { api: true, descriptors: listing.descriptors };
  return { api: false, descriptors: (await readFallbackTag(client, repository, subject, label)) ?? [] };
}

/** The entries of the fallback tag of `subject`; undefined when there is no such tag. */
export async function readFallbackTag(
  client: RegistryClient,
  repository: RepositoryRef,
  subject: string,
  label: string,
): Promise<Descriptor[] | undefined> {
  let fetched: FetchedManifest;
  try {
    fetched = await client.fetchManifest(repository, fallbackTag(subject));
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  return referrersOf(JSON.parse(fetched.bytes.toString('utf8')), `${label} (tag ${fallbackTag(subject)})`);
}
