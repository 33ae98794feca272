import { describe, expect, it } from '@jest/globals';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getInputs } from '../../src/action/inputs.js';
import { parseLayoutSource } from '../../src/sources/layout-reference.js';
import { normaliseMemberName } from '../../src/sources/tar.js';

const HEX = 'a'.repeat(64);

describe('oci-layout:// sources', () => {
  it('reads PATH, PATH:TAG and PATH@DIGEST', () => {
    expect(parseLayoutSource('oci-layout://out/amd64.tar', 'x')).toEqual({ registry: 'oci-layout:/', repository: 'out/amd64.tar' });
    expect(parseLayoutSource('oci-layout:///tmp/dir:v1.2', 'x')).toEqual({ registry: 'oci-layout:/', repository: '/tmp/dir', tag: 'v1.2' });
    expect(parseLayoutSource(`oci-layout://./dir@sha256:${HEX}`, 'x')).toEqual({
      registry: 'oci-layout:/',
      repository: './dir',
      digest: `sha256:${HEX}`,
    });
    expect(() => parseLayoutSource('oci-layout://dir@sha256:abc', '`sources`')).toThrow(
      '`sources`: "oci-layout://dir@sha256:abc" ends in "@sha256:abc", which is not a sha256 digest',
    );
    expect(() => parseLayoutSource('oci-layout://', 'x')).toThrow('names no path');
  });

  it('tar member names that leave the archive are refused', () => {
    expect(normaliseMemberName('./blobs//sha256/x')).toBe('blobs/sha256/x');
    for (const bad of ['../x', 'blobs/../../x', '/etc/passwd', 'C:\\x']) expect(normaliseMemberName(bad)).toBeUndefined();
  });
});

describe('inputs digests-dir and image', () => {
  const inputs = (values: Record<string, string>) => getInputs((name) => values[name] ?? '');

  it('turn each file name into image@sha256:<name>, sorted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mm-digests-'));
    await writeFile(join(dir, 'b'.repeat(64)), '');
    await writeFile(join(dir, HEX), '');
    const {
      images: [{ request }],
    } = inputs({ 'digests-dir': dir, image: 'ghcr.io/acme/app', tags: 'ghcr.io/acme/app:1' });
    expect(request.sources.map((s) => s.digest)).toEqual([`sha256:${HEX}`, `sha256:${'b'.repeat(64)}`]);
    expect(request.sources[0]).toMatchObject({ registry: 'ghcr.io', repository: 'acme/app' });
  });

  it('refuse a file that is not 64 hex characters, naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mm-digests-'));
    await writeFile(join(dir, HEX), '');
    await writeFile(join(dir, 'sha256:abc'), '');
    expect(() => inputs({ 'digests-dir': dir, image: 'ghcr.io/acme/app', tags: 'ghcr.io/acme/app:1' })).toThrow(
      'Input `digests-dir`: a file name is not a digest (64 lower-case hex characters): "sha256:abc"',
    );
  });

  it('refuse an image with a tag, or none at all', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mm-digests-'));
    await writeFile(join(dir, HEX), '');
    expect(() => inputs({ 'digests-dir': dir, image: 'ghcr.io/acme/app:1', tags: 'ghcr.io/acme/app:1' })).toThrow('has a tag or digest');
    expect(() => inputs({ 'digests-dir': dir, tags: 'ghcr.io/acme/app:1' })).toThrow(
      'Input `digests-dir` is set but Input `image` is empty',
    );
  });
});
