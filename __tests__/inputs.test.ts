import { describe, expect, it } from '@jest/globals';
import { getInputs, parseAnnotations, parseDuration, parseList } from '../src/inputs.js';

function getter(values: Record<string, string>) {
  return (name: string) => values[name] ?? '';
}

const base = { sources: 'ghcr.io/acme/app:amd64\nghcr.io/acme/app:arm64', tags: 'ghcr.io/acme/app:latest' };

describe('parseList', () => {
  it('splits on newlines and commas, drops blanks and # comments', () => {
    expect(parseList('a, b\n\n# a comment, with a comma\nc,,\n  d  ')).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe('getInputs', () => {
  it('reads a full set of inputs with defaults', () => {
    const inputs = getInputs(getter(base));
    expect(inputs.sources.map((s) => s.tag)).toEqual(['amd64', 'arm64']);
    expect(inputs.tags[0]).toEqual({ registry: 'ghcr.io', repository: 'acme/app', tag: 'latest' });
    expect(inputs).toMatchObject({ attestations: 'keep', format: 'auto', push: true, append: false, summary: true, timeoutMs: 600000, platforms: undefined });
  });

  it.each([
    [{ ...base, sources: '\n# nothing\n' }, /Input `sources` is empty/],
    [{ ...base, tags: '' }, /Input `tags` is empty/],
    [{ ...base, sources: 'ghcr.io/Acme/app:1' }, /`sources`: Invalid image reference "ghcr.io\/Acme\/app:1".*lower case/],
    [{ ...base, tags: `ghcr.io/acme/app@sha256:${'a'.repeat(64)}` }, /is a digest reference, which cannot be a target/],
    [{ ...base, attestations: 'drop' }, /Input `attestations` is "drop".*keep, strip/],
    [{ ...base, format: 'v2' }, /Input `format` is "v2".*auto, oci, docker/],
    [{ ...base, push: 'yes' }, /Input `push` is "yes".*true or false/],
    [{ ...base, platforms: 'linux/amd64,linux' }, /`platforms`: Malformed platform "linux"/],
    [{ ...base, platforms: 'linux/arm64,linux/arm64/v8' }, /lists linux\/arm64 twice/],
    [{ ...base, timeout: 'soon' }, /`timeout` is "soon", not a duration/],
    [{ ...base, username: 'bob' }, /Input `password` is empty while `username` is set/],
  ])('rejects %j', (values, message) => {
    expect(() => getInputs(getter(values))).toThrow(message);
  });

  it('defaults the credentials registry to the first tag', () => {
    const inputs = getInputs(getter({ ...base, username: 'bob', password: 's3cret' }));
    expect(inputs.registry).toBe('ghcr.io');
    expect(getInputs(getter({ ...base, username: 'bob', password: 'x', registry: 'https://docker.io' })).registry).toBe('docker.io');
  });
});

describe('parseDuration', () => {
  it.each([
    ['600', 600000],
    ['10m', 600000],
    ['1h30m', 5400000],
    ['90s', 90000],
    ['1500ms', 1500],
  ])('%s', (text, ms) => expect(parseDuration('timeout', text, 1)).toBe(ms));
});

describe('parseAnnotations', () => {
  it('reads index (default) and manifest-descriptor lines, with platform selectors', () => {
    const { annotations, skipped } = parseAnnotations([
      'org.opencontainers.image.title=app',
      'index:org.opencontainers.image.version=1.0=final',
      'manifest-descriptor:org.opencontainers.image.revision=abc',
      'manifest-descriptor[linux/arm64]:arm=yes',
      'manifest:org.opencontainers.image.description=hello, world',
    ]);
    expect(annotations.index).toEqual({ 'org.opencontainers.image.title': 'app', 'org.opencontainers.image.version': '1.0=final' });
    expect(annotations.descriptors).toEqual([
      { key: 'org.opencontainers.image.revision', value: 'abc' },
      { key: 'arm', value: 'yes', platform: { os: 'linux', architecture: 'arm64' } },
    ]);
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatch(/^manifest:org\.opencontainers\.image\.description=hello, world \(.*digest/);
  });

  it.each([
    ['novalue', /is not key=value/],
    ['weird:key=value', /unknown level "weird"/],
    ['index[linux/amd64]:k=v', /platform selector only applies/],
  ])('rejects %s', (line, message) => {
    expect(() => parseAnnotations([line])).toThrow(message);
  });
});
