// `oci-layout://PATH[:TAG|@DIGEST]` sources (src/sources/layout-reference.ts), as buildx names
// them: the path, and a tag or digest when the end of the last segment is one.
import { describe, expect, it } from '@jest/globals';
import { InputError } from '../../src/base/errors.js';
import {
  LAYOUT_REGISTRY,
  LAYOUT_SCHEME,
  isLayoutRepository,
  isLayoutSource,
  parseLayoutSource,
} from '../../src/sources/layout-reference.js';
import { thrown } from '../support/caught.js';

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
});

describe('parseLayoutSource: sources seen in workflows', () => {
  it.each<[string, string, { tag?: string; digest?: string }]>([
    ['oci-layout://out.tar', 'out.tar', {}],
    ['oci-layout://out.tar:v1', 'out.tar', { tag: 'v1' }],
    ['oci-layout://out.tar.gz', 'out.tar.gz', {}],
    ['oci-layout://${{ runner.temp }}/amd64:latest', '${{ runner.temp }}/amd64', { tag: 'latest' }],
    ['oci-layout:///home/runner/work/_temp/image', '/home/runner/work/_temp/image', {}],
    ['oci-layout://./build/oci:app_1.2-rc.3', './build/oci', { tag: 'app_1.2-rc.3' }],
    [`oci-layout://dir@sha256:${HEX}`, 'dir', { digest: `sha256:${HEX}` }],
    // a tag then a digest: the digest decides, the rest is the path
    [`oci-layout://dir:v1@sha256:${HEX}`, 'dir:v1', { digest: `sha256:${HEX}` }],
    // a ':' in a directory name is part of the path
    ['oci-layout://c:/builds/out', 'c:/builds/out', {}],
    ['oci-layout://host:5000/dir', 'host:5000/dir', {}],
    // what follows the last ':' is no tag (too long, or not a tag's characters): the path keeps it
    [`oci-layout://dir:${'t'.repeat(129)}`, `dir:${'t'.repeat(129)}`, {}],
    ['oci-layout://dir:-v1', 'dir:-v1', {}],
    ['oci-layout://dir:', 'dir:', {}],
    // an '@' without a ':' after it is part of the path
    ['oci-layout://out@2', 'out@2', {}],
  ])('%s', (text, repository, rest) => {
    expect(parseLayoutSource(text, 'x')).toEqual({ registry: LAYOUT_REGISTRY, repository, ...rest });
  });

  it.each<[string, string]>([
    ['oci-layout://', 'names no path'],
    ['oci-layout://:v1', 'names no path'],
    [`oci-layout://@sha256:${HEX}`, 'names no path'],
    ['oci-layout://dir@sha512:abc', 'ends in "@sha512:abc", which is not a sha256 digest'],
    [`oci-layout://dir@sha256:${'A'.repeat(64)}`, 'which is not a sha256 digest'],
    [`oci-layout://dir@sha256:${HEX}0`, 'which is not a sha256 digest'],
  ])('refuses %s as an input error naming the label', (text, message) => {
    const error = thrown(() => parseLayoutSource(text, 'Input `sources`'));
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toMatch(/^Input `sources`: /);
    expect(error.message).toContain(message);
  });
});

describe('isLayoutSource / isLayoutRepository', () => {
  it.each<[string, boolean]>([
    ['oci-layout://out.tar', true],
    [`${LAYOUT_SCHEME}dir`, true],
    ['ghcr.io/acme/app:1', false],
    ['docker://ghcr.io/acme/app', false],
    ['OCI-LAYOUT://out.tar', false],
    ['oci-layout:out.tar', false],
    [' oci-layout://out.tar', false],
  ])('isLayoutSource(%j) = %s', (text, layout) => {
    expect(isLayoutSource(text)).toBe(layout);
  });

  it.each<[string, string, boolean]>([
    ['a parsed layout source', parseLayoutSource('oci-layout://out.tar', 'x').registry, true],
    ['a registry', 'ghcr.io', false],
    ['a registry named like the scheme', 'oci-layout', false],
  ])('isLayoutRepository: %s', (_name, registry, layout) => {
    expect(isLayoutRepository({ registry, repository: 'out.tar' })).toBe(layout);
  });
});
