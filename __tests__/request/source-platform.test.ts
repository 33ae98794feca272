// A platform given with a source: `REF platform=P [os.features=F+F]` in `sources` lines (and CLI
// SOURCE arguments), `{ref, platform}` in a spec. It may add os.version, os.features or a variant
// the image's own platform lacks; one that contradicts it is refused naming both.
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getInputs } from '../../src/action/inputs.js';
import { renderActionError } from '../../src/action/wording.js';
import { PlatformError } from '../../src/base/errors.js';
import { parseMergeCommand } from '../../src/cli/flags.js';
import { renderCliError } from '../../src/cli/wording.js';
import { resolveSource } from '../../src/engine/resolve.js';
import { type Platform, overridePlatform } from '../../src/oci/platform.js';
import { parseReference } from '../../src/oci/reference.js';
import { parseSources } from '../../src/request/parse.js';
import { MemoryRegistry, addBuildxImage, addImage } from '../support/memory-registry.js';
import { caught, thrown } from '../support/caught.js';

const D = `sha256:${'a'.repeat(64)}`;
const LTSC2019 = '10.0.17763.5122';
const windows = (extra: Partial<Platform> = {}): Platform => ({ os: 'windows', architecture: 'amd64', ...extra });

describe('sources lines: REF platform=P [os.features=F+F]', () => {
  it('reads the platform, and os.features joined by "+", after a reference or a layout', () => {
    expect(parseSources('`sources`', [`ghcr.io/acme/app@${D} platform=windows/amd64:${LTSC2019}`])).toEqual([
      { registry: 'ghcr.io', repository: 'acme/app', digest: D, platform: windows({ 'os.version': LTSC2019 }) },
    ]);
    expect(parseSources('`sources`', ['ghcr.io/acme/app:1  platform=windows/amd64 os.features=win32k+foo'])[0].platform).toEqual(
      windows({ 'os.features': ['win32k', 'foo'] }),
    );
    expect(parseSources('`sources`', ['oci-layout://out/arm.tar platform=linux/arm/v6'])[0]).toEqual({
      registry: 'oci-layout:/',
      repository: 'out/arm.tar',
      platform: { os: 'linux', architecture: 'arm', variant: 'v6' },
    });
    expect(parseSources('`sources`', ['ghcr.io/acme/app:1'])[0]).toEqual({ registry: 'ghcr.io', repository: 'acme/app', tag: '1' });
  });

  it.each([
    ['ghcr.io/acme/app:1 platform=windows', '`sources`: "ghcr.io/acme/app:1 platform=windows": Malformed platform "windows"'],
    [
      'ghcr.io/acme/app:1 platform=linux/amd64 arch=x',
      '`sources`: "ghcr.io/acme/app:1 platform=linux/amd64 arch=x": "arch=x" is not an option of a source',
    ],
    ['ghcr.io/acme/app:1 platform=linux/amd64 platform=linux/arm64', '"platform=linux/arm64" is given twice'],
    ['ghcr.io/acme/app:1 os.features=win32k', '`sources`: "ghcr.io/acme/app:1 os.features=win32k" gives os.features without platform='],
    ['ghcr.io/acme/app:1 platform=windows/amd64 os.features=a++b', 'os.features entry "" may only contain'],
  ])('refuses %j', (item, message) => {
    expect(renderActionError(thrown(() => parseSources('`sources`', [item])))).toContain(message);
  });

  it('the action, the CLI and a spec give the same request', () => {
    const line = `ghcr.io/acme/app@${D} platform=windows/amd64:${LTSC2019}`;
    const expected = { registry: 'ghcr.io', repository: 'acme/app', digest: D, platform: windows({ 'os.version': LTSC2019 }) };
    const action = getInputs((n) => ({ sources: line, tags: 'ghcr.io/acme/app:1' })[n] ?? '');
    const cli = parseMergeCommand(['-t', 'ghcr.io/acme/app:1', line], () => '');
    const spec = join(mkdtempSync(join(tmpdir(), 'mm-override-')), 'spec.yaml');
    writeFileSync(
      spec,
      `images:\n  - tags: [ghcr.io/acme/app:1]\n    sources:\n      - {ref: "ghcr.io/acme/app@${D}", platform: "windows/amd64:${LTSC2019}"}\n`,
    );
    const fromSpec = getInputs((n) => ({ spec })[n] ?? '');
    for (const step of [action, cli, fromSpec]) {
      if ('help' in step && step.help) throw new Error('help');
      expect((step as typeof action).images[0].request.sources).toEqual([expected]);
    }
  });
});

describe('spec sources: {ref, platform}', () => {
  const specOf = (sources: unknown[]) => {
    const file = join(mkdtempSync(join(tmpdir(), 'mm-override-')), 'spec.json');
    writeFileSync(file, JSON.stringify({ images: [{ tags: ['ghcr.io/acme/app:1'], sources }] }));
    return getInputs((n) => ({ spec: file })[n] ?? '').images[0].request.sources;
  };

  it('takes a platform string or an OCI platform object (os.features too), beside plain references', () => {
    expect(
      specOf([
        'ghcr.io/acme/app:linux',
        {
          ref: 'ghcr.io/acme/app:ltsc2019',
          platform: { os: 'windows', architecture: 'amd64', 'os.version': LTSC2019, 'os.features': ['win32k'] },
        },
        { ref: 'ghcr.io/acme/app:plain' },
      ]).map((s) => s.platform),
    ).toEqual([undefined, windows({ 'os.version': LTSC2019, 'os.features': ['win32k'] }), undefined]);
  });

  it.each([
    [{ ref: 'ghcr.io/acme/app:1', platform: 'linux/amd64', os: 'linux' }, 'Input `spec` images[0].sources[0]: unknown key "os"'],
    [{ platform: 'linux/amd64' }, 'Input `spec` images[0].sources[0].ref is undefined, not an image reference'],
    [{ ref: 'a:1, b:2' }, 'Input `spec` images[0].sources[0].ref is "a:1, b:2", not an image reference'],
    [
      { ref: 'ghcr.io/acme/app:1', platform: 'linux/amd64\nx' },
      'Input `spec` images[0].sources[0].platform is "linux/amd64\\nx", not a platform',
    ],
    [
      { ref: 'ghcr.io/acme/app:1', platform: { os: 'linux' } },
      'Input `spec` images[0].sources[0].platform.architecture is undefined, not a platform',
    ],
    [
      { ref: 'ghcr.io/acme/app:1', platform: { os: 'linux', architecture: 'amd64', cpu: 'x' } },
      'images[0].sources[0].platform: unknown key "cpu"',
    ],
    [
      { ref: 'ghcr.io/acme/app:1', platform: { os: 'windows', architecture: 'amd64', 'os.features': 'win32k' } },
      'platform.os.features is "win32k", not a platform',
    ],
    [['ghcr.io/acme/app:1'], 'Input `spec` images[0].sources[0] is ["ghcr.io/acme/app:1"], not a string'],
  ])('refuses %j', (source, message) => {
    expect(renderActionError(thrown(() => specOf([source])))).toContain(message);
  });
});

describe('overridePlatform', () => {
  it('adds os.version, os.features and a variant the image lacks', () => {
    expect(overridePlatform(windows(), windows({ 'os.version': LTSC2019, 'os.features': ['win32k'] }), 'src')).toEqual(
      windows({ 'os.version': LTSC2019, 'os.features': ['win32k'] }),
    );
    expect(overridePlatform({ os: 'linux', architecture: 'arm64' }, { os: 'linux', architecture: 'arm64', variant: 'v9' }, 'src')).toEqual({
      os: 'linux',
      architecture: 'arm64',
      variant: 'v9',
    });
    // the same fields again is no contradiction
    expect(overridePlatform(windows({ 'os.version': LTSC2019 }), windows({ 'os.version': LTSC2019 }), 'src')).toEqual(
      windows({ 'os.version': LTSC2019 }),
    );
  });

  it.each([
    [
      windows(),
      { os: 'linux', architecture: 'amd64' },
      "the platform given for it, linux/amd64, contradicts the image's own, windows/amd64 (os/architecture)",
    ],
    [
      windows(),
      windows({ architecture: 'arm64' }),
      "the platform given for it, windows/arm64, contradicts the image's own, windows/amd64 (os/architecture)",
    ],
    [
      { os: 'linux', architecture: 'arm', variant: 'v6' },
      { os: 'linux', architecture: 'arm', variant: 'v7' },
      "the platform given for it, linux/arm/v7, contradicts the image's own, linux/arm/v6 (variant)",
    ],
    [
      windows({ 'os.version': '10.0.20348.2113' }),
      windows({ 'os.version': LTSC2019 }),
      `the platform given for it, windows/amd64:${LTSC2019}, contradicts the image's own, windows/amd64:10.0.20348.2113 (os.version)`,
    ],
    [
      windows({ 'os.features': ['a'] }),
      windows({ 'os.features': ['b'] }),
      "the platform given for it, windows/amd64 (os.features b), contradicts the image's own, windows/amd64 (os.features a) (os.features)",
    ],
  ])('refuses what contradicts the image (%j, %j), naming both', (own, given, message) => {
    const error = thrown(() => overridePlatform(own as Platform, given as Platform, 'ghcr.io/acme/app:1'));
    expect(error).toBeInstanceOf(PlatformError);
    expect(renderCliError(error)).toBe(
      `ghcr.io/acme/app:1: ${message}. A platform given with a source may only add os.version, os.features or a variant the image lacks: fix it, or leave it out to take the image's own`,
    );
  });
});

describe('resolveSource with a platform', () => {
  const repo = { registry: 'reg.example', repository: 'acme/app' };
  const reader = (registry: MemoryRegistry) => ({ client: registry, concurrency: 4 });

  it("lists a bare image (platform from its config) and a buildx index's image under the platform given", async () => {
    const registry = new MemoryRegistry();
    const bare = addImage(registry, repo, { platform: windows(), seed: 'win', tag: 'ltsc2019' });
    const resolved = await resolveSource(reader(registry), {
      ...parseReference('reg.example/acme/app:ltsc2019'),
      platform: windows({ 'os.version': LTSC2019 }),
    });
    expect(resolved.entries).toEqual([
      expect.objectContaining({
        platform: windows({ 'os.version': LTSC2019 }),
        descriptor: expect.objectContaining({ digest: bare.descriptor.digest, platform: windows({ 'os.version': LTSC2019 }) }),
      }),
    ]);
    addBuildxImage(registry, repo, 'arm', { platform: { os: 'linux', architecture: 'arm64' }, seed: 'arm' });
    const buildx = await resolveSource(reader(registry), {
      ...parseReference('reg.example/acme/app:arm'),
      platform: { os: 'linux', architecture: 'arm64', variant: 'v9' },
    });
    expect(buildx.entries.map((e) => [e.kind, e.descriptor.platform])).toEqual([
      ['image', { os: 'linux', architecture: 'arm64', variant: 'v9' }],
      ['attestation', { os: 'unknown', architecture: 'unknown' }],
    ]);
  });

  it('refuses a source of several images, and a platform that contradicts the config', async () => {
    const registry = new MemoryRegistry();
    const a = addImage(registry, repo, { platform: { os: 'linux', architecture: 'amd64' }, seed: 'a' });
    const b = addImage(registry, repo, { platform: { os: 'linux', architecture: 'arm64' }, seed: 'b' });
    registry.addManifest(
      repo,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { ...a.descriptor, platform: { os: 'linux', architecture: 'amd64' } },
          { ...b.descriptor, platform: { os: 'linux', architecture: 'arm64' } },
        ],
      }),
      'application/vnd.oci.image.index.v1+json',
      'multi',
    );
    const several = await caught(
      resolveSource(reader(registry), {
        ...parseReference('reg.example/acme/app:multi'),
        platform: { os: 'linux', architecture: 'amd64' },
      }),
    );
    expect(renderActionError(several)).toBe(
      'reg.example/acme/app:multi: a platform (linux/amd64) is given for it, but it holds 2 images (linux/amd64, linux/arm64). Give a platform only with a source of one image: name that image by its digest (repo@sha256:…)',
    );
    addImage(registry, repo, { platform: windows(), seed: 'w', tag: 'win' });
    const contradicts = await caught(
      resolveSource(reader(registry), { ...parseReference('reg.example/acme/app:win'), platform: { os: 'linux', architecture: 'amd64' } }),
    );
    expect(contradicts).toBeInstanceOf(PlatformError);
    expect(contradicts.message).toContain(
      "reg.example/acme/app:win: the platform given for it, linux/amd64, contradicts the image's own, windows/amd64 (os/architecture)",
    );
  });
});
