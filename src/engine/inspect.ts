// `inspect`: read a manifest with every Accept type and describe it; `--check`: is everything it
// references present in its repository (the question behind "manifest blob unknown")? Reads go
// through the one resolver (resolve.ts): the same checks, the same nested-index depth limit as
// a merge.
import { formatBytes } from '../base/bytes.js';
import { DEFAULT_CONCURRENCY, mapLimit } from '../base/concurrency.js';
import { isNotFound } from '../base/errors.js';
import type { Logger } from '../base/logger.js';
import { type Descriptor, type ParsedManifest, AnnotationKey, blobsOf, isAttestationDescriptor } from '../oci/manifest.js';
import { checkServedPlatform, formatPlatform, platformFromConfig } from '../oci/platform.js';
import { type ImageReference, type RepositoryRef, formatReference, manifestReference } from '../oci/reference.js';
import { sanitizeForTerminal, sanitizeLine } from '../base/redact.js';
import { MAX_REFERRER_DEPTH, listIn } from './referrer-finder.js';
import type { FetchedManifest, RegistryClient } from '../registry/client-types.js';
import { MAX_NESTED_INDEX_DEPTH, type ReadManifest, readManifest, walkIndex } from './resolve.js';

export interface InspectedEntry {
  descriptor: Descriptor;
  platform?: string;
  /** for attestation manifests: the image digest they describe */
  describes?: string;
}

export interface Inspection {
  reference: string;
  manifest: FetchedManifest;
  parsed: ParsedManifest;
  /** index entries, or the one image (platform from its config) */
  entries: InspectedEntry[];
  /** for a bare image: whether its config blob could be read (a 404 is left to `--check` to report) */
  configRead?: boolean;
  /** `--referrers`: the referrers of the manifest and of each child */
  referrers?: ReferrersOf[];
}

export interface MissingItem {
  kind: 'manifest' | 'blob';
  digest: string;
  /** what needs it: the child manifest digest, or the top-level reference */
  neededBy: string;
}

/** A referrer (`--referrers`) and its own referrers, as the registry lists them. */
export interface ReferrerNode extends Descriptor {
  referrers: ReferrerNode[];
}

/** The referrers of one manifest: REF itself or one of its children. */
export interface ReferrersOf {
  subject: string;
  /** `api`: the registry's referrers API listed them; `tag`: the sha256-<hex> fallback tag (or nothing: none) */
  via: 'api' | 'tag';
  referrers: ReferrerNode[];
}

/** Something `--check` did not look at, so cannot vouch for (or, for a referrer, found wrong). */
export interface UncheckedItem {
  kind: 'index' | 'referrer';
  digest: string;
  /** the index that lists it */
  neededBy: string;
  reason: string;
}

export interface CheckResult {
  missing: MissingItem[];
  /** indexes nested deeper than the limit: neither they nor anything they list was checked */
  unchecked: UncheckedItem[];
  /** true only when nothing is missing and everything was checked */
  complete: boolean;
}

/**
 * One GET for the manifest (every Accept type); for a bare image, one more for its config (the
 * platform lives there). An index needs nothing else: its descriptors carry the platforms (each
 * checked with the user-input grammar, as a merge does).
 */
export async function inspectReference(reference: ImageReference, client: RegistryClient): Promise<Inspection> {
  const repository = { registry: reference.registry, repository: reference.repository };
  const label = formatReference(reference);
  const { fetched: manifest, parsed } = await readManifest(client, repository, manifestReference(reference), label);
  if (parsed.kind === 'index') {
    const entries = parsed.index!.manifests.map((descriptor) => ({
      descriptor,
      platform: descriptor.platform
        ? formatPlatform(checkServedPlatform(descriptor.platform, `${label} > ${descriptor.digest}`))
        : undefined,
      describes: isAttestationDescriptor(descriptor) ? descriptor.annotations?.[AnnotationKey.ReferenceDigest] : undefined,
    }));
    return { reference: label, manifest, parsed, entries };
  }
  let platform: string | undefined;
  let configRead = true;
  try {
    const config = await client.fetchBlob(repository, parsed.image!.config);
    const fields = configFields(config);
    // artifacts have configs without a platform; that is not an error for inspect (a malformed one is)
    platform = fields ? formatPlatform(platformFromConfig(fields, label)) : undefined;
  } catch (error) {
    if (!isNotFound(error)) throw error;
    configRead = false;
  }
  const entries = [{ descriptor: { mediaType: parsed.mediaType, digest: manifest.digest, size: manifest.size }, platform }];
  return { reference: label, manifest, parsed, entries, configRead };
}

/** The config as an object with os and architecture strings, or undefined (not JSON, or an artifact's config). */
function configFields(config: Buffer): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(config.toString('utf8')) as unknown;
    if (typeof value !== 'object' || value === null) return undefined;
    const record = value as Record<string, unknown>;
    return typeof record.os === 'string' && typeof record.architecture === 'string' && record.os && record.architecture
      ? record
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `--referrers`: the referrers of REF and of each index entry, through the API or the fallback
 * tag, and theirs, up to the depth a merge follows. One listing per manifest (two without the API).
 */
export async function inspectReferrers(
  inspection: Inspection,
  repository: RepositoryRef,
  client: RegistryClient,
  concurrency = DEFAULT_CONCURRENCY,
): Promise<ReferrersOf[]> {
  const tree = async (subject: string, depth: number): Promise<{ api: boolean; referrers: ReferrerNode[] }> => {
    const listing = await listIn(client, repository, subject, `Referrers of ${inspection.reference} > ${subject}`);
    const referrers = await mapLimit(listing.descriptors, concurrency, async (descriptor) => ({
      ...descriptor,
      referrers: depth < MAX_REFERRER_DEPTH ? (await tree(descriptor.digest, depth + 1)).referrers : [],
    }));
    return { api: listing.api, referrers };
  };
  const subjects = [
    ...new Set([
      inspection.manifest.digest,
      ...(inspection.parsed.kind === 'index' ? inspection.entries.map((e) => e.descriptor.digest) : []),
    ]),
  ];
  return mapLimit(subjects, concurrency, async (subject) => {
    const { api, referrers } = await tree(subject, 1);
    return { subject, via: api ? ('api' as const) : ('tag' as const), referrers };
  });
}

/** Every referrer in the trees, with the digest its listing was for. */
function flattenReferrers(of: ReferrersOf[]): Array<{ subject: string; descriptor: Descriptor }> {
  const out: Array<{ subject: string; descriptor: Descriptor }> = [];
  const walk = (subject: string, nodes: ReferrerNode[]) => {
    for (const n of nodes) {
      const { referrers, ...descriptor } = n;
      out.push({ subject, descriptor });
      walk(n.digest, referrers);
    }
  };
  for (const o of of) walk(o.subject, o.referrers);
  return out;
}

type Finding = { missing: MissingItem } | { blobs: Array<{ digest: string; neededBy: string }> } | { unchecked: UncheckedItem };

/**
 * HEADs every blob the manifest needs in its own repository, and GETs every child manifest (one
 * request answers "present?" and lists the child's blobs). A missing child is reported; its blobs
 * cannot be listed from here. Nested indexes are followed up to the resolver's depth limit; one
 * deeper is reported as unchecked, and the result is then not complete.
 */
export async function checkReference(
  inspection: Inspection,
  repository: RepositoryRef,
  client: RegistryClient,
  logger: Logger,
  concurrency = DEFAULT_CONCURRENCY,
  referrers: ReferrersOf[] = [],
): Promise<CheckResult> {
  const blobsOfImage = (parsed: ParsedManifest, neededBy: string, skip?: string) =>
    blobsOf(parsed.image!)
      .filter((b) => b.digest !== skip)
      .map((b) => ({ digest: b.digest, neededBy }));
  /** a child manifest, or undefined when the repository does not have it */
  const read = async (descriptor: Descriptor, label: string): Promise<ReadManifest | undefined> => {
    try {
      return await readManifest(client, repository, descriptor.digest, label, descriptor);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  };
  let findings: Finding[];
  let childCount = 0;
  if (inspection.parsed.kind === 'image') {
    // The config was already read by inspect (unless it was not found): no need to HEAD it again.
    findings = [
      {
        blobs: blobsOfImage(
          inspection.parsed,
          inspection.reference,
          inspection.configRead ? inspection.parsed.image!.config.digest : undefined,
        ),
      },
    ];
  } else {
    findings = await walkIndex<Finding>(
      inspection.parsed.index!,
      inspection.reference,
      {
        leaf: async (descriptor, label, parent) => {
          childCount++;
          const child = await read(descriptor, label);
          return [
            child
              ? { blobs: blobsOfImage(child.parsed, descriptor.digest) }
              : { missing: { kind: 'manifest', digest: descriptor.digest, neededBy: parent } },
          ];
        },
        nested: async (descriptor, label, parent) => {
          childCount++;
          return (await read(descriptor, label)) ?? [{ missing: { kind: 'manifest', digest: descriptor.digest, neededBy: parent } }];
        },
        tooDeep: (descriptor, _label, parent) => [
          {
            unchecked: {
              kind: 'index',
              digest: descriptor.digest,
              neededBy: parent,
              reason: `nested more than ${MAX_NESTED_INDEX_DEPTH} indexes deep`,
            },
          },
        ],
      },
      concurrency,
    );
  }
  // Listed referrers: each manifest read (present? its blobs? does it name what it is listed for?)
  const listed = [...new Map(flattenReferrers(referrers).map((r) => [`${r.subject} ${r.descriptor.digest}`, r])).values()];
  const referrerFindings = await mapLimit(listed, concurrency, async ({ subject, descriptor }): Promise<Finding> => {
    const neededBy = `referrers of ${subject}`;
    const child = await read(descriptor, `${inspection.reference} > referrer ${descriptor.digest}`);
    if (!child) return { missing: { kind: 'manifest', digest: descriptor.digest, neededBy } };
    if (child.parsed.kind !== 'image')
      return { unchecked: { kind: 'referrer', digest: descriptor.digest, neededBy, reason: 'it is an index, not an image manifest' } };
    const named = child.parsed.image!.subject?.digest;
    if (named !== subject)
      return {
        unchecked: {
          kind: 'referrer',
          digest: descriptor.digest,
          neededBy,
          reason: `its subject is ${named ? sanitizeLine(named) : 'absent'}`,
        },
      };
    return { blobs: blobsOfImage(child.parsed, descriptor.digest) };
  });
  findings.push(...referrerFindings);
  const missing = findings.flatMap((f) => ('missing' in f ? [f.missing] : []));
  const unchecked = findings.flatMap((f) => ('unchecked' in f ? [f.unchecked] : []));
  const blobChecks = findings.flatMap((f) => ('blobs' in f ? f.blobs : []));
  const unique = [...new Map(blobChecks.map((b) => [`${b.digest} ${b.neededBy}`, b])).values()];
  // Several children may share a blob: HEAD each digest once.
  const digests = [...new Set(unique.map((b) => b.digest))];
  const found = new Map<string, boolean>();
  await mapLimit(digests, concurrency, async (digest) => found.set(digest, await client.hasBlob(repository, digest)));
  for (const b of unique) if (!found.get(b.digest)) missing.push({ kind: 'blob', digest: b.digest, neededBy: b.neededBy });
  logger.debug(
    `checked ${childCount} child manifests, ${listed.length} referrers and ${digests.length} blobs${unchecked.length ? `; ${unchecked.length} nested indexes not checked` : ''}`,
  );
  return { missing, unchecked, complete: missing.length === 0 && unchecked.length === 0 };
}

const SHOWN_ELSEWHERE = new Set<string>([AnnotationKey.ReferenceDigest, AnnotationKey.ReferenceType]);

function annotationLines(annotations: Record<string, string> | undefined, indent: string): string[] {
  const shown = Object.entries(annotations ?? {}).filter(([k]) => !SHOWN_ELSEWHERE.has(k));
  // one line each: a value cannot start a line of its own
  return shown.map(([k, v]) => `${indent}${k}=${v}`.replace(/\r\n|\r|\n/g, '\\n'));
}

/**
 * Readable tree: type, digest, size; each index entry with its platform, attestations marked with
 * the image they describe. Everything in it may come from a registry, so it is made safe for a
 * terminal (no escape sequences, no control characters).
 */
export function renderInspection(inspection: Inspection): string {
  const { manifest, entries } = inspection;
  const lines = [`${inspection.reference}`, `  ${manifest.mediaType}`, `  ${manifest.digest}  ${formatBytes(manifest.size)}`];
  if (inspection.parsed.kind === 'index') {
    const index = inspection.parsed.index!;
    const annotations = annotationLines(index.annotations, '    ');
    if (annotations.length > 0) lines.push('  annotations:', ...annotations);
    const platformOf = new Map(entries.filter((e) => e.platform && !e.describes).map((e) => [e.descriptor.digest, e.platform!]));
    lines.push(`  ${entries.length} manifest${entries.length === 1 ? '' : 's'}:`);
    for (const e of entries) {
      const what = e.describes
        ? `attestation → ${e.describes}${platformOf.has(e.describes) ? ` (${platformOf.get(e.describes)})` : ''}`
        : (e.platform ?? (e.descriptor.artifactType ? `artifact ${e.descriptor.artifactType}` : '(no platform)'));
      lines.push(`  - ${what}`, `      ${e.descriptor.mediaType}`, `      ${e.descriptor.digest}  ${formatBytes(e.descriptor.size)}`);
      lines.push(...annotationLines(e.descriptor.annotations, '      '));
    }
  } else {
    const image = inspection.parsed.image!;
    const platform = entries[0].platform ?? (inspection.configRead === false ? '(unknown: config blob not found)' : '(unknown)');
    lines.push(
      `  platform: ${platform}`,
      `  config: ${image.config.digest}  ${formatBytes(image.config.size)}`,
      `  ${image.layers.length} layer${image.layers.length === 1 ? '' : 's'}, ${formatBytes(image.layers.reduce((s, l) => s + l.size, 0))}`,
    );
    const annotations = annotationLines(image.annotations, '    ');
    if (annotations.length > 0) lines.push('  annotations:', ...annotations);
  }
  if (inspection.referrers) lines.push(...referrerLines(inspection.referrers));
  return sanitizeForTerminal(lines.join('\n'));
}

function referrerLines(of: ReferrersOf[]): string[] {
  const lines: string[] = [];
  const walk = (nodes: ReferrerNode[], indent: string) => {
    for (const n of nodes) {
      lines.push(`${indent}- ${n.artifactType ?? '(no artifactType)'}`, `${indent}    ${n.digest}  ${formatBytes(n.size)}`);
      walk(n.referrers, `${indent}    `);
    }
  };
  const total = of.reduce((s, o) => s + o.referrers.length, 0);
  lines.push(
    `  referrers (${of[0]?.via === 'api' ? 'referrers API' : 'fallback tags sha256-<hex>'}): ${total === 0 ? 'none' : ''}`.trimEnd(),
  );
  for (const o of of) {
    if (o.referrers.length === 0) continue;
    lines.push(`    of ${o.subject}:`);
    walk(o.referrers, '      ');
  }
  return lines;
}
