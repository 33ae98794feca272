// The one index walk, for merge and inspect alike: read a manifest and hold it to the descriptor
// that led to it, follow nested indexes up to one depth limit, and take an image's platform from
// its config. Everything a registry serves is checked here, where it enters: sizes against
// descriptors, kinds against media types, platforms against the user-input grammar.
import { mapLimit } from '../base/concurrency.js';
import { InvalidManifestError, PlatformError, UnsupportedMediaTypeError, isNotFound } from '../base/errors.js';
import {
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  type ParsedManifest,
  isImageManifestMediaType,
  isIndexMediaType,
  parseManifest,
} from '../oci/manifest.js';
import { type Platform, checkServedPlatform, formatPlatform, overridePlatform, platformFromConfig, platformKey } from '../oci/platform.js';
import { classifyIndexEntry } from './plan.js';
import type { ResolvedSource, SourceEntry, SourceReference } from './model.js';
import { type ImageReference, type RepositoryRef, formatReference, manifestReference } from '../oci/reference.js';
import { layerFacts } from './variants.js';
import type { FetchedManifest, RegistryClient } from '../registry/client-types.js';

/** Indexes inside indexes are followed this many levels deep, by merge and by inspect --check alike. */
export const MAX_NESTED_INDEX_DEPTH = 4;

/** What a read of sources needs: a client, and how many of its requests may be in flight at once. */
export interface Reader {
  readonly client: RegistryClient;
  readonly concurrency: number;
}

export interface ReadManifest {
  fetched: FetchedManifest;
  parsed: ParsedManifest;
}

/**
 * GETs a manifest (the client verifies its digest) and parses it. When it was reached through a
 * descriptor, the bytes must also be the size the descriptor says and of its kind (index or
 * image): an index that lies about a child would otherwise be pushed as is.
 */
export async function readManifest(
  client: RegistryClient,
  repository: RepositoryRef,
  reference: string,
  label: string,
  descriptor?: Descriptor,
): Promise<ReadManifest> {
  const fetched = await client.fetchManifest(repository, reference);
  const facts = { registry: repository.registry, repository: repository.repository, reference };
  if (descriptor && fetched.size !== descriptor.size) {
    throw new InvalidManifestError(
      `${label}: the index lists this manifest as ${descriptor.size} bytes, but the registry served ${fetched.size} bytes (digest ${fetched.digest})`,
      {
        ...facts,
        hint: 'Nothing was written. The source index is malformed (or was altered): rebuild and push it again',
      },
    );
  }
  const parsed = parseManifest(fetched.bytes, fetched.mediaType, label);
  if (descriptor && isIndexMediaType(descriptor.mediaType) !== (parsed.kind === 'index')) {
    throw new InvalidManifestError(
      `${label}: the index lists this manifest as ${descriptor.mediaType}, but the registry served ${parsed.mediaType}`,
      {
        ...facts,
        hint: 'Nothing was written. The source index is malformed (or was altered): rebuild and push it again',
      },
    );
  }
  return { fetched, parsed };
}

/** The platform of an image, from its config blob (read whole: configs are small). */
export async function readPlatform(
  client: RegistryClient,
  repository: RepositoryRef,
  image: ImageManifest,
  label: string,
): Promise<Platform> {
  const config = await client.fetchBlob(repository, image.config);
  let parsed: unknown;
  try {
    parsed = JSON.parse(config.toString('utf8'));
  } catch (cause) {
    throw new UnsupportedMediaTypeError(`${label}: config blob ${image.config.digest} is not JSON`, {
      cause,
      registry: repository.registry,
      repository: repository.repository,
    });
  }
  return platformFromConfig(parsed, label);
}

/** What a walk does with each child of an index. */
export interface IndexVisitor<T> {
  /** a child that is not an index; `parent`: the digest of the index listing it (or the top label) */
  leaf(descriptor: Descriptor, label: string, parent: string): Promise<T[]>;
  /** reads a nested index to walk it, or gives what to report instead of walking it (inspect --check: it is missing) */
  nested(descriptor: Descriptor, label: string, parent: string): Promise<ReadManifest | T[]>;
  /** a nested index past MAX_NESTED_INDEX_DEPTH */
  tooDeep(descriptor: Descriptor, label: string, parent: string): T[];
}

/**
 * Visits every child of `index`, following nested indexes up to MAX_NESTED_INDEX_DEPTH. Every
 * platform a descriptor carries is checked with the user-input grammar before anything uses it.
 */
export async function walkIndex<T>(
  index: ImageIndex,
  label: string,
  visitor: IndexVisitor<T>,
  concurrency: number,
  depth = 0,
  parent = label,
): Promise<T[]> {
  const lists = await mapLimit(index.manifests, concurrency, async (descriptor) => {
    const childLabel = `${label} > ${descriptor.digest}`;
    if (descriptor.platform) checkServedPlatform(descriptor.platform, childLabel);
    if (!isIndexMediaType(descriptor.mediaType)) return visitor.leaf(descriptor, childLabel, parent);
    if (depth >= MAX_NESTED_INDEX_DEPTH) return visitor.tooDeep(descriptor, childLabel, parent);
    const child = await visitor.nested(descriptor, childLabel, parent);
    return Array.isArray(child) ? child : walkIndex(child.parsed.index!, childLabel, visitor, concurrency, depth + 1, descriptor.digest);
  });
  return lists.flat();
}

/** An image listed in an index without a platform: its config says which it is. */
function needsConfigPlatform(descriptor: Descriptor): boolean {
  return !descriptor.platform && !descriptor.artifactType && isImageManifestMediaType(descriptor.mediaType);
}

/** The entries a manifest contributes to a merge: itself (an image), or every image, attestation and artifact of an index, nested indexes flattened. */
export async function entriesOf(
  { client, concurrency }: Reader,
  top: ReadManifest,
  repository: RepositoryRef,
  label: string,
): Promise<SourceEntry[]> {
  if (top.parsed.kind === 'image') {
    const image = top.parsed.image!;
    const platform = await readPlatform(client, repository, image, label);
    const descriptor: Descriptor = { mediaType: top.parsed.mediaType, digest: top.fetched.digest, size: top.fetched.size, platform };
    if (image.artifactType) descriptor.artifactType = image.artifactType;
    return [{ kind: 'image', descriptor, platform }];
  }
  return walkIndex<SourceEntry>(
    top.parsed.index!,
    label,
    {
      nested: (descriptor, childLabel) => readManifest(client, repository, descriptor.digest, childLabel, descriptor),
      tooDeep: (_descriptor, childLabel) => {
        throw new UnsupportedMediaTypeError(`${childLabel}: indexes nested more than ${MAX_NESTED_INDEX_DEPTH} deep`, {
          registry: repository.registry,
          repository: repository.repository,
        });
      },
      leaf: async (descriptor, childLabel) => {
        const entry = classifyIndexEntry(descriptor);
        if (entry.kind === 'other' && needsConfigPlatform(descriptor)) {
          const child = await readManifest(client, repository, descriptor.digest, childLabel, descriptor);
          const platform = await readPlatform(client, repository, child.parsed.image!, childLabel);
          return [{ kind: 'image', descriptor: { ...descriptor, platform }, platform }];
        }
        return [entry];
      },
    },
    concurrency,
  );
}

/** Reads a source (tag or digest) and everything it contributes; its one image under the platform given with it, if one was. */
export async function resolveSource(reader: Reader, ref: SourceReference): Promise<ResolvedSource> {
  const input = formatReference(ref);
  const repository = { registry: ref.registry, repository: ref.repository };
  const top = await readManifest(reader.client, repository, manifestReference(ref), input);
  const entries = await entriesOf(reader, top, repository, input);
  return {
    input,
    repository,
    digest: top.fetched.digest,
    mediaType: top.fetched.mediaType,
    entries: ref.platform ? withPlatform(entries, ref.platform, input) : entries,
  };
}

/**
 * The entries of a source given with a platform (`REF platform=P`, `{ref, platform}`): its one
 * image listed under that platform, which may add os.version, os.features or a variant the
 * image's own platform lacks, and contradict none of it (oci/platform.ts overridePlatform).
 */
function withPlatform(entries: SourceEntry[], override: Platform, input: string): SourceEntry[] {
  const images = entries.filter((e) => e.kind === 'image' && e.platform);
  if (images.length !== 1)
    throw new PlatformError(
      `${input}: a platform (${formatPlatform(override)}) is given for it, but it holds ${images.length === 0 ? 'no image' : `${images.length} images (${images.map((e) => formatPlatform(e.platform!)).join(', ')})`}`,
      { hint: 'Give a platform only with a source of one image: name that image by its digest (repo@sha256:…)' },
    );
  return entries.map((e) => {
    if (e !== images[0]) return e;
    const platform = overridePlatform(e.platform!, override, input);
    return { ...e, platform, descriptor: { ...e.descriptor, platform } };
  });
}

/**
 * Images of one platform from different sources (or one source) are refused unless they are
 * compression variants of one image (variants.ts); to tell, their manifests are read (once: the
 * run's client caches them by digest, and the transfer reads them anyway) for their config and
 * layers. Sources without such a pair are returned as they are.
 */
export async function describeVariants(reader: Reader, sources: ResolvedSource[]): Promise<ResolvedSource[]> {
  const byPlatform = new Map<string, Set<string>>();
  for (const s of sources)
    for (const e of s.entries)
      if (e.kind === 'image' && e.platform)
        byPlatform.set(platformKey(e.platform), (byPlatform.get(platformKey(e.platform)) ?? new Set()).add(e.descriptor.digest));
  const shared = (e: SourceEntry) => e.kind === 'image' && e.platform !== undefined && byPlatform.get(platformKey(e.platform))!.size > 1;
  if (!sources.some((s) => s.entries.some(shared))) return sources;
  return mapLimit(sources, reader.concurrency, async (source) => ({
    ...source,
    entries: await mapLimit(source.entries, reader.concurrency, async (entry) => {
      if (!shared(entry)) return entry;
      const label = `${source.input} > ${entry.descriptor.digest}`;
      const { parsed } = await readManifest(reader.client, source.repository, entry.descriptor.digest, label, entry.descriptor);
      return parsed.image ? { ...entry, layers: layerFacts(parsed.image) } : entry;
    }),
  }));
}

/**
 * The index an append merges into, as the tag holds it now; undefined when the tag does not exist
 * yet (only the tag itself may be missing: a missing child of an existing index is an error).
 */
export async function resolveAppendBase(reader: Reader, tag: ImageReference): Promise<ResolvedSource | undefined> {
  const input = formatReference(tag);
  const repository = { registry: tag.registry, repository: tag.repository };
  let top: ReadManifest;
  try {
    top = await readManifest(reader.client, repository, manifestReference(tag), input);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  const entries = await entriesOf(reader, top, repository, input);
  return {
    input,
    repository,
    digest: top.fetched.digest,
    mediaType: top.fetched.mediaType,
    entries,
    isBase: true,
    annotations: top.parsed.index?.annotations,
    artifactType: top.parsed.index?.artifactType,
  };
}
