// Compression variants: two images of one platform that differ only in layer compression (the
// same config, so the same layers uncompressed), one gzip and one zstd or zstd:chunked. Both go
// into the index, gzip first, the zstd one annotated `io.github.containers.compression.zstd:
// "true"` as containers/image writes it: a client that knows no zstd takes the first image of its
// platform (gzip), one that does (podman, containers/image) takes the annotated one. Any other
// two images of one platform are refused. Pure.
import type { Descriptor, ImageManifest } from '../oci/manifest.js';
import type { Compression, LayerFacts, SourceEntry } from './model.js';

/** The annotation containers/image puts on the descriptor of an image whose layers are zstd. */
export const ZSTD_ANNOTATION = 'io.github.containers.compression.zstd';
/** containers/storage's annotations on a zstd:chunked layer (its table of contents). */
const CHUNKED_PREFIX = 'io.github.containers.zstd-chunked.';

function layerCompression(layer: Descriptor): Compression {
  const type = layer.mediaType;
  if (type.endsWith('+zstd'))
    return Object.keys(layer.annotations ?? {}).some((k) => k.startsWith(CHUNKED_PREFIX)) ? 'zstd:chunked' : 'zstd';
  if (type.endsWith('+gzip') || type.endsWith('.tar.gzip')) return 'gzip';
  return 'other';
}

/** What tells an image's compression variants apart: the config they share, and how the layers are compressed. */
export function layerFacts(image: ImageManifest): LayerFacts {
  const kinds = new Set(image.layers.map(layerCompression));
  // zstd:chunked images may carry plain zstd layers (a layer too small to chunk): still zstd:chunked
  if (kinds.has('zstd:chunked') && kinds.has('zstd')) kinds.delete('zstd');
  const compression: Compression = kinds.size === 1 ? [...kinds][0] : 'other';
  return { config: image.config.digest, layerCount: image.layers.length, compression };
}

const described = (c: Compression) => (c === 'other' ? 'uncompressed or mixed' : c);

export function isZstd(compression: Compression | undefined): boolean {
  return compression === 'zstd' || compression === 'zstd:chunked';
}

/** An entry that is the zstd variant of its platform: annotated so (by this run or the index it came from). */
export function isZstdVariant(entry: SourceEntry): boolean {
  return entry.descriptor.annotations?.[ZSTD_ANNOTATION] === 'true' || isZstd(entry.layers?.compression);
}

/**
 * Two different images of one platform: [gzip, zstd] when they are compression variants of one
 * image, else the reason they are not (for the error that refuses them).
 */
export function variantPair(a: SourceEntry, b: SourceEntry): { gzip: SourceEntry; zstd: SourceEntry } | { why: string } {
  const fa = a.layers;
  const fb = b.layers;
  if (!fa || !fb) return { why: 'the same platform twice' };
  if (fa.config !== fb.config || fa.layerCount !== fb.layerCount)
    return { why: `different images (configs ${fa.config} and ${fb.config}), not compression variants of one` };
  const gzip = [a, b].find((e) => e.layers!.compression === 'gzip');
  const zstd = [a, b].find((e) => isZstd(e.layers!.compression));
  if (gzip && zstd) return { gzip, zstd };
  return {
    why: `the same image twice, its layers ${described(fa.compression)} in one and ${described(fb.compression)} in the other; only a gzip and a zstd (or zstd:chunked) variant may share a platform`,
  };
}

/** The descriptor of the zstd variant, annotated as containers/image writes it. */
export function withZstdAnnotation(descriptor: Descriptor): Descriptor {
  return { ...descriptor, annotations: { ...(descriptor.annotations ?? {}), [ZSTD_ANNOTATION]: 'true' } };
}
