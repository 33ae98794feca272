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
import { formatBytes } from './summary.js';

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
}

export interface MissingItem {
  kind: 'manifest' | 'blob';
  digest: string;
  /** what needs it: the child manifest digest, or the top-level reference */
  neededBy: string;
}

export async function inspectReference(reference: ImageReference, client: RegistryClient): Promise<Inspection> {
  const repository = { registry: reference.registry, repository: reference.repository };
  const label = formatReference(reference);
  const manifest = await client.fetchManifest(repository, manifestReference(reference));
  const parsed = parseManifest(manifest.bytes, manifest.mediaType, label);
  let entries: InspectedEntry[];
  if (parsed.kind === 'index') {
    entries = parsed.index!.manifests.map((descriptor) => ({
      descriptor,
      platform: descriptor.platform ? formatPlatform(descriptor.platform) : undefined,
      describes: isAttestationDescriptor(descriptor) ? descriptor.annotations?.[AnnotationKey.ReferenceDigest] : undefined,
    }));
  } else {
    const config = await client.fetchBlob(repository, parsed.image!.config);
    let platform: string | undefined;
    try {
      platform = formatPlatform(platformFromConfig(JSON.parse(config.toString('utf8')), label));
    } catch {
      platform = undefined; // artifacts have configs without a platform; that is not an error for inspect
    }
    entries = [{ descriptor: { mediaType: parsed.mediaType, digest: manifest.digest, size: manifest.size }, platform }];
  }
  return { reference: label, manifest, parsed, entries };
}

/**
 * HEADs every child manifest and every blob the manifest needs in its own repository. A child
 * that is present is then read (GET) to list its blobs; a missing child is reported, and its
 * blobs cannot be listed from here.
 */
export async function checkReference(inspection: Inspection, repository: RepositoryRef, client: RegistryClient, logger: Logger, concurrency = 8): Promise<MissingItem[]> {
  const missing: MissingItem[] = [];
  const blobChecks: Array<{ digest: string; neededBy: string }> = [];
  const addBlobs = (parsed: ParsedManifest, neededBy: string) => {
    if (parsed.kind === 'image') for (const b of blobsOf(parsed.image!)) blobChecks.push({ digest: b.digest, neededBy });
  };
  if (inspection.parsed.kind === 'image') {
    addBlobs(inspection.parsed, inspection.reference);
  } else {
    // One GET per child: it answers "present?" and lists the child's blobs at once.
    const children = await mapLimit(inspection.parsed.index!.manifests, concurrency, async (d) => {
      try {
        const fetched = await client.fetchManifest(repository, d.digest);
        return { d, parsed: parseManifest(fetched.bytes, fetched.mediaType, `${inspection.reference} > ${d.digest}`) };
      } catch (error) {
        if (error instanceof HttpError && error.code === 'NOT_FOUND') return { d, parsed: undefined };
        throw error;
      }
    });
    for (const { d, parsed } of children) {
      if (!parsed) missing.push({ kind: 'manifest', digest: d.digest, neededBy: inspection.reference });
      else addBlobs(parsed, d.digest);
    }
  }
  const unique = [...new Map(blobChecks.map((b) => [`${b.digest} ${b.neededBy}`, b])).values()];
  const present = await mapLimit(unique, concurrency, (b) => client.hasBlob(repository, b.digest));
  unique.forEach((b, i) => {
    if (!present[i]) missing.push({ kind: 'blob', digest: b.digest, neededBy: b.neededBy });
  });
  logger.debug(`checked ${inspection.parsed.kind === 'index' ? inspection.parsed.index!.manifests.length : 0} child manifests and ${unique.length} blobs`);
  return missing;
}

/** Readable tree: type, digest, size; each index entry with its platform, attestations marked with the image they describe. */
export function renderInspection(inspection: Inspection): string {
  const { manifest, entries } = inspection;
  const lines = [`${inspection.reference}`, `  ${manifest.mediaType}`, `  ${manifest.digest}  ${formatBytes(manifest.size)}`];
  if (inspection.parsed.kind === 'index') {
    const platformOf = new Map(entries.filter((e) => e.platform && !e.describes).map((e) => [e.descriptor.digest, e.platform!]));
    lines.push(`  ${entries.length} manifest${entries.length === 1 ? '' : 's'}:`);
    for (const e of entries) {
      const what = e.describes ? `attestation → ${e.describes}${platformOf.has(e.describes) ? ` (${platformOf.get(e.describes)})` : ''}` : e.platform ?? '(no platform)';
      lines.push(`  - ${what}`, `      ${e.descriptor.mediaType}`, `      ${e.descriptor.digest}  ${formatBytes(e.descriptor.size)}`);
    }
  } else {
    const image = inspection.parsed.image!;
    lines.push(`  platform: ${entries[0].platform ?? '(unknown)'}`, `  config: ${image.config.digest}  ${formatBytes(image.config.size)}`, `  ${image.layers.length} layer${image.layers.length === 1 ? '' : 's'}, ${formatBytes(image.layers.reduce((s, l) => s + l.size, 0))}`);
  }
  return lines.join('\n');
}
