// Every value of every field through the three surfaces (the action's inputs, the CLI's flags, a
// spec image) gives the same request; a value a field does not allow is refused on each surface in
// its own words. The values come from the field table itself, so a choice added there is tested
// on every surface at once.
import { describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getInputs } from '../../src/action/inputs.js';
import { thrown } from '../support/caught.js';
import { flagNaming, parseMergeCommand } from '../../src/cli/flags.js';
import type { StepRequest } from '../../src/request/build.js';
import { type ChoiceField, FIELDS, type FieldName, IMAGE_FIELDS, choicesOf } from '../../src/request/fields.js';
import { renderActionError } from '../../src/action/wording.js';
import { renderCliError } from '../../src/cli/wording.js';
import { useTempDir } from '../support/temp-dir.js';
import { formatReference } from '../../src/oci/reference.js';
import { bakeMetadata, buildMetadata } from '../../scripts/support/fixtures/metadata.js';

const SOURCES = ['ghcr.io/acme/app:amd64', 'ghcr.io/acme/app:arm64'];
const TAG = 'ghcr.io/acme/app:latest';

// buildx metadata files for metadata-files and bake-targets
const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const METADATA_DIR = mkdtempSync(join(tmpdir(), 'mm-fields-metadata-'));
const BUILD_FILE = join(METADATA_DIR, 'build', 'amd64.json');
const BAKE_FILE = join(METADATA_DIR, 'bake.json');
mkdirSync(join(METADATA_DIR, 'build'));
writeFileSync(BUILD_FILE, JSON.stringify(buildMetadata({ digest: D1, names: ['ghcr.io/acme/app:amd64-1'] })));
writeFileSync(
  BAKE_FILE,
  JSON.stringify(
    bakeMetadata({
      app: buildMetadata({ digest: D1, names: ['ghcr.io/acme/app'] }),
      worker: buildMetadata({ digest: D2, names: ['ghcr.io/acme/worker'] }),
    }),
  ),
);

/** Fields that mean something only beside another: bake-targets picks targets of the metadata files. */
// a signing config v0.2 for signing-config: an expired Fulcio and a Rekor v1 passed over
const SIGNING_CONFIG_FILE = join(METADATA_DIR, 'signing_config.json');
writeFileSync(
  SIGNING_CONFIG_FILE,
  JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.2+json',
    caUrls: [
      { url: 'https://old-fulcio.example', majorApiVersion: 1, validFor: { start: '2022-01-01T00:00:00Z', end: '2023-01-01T00:00:00Z' } },
      { url: 'https://fulcio.example', majorApiVersion: 1, validFor: { start: '2023-01-01T00:00:00Z' } },
    ],
    tsaUrls: [{ url: 'https://tsa.example/api/v1/timestamp', majorApiVersion: 1, validFor: { start: '2023-01-01T00:00:00Z' } }],
    rekorTlogUrls: [
      { url: 'https://rekor.example', majorApiVersion: 1, validFor: { start: '2023-01-01T00:00:00Z' } },
      { url: 'https://log2025.rekor.example', majorApiVersion: 2, validFor: { start: '2025-01-01T00:00:00Z' } },
    ],
    rekorTlogConfig: { selector: 'ANY' },
  }),
);

const COMPANIONS: Partial<Record<FieldName, Partial<Record<FieldName, string>>>> = { 'bake-targets': { 'metadata-files': BAKE_FILE } };

type Surface = 'input' | 'flag' | 'spec';
const SURFACES: Surface[] = ['input', 'flag', 'spec'];

/**
 * Fields only the action has (the CLI prints instead of writing a job summary, and has no GitHub
 * context; it reads the GitHub token from $GITHUB_TOKEN, never a flag).
 */
const ACTION_ONLY = new Set<FieldName>(['github-annotations', 'summary', 'github-token']);

const isImageField = (field: FieldName) => (IMAGE_FIELDS as readonly string[]).includes(field);

const root = useTempDir('mm-fields-');

function specFile(image: Record<string, unknown>): string {
  const file = join(mkdtempSync(join(root(), 'spec-')), 'spec.json');
  writeFileSync(file, JSON.stringify({ images: [{ tags: [TAG], sources: SOURCES, ...image }] }));
  return file;
}

/** The flags that give `field` the value `value` (a switch is there or not). */
function flags(field: FieldName, value: string | boolean): string[] {
  if (field === 'push') return value ? [] : ['--dry-run'];
  if (typeof value === 'boolean') return value ? [flagNaming.label(field)] : [];
  return [flagNaming.label(field), value];
}

/**
 * The step request with `field` set to `value` on `surface`: an input of the step; a flag of
 * `merge`; for a spec, the image's own field (or, for a field of the whole step, the step's input
 * beside the spec).
 */
function build(surface: Surface, field: FieldName, value: string | boolean): StepRequest {
  const text = String(value);
  const companions = COMPANIONS[field] ?? {};
  switch (surface) {
    case 'input':
      return getInputs((name) => ({ sources: SOURCES.join('\n'), tags: TAG, ...companions, [field]: text })[name as FieldName] ?? '');
    case 'flag': {
      const others = Object.entries(companions).flatMap(([f, v]) => flags(f as FieldName, v));
      const command = parseMergeCommand(['-t', TAG, ...others, ...flags(field, value), ...SOURCES], () => 'pw');
      if (command.help) throw new Error('help');
      return command;
    }
    case 'spec': {
      const spec = specFile(isImageField(field) ? { ...companions, [field]: value } : {});
      return getInputs((name) => ({ spec, ...(isImageField(field) ? {} : { [field]: text }) })[name] ?? '');
    }
  }
}

/** What each field becomes in the request (or the client settings, or the action's switches). */
const READ: Partial<Record<FieldName, (step: StepRequest) => unknown>> = {
  attestations: (s) => s.images[0].request.attestations,
  referrers: (s) => s.images[0].request.referrers,
  'dangling-attestations': (s) => s.images[0].request.danglingAttestations,
  'require-attestations': (s) => s.images[0].request.requireAttestations ?? [],
  format: (s) => s.images[0].request.format,
  'artifact-type': (s) => s.images[0].request.artifactType,
  'metadata-files': (s) => s.images[0].request.sources.map(formatReference),
  'bake-targets': (s) => s.images[0].request.sources.map(formatReference),
  append: (s) => s.images[0].request.append,
  'cleanup-sources': (s) => s.images[0].request.cleanupSources ?? false,
  sign: (s) => (s.images[0].request.sign === 'index' ? 'true' : (s.images[0].request.sign ?? 'false')),
  attest: (s) => s.images[0].request.attest ?? false,
  'fulcio-url': (s) => s.client.sigstore?.fulcioUrl,
  'tsa-url': (s) => s.client.sigstore?.tsaUrl,
  'rekor-url': (s) => s.client.sigstore?.rekorUrl,
  'signing-config': (s) => s.client.sigstore,
  'github-token': (s) => s.client.githubToken,
  push: (s) => s.images[0].request.push,
  platforms: (s) => s.images[0].request.platforms,
  'select-platforms': (s) => s.images[0].request.selectPlatforms,
  annotations: (s) => s.images[0].request.annotations,
  timeout: (s) => s.client.timeoutMs,
  'insecure-registries': (s) => s.client.insecureRegistries,
  'github-annotations': (s) => s.githubAnnotations,
  summary: (s) => s.summary,
};

/** Values for the fields whose kind has no list of choices. */
const SAMPLES: Partial<Record<FieldName, Array<[string, unknown]>>> = {
  platforms: [
    [
      'linux/amd64,linux/arm64',
      [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
    ],
    ['linux/arm/v7', [{ os: 'linux', architecture: 'arm', variant: 'v7' }]],
  ],
  'select-platforms': [['linux/arm64', [{ os: 'linux', architecture: 'arm64' }]]],
  annotations: [
    ['index:org.opencontainers.image.title=app', { index: { 'org.opencontainers.image.title': 'app' }, descriptors: [] }],
    [
      'manifest-descriptor[linux/arm64]:arm=yes',
      { index: {}, descriptors: [{ key: 'arm', value: 'yes', platform: { os: 'linux', architecture: 'arm64' } }] },
    ],
  ],
  timeout: [
    ['90s', 90_000],
    ['1h30m', 5_400_000],
    ['600', 600_000],
  ],
  'insecure-registries': [['reg.lan:5000', ['reg.lan:5000']]],
  'artifact-type': [
    ['application/vnd.acme.bundle.v1+json', 'application/vnd.acme.bundle.v1+json'],
    ['application/vnd.cncf.helm.chart', 'application/vnd.cncf.helm.chart'],
  ],
  'metadata-files': [
    [BUILD_FILE, [...SOURCES, `ghcr.io/acme/app@${D1}`]],
    [join(METADATA_DIR, '*', '*.json'), [...SOURCES, `ghcr.io/acme/app@${D1}`]],
    [BAKE_FILE, [...SOURCES, `ghcr.io/acme/app@${D1}`, `ghcr.io/acme/worker@${D2}`]],
  ],
  'bake-targets': [
    ['worker', [...SOURCES, `ghcr.io/acme/worker@${D2}`]],
    ['app', [...SOURCES, `ghcr.io/acme/app@${D1}`]],
  ],
  'github-token': [['ghs_token123', 'ghs_token123']],
  'require-attestations': [
    ['', []],
    ['provenance,sbom', ['provenance', 'sbom']],
    ['signature', ['signature']],
    ['Provenance, SBOM, provenance', ['provenance', 'sbom']],
  ],
  'fulcio-url': [['https://fulcio.example/', 'https://fulcio.example/']],
  'tsa-url': [['http://127.0.0.1:3000', 'http://127.0.0.1:3000/']],
  'rekor-url': [['https://rekor.example', 'https://rekor.example/']],
  'signing-config': [
    [
      SIGNING_CONFIG_FILE,
      { fulcioUrl: 'https://fulcio.example/', tsaUrl: 'https://tsa.example/api/v1/timestamp', rekorUrl: 'https://log2025.rekor.example/' },
    ],
  ],
};

/** Every value of every field (choices and booleans from the table), with the surfaces that have the field. */
const ROWS: Array<[FieldName, string | boolean, unknown, Surface[]]> = (Object.keys(READ) as FieldName[]).flatMap((field) => {
  const spec = FIELDS[field] as { kind: string; choices?: readonly string[] };
  const surfaces = SURFACES.filter((s) => !(s === 'flag' && ACTION_ONLY.has(field)));
  const values: Array<[string | boolean, unknown]> =
    spec.kind === 'choice'
      ? spec.choices!.map((c) => [c, c])
      : spec.kind === 'boolean'
        ? [true, false].map((b) => [b, b])
        : SAMPLES[field]!.map(([v, e]) => [v, e]);
  return values.map(([value, expected]): [FieldName, string | boolean, unknown, Surface[]] => [field, value, expected, surfaces]);
});

describe('every value of every field gives the same request on every surface', () => {
  it.each(ROWS)('%s: %j', (field, value, expected, surfaces) => {
    const read = READ[field]!;
    for (const surface of surfaces) {
      // annotations' index record has no prototype: compare its entries
      const got = read(build(surface, field, value));
      expect(field === 'annotations' ? JSON.parse(JSON.stringify(got)) : got).toEqual(expected);
    }
  });

  it('every field a surface can set is in the table above, save the ones checked elsewhere', () => {
    const elsewhere: FieldName[] = ['sources', 'tags', 'digests-dir', 'image', 'spec', 'username', 'password', 'registry'];
    expect((Object.keys(FIELDS) as FieldName[]).filter((f) => !READ[f] && !elsewhere.includes(f))).toEqual([]);
  });
});

const CHOICE_FIELDS = (Object.keys(FIELDS) as FieldName[]).filter((f): f is ChoiceField => FIELDS[f].kind === 'choice');

/** The message for a bad value on each surface: the input, the flag, the spec image's own field. */
function refusal(surface: Surface, field: ChoiceField, value: string): string {
  const error = thrown(() => build(surface, field, value));
  return surface === 'flag' ? renderCliError(error) : renderActionError(error);
}

describe('a value a choice field does not allow, on each surface in its words', () => {
  const rows = CHOICE_FIELDS.flatMap((field) => {
    const allowed = `Use one of: ${choicesOf(field).join(', ')}`;
    const rows: Array<[Surface, ChoiceField, string]> = [
      ['input', field, `Input \`${field}\` is "bogus". ${allowed}`],
      [
        'spec',
        field,
        isImageField(field) ? `Input \`spec\` images[0].${field} is "bogus". ${allowed}` : `Input \`${field}\` is "bogus". ${allowed}`,
      ],
    ];
    if (!ACTION_ONLY.has(field)) rows.push(['flag', field, `--${field} is "bogus". ${allowed}`]);
    return rows;
  });

  it.each(rows)('%s %s', (surface, field, message) => {
    expect(refusal(surface, field, 'bogus')).toBe(message);
  });

  it.each([
    ['input', 'Input `artifact-type` is "vnd.acme bundle", not a media type. Write type/subtype, e.g. application/vnd.acme.bundle.v1+json'],
    [
      'spec',
      'Input `spec` images[0].artifact-type is "vnd.acme bundle", not a media type. Write type/subtype, e.g. application/vnd.acme.bundle.v1+json',
    ],
    ['flag', '--artifact-type is "vnd.acme bundle", not a media type. Write type/subtype, e.g. application/vnd.acme.bundle.v1+json'],
  ] as const)('a media type field: %s', (surface, message) => {
    const error = thrown(() => build(surface, 'artifact-type', 'vnd.acme bundle'));
    expect(surface === 'flag' ? renderCliError(error) : renderActionError(error)).toBe(message);
  });

  it.each([
    ['input', 'Input `require-attestations` lists "attested". Use any of: provenance, sbom, signature (one per line or comma-separated)'],
    [
      'spec',
      'Input `spec` images[0].require-attestations lists "attested". Use any of: provenance, sbom, signature (one per line or comma-separated)',
    ],
    ['flag', '--require-attestations lists "attested". Use any of: provenance, sbom, signature (one per line or comma-separated)'],
  ] as const)('a list of choices: %s', (surface, message) => {
    const error = thrown(() => build(surface, 'require-attestations', 'provenance,attested'));
    expect(surface === 'flag' ? renderCliError(error) : renderActionError(error)).toBe(message);
  });

  it.each([
    ['input', 'Input `append` is "yes". Use true or false'],
    ['spec', 'Input `spec` images[0].append is "yes". Use true or false'],
  ] as const)('a boolean field: %s', (surface, message) => {
    expect(() => build(surface, 'append', 'yes')).toThrow(message);
  });
});
