// Media types, descriptor / manifest / index shapes and guards (OCI image spec v1.1
// and Docker image manifest v2 schema 2). Pure: no I/O.
import { createHash } from 'node:crypto';
import { UnsupportedMediaTypeError } from './errors.js';
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

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

const DIGEST_PATTERN = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const SHA256_PATTERN = /^sha256:[a-f0-9]{64}$/;

export function isDigest(value: string): boolean {
  return DIGEST_PATTERN.test(value);
}

export function isSha256Digest(value: string): boolean {
  return SHA256_PATTERN.test(value);
}

/** A manifest as read from a registry: exact bytes plus what they parse to. */
export interface ParsedManifest {
  kind: ManifestKind;
  mediaType: string;
  index?: ImageIndex;
  image?: ImageManifest;
}

/**
 * Parses manifest bytes. The media type comes from the body's `mediaType` when
 * present, else from the Content-Type the registry sent; OCI manifests may omit
 * it, in which case the shape decides (`manifests` → index, `config` → image).
 * Schema 1 and unknown types are refused with a message naming `subject`.
 */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined, subject: string): ParsedManifest {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (cause) {
    throw new UnsupportedMediaTypeError(`${subject}: the registry returned a manifest that is not valid JSON`, { cause });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new UnsupportedMediaTypeError(`${subject}: the registry returned a manifest that is not a JSON object`);
  }
  const record = body as Record<string, unknown>;
  const declared = typeof record.mediaType === 'string' ? record.mediaType : undefined;
  const headerType = contentType?.split(';')[0]?.trim();
  let mediaType = declared ?? headerType ?? '';
  if (record.schemaVersion === 1 || mediaType === MediaType.DockerSchema1 || mediaType === MediaType.DockerSchema1Signed) {
    throw new UnsupportedMediaTypeError(
      `${subject} is a Docker schema 1 manifest, which is deprecated and cannot be part of an index`,
      { hint: 'Rebuild and push the image with a current Docker or buildx (schema 2 or OCI)' },
    );
  }
  if (!isIndexMediaType(mediaType) && !isImageManifestMediaType(mediaType)) {
    // OCI allows omitting mediaType; fall back to the shape of the document.
    if (!declared && Array.isArray(record.manifests)) mediaType = MediaType.OciIndex;
    else if (!declared && typeof record.config === 'object' && record.config !== null) mediaType = MediaType.OciManifest;
    else {
      throw new UnsupportedMediaTypeError(
        `${subject} has media type "${mediaType || '(none)'}", which is not an image manifest or index`,
        { hint: `Supported types: ${MANIFEST_ACCEPT.join(', ')}` },
      );
    }
  }
  if (record.schemaVersion !== 2) {
    throw new UnsupportedMediaTypeError(`${subject}: unsupported schemaVersion ${JSON.stringify(record.schemaVersion)} (expected 2)`);
  }
  if (isIndexMediaType(mediaType)) {
    if (!Array.isArray(record.manifests) || !record.manifests.every(isDescriptor)) {
      throw new UnsupportedMediaTypeError(`${subject}: index has no valid "manifests" list`);
    }
    return { kind: 'index', mediaType, index: record as unknown as ImageIndex };
  }
  if (!isDescriptor(record.config) || !Array.isArray(record.layers) || !record.layers.every(isDescriptor)) {
    throw new UnsupportedMediaTypeError(`${subject}: image manifest lacks a valid "config" or "layers"`);
  }
  return { kind: 'image', mediaType, image: record as unknown as ImageManifest };
}

export function isDescriptor(value: unknown): value is Descriptor {
  if (typeof value !== 'object' || value === null) return false;
  const d = value as Record<string, unknown>;
  return typeof d.mediaType === 'string' && typeof d.digest === 'string' && isDigest(d.digest) && typeof d.size === 'number' && d.size >= 0;
}

/** Blobs an image manifest needs in its repository: config then layers (foreign/non-distributable layers with urls are skipped). */
export function blobsOf(image: ImageManifest): Descriptor[] {
  const blobs = [image.config, ...image.layers];
  return blobs.filter((b) => !(b.urls && b.urls.length > 0 && b.mediaType.includes('foreign')));
}

export function isAttestationDescriptor(descriptor: Descriptor): boolean {
  return descriptor.annotations?.[AnnotationKey.ReferenceType] === ATTESTATION_REFERENCE_TYPE;
}
