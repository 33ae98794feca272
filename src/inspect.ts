// `inspect`: read a manifest with every Accept type and describe it; `--check`: is everything it
// references present in its repository (the question behind "manifest blob unknown")?
import { mapLimit } from './concurrency.js';
import { HttpError } from './errors.js';
import type { Logger } from './logger.js';
import { type Descriptor, type ParsedManifest, AnnotationKey, blobsOf, isAttestationDescriptor, parseManifest } from './oci.js';
import { formatPlatform } from './platform.js';
import { platformFromConfig } from './plan.js';
import { type ImageReference, type RepositoryRef, formatReference, manifestReference } from './reference.js';
import type { FetchedManifest, RegistryClient } from './registry/types.js';
import { formatBytes } from './bytes.js';

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
}

export interface MissingItem {
  kind: 'manifest' | 'blob';
  digest: string;
  /** what needs it: the child manifest digest, or the top-level reference */
  neededBy: string;
}

const MAX_NESTED_INDEX_DEPTH = 4;

/**
 * One GET for the manifest (every Accept type); for a bare image, one more for its config (the
 * platform lives there). An index needs nothing else: its descriptors carry the platforms.
 */
export async function inspectReference(reference: ImageReference, client: RegistryClient): Promise<Inspection> {
  const repository = { registry: reference.registry, repository: reference.repository };
  const label = formatReference(reference);
  const manifest = await client.fetchManifest(repository, manifestReference(reference));
  const parsed = parseManifest(manifest.bytes, manifest.mediaType, label);
  if (parsed.kind === 'index') {
    const entries = parsed.index!.manifests.map((descriptor) => ({
      descriptor,
      platform: descriptor.platform ? formatPlatform(descriptor.platform) : undefined,
      describes: isAttestationDescriptor(descriptor) ? descriptor.annotations?.[AnnotationKey.ReferenceDigest] : undefined,
    }));
    return { reference: label, manifest, parsed, entries };
  }
  let platform: string | undefined;
  let configRead = true;
  try {
    const config = await client.fetchBlob(repository, parsed.image!.config);
    try {
      platform = formatPlatform(platformFromConfig(JSON.parse(config.toString('utf8')), label));
    } catch {
      platform = undefined; // artifacts have configs without a platform; that is not an error for inspect
    }
  } catch (error) {
    if (!(error instanceof HttpError && error.code === 'NOT_FOUND')) throw error;
    configRead = false;
  }
  const entries = [{ descriptor: { mediaType: parsed.mediaType, digest: manifest.digest, size: manifest.size }, platform }];
  return { reference: label, manifest, parsed, entries, configRead };
}

/**
 * HEADs every blob the manifest needs in its own repository, and GETs every child manifest (one
 * request answers "present?" and lists the child's blobs). A missing child is reported; its blobs
 * cannot be listed from here. Nested indexes are followed.
 */
export async function checkReference(inspection: Inspection, repository: RepositoryRef, client: RegistryClient, logger: Logger, concurrency = 8): Promise<MissingItem[]> {
  const missing: MissingItem[] = [];
  const blobChecks: Array<{ digest: string; neededBy: string }> = [];
  let childCount = 0;
  const addBlobs = (parsed: ParsedManifest, neededBy: string, skip?: string) => {
    for (const b of blobsOf(parsed.image!)) if (b.digest !== skip) blobChecks.push({ digest: b.digest, neededBy });
  };
  const walk = async (manifests: Descriptor[], neededBy: string, label: string, depth: number): Promise<void> => {
    childCount += manifests.length;
    const children = await mapLimit(manifests, concurrency, async (d) => {
      try {
        const fetched = await client.fetchManifest(repository, d.digest);
        return { d, parsed: parseManifest(fetched.bytes, fetched.mediaType, `${label} > ${d.digest}`) };
      } catch (error) {
        if (error instanceof HttpError && error.code === 'NOT_FOUND') return { d, parsed: undefined };
        throw error;
      }
    });
    for (const { d, parsed } of children) {
      if (!parsed) missing.push({ kind: 'manifest', digest: d.digest, neededBy });
      else if (parsed.kind === 'image') addBlobs(parsed, d.digest);
      else if (depth < MAX_NESTED_INDEX_DEPTH) await walk(parsed.index!.manifests, d.digest, `${label} > ${d.digest}`, depth + 1);
    }
  };
  if (inspection.parsed.kind === 'image') {
    // The config was already read by inspect (unless it was not found): no need to HEAD it again.
    addBlobs(inspection.parsed, inspection.reference, inspection.configRead ? inspection.parsed.image!.config.digest : undefined);
  } else {
    await walk(inspection.parsed.index!.manifests, inspection.reference, inspection.reference, 0);
  }
  const unique = [...new Map(blobChecks.map((b) => [`${b.digest} ${b.neededBy}`, b])).values()];
  // Several children may share a blob: HEAD each digest once.
  const digests = [...new Set(unique.map((b) => b.digest))];
  const present = new Map(digests.map((d, i) => [d, i]));
  const found = await mapLimit(digests, concurrency, (digest) => client.hasBlob(repository, digest));
  for (const b of unique) if (!found[present.get(b.digest)!]) missing.push({ kind: 'blob', digest: b.digest, neededBy: b.neededBy });
  logger.debug(`checked ${childCount} child manifests and ${digests.length} blobs`);
  return missing;
}

const SHOWN_ELSEWHERE = new Set<string>([AnnotationKey.ReferenceDigest, AnnotationKey.ReferenceType]);

function annotationLines(annotations: Record<string, string> | undefined, indent: string): string[] {
  const shown = Object.entries(annotations ?? {}).filter(([k]) => !SHOWN_ELSEWHERE.has(k));
  return shown.map(([k, v]) => `${indent}${k}=${v}`);
}

/** Readable tree: type, digest, size; each index entry with its platform, attestations marked with the image they describe. */
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
  return lines.join('\n');
}
