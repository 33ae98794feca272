// From fetched sources to the index to push and the transfers each target needs. Pure:
// everything here is decided from data already read, so it can fail before anything is written.
import { InputError, PlatformError, UnsupportedMediaTypeError } from '../base/errors.js';
import {
  AnnotationKey,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  MediaType,
  blobsOf,
  isAttestationDescriptor,
  isImageManifestMediaType,
} from '../oci/manifest.js';
import { sha256Digest } from '../oci/digest.js';
import { sanitizeLine } from '../base/redact.js';
import {
  type Platform,
  comparePlatforms,
  formatPlatform,
  isUnknownPlatform,
  normalizePlatform,
  platformKey,
  platformMatches,
} from '../oci/platform.js';
import { type RepositoryRef, formatRepository, sameRepository } from '../oci/reference.js';
import { isZstdVariant, variantPair, withZstdAnnotation } from './variants.js';
import type {
  Annotations,
  AttestationMode,
  BlobTransferPlan,
  DanglingAttestation,
  DanglingMode,
  DescriptorAnnotation,
  MergePlan,
  OutputFormat,
  PlannedEntry,
  ResolvedSource,
  SourceEntry,
  TargetPlan,
} from './model.js';

export interface MergeOptions {
  attestations: AttestationMode;
  format: OutputFormat;
  /** the platforms the index must hold, exactly (missing or extra fails) */
  expectedPlatforms?: Platform[];
  annotations?: Annotations;
  /** default drop */
  danglingAttestations?: DanglingMode;
  /** the index's artifactType (OCI index only); an append keeps the base index's when not given */
  artifactType?: string;
}

type Candidate = { entry: SourceEntry; source: ResolvedSource };

/** Two or more images of one platform: [gzip, zstd (annotated)] when they are compression variants of one image; else refused. */
function compressionVariants(group: Candidate[]): Candidate[] {
  const [a, b] = group;
  const pair = group.length === 2 ? variantPair(a.entry, b.entry) : { why: `${group.length} images of one platform` };
  if ('why' in pair) {
    const listed = group.map((c) => `${c.source.input} (${c.entry.descriptor.digest})`);
    throw new PlatformError(
      `Platform ${formatPlatform(a.entry.platform!)} is provided by ${group.length === 2 ? 'two' : group.length} sources: ${listed.slice(0, -1).join(', ')} and ${listed[listed.length - 1]}${a.entry.layers ? `: ${pair.why}` : ''}`,
      {
        hint: 'Each platform may appear once (or twice: gzip and zstd compression variants of one image): remove one source, or build each platform in its own job',
      },
    );
  }
  const gzip = group.find((c) => c.entry === pair.gzip)!;
  const zstd = group.find((c) => c.entry === pair.zstd)!;
  return [gzip, { source: zstd.source, entry: { ...zstd.entry, descriptor: withZstdAnnotation(zstd.entry.descriptor) } }];
}

function entryPlatformLabel(entry: SourceEntry): string | undefined {
  return entry.platform ? formatPlatform(entry.platform) : undefined;
}

/**
 * Decides the index: which entries, in which order, of which type. Throws before anything
 * is written when platforms collide, are missing or extra, or the format cannot hold them.
 */
export function planMerge(sources: ResolvedSource[], options: MergeOptions): MergePlan {
  const fresh = sources.filter((s) => !s.isBase);
  const base = sources.filter((s) => s.isBase);
  if (fresh.length === 0) throw new InputError('No sources to merge', { hint: 'Give at least one image in {sources}' });

  // Images by platform; two sources claiming one platform is an error unless they are the same
  // image, or its gzip and zstd compression variants (variants.ts).
  const groups = new Map<string, Candidate[]>();
  for (const source of fresh) {
    for (const entry of source.entries) {
      if (entry.kind !== 'image' || !entry.platform) continue;
      const key = platformKey(entry.platform);
      const group = groups.get(key) ?? [];
      if (!group.some((c) => c.entry.descriptor.digest === entry.descriptor.digest)) groups.set(key, [...group, { entry, source }]);
    }
  }
  for (const [key, group] of groups) if (group.length > 1) groups.set(key, compressionVariants(group));

  // append: the base index's images stay unless a source brings the same platform; its own zstd
  // variant of a platform stays beside that platform's image.
  const replacedDigests = new Set<string>();
  const kept = new Map<string, Candidate[]>();
  for (const source of base) {
    for (const entry of source.entries) {
      if (entry.kind !== 'image' || !entry.platform) continue;
      const key = platformKey(entry.platform);
      const fresher = groups.get(key);
      const same = (c: Candidate) => c.entry.descriptor.digest === entry.descriptor.digest;
      if (fresher) {
        if (!fresher.some(same)) replacedDigests.add(entry.descriptor.digest);
        continue;
      }
      const group = kept.get(key) ?? [];
      if (group.some(same)) continue;
      if (group.length === 0 || (group.length === 1 && isZstdVariant(entry) !== isZstdVariant(group[0].entry)))
        kept.set(
          key,
          [...group, { entry, source }].sort((a, b) => Number(isZstdVariant(a.entry)) - Number(isZstdVariant(b.entry))),
        );
      else replacedDigests.add(entry.descriptor.digest);
    }
  }

  const sortedGroups = [...groups.values(), ...kept.values()].sort(
    (a, b) =>
      comparePlatforms(a[0].entry.platform!, b[0].entry.platform!) ||
      a[0].entry.descriptor.digest.localeCompare(b[0].entry.descriptor.digest),
  );
  const ordered = sortedGroups.flat();
  checkExpectedPlatforms(
    sortedGroups.map((g) => g[0]),
    options.expectedPlatforms,
  );

  const imageDigests = new Set(ordered.map((i) => i.entry.descriptor.digest));
  const planned: PlannedEntry[] = [];
  const dropped: PlannedEntry[] = [];
  const toPlanned = (entry: SourceEntry, source: ResolvedSource): PlannedEntry => ({
    kind: entry.kind,
    descriptor: entry.descriptor,
    source: source.repository,
    sourceInput: source.input,
    platform: entryPlatformLabel(entry),
    subject: entry.subject,
  });
  for (const { entry, source } of ordered) planned.push(toPlanned(entry, source));

  // Attestations follow their image, in image order; others keep source order. Deduplicated by digest.
  const extras: PlannedEntry[] = [];
  const seenExtras = new Set<string>();
  const dangling: DanglingAttestation[] = [];
  const attestationReferrers: PlannedEntry[] = [];
  for (const source of [...fresh, ...base]) {
    const ownImages = new Set(source.entries.filter((e) => e.kind === 'image').map((e) => e.descriptor.digest));
    for (const entry of source.entries) {
      if (entry.kind === 'image') {
        if (!imageDigests.has(entry.descriptor.digest) && !entry.platform) {
          throw new PlatformError(`${source.input}: image ${entry.descriptor.digest} has no platform`);
        }
        if (source.isBase && replacedDigests.has(entry.descriptor.digest)) dropped.push(toPlanned(entry, source));
        continue;
      }
      if (seenExtras.has(entry.descriptor.digest)) continue;
      seenExtras.add(entry.descriptor.digest);
      const plannedEntry = toPlanned(entry, source);
      if (entry.kind === 'attestation' && (!entry.subject || !ownImages.has(entry.subject))) {
        // dangling in its own index (skopeo rewrote the image it describes, say): always said
        // as a referrer it would need an image to refer to: dropped whatever dangling-attestations says
        const kept = options.danglingAttestations === 'keep' && options.attestations === 'keep';
        dangling.push({ entry: plannedEntry, missing: entry.subject, kept });
        if (!kept) {
          dropped.push(plannedEntry);
          continue;
        }
        // linked to nothing: the descriptor no longer names an image
        const annotations = { ...(plannedEntry.descriptor.annotations ?? {}) };
        delete annotations[AnnotationKey.ReferenceDigest];
        plannedEntry.descriptor = { ...plannedEntry.descriptor, annotations };
        plannedEntry.subject = undefined;
        extras.push(plannedEntry);
        continue;
      }
      const orphan = entry.kind === 'attestation' && (!entry.subject || !imageDigests.has(entry.subject));
      if (options.attestations === 'strip' || orphan) dropped.push(plannedEntry);
      // referrers: the index holds images only; an artifact that is not an attestation has no image to refer to
      else if (options.attestations === 'referrers') (entry.kind === 'attestation' ? attestationReferrers : dropped).push(plannedEntry);
      else extras.push(plannedEntry);
    }
  }
  const imageOrder = new Map(planned.map((p, i) => [p.descriptor.digest, i]));
  extras.sort((a, b) => (imageOrder.get(a.subject ?? '') ?? planned.length) - (imageOrder.get(b.subject ?? '') ?? planned.length));
  planned.push(...extras);

  const requested = options.annotations ?? { index: {}, descriptors: [] };
  checkDescriptorSelectors(requested.descriptors, planned);
  // append: the index keeps its annotations; the ones asked for now win on the same key.
  // null prototype: an annotation named __proto__ is data, not the object's prototype
  const keptAnnotations = Object.assign(Object.create(null), ...base.map((b) => b.annotations ?? {})) as Record<string, string>;
  const annotations: Annotations = { index: { ...keptAnnotations, ...requested.index }, descriptors: requested.descriptors };
  const artifactType = options.artifactType ?? base.find((b) => b.artifactType)?.artifactType;
  const { mediaType, reason } = chooseFormat(planned, options.format, annotations, Object.keys(keptAnnotations), artifactType);
  const manifests = planned.map((p) => finalDescriptor(p, mediaType, annotations));
  planned.forEach((p, i) => (p.descriptor = manifests[i]));
  const index: ImageIndex = { schemaVersion: 2, mediaType, ...(artifactType ? { artifactType } : {}), manifests };
  if (mediaType === MediaType.OciIndex && Object.keys(annotations.index).length > 0) index.annotations = sortedRecord(annotations.index);
  const bytes = Buffer.from(JSON.stringify(index));
  return {
    mediaType,
    index,
    bytes,
    digest: sha256Digest(bytes),
    entries: planned,
    dropped,
    dangling,
    attestationReferrers: attestationReferrers.sort(
      (a, b) => (imageOrder.get(a.subject ?? '') ?? 0) - (imageOrder.get(b.subject ?? '') ?? 0),
    ),
    // a platform's compression variants count once
    platforms: sortedGroups.map((g) => entryPlatformLabel(g[0].entry)!),
    formatReason: reason,
  };
}

function checkExpectedPlatforms(images: Array<{ entry: SourceEntry; source: ResolvedSource }>, expected: Platform[] | undefined): void {
  if (!expected || expected.length === 0) return;
  const found = images.map((i) => i.entry.platform!);
  const missing = expected.filter((e) => !found.some((f) => platformMatches(e, f)));
  const extra = images.filter((i) => !expected.some((e) => platformMatches(e, i.entry.platform!)));
  const foundList = found.map(formatPlatform).join(', ') || 'none';
  if (missing.length > 0) {
    throw new PlatformError(
      `Platform${missing.length > 1 ? 's' : ''} ${missing.map(formatPlatform).join(', ')} expected by \`platforms\` but not found in the sources (found: ${foundList})`,
      { hint: 'Check that every build job pushed its image, or adjust {platforms}' },
    );
  }
  if (extra.length > 0) {
    throw new PlatformError(
      `Platform${extra.length > 1 ? 's' : ''} ${extra.map((i) => `${formatPlatform(i.entry.platform!)} (from ${i.source.input})`).join(', ')} not listed in \`platforms\` (expected: ${expected.map(formatPlatform).join(', ')})`,
      { hint: 'Add it to {platforms}, or remove that source from {sources}' },
    );
  }
}

/** A platform-selected descriptor annotation that matches no image would be dropped silently: refuse it. */
function checkDescriptorSelectors(descriptors: DescriptorAnnotation[], planned: PlannedEntry[]): void {
  const platforms = planned.filter((p) => p.kind === 'image' && p.descriptor.platform).map((p) => p.descriptor.platform!);
  for (const a of descriptors) {
    if (a.platform && !platforms.some((p) => platformMatches(a.platform!, p))) {
      throw new InputError(
        `Annotation manifest-descriptor[${formatPlatform(a.platform)}]:${a.key} matches no image of the index (platforms: ${platforms.map(formatPlatform).join(', ') || 'none'})`,
        {
          hint: 'Fix the platform in the selector, or drop that annotation from {annotations}',
        },
      );
    }
  }
}

function chooseFormat(
  entries: PlannedEntry[],
  format: OutputFormat,
  annotations: Annotations,
  keptFromBase: string[] = [],
  artifactType?: string,
): { mediaType: string; reason: string } {
  const ociChildren = entries.filter((e) => e.descriptor.mediaType !== MediaType.DockerManifest);
  const hasAnnotations = Object.keys(annotations.index).length > 0 || annotations.descriptors.length > 0;
  if (format === 'oci') return { mediaType: MediaType.OciIndex, reason: 'format: oci' };
  if (format === 'docker') {
    if (artifactType)
      throw new UnsupportedMediaTypeError(
        `format: docker cannot carry artifactType "${sanitizeLine(artifactType)}": a Docker manifest list has no artifactType field`,
        { hint: 'Set {format} to oci (or auto), or drop {artifacttype}' },
      );
    if (ociChildren.length > 0) {
      const first = ociChildren[0];
      const what =
        first.kind === 'attestation'
          ? `attestation manifest ${first.descriptor.digest} (from ${first.sourceInput})`
          : `${sanitizeLine(first.descriptor.mediaType)} ${first.descriptor.digest} (from ${first.sourceInput}${first.platform ? `, ${first.platform}` : ''})`;
      throw new UnsupportedMediaTypeError(
        `format: docker cannot hold ${what}: a Docker manifest list may only list Docker schema 2 image manifests`,
        {
          hint:
            first.kind === 'image'
              ? 'Set {format} to oci (or auto), or push that image as a Docker schema 2 manifest'
              : 'Set {format} to oci (or auto), or {attestations} to referrers (or strip)',
        },
      );
    }
    if (hasAnnotations) {
      const fromBase =
        keptFromBase.length > 0 &&
        Object.keys(annotations.index).every((k) => keptFromBase.includes(k)) &&
        annotations.descriptors.length === 0;
      throw new UnsupportedMediaTypeError(
        `format: docker cannot carry annotations${fromBase ? ` (the index being appended to has ${keptFromBase.join(', ')})` : ''}: a Docker manifest list has no annotations field`,
        {
          hint: fromBase
            ? 'Set {format} to oci (or auto) to {append} to an annotated OCI index'
            : 'Set {format} to oci (or auto), or drop {annotations}',
        },
      );
    }
    return { mediaType: MediaType.DockerManifestList, reason: 'format: docker' };
  }
  if (ociChildren.length > 0)
    return {
      mediaType: MediaType.OciIndex,
      reason: `auto: ${ociChildren.some((e) => e.kind !== 'image') ? 'attestations or artifacts are carried' : 'OCI image manifests among the children'}`,
    };
  if (hasAnnotations) return { mediaType: MediaType.OciIndex, reason: 'auto: annotations need an OCI index' };
  if (artifactType) return { mediaType: MediaType.OciIndex, reason: 'auto: artifactType needs an OCI index' };
  return { mediaType: MediaType.DockerManifestList, reason: 'auto: every child is a Docker schema 2 manifest' };
}

/** The descriptor as written in the index: canonical field order, normalised platform, annotations merged. */
function finalDescriptor(entry: PlannedEntry, indexMediaType: string, annotations: Annotations): Descriptor {
  const d = entry.descriptor;
  const out: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.urls?.length) out.urls = d.urls;
  if (indexMediaType === MediaType.OciIndex) {
    const merged: Record<string, string> = Object.assign(Object.create(null), d.annotations ?? {}) as Record<string, string>;
    if (entry.kind === 'image' && d.platform) {
      for (const a of annotations.descriptors) {
        if (!a.platform || platformMatches(a.platform, d.platform)) merged[a.key] = a.value;
      }
    }
    if (Object.keys(merged).length > 0) out.annotations = sortedRecord(merged);
    if (d.artifactType) out.artifactType = d.artifactType;
  }
  if (d.platform) out.platform = entry.kind === 'image' ? normalizePlatform(d.platform) : d.platform;
  return out;
}

function sortedRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Classifies the entries of a source index (descriptors as listed). */
export function classifyIndexEntry(descriptor: Descriptor): SourceEntry {
  if (isAttestationDescriptor(descriptor)) {
    return { kind: 'attestation', descriptor, subject: descriptor.annotations?.[AnnotationKey.ReferenceDigest] };
  }
  if (
    isImageManifestMediaType(descriptor.mediaType) &&
    descriptor.platform &&
    !isUnknownPlatform(descriptor.platform) &&
    !descriptor.artifactType
  ) {
    return { kind: 'image', descriptor, platform: normalizePlatform(descriptor.platform) };
  }
  return { kind: 'other', descriptor };
}

/** Groups tags by repository and lists, per repository, the children that live somewhere else. */
export function planTargets(plan: MergePlan, targets: Array<RepositoryRef & { tag: string }>): TargetPlan[] {
  const byRepository = new Map<string, TargetPlan>();
  for (const target of targets) {
    const key = formatRepository(target);
    let group = byRepository.get(key);
    if (!group) {
      const repository = { registry: target.registry, repository: target.repository };
      group = { repository, tags: [], manifests: plan.entries.filter((e) => !sameRepository(e.source, repository)) };
      byRepository.set(key, group);
    }
    if (!group.tags.includes(target.tag)) group.tags.push(target.tag);
  }
  return [...byRepository.values()];
}

/** The blobs a child manifest needs in `target`, deduplicated against `seen` (digests already planned for that target). */
export function planBlobs(manifest: ImageManifest, from: RepositoryRef, target: RepositoryRef, seen: Set<string>): BlobTransferPlan[] {
  const out: BlobTransferPlan[] = [];
  for (const descriptor of blobsOf(manifest)) {
    if (seen.has(descriptor.digest)) continue;
    seen.add(descriptor.digest);
    out.push({ descriptor, from, method: from.registry === target.registry ? 'mount' : 'copy' });
  }
  return out;
}
