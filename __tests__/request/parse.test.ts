// The pure parsers every surface's fields go through (lists, durations, annotations).
import { describe, expect, it } from '@jest/globals';
import { InputError } from '../../src/base/errors.js';
import { MediaType } from '../../src/oci/manifest.js';
import { parsePlatform } from '../../src/oci/platform.js';
import { planMerge } from '../../src/engine/plan.js';
import type { ResolvedSource } from '../../src/engine/model.js';
import { MAX_TIMEOUT_MS, parseAnnotations, parseDuration, parseList } from '../../src/request/parse.js';

describe('parseList', () => {
  it('splits on newlines and commas, drops blanks and # comments', () => {
    expect(parseList('a, b\n\n# a comment, with a comma\nc,,\n  d  ')).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe('parseDuration', () => {
  it.each([
    ['600', 600000],
    ['10m', 600000],
    ['1h30m', 5400000],
    ['90s', 90000],
    ['1500ms', 1500],
    ['0.5s', 500],
    ['24h', MAX_TIMEOUT_MS],
  ])('%s', (text, ms) => expect(parseDuration('timeout', text, 1)).toBe(ms));

  it.each(['0', '0s', '0ms', '0.0001s', '0h0m'])('refuses %s: no time at all', (text) => {
    expect(() => parseDuration('--timeout', text, 1)).toThrow(
      new InputError(`--timeout is "${text}", which leaves no time at all`, { hint: 'Give a budget above zero, e.g. 10m (the default)' }),
    );
  });

  // Node timers hold at most 2^31-1 ms and fire at once beyond it: a huge budget would be none.
  it.each(['24h1ms', '25h', '2147484s', '99999999h', '9'.repeat(40)])(
    'refuses %s: over 24h (a timer past 2^31-1 ms fires at once)',
    (text) => {
      expect(() => parseDuration('--timeout', text, 1)).toThrow(/over the limit of 24h/);
    },
  );

  it('never returns a delay a Node timer cannot hold', () => {
    expect(MAX_TIMEOUT_MS).toBeLessThan(2 ** 31 - 1);
  });
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
    expect({ ...annotations.index }).toEqual({ 'org.opencontainers.image.title': 'app', 'org.opencontainers.image.version': '1.0=final' });
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

  // Defect #10: `__proto__=x` set the record's prototype instead of a key, and vanished from the index.
  it('keeps keys named like Object.prototype members (__proto__, constructor) as annotations of the pushed index', () => {
    const { annotations } = parseAnnotations(['__proto__=polluted', 'constructor=c', 'index:toString=t', 'org.example=ok']);
    expect(Object.keys(annotations.index).sort()).toEqual(['__proto__', 'constructor', 'org.example', 'toString']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    const platform = parsePlatform('linux/amd64');
    const source: ResolvedSource = {
      input: 'reg.example/acme/app:amd64',
      repository: { registry: 'reg.example', repository: 'acme/app' },
      digest: `sha256:${'9'.repeat(64)}`,
      mediaType: MediaType.OciIndex,
      entries: [
        {
          kind: 'image',
          descriptor: { mediaType: MediaType.OciManifest, digest: `sha256:${'1'.repeat(64)}`, size: 500, platform },
          platform,
        },
      ],
    };
    const plan = planMerge([source], { attestations: 'keep', format: 'auto', annotations });
    const pushed = JSON.parse(plan.bytes.toString()) as { annotations: Record<string, string> };
    expect(Object.entries(pushed.annotations)).toEqual([
      ['__proto__', 'polluted'],
      ['constructor', 'c'],
      ['org.example', 'ok'],
      ['toString', 't'],
    ]);
  });
});
