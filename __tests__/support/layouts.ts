// OCI image layouts for the tests of src/sources/: one image manifest with its index.json and
// oci-layout files, written as a directory or as a tar made byte by byte, and the error a
// layout is refused with.
import { expect } from '@jest/globals';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { isExpectedError } from '../../src/base/errors.js';
import { caught } from './caught.js';
import { header, pad, tarOf } from './tar-builder.js';
import { writeFiles } from './temp-dir.js';

export const MANIFEST = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'c'.repeat(64)}`, size: 2 },
    layers: [],
  }),
);
export const MANIFEST_DIGEST = `sha256:${createHash('sha256').update(MANIFEST).digest('hex')}`;
export const MANIFEST_BLOB = `blobs/sha256/${MANIFEST_DIGEST.slice(7)}`;
export const DESCRIPTOR = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: MANIFEST_DIGEST, size: MANIFEST.length };
export const OCI_LAYOUT = Buffer.from('{"imageLayoutVersion":"1.0.0"}');
/** A layout of one image manifest (its config and layers are not there: nothing here reads them). */
export const FILES: Record<string, Buffer> = {
  'oci-layout': OCI_LAYOUT,
  'index.json': Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [DESCRIPTOR] })),
  [MANIFEST_BLOB]: MANIFEST,
};

/** A layout directory `name` under `root` holding FILES (or those given). */
export function layoutDir(root: string, name: string, files: Record<string, Buffer> = FILES): Promise<string> {
  return writeFiles(join(root, name), files);
}

/** FILES (or those given) as a plain tar, in the order listed. */
export function layoutTar(files: Record<string, Buffer> = FILES): Buffer {
  return tarOf(Object.entries(files).flatMap(([name, bytes]) => [header({ name, size: bytes.length }), pad(bytes)]));
}

/** The expected error `run` fails with, of kind `code` (LAYOUT unless told). */
export async function layoutError(run: () => Promise<unknown>, code = 'LAYOUT'): Promise<Error> {
  const error = await caught(run());
  expect(isExpectedError(error) && error.code).toBe(code);
  return error;
}

/** `count` gzip members of 16 MiB of zeros each, compressed once: small on disk, `count` × 16 MiB expanded. */
export function zeros(count: number): Buffer {
  const member = gzipSync(Buffer.alloc(16 * 1024 * 1024), { level: 9 });
  return Buffer.concat(Array.from({ length: count }, () => member));
}
