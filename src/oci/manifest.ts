// Media types, descriptor / manifest / index shapes and guards (OCI image spec v1.1
// and Docker image manifest v2 schema 2). Pure: no I/O.
import { isDigest } from './digest.js';
import { TooLargeError, UnsupportedMediaTypeError } from '../base/errors.js';
import { sanitizeLine } from '../base/redact.js';
import type { Platform } from './platform.js';

export const MediaType = {
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** Every manifest type we read, in the order we prefer them (sent as Accept). */
export const MANIFEST_ACCEPT = [MediaType.OciIndex, MediaType.DockerManifestList, MediaType.OciManifest, MediaType.DockerManifest];

/** Manifests larger than this are refused before being read (distribution's own limit is 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** Annotations buildx puts on attestation manifest descriptors. */
export const AnnotationKey = {
  ReferenceType: 'vnd.docker.reference.type',
  ReferenceDigest: 'vnd.docker.reference.digest',
} as const;
export const ATTESTATION_REFERENCE_TYPE = 'attestation-manifest';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
  data?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export type ManifestKind = 'index' | 'image';

export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === MediaType.OciIndex || mediaType === MediaType.DockerManifestList;
}

export function isImageManifestMediaType(mediaType: string): boolean {
  return mediaType === MediaType.OciManifest || mediaType === MediaType.DockerManifest;
}

export function isDockerMediaType(mediaType: string): boolean {
  return mediaType === MediaType.DockerManifest || mediaType === MediaType.DockerManifestList;
}

/** A manifest as read from a registry: exact bytes plus what they parse to. */
export interface ParsedManifest {
  kind: ManifestKind;
  mediaType: string;
  index?: ImageIndex;
  image?: ImageManifest;
}

function isKnownManifestMediaType(mediaType: string | undefined): mediaType is string {
  return mediaType !== undefined && (isIndexMediaType(mediaType) || isImageManifestMediaType(mediaType));
}

/**
 * Parses manifest bytes. The media type comes from the body's `mediaType` when
 * present (the bytes are what the digest covers). OCI manifests may omit it: then
 * the shape decides (`manifests` → index, `config` → image), using the Content-Type
 * the registry sent when it names a type of that shape, and the Content-Type alone
 * when the shape is ambiguous. Schema 1, unknown types and malformed documents are
 * refused with a message naming `subject`.
 */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined, subject: string): ParsedManifest {
  if (bytes.byteLength > MAX_MANIFEST_BYTES) {
    throw new TooLargeError(`${subject}: the manifest is ${bytes.byteLength} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (cause) {
    throw new UnsupportedMediaTypeError(`${subject}: the registry returned a manifest that is not valid JSON`, { cause });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new UnsupportedMediaTypeError(`${subject}: the registry returned a manifest that is not a JSON object`);
  }
  const record = body as Record<string, unknown>;
  if (record.mediaType !== undefined && typeof record.mediaType !== 'string') {
    throw new UnsupportedMediaTypeError(`${subject}: the manifest's "mediaType" is ${JSON.stringify(record.mediaType)}, not a string`);
  }
  const declared = record.mediaType || undefined;
  const headerType = contentType?.split(';')[0]?.trim().toLowerCase() || undefined;
  if (
    record.schemaVersion === 1 ||
    [declared, headerType].some((t) => t === MediaType.DockerSchema1 || t === MediaType.DockerSchema1Signed)
  ) {
    throw new UnsupportedMediaTypeError(`${subject} is a Docker schema 1 manifest, which is deprecated and cannot be part of an index`, {
      hint: 'Rebuild and push the image with a current Docker or buildx (schema 2 or OCI), or convert it with `skopeo copy --format v2s2 docker://SOURCE docker://TARGET`',
    });
  }
  let mediaType = declared;
  if (mediaType === undefined) {
    // OCI allows omitting mediaType; the shape of the document decides.
    const hasManifests = Array.isArray(record.manifests);
    const hasConfig = typeof record.config === 'object' && record.config !== null;
    if (hasManifests !== hasConfig) {
      const fits = hasManifests ? isIndexMediaType : isImageManifestMediaType;
      mediaType = headerType && fits(headerType) ? headerType : hasManifests ? MediaType.OciIndex : MediaType.OciManifest;
    } else {
      mediaType = headerType;
    }
  }
  if (!isKnownManifestMediaType(mediaType)) {
    throw new UnsupportedMediaTypeError(
      `${subject} has media type "${sanitizeLine(mediaType ?? '(none)')}", which is not an image manifest or index`,
      {
        hint: `Only container images (and indexes of them) can be merged: check that the reference names an image, not another kind of artifact. Supported types: ${MANIFEST_ACCEPT.join(', ')}`,
      },
    );
  }
  if (record.schemaVersion !== 2) {
    throw new UnsupportedMediaTypeError(
      `${subject}: unsupported schemaVersion ${JSON.stringify(record.schemaVersion) ?? '(none)'} (expected 2)`,
    );
  }
  if (record.subject !== undefined && !isDescriptor(record.subject)) {
    throw new UnsupportedMediaTypeError(`${subject}: "subject" is not a valid descriptor`);
  }
  if (record.annotations !== undefined && !isStringMap(record.annotations)) {
    throw new UnsupportedMediaTypeError(`${subject}: "annotations" must map strings to strings`);
  }
  if (isIndexMediaType(mediaType)) {
    if (!Array.isArray(record.manifests)) {
      throw new UnsupportedMediaTypeError(`${subject}: index has no "manifests" list`);
    }
    const bad = record.manifests.findIndex((d) => !isDescriptor(d));
    if (bad >= 0) {
      throw new UnsupportedMediaTypeError(
        `${subject}: index entry manifests[${bad}] is not a valid descriptor (mediaType, digest, size, platform)`,
      );
    }
    return { kind: 'index', mediaType, index: record as unknown as ImageIndex };
  }
  if (!isDescriptor(record.config)) {
    throw new UnsupportedMediaTypeError(`${subject}: image manifest lacks a valid "config" descriptor`);
  }
  if (!Array.isArray(record.layers)) {
    throw new UnsupportedMediaTypeError(`${subject}: image manifest lacks a "layers" list`);
  }
  const bad = record.layers.findIndex((d) => !isDescriptor(d));
  if (bad >= 0) {
    throw new UnsupportedMediaTypeError(
      `${subject}: image manifest entry layers[${bad}] is not a valid descriptor (mediaType, digest, size)`,
    );
  }
  return { kind: 'image', mediaType, image: record as unknown as ImageManifest };
}

function isStringMap(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function isPlatform(value: unknown): value is Platform {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const p = value as Record<string, unknown>;
  return (
    typeof p.os === 'string' &&
    typeof p.architecture === 'string' &&
    (p.variant === undefined || typeof p.variant === 'string') &&
    (p['os.version'] === undefined || typeof p['os.version'] === 'string') &&
    (p['os.features'] === undefined || isStringList(p['os.features'])) &&
    (p.features === undefined || isStringList(p.features))
  );
}

/**
 * A descriptor as the OCI image spec defines it: non-empty mediaType, a valid digest,
 * a non-negative integer size, and, when present, well-typed urls, annotations,
 * platform (os and architecture strings), artifactType and data. Checked here so
 * that nothing downstream trips over a registry's malformed JSON.
 */
export function isDescriptor(value: unknown): value is Descriptor {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const d = value as Record<string, unknown>;
  return (
    typeof d.mediaType === 'string' &&
    d.mediaType !== '' &&
    typeof d.digest === 'string' &&
    isDigest(d.digest) &&
    typeof d.size === 'number' &&
    Number.isSafeInteger(d.size) &&
    d.size >= 0 &&
    (d.urls === undefined || isStringList(d.urls)) &&
    (d.annotations === undefined || isStringMap(d.annotations)) &&
    (d.platform === undefined || isPlatform(d.platform)) &&
    (d.artifactType === undefined || typeof d.artifactType === 'string') &&
    (d.data === undefined || typeof d.data === 'string')
  );
}

/** Layers that may live outside the registry (Docker foreign, OCI non-distributable). */
function isForeignLayer(descriptor: Descriptor): boolean {
  return descriptor.mediaType.includes('.foreign.') || descriptor.mediaType.includes('.nondistributable.');
}

/**
 * Blobs an image manifest needs in its repository: config then layers, each digest
 * once (images may repeat a layer). Foreign / non-distributable layers that carry
 * `urls` are skipped: registries do not require them to be present.
 */
export function blobsOf(image: ImageManifest): Descriptor[] {
  const seen = new Set<string>();
  const blobs: Descriptor[] = [];
  for (const blob of [image.config, ...image.layers]) {
    if (blob.urls && blob.urls.length > 0 && isForeignLayer(blob)) continue;
    if (seen.has(blob.digest)) continue;
    seen.add(blob.digest);
    blobs.push(blob);
  }
  return blobs;
}

export function isAttestationDescriptor(descriptor: Descriptor): boolean {
  return descriptor.annotations?.[AnnotationKey.ReferenceType] === ATTESTATION_REFERENCE_TYPE;
}
