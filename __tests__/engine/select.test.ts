// select-platforms: only the chosen platforms of the sources, each image with its attestations.
import { describe, expect, it } from '@jest/globals';
import { PlatformError } from '../../src/base/errors.js';
import type { ResolvedSource, SourceEntry } from '../../src/engine/model.js';
import { selectPlatforms } from '../../src/engine/select.js';
import { parsePlatform } from '../../src/oci/platform.js';
import { filledDigest as digest } from '../support/digests.js';

const image = (c: string, platform: string): SourceEntry => {
  const p = parsePlatform(platform);
  return {
    kind: 'image',
    descriptor: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digest(c), size: 1, platform: p },
    platform: p,
  };
};
const attestation = (c: string, subject?: string): SourceEntry => ({
  kind: 'attestation',
  descriptor: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digest(c), size: 1 },
  subject,
});
const other = (c: string, platform?: string): SourceEntry => ({
  kind: 'other',
  descriptor: {
    mediaType: 'application/vnd.example+json',
    digest: digest(c),
    size: 1,
    ...(platform ? { platform: parsePlatform(platform) } : {}),
  },
});
const source = (entries: SourceEntry[]): ResolvedSource => ({
  input: 'reg.example/acme/app:multi',
  repository: { registry: 'reg.example', repository: 'acme/app' },
  digest: digest('0'),
  mediaType: 'application/vnd.oci.image.index.v1+json',
  entries,
});
const digests = (sources: ResolvedSource[]) => sources.flatMap((s) => s.entries.map((e) => e.descriptor.digest));

const multi = source([
  image('a', 'linux/amd64'),
  image('b', 'linux/arm64'),
  attestation('1', digest('a')),
  attestation('2', digest('b')),
  attestation('3'),
  other('x', 'linux/arm64'),
  other('y'),
]);

describe('selectPlatforms', () => {
  it('no selection: the sources as they are', () => {
    expect(selectPlatforms([multi], undefined)).toEqual([multi]);
    expect(selectPlatforms([multi], [])).toEqual([multi]);
  });

  it('keeps the chosen images, their attestations, artifacts of their platform and those with none', () => {
    const [only] = selectPlatforms([multi], [parsePlatform('linux/amd64')]);
    expect(digests([only])).toEqual([digest('a'), digest('1'), digest('y')]);
    expect(digests(selectPlatforms([multi], [parsePlatform('linux/arm64')]))).toEqual([digest('b'), digest('2'), digest('x'), digest('y')]);
  });

  it('a variant-less selection matches the normalised platform (linux/arm64 is linux/arm64/v8)', () => {
    const v8 = source([image('c', 'linux/arm64/v8'), image('d', 'linux/amd64')]);
    expect(digests(selectPlatforms([v8], [parsePlatform('linux/arm64')]))).toEqual([digest('c')]);
  });

  it('a platform no source has fails, naming what the sources have', () => {
    expect(() => selectPlatforms([multi], [parsePlatform('linux/s390x')])).toThrow(PlatformError);
    expect(() => selectPlatforms([multi], [parsePlatform('linux/s390x')])).toThrow(
      '`select-platforms` asks for linux/s390x, which no source has (the sources have: linux/amd64, linux/arm64)',
    );
  });
});
