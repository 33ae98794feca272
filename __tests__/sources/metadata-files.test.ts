// buildx's metadata files as sources (`metadata-files`, `bake-targets`): build and bake layouts
// key for key as buildx writes them, globs, and every malformed file refused naming the file and
// the key, before any request.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getInputs } from '../../src/action/inputs.js';
import { renderActionError } from '../../src/action/wording.js';
import { parseMergeCommand } from '../../src/cli/flags.js';
import { renderCliError } from '../../src/cli/wording.js';
import { formatReference } from '../../src/oci/reference.js';
import { expandGlob, MAX_GLOB_MATCHES } from '../../src/sources/glob.js';
import { MAX_METADATA_BYTES } from '../../src/sources/metadata-files.js';
import { bakeMetadata, buildMetadata, unpushedBuildMetadata } from '../../scripts/support/fixtures/metadata.js';
import { thrown } from '../support/caught.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const D3 = `sha256:${'3'.repeat(64)}`;
const D4 = `sha256:${'4'.repeat(64)}`;
const TAG = 'ghcr.io/acme/app:latest';

let dir: string;
const file = (name: string, content: unknown) => {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return path;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mm-metadata-'));
});

/** The sources the action's inputs give, as references. */
function sources(values: Record<string, string>): string[] {
  const step = getInputs((name) => ({ tags: TAG, ...values })[name] ?? '');
  return step.images[0].request.sources.map(formatReference);
}

/** The message the action's log shows for inputs that are refused. */
function refusal(values: Record<string, string>): string {
  return renderActionError(thrown(() => sources(values)));
}

describe('build metadata (build-push-action `metadata`, buildx build --metadata-file)', () => {
  it('adds REPOSITORY@containerimage.digest, the repository from image.name (several names, with tags)', () => {
    const path = file('build/amd64.json', buildMetadata({ digest: D1, names: ['ghcr.io/acme/app:1.0', 'ghcr.io/acme/app:latest'] }));
    expect(sources({ 'metadata-files': path })).toEqual([`ghcr.io/acme/app@${D1}`]);
  });

  it('takes the name of a build pushed by digest (no tag), and a canonical name (name-canonical=true)', () => {
    const byDigest = file('build/by-digest.json', buildMetadata({ digest: D2, names: ['ghcr.io/acme/app'], provenance: true }));
    const canonical = file('build/canonical.json', buildMetadata({ digest: D3, names: ['ghcr.io/acme/app', `ghcr.io/acme/app@${D3}`] }));
    expect(sources({ 'metadata-files': `${byDigest}\n${canonical}` })).toEqual([`ghcr.io/acme/app@${D2}`, `ghcr.io/acme/app@${D3}`]);
  });

  it("of several repositories, takes the one a tag is in (mounts stay within it); else the first name's", () => {
    const path = file('build/two-registries.json', buildMetadata({ digest: D1, names: ['docker.io/acme/app:1', 'ghcr.io/acme/app:1'] }));
    expect(sources({ 'metadata-files': path })).toEqual([`ghcr.io/acme/app@${D1}`]);
    expect(sources({ 'metadata-files': path, tags: 'quay.io/acme/app:1' })).toEqual([`docker.io/acme/app@${D1}`]);
  });

  it('comes after the sources listed, each once (two files of one build, or one file matched twice)', () => {
    const path = file('build/once.json', buildMetadata({ digest: D4, names: ['ghcr.io/acme/app'] }));
    expect(sources({ sources: 'ghcr.io/acme/base:1', 'metadata-files': `${path}\n${join(dir, 'build/once*.json')}` })).toEqual([
      'ghcr.io/acme/base:1',
      `ghcr.io/acme/app@${D4}`,
    ]);
  });
});

describe('bake metadata (buildx bake --metadata-file: one entry per target)', () => {
  const target = (digest: string, name: string) => buildMetadata({ digest, names: [name] });

  it('adds every target; buildx.build.warnings is not a target', () => {
    const amd64 = file('bake/amd64.json', bakeMetadata({ app: target(D1, 'ghcr.io/acme/app'), worker: target(D2, 'ghcr.io/acme/worker') }));
    const arm64 = file('bake/arm64.json', bakeMetadata({ app: target(D3, 'ghcr.io/acme/app'), worker: target(D4, 'ghcr.io/acme/worker') }));
    expect(sources({ 'metadata-files': `${amd64},${arm64}` })).toEqual([
      `ghcr.io/acme/app@${D1}`,
      `ghcr.io/acme/worker@${D2}`,
      `ghcr.io/acme/app@${D3}`,
      `ghcr.io/acme/worker@${D4}`,
    ]);
  });

  it('bake-targets takes only the targets named, from every file', () => {
    const pattern = join(dir, 'bake/*.json');
    expect(sources({ 'metadata-files': pattern, 'bake-targets': 'worker' })).toEqual([
      `ghcr.io/acme/worker@${D2}`,
      `ghcr.io/acme/worker@${D4}`,
    ]);
  });

  it('refuses a target no file has, listing the ones there are', () => {
    expect(refusal({ 'metadata-files': join(dir, 'bake/*.json'), 'bake-targets': 'app\nweb' })).toBe(
      'Input `bake-targets`: "web" is in none of the metadata files (their targets: app, worker). Name targets as bake names them (the keys of the metadata file)',
    );
  });

  it('refuses bake-targets with a build file, and without metadata-files', () => {
    const path = file('build/targets.json', buildMetadata({ digest: D1, names: ['ghcr.io/acme/app'] }));
    expect(refusal({ 'metadata-files': path, 'bake-targets': 'app' })).toBe(
      `Input \`metadata-files\`: "${path}" is the metadata of one build, which has no bake targets, and Input \`bake-targets\` is set. Leave Input \`bake-targets\` out for build metadata; it picks targets of the files buildx bake --metadata-file writes`,
    );
    expect(refusal({ sources: 'ghcr.io/acme/app:1', 'bake-targets': 'app' })).toBe(
      'Input `bake-targets` is set but Input `metadata-files` is empty. Give the files buildx bake --metadata-file wrote as Input `metadata-files`; the targets pick builds in them',
    );
  });
});

describe('a metadata file that names no pushed image is refused, naming the file and the key', () => {
  const cases: Array<[string, unknown, (path: string) => string]> = [
    [
      'push: false (no containerimage.digest)',
      unpushedBuildMetadata('nopush'),
      (p) =>
        `Input \`metadata-files\`: "${p}" has no "containerimage.digest": the build pushed no image. Build with push: true (build-push-action) or --push / --set *.output=type=registry (bake); a build with push: false or load: true has nothing to merge`,
    ],
    [
      'a bake target without containerimage.digest',
      bakeMetadata({ app: buildMetadata({ digest: D1, names: ['ghcr.io/acme/app'] }), test: { 'buildx.build.ref': 'b/b/x' } }),
      (p) => `Input \`metadata-files\`: "${p}", target "test" has no "containerimage.digest": the build pushed no image.`,
    ],
    [
      'no image.name',
      { 'containerimage.digest': D1 },
      (p) => `Input \`metadata-files\`: "${p}" has no "image.name": the build named no image to push.`,
    ],
    [
      'an image.name that is no reference',
      buildMetadata({ digest: D1, names: ['ghcr.io/acme/App:1'] }),
      (p) => `Input \`metadata-files\`: "${p}": "image.name": `,
    ],
    [
      'an empty image.name',
      { ...buildMetadata({ digest: D1, names: [] }) },
      (p) => `Input \`metadata-files\`: "${p}": "image.name" is "", not a list of image names.`,
    ],
    [
      'a digest that is not sha256',
      { ...buildMetadata({ digest: D1, names: ['ghcr.io/acme/app'] }), 'containerimage.digest': 'sha256:abc' },
      (p) => `Input \`metadata-files\`: "${p}": "containerimage.digest" is "sha256:abc", not a sha256 digest.`,
    ],
    [
      'a descriptor of another digest',
      { ...buildMetadata({ digest: D1, names: ['ghcr.io/acme/app'] }), 'containerimage.digest': D2 },
      (p) => `Input \`metadata-files\`: "${p}": "containerimage.descriptor" names "${D1}", but "containerimage.digest" is ${D2}.`,
    ],
    [
      'neither a build nor a target',
      { 'buildx.build.warnings': [] },
      (p) => `Input \`metadata-files\`: "${p}" names no build: it has no "containerimage.digest" and no bake target.`,
    ],
    [
      'a list',
      [buildMetadata({ digest: D1, names: ['ghcr.io/acme/app'] })],
      (p) => `Input \`metadata-files\`: "${p}" is a list, not a JSON object.`,
    ],
    ['not JSON', '{"containerimage.digest": ', (p) => `Input \`metadata-files\`: "${p}" is not JSON (`],
    ['jq output of the digest alone', `"${D1}"\n`, (p) => `Input \`metadata-files\`: "${p}" is "${D1}", not a JSON object.`],
  ];

  it.each(cases)('%s', (name, content, message) => {
    const path = file(`bad/${name.replace(/\W+/g, '-')}.json`, content);
    expect(refusal({ 'metadata-files': path })).toContain(message(path));
  });

  it('a missing file, a pattern matching nothing, a file over the size limit', () => {
    const missing = join(dir, 'nowhere/metadata.json');
    expect(refusal({ 'metadata-files': missing })).toBe(
      `Input \`metadata-files\`: cannot read "${missing}" (ENOENT). Download the metadata artifacts first (actions/download-artifact), or fix the path`,
    );
    const none = join(dir, 'build/*.yaml');
    expect(refusal({ 'metadata-files': none })).toBe(
      `Input \`metadata-files\`: "${none}" matches no file. Download the metadata artifacts first (actions/download-artifact), or fix the pattern`,
    );
    const big = file('big/metadata.json', `{"pad": "${'x'.repeat(MAX_METADATA_BYTES)}"}`);
    expect(refusal({ 'metadata-files': big })).toContain(
      `Input \`metadata-files\`: "${big}" is ${MAX_METADATA_BYTES + 11} bytes, over the limit of ${MAX_METADATA_BYTES}`,
    );
  });

  it('says it on every surface in its words: the CLI flag and the spec image', () => {
    const path = file('bad/cli.json', unpushedBuildMetadata('cli'));
    const cli = renderCliError(thrown(() => parseMergeCommand(['-t', TAG, '--metadata-file', path], () => '')));
    expect(cli).toMatch(new RegExp(`^--metadata-file: "${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}" has no "containerimage.digest"`));
    const spec = file('bad/spec.json', { images: [{ tags: [TAG], 'metadata-files': [path] }] });
    const action = renderActionError(thrown(() => getInputs((name) => ({ spec })[name] ?? '')));
    expect(action).toContain(`Input \`spec\` images[0].metadata-files: "${path}" has no "containerimage.digest"`);
  });
});

describe('expandGlob', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'mm-glob-'));
    for (const f of ['a/amd64.json', 'a/arm64.json', 'a/notes.txt', 'a/.hidden.json', 'b/c/deep.json', 'b/x1.json', 'b/x22.json'])
      file(join('..', root.split('/').pop()!, f), '{}');
    mkdirSync(join(root, 'loop'));
    symlinkSync(root, join(root, 'loop', 'back'));
  });

  it('* and ? within a segment, ** across directories (dot files and linked directories left out), sorted', () => {
    expect(expandGlob('x', join(root, 'a/*.json'))).toEqual([join(root, 'a/amd64.json'), join(root, 'a/arm64.json')]);
    expect(expandGlob('x', join(root, 'b/x?.json'))).toEqual([join(root, 'b/x1.json')]);
    expect(expandGlob('x', join(root, '**/*.json'))).toEqual(
      ['a/amd64.json', 'a/arm64.json', 'b/c/deep.json', 'b/x1.json', 'b/x22.json'].map((f) => join(root, f)),
    );
    expect(expandGlob('x', join(root, 'b/**'))).toEqual(['b/c/deep.json', 'b/x1.json', 'b/x22.json'].map((f) => join(root, f)));
    expect(expandGlob('x', join(root, 'a/.*.json'))).toEqual([join(root, 'a/.hidden.json')]);
    expect(expandGlob('x', 'plain/path.json')).toEqual(['plain/path.json']);
  });

  it('refuses ** inside a name, an unreadable base directory, and more than MAX_GLOB_MATCHES files', () => {
    expect(() => expandGlob('`m`', join(root, 'a**/x.json'))).toThrow('uses ** inside a name');
    expect(() => expandGlob('`m`', join(root, 'none/*.json'))).toThrow(`\`m\`: cannot read the directory "${join(root, 'none')}"`);
    const many = mkdtempSync(join(tmpdir(), 'mm-glob-many-'));
    for (let i = 0; i <= MAX_GLOB_MATCHES; i++) writeFileSync(join(many, `${i}.json`), '{}');
    expect(() => expandGlob('`m`', join(many, '*.json'))).toThrow(`matches over ${MAX_GLOB_MATCHES} files`);
  });
});
