import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { PlatformError } from '../../src/base/errors.js';
import {
  comparePlatforms,
  formatPlatform,
  isUnknownPlatform,
  normalizePlatform,
  parsePlatform,
  platformKey,
  platformMatches,
  type Platform,
} from '../../src/oci/platform.js';

const p = (os: string, architecture: string, variant?: string, extra: Partial<Platform> = {}): Platform => ({
  os,
  architecture,
  ...(variant === undefined ? {} : { variant }),
  ...extra,
});

describe('normalizePlatform', () => {
  it.each<[string, Platform, Platform]>([
    ['aarch64 is arm64', p('linux', 'aarch64'), p('linux', 'arm64')],
    ['arm64/v8 is arm64', p('linux', 'arm64', 'v8'), p('linux', 'arm64')],
    ['arm64/8 is arm64', p('linux', 'arm64', '8'), p('linux', 'arm64')],
    ['aarch64/v8.0 is arm64', p('linux', 'aarch64', 'v8.0'), p('linux', 'arm64')],
    ['arm64/9 is arm64/v9', p('linux', 'arm64', '9'), p('linux', 'arm64', 'v9')],
    ['arm64/v9.0 is arm64/v9', p('linux', 'arm64', 'v9.0'), p('linux', 'arm64', 'v9')],
    ['arm64/v8.2 stays', p('linux', 'arm64', 'v8.2'), p('linux', 'arm64', 'v8.2')],
    ['x86_64 is amd64', p('linux', 'x86_64'), p('linux', 'amd64')],
    ['x86-64 is amd64', p('linux', 'x86-64'), p('linux', 'amd64')],
    ['amd64/v1 is amd64', p('linux', 'amd64', 'v1'), p('linux', 'amd64')],
    ['amd64/v3 stays', p('linux', 'amd64', 'v3'), p('linux', 'amd64', 'v3')],
    ['arm defaults to v7', p('linux', 'arm'), p('linux', 'arm', 'v7')],
    ['arm/7 is arm/v7', p('linux', 'arm', '7'), p('linux', 'arm', 'v7')],
    ['arm/6 is arm/v6', p('linux', 'arm', '6'), p('linux', 'arm', 'v6')],
    ['arm/5 is arm/v5', p('linux', 'arm', '5'), p('linux', 'arm', 'v5')],
    ['arm/v6 stays', p('linux', 'arm', 'v6'), p('linux', 'arm', 'v6')],
    ['armhf is arm/v7', p('linux', 'armhf'), p('linux', 'arm', 'v7')],
    ['armhf forces v7, as containerd does', p('linux', 'armhf', 'v6'), p('linux', 'arm', 'v7')],
    ['armel is arm/v6', p('linux', 'armel'), p('linux', 'arm', 'v6')],
    ['i386 is 386', p('linux', 'i386'), p('linux', '386')],
    ['i686 is 386', p('linux', 'i686'), p('linux', '386')],
    ['i386 drops its variant, as containerd does', p('linux', 'i386', 'x'), p('linux', '386')],
    ['upper case is lowered', p('Linux', 'AMD64', 'V1'), p('linux', 'amd64')],
    ['ARM64/V8 is arm64', p('LINUX', 'ARM64', 'V8'), p('linux', 'arm64')],
    ['macos is darwin', p('macOS', 'arm64'), p('darwin', 'arm64')],
    ['empty variant is no variant', p('linux', 'amd64', ''), p('linux', 'amd64')],
    ['unknown architectures pass through', p('linux', 'riscv64'), p('linux', 'riscv64')],
    ['unknown/unknown stays', p('unknown', 'unknown'), p('unknown', 'unknown')],
    [
      'windows keeps os.version',
      p('windows', 'amd64', undefined, { 'os.version': '10.0.20348.2113' }),
      p('windows', 'amd64', undefined, { 'os.version': '10.0.20348.2113' }),
    ],
    [
      'os.features and features are kept, empty ones dropped',
      p('windows', 'amd64', undefined, { 'os.version': '', 'os.features': ['win32k'], features: [] }),
      p('windows', 'amd64', undefined, { 'os.features': ['win32k'] }),
    ],
  ])('%s', (_name, input, expected) => {
    expect(normalizePlatform(input)).toStrictEqual(expected);
  });

  it('does not modify its argument or share arrays with it', () => {
    const input = p('Linux', 'aarch64', 'v8', { 'os.features': ['a'], features: ['b'] });
    const copy = structuredClone(input);
    const normalized = normalizePlatform(input);
    expect(input).toStrictEqual(copy);
    normalized['os.features']?.push('x');
    normalized.features?.push('y');
    expect(input).toStrictEqual(copy);
  });
});

describe('parsePlatform', () => {
  it.each<[string, Platform]>([
    ['linux/amd64', p('linux', 'amd64')],
    ['linux/arm64', p('linux', 'arm64')],
    ['linux/arm64/v8', p('linux', 'arm64')],
    ['linux/aarch64', p('linux', 'arm64')],
    ['linux/x86_64', p('linux', 'amd64')],
    ['linux/amd64/v1', p('linux', 'amd64')],
    ['linux/amd64/v2', p('linux', 'amd64', 'v2')],
    ['linux/arm', p('linux', 'arm', 'v7')],
    ['linux/arm/v7', p('linux', 'arm', 'v7')],
    ['linux/arm/v6', p('linux', 'arm', 'v6')],
    ['linux/armhf', p('linux', 'arm', 'v7')],
    ['linux/i386', p('linux', '386')],
    ['linux/386', p('linux', '386')],
    ['linux/ppc64le', p('linux', 'ppc64le')],
    ['linux/s390x', p('linux', 's390x')],
    ['linux/riscv64', p('linux', 'riscv64')],
    ['  linux/amd64\n', p('linux', 'amd64')],
    ['Linux/AMD64', p('linux', 'amd64')],
    ['windows/amd64', p('windows', 'amd64')],
    ['windows/amd64:10.0.20348.2113', p('windows', 'amd64', undefined, { 'os.version': '10.0.20348.2113' })],
    ['windows/amd64:10.0.17763.5576', p('windows', 'amd64', undefined, { 'os.version': '10.0.17763.5576' })],
    ['windows/arm64/v8:10.0.26100.1', p('windows', 'arm64', undefined, { 'os.version': '10.0.26100.1' })],
    ['unknown/unknown', p('unknown', 'unknown')],
  ])('%j', (text, expected) => {
    expect(parsePlatform(text)).toStrictEqual(expected);
  });

  it.each<[string, string]>([
    ['', 'it is empty'],
    ['   ', 'it is empty'],
    ['linux', 'it needs at least an os and an architecture'],
    ['amd64', 'it needs at least an os and an architecture'],
    ['linux/amd64/v8/x', 'more than three'],
    ['linux//amd64', 'a part is empty'],
    ['/amd64', 'a part is empty'],
    ['linux/', 'a part is empty'],
    ['linux/amd64/', 'a part is empty'],
    ['linux/amd 64', '"amd 64" may only contain letters, digits'],
    ['linux,amd64', 'it needs at least an os and an architecture'],
    ['linux/amd64,linux/arm64', '"amd64,linux" may only contain'],
    ['windows/amd64:', 'nothing follows ":"'],
    ['windows/amd64:10.0:1', 'os.version "10.0:1" may only contain'],
    ['windows/amd64:10 0', 'os.version "10 0" may only contain'],
  ])('%j is refused: %s', (text, reason) => {
    let error: unknown;
    try {
      parsePlatform(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(PlatformError);
    const { code, message } = error as PlatformError;
    expect(code).toBe('PLATFORM');
    expect(message).toContain(`Malformed platform "${text}"`);
    expect(message).toContain(reason);
    expect(message).toContain('Write it as os/arch or os/arch/variant, e.g. linux/amd64 or linux/arm/v7');
  });
});

describe('formatPlatform', () => {
  it.each<[Platform, string]>([
    [p('linux', 'amd64'), 'linux/amd64'],
    [p('linux', 'aarch64'), 'linux/arm64'],
    [p('linux', 'arm64', 'v8'), 'linux/arm64'],
    [p('linux', 'arm'), 'linux/arm/v7'],
    [p('linux', 'arm', 'v6'), 'linux/arm/v6'],
    [p('linux', 'amd64', 'v3'), 'linux/amd64/v3'],
    [p('windows', 'amd64', undefined, { 'os.version': '10.0.20348.2113' }), 'windows/amd64:10.0.20348.2113'],
    [p('windows', 'amd64', undefined, { 'os.features': ['win32k'] }), 'windows/amd64'],
    [p('unknown', 'unknown'), 'unknown/unknown'],
  ])('%j → %s', (platform, text) => {
    expect(formatPlatform(platform)).toBe(text);
  });

  it.each(['linux/amd64', 'linux/arm/v7', 'linux/arm64', 'windows/amd64:10.0.20348.2113', 'linux/amd64/v2'])(
    'parsePlatform(formatPlatform(x)) round-trips for %s',
    (text) => {
      expect(formatPlatform(parsePlatform(text))).toBe(text);
    },
  );
});

describe('platformKey', () => {
  it.each<[string, Platform, Platform]>([
    ['aarch64 and arm64', p('linux', 'aarch64'), p('linux', 'arm64')],
    ['arm64/v8 and arm64', p('linux', 'arm64', 'v8'), p('linux', 'arm64')],
    ['arm and arm/v7', p('linux', 'arm'), p('linux', 'arm', 'v7')],
    ['armhf and arm/v7', p('linux', 'armhf'), p('linux', 'arm', 'v7')],
    ['x86_64 and amd64/v1', p('linux', 'x86_64'), p('linux', 'amd64', 'v1')],
    ['case', p('Linux', 'AMD64'), p('linux', 'amd64')],
    [
      'os.features order',
      p('windows', 'amd64', undefined, { 'os.features': ['b', 'a'] }),
      p('windows', 'amd64', undefined, { 'os.features': ['a', 'b'] }),
    ],
    [
      'duplicate os.features',
      p('windows', 'amd64', undefined, { 'os.features': ['a', 'a'] }),
      p('windows', 'amd64', undefined, { 'os.features': ['a'] }),
    ],
    ['empty os.features', p('windows', 'amd64', undefined, { 'os.features': [] }), p('windows', 'amd64')],
    ['reserved features are not identity', p('linux', 'amd64', undefined, { features: ['sse4'] }), p('linux', 'amd64')],
  ])('same key: %s', (_name, a, b) => {
    expect(platformKey(a)).toBe(platformKey(b));
  });

  it.each<[string, Platform, Platform]>([
    ['os', p('linux', 'amd64'), p('windows', 'amd64')],
    ['architecture', p('linux', 'amd64'), p('linux', 'arm64')],
    ['arm variant', p('linux', 'arm', 'v6'), p('linux', 'arm', 'v7')],
    ['amd64 micro-architecture level', p('linux', 'amd64'), p('linux', 'amd64', 'v3')],
    [
      'os.version differs',
      p('windows', 'amd64', undefined, { 'os.version': '10.0.17763.5576' }),
      p('windows', 'amd64', undefined, { 'os.version': '10.0.20348.2113' }),
    ],
    ['os.version set or not', p('windows', 'amd64', undefined, { 'os.version': '10.0.20348.2113' }), p('windows', 'amd64')],
    ['os.features set or not', p('windows', 'amd64', undefined, { 'os.features': ['win32k'] }), p('windows', 'amd64')],
    [
      'os.features differ',
      p('windows', 'amd64', undefined, { 'os.features': ['win32k'] }),
      p('windows', 'amd64', undefined, { 'os.features': ['other'] }),
    ],
    // separators inside values must not make two platforms collide
    ['"/" inside os', p('linux/arm', 'v7'), p('linux', 'arm', 'v7')],
    ['":" inside variant vs os.version', p('windows', 'amd64', 'x:1'), p('windows', 'amd64', 'x', { 'os.version': '1' })],
    [
      '"+" inside os.version vs os.features',
      p('windows', 'amd64', undefined, { 'os.version': '1+a' }),
      p('windows', 'amd64', undefined, { 'os.version': '1', 'os.features': ['a'] }),
    ],
    [
      '"," inside one feature vs two features',
      p('windows', 'amd64', undefined, { 'os.features': ['a,b'] }),
      p('windows', 'amd64', undefined, { 'os.features': ['a', 'b'] }),
    ],
  ])('different key: %s', (_name, a, b) => {
    expect(platformKey(a)).not.toBe(platformKey(b));
  });

  it.each<[Platform, string]>([
    [p('linux', 'arm64', 'v8'), 'linux/arm64'],
    [p('linux', 'arm'), 'linux/arm/v7'],
    [p('windows', 'amd64', undefined, { 'os.version': '10.0.20348.2113', 'os.features': ['b', 'a'] }), 'windows/amd64:10.0.20348.2113+a,b'],
  ])('reads like the platform: %j → %s', (platform, key) => {
    expect(platformKey(platform)).toBe(key);
  });
});

describe('platformMatches', () => {
  const win2022 = p('windows', 'amd64', undefined, { 'os.version': '10.0.20348.2113' });
  const win2019 = p('windows', 'amd64', undefined, { 'os.version': '10.0.17763.5576' });
  it.each<[string, Platform, Platform, boolean]>([
    ['same', p('linux', 'amd64'), p('linux', 'amd64'), true],
    ['aliases', p('linux', 'arm64'), p('linux', 'aarch64', 'v8'), true],
    ['arm default variant', p('linux', 'arm'), p('linux', 'arm', 'v7'), true],
    ['other arm variant', p('linux', 'arm'), p('linux', 'arm', 'v6'), false],
    ['other architecture', p('linux', 'amd64'), p('linux', 'arm64'), false],
    ['other os', p('linux', 'amd64'), p('windows', 'amd64'), false],
    ['expected without os.version matches any', p('windows', 'amd64'), win2022, true],
    ['expected os.version must be equal', win2019, win2022, false],
    ['expected os.version, actual has none', win2022, p('windows', 'amd64'), false],
    ['same os.version', win2022, { ...win2022 }, true],
    ['variant required when expected', p('linux', 'amd64', 'v3'), p('linux', 'amd64'), false],
    ['variant not expected but present', p('linux', 'amd64'), p('linux', 'amd64', 'v3'), false],
  ])('%s', (_name, expected, actual, matches) => {
    expect(platformMatches(expected, actual)).toBe(matches);
  });
});

describe('comparePlatforms', () => {
  it('orders common platforms: linux first, amd64, arm64, arm newest variant first, then the rest by name', () => {
    const expected = [
      p('linux', 'amd64'),
      p('linux', 'amd64', 'v3'),
      p('linux', 'arm64'),
      p('linux', 'arm', 'v7'),
      p('linux', 'arm', 'v6'),
      p('linux', '386'),
      p('linux', 'ppc64le'),
      p('linux', 's390x'),
      p('linux', 'riscv64'),
      p('linux', 'loong64'),
      p('windows', 'amd64', undefined, { 'os.version': '10.0.17763.5576' }),
      p('windows', 'amd64', undefined, { 'os.version': '10.0.20348.2113' }),
      p('darwin', 'arm64'),
      p('freebsd', 'amd64'),
      p('aix', 'ppc64'),
      p('unknown', 'unknown'),
    ];
    const shuffled = [...expected].reverse();
    expect(shuffled.sort(comparePlatforms)).toStrictEqual(expected);
  });

  it('puts amd64 (no variant) before amd64/v3 but arm/v7 before arm/v6', () => {
    expect(comparePlatforms(p('linux', 'amd64'), p('linux', 'amd64', 'v3'))).toBeLessThan(0);
    expect(comparePlatforms(p('linux', 'arm', 'v7'), p('linux', 'arm', 'v6'))).toBeLessThan(0);
  });

  it('is 0 only for identical platforms, not for aliases of one another', () => {
    expect(comparePlatforms(p('linux', 'amd64'), p('linux', 'amd64'))).toBe(0);
    expect(comparePlatforms(p('linux', 'aarch64'), p('linux', 'arm64'))).not.toBe(0);
    expect(comparePlatforms(p('linux', 'arm'), p('linux', 'arm', 'v7'))).not.toBe(0);
    expect(comparePlatforms(p('linux', 'amd64'), p('linux', 'amd64', ''))).not.toBe(0);
    expect(comparePlatforms(p('linux', 'amd64', undefined, { features: ['x'] }), p('linux', 'amd64'))).not.toBe(0);
  });

  it('does not depend on the locale (code-unit order)', () => {
    // localeCompare puts "a" before "B"; code-unit order puts "B" (0x42) first.
    expect(
      comparePlatforms(p('linux', 'amd64', undefined, { 'os.version': 'B' }), p('linux', 'amd64', undefined, { 'os.version': 'a' })),
    ).toBeLessThan(0);
  });
});

describe('isUnknownPlatform', () => {
  it.each<[Platform | undefined, boolean]>([
    [undefined, true],
    [p('unknown', 'unknown'), true],
    [p('linux', 'unknown'), false],
    [p('unknown', 'amd64'), false],
    [p('linux', 'amd64'), false],
  ])('%j → %s', (platform, unknown) => {
    expect(isUnknownPlatform(platform)).toBe(unknown);
  });
});

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------
const word = (alphabet: string) => fc.string({ unit: fc.constantFrom(...alphabet.split('')), minLength: 1, maxLength: 5 });
const osArb = fc.oneof(fc.constantFrom('linux', 'windows', 'darwin', 'freebsd', 'unknown', 'Linux', 'macos'), word('abxyLW/:+,%'));
const archArb = fc.oneof(
  fc.constantFrom(
    'amd64',
    'x86_64',
    'x86-64',
    'arm64',
    'aarch64',
    'arm',
    'armhf',
    'armel',
    '386',
    'i386',
    'i686',
    'ppc64le',
    's390x',
    'riscv64',
    'unknown',
    'AMD64',
  ),
  word('abxy/:+,%'),
);
const variantArb = fc.option(
  fc.oneof(fc.constantFrom('', 'v1', '1', 'v5', '5', '6', '7', 'v7', '8', 'v8', 'V8', 'v8.0', '9', 'v9.0', 'v9', 'v3'), word('v19:/+')),
  {
    nil: undefined,
  },
);
const listArb = fc.option(fc.array(fc.constantFrom('win32k', 'a', 'b', 'a,b', 'c+d', ''), { maxLength: 3 }), { nil: undefined });
const platformArb: fc.Arbitrary<Platform> = fc
  .record({
    os: osArb,
    architecture: archArb,
    variant: variantArb,
    osVersion: fc.option(fc.constantFrom('', '10.0.17763.5576', '10.0.20348.2113', '1+a', 'x:y'), { nil: undefined }),
    osFeatures: listArb,
    features: listArb,
  })
  .map(({ os, architecture, variant, osVersion, osFeatures, features }) => {
    const platform: Platform = { os, architecture };
    if (variant !== undefined) platform.variant = variant;
    if (osVersion !== undefined) platform['os.version'] = osVersion;
    if (osFeatures !== undefined) platform['os.features'] = osFeatures;
    if (features !== undefined) platform.features = features;
    return platform;
  });

/** Identity as the spec means it: normalised fields, os.features as a set. */
function identity(platform: Platform): string {
  const n = normalizePlatform(platform);
  return JSON.stringify([n.os, n.architecture, n.variant ?? '', n['os.version'] ?? '', [...new Set(n['os.features'] ?? [])].sort()]);
}

/** Pairs where b is often a (differently written) alias of a, so both outcomes are exercised. */
const samePlatformOrNotArb = platformArb.chain((a) =>
  fc.tuple(
    fc.constant(a),
    fc.oneof(
      platformArb,
      fc.constant(normalizePlatform(a)),
      fc.constant({ ...a, os: a.os.toUpperCase(), architecture: a.architecture.toUpperCase() }),
      fc.constant(a['os.features'] ? { ...a, 'os.features': [...a['os.features']].reverse() } : { ...a }),
    ),
  ),
);

describe('platform properties', () => {
  it('normalizePlatform is idempotent', () => {
    fc.assert(
      fc.property(platformArb, (platform) => {
        const once = normalizePlatform(platform);
        return isDeepStrictEqual(normalizePlatform(once), once);
      }),
      { numRuns: 500 },
    );
  });

  it('platformKey is equal exactly when the normalised platforms are the same', () => {
    fc.assert(
      fc.property(samePlatformOrNotArb, ([a, b]) => {
        // (plain booleans: expect() per run would make this slow)
        return (
          (platformKey(a) === platformKey(b)) === (identity(a) === identity(b)) && platformKey(a) === platformKey(normalizePlatform(a))
        );
      }),
      { numRuns: 1000 },
    );
  });

  it('comparePlatforms is antisymmetric and 0 only on identical platforms', () => {
    fc.assert(
      fc.property(samePlatformOrNotArb, ([a, b]) => {
        const ab = Math.sign(comparePlatforms(a, b));
        const ba = Math.sign(comparePlatforms(b, a));
        return ab === -ba && comparePlatforms(a, structuredClone(a)) === 0 && (ab !== 0 || isDeepStrictEqual(a, b));
      }),
      { numRuns: 1000 },
    );
  });

  it('comparePlatforms is transitive', () => {
    fc.assert(
      fc.property(platformArb, platformArb, platformArb, (a, b, c) => {
        const [x, y, z] = [a, b, c].sort(comparePlatforms);
        return comparePlatforms(x, y) <= 0 && comparePlatforms(y, z) <= 0 && comparePlatforms(x, z) <= 0;
      }),
      { numRuns: 500 },
    );
  });

  it('sorting any shuffle of a list gives the same result', () => {
    fc.assert(
      fc.property(
        fc
          .array(samePlatformOrNotArb, { maxLength: 6 })
          .map((pairs) => pairs.flat())
          .chain((list) => fc.tuple(fc.constant(list), fc.shuffledSubarray(list, { minLength: list.length }))),
        ([list, shuffled]) => {
          return isDeepStrictEqual([...shuffled].sort(comparePlatforms), [...list].sort(comparePlatforms));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('parsePlatform(formatPlatform(x)) has the same key for parseable platforms', () => {
    const simple = fc.record({
      os: fc.constantFrom('linux', 'windows', 'Linux', 'freebsd'),
      architecture: fc.constantFrom('amd64', 'x86_64', 'aarch64', 'arm', 'armhf', 'i386', 'ppc64le'),
      variant: fc.option(fc.constantFrom('v5', 'v6', 'v7', 'v8', '8', 'v1', 'v3'), { nil: undefined }),
      'os.version': fc.option(fc.constantFrom('10.0.17763.5576', '10.0.20348.2113'), { nil: undefined }),
    });
    fc.assert(
      fc.property(simple, (record) => {
        const platform: Platform = { os: record.os, architecture: record.architecture };
        if (record.variant !== undefined) platform.variant = record.variant;
        if (record['os.version'] !== undefined) platform['os.version'] = record['os.version'];
        return platformKey(parsePlatform(formatPlatform(platform))) === platformKey(platform);
      }),
      { numRuns: 300 },
    );
  });
});
