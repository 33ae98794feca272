// Input `spec` (CLI `merge --spec FILE`): a document of images, each a record of fields of its own
// over the step's; the document is checked before any request, every error naming the image's
// position and the field.
import { afterEach, describe, expect, it } from '@jest/globals';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getInputs } from '../../src/action/inputs.js';
import { parseMergeCommand } from '../../src/cli/flags.js';
import { MAX_SPEC_BYTES, MAX_SPEC_IMAGES, imageRecords, readSpec } from '../../src/request/spec.js';

describe('input spec', () => {
  const inputs = (values: Record<string, string>) => getInputs((name) => values[name] ?? '');

  it('validates every image before anything runs, naming position and field', () => {
    const spec =
      'images:\n  - {tags: [r.io/a:1], sources: [r.io/a:x]}\n  - {tags: [r.io/b:1], sources: [r.io/b:x], platforms: linux/amd64}\n  - {tags: [r.io/c:1], sources: [r.io/c:x], platforms: "linux/"}';
    expect(() => inputs({ spec })).toThrow(/Input `spec` images\[2\]\.platforms/);
    expect(() => inputs({ spec: 'images:\n  - {tags: [r.io/a:1], source: [r.io/a:x]}' })).toThrow(
      'Input `spec` images[0]: unknown field "source"',
    );
    expect(() => inputs({ spec: 'images:\n  - {tags: [r.io/a:1]}' })).toThrow('Input `spec` images[0].sources is empty');
    expect(() => inputs({ spec: 'images: [', tags: '' })).toThrow(/not valid YAML or JSON/);
  });

  it('lets an image override the step inputs; the others keep them', () => {
    const spec = JSON.stringify({
      images: [
        { tags: ['r.io/a:1'], sources: ['r.io/a:x'] },
        { tags: ['r.io/b:1'], sources: ['r.io/b:x'], attestations: 'keep', annotations: { 'org.opencontainers.image.description': 'B' } },
      ],
    });
    const { images } = inputs({ spec, attestations: 'strip', annotations: 'org.opencontainers.image.description=step' });
    expect(images.map((i) => i.request.attestations)).toEqual(['strip', 'keep']);
    expect(images.map((i) => i.request.annotations?.index['org.opencontainers.image.description'])).toEqual(['step', 'B']);
  });

  it('refuses sources or tags next to a spec', () => {
    expect(() => inputs({ spec: 'images: []', tags: 'r.io/a:1' })).toThrow('Input `spec` is set, and so is `tags`');
  });
});

describe('imageRecords', () => {
  it('gives each image the fields it sets itself, lists one item a line and mappings as key=value lines', () => {
    const records = imageRecords(
      '--spec',
      'images:\n  - tags: [r.io/a:1, r.io/a:2]\n    sources: r.io/a:x\n    append: true\n    annotations: {a: b, n: 1}\n  - {tags: [r.io/b:1], sources: [r.io/b:x]}',
    );
    expect(records).toEqual([
      { tags: 'r.io/a:1\nr.io/a:2', sources: 'r.io/a:x', append: 'true', annotations: 'a=b\nn=1' },
      { tags: 'r.io/b:1', sources: 'r.io/b:x' },
    ]);
  });

  it.each([
    ['images: {}', '--spec has no `images` list'],
    ['images: []\nother: 1', '--spec has no `images` list'],
    ['images: [{tags: [r.io/a:1]}]\nother: 1', '--spec: unknown key "other" at the top'],
    ['images: [[1]]', '--spec images[0] is not a mapping'],
    ['images: [{tags: [{a: 1}]}]', '--spec images[0].tags[0] is {"a":1}, not a string'],
    ['images: [{annotations: {a: [1]}}]', '--spec images[0].annotations.a is [1], not a string'],
    [
      'images: [{push: false}]',
      '--spec images[0]: unknown field "push". An image may set: tags, sources, digests-dir, image, metadata-files, bake-targets, platforms, select-platforms, annotations, attestations, referrers, dangling-attestations, require-attestations, format, artifact-type, append',
    ],
  ])('refuses %j', (text, message) => {
    expect(() => imageRecords('--spec', text)).toThrow(message);
  });

  it(`refuses more than ${MAX_SPEC_IMAGES} images`, () => {
    const text = JSON.stringify({
      images: Array.from({ length: MAX_SPEC_IMAGES + 1 }, () => ({ tags: ['r.io/a:1'], sources: ['r.io/a:x'] })),
    });
    expect(() => imageRecords('Input `spec`', text)).toThrow(
      `Input \`spec\` lists ${MAX_SPEC_IMAGES + 1} images, over the limit of ${MAX_SPEC_IMAGES}`,
    );
  });
});

describe('readSpec', () => {
  it('reads the file a single line names, else takes the text as the document', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mm-spec-')), 'spec.yaml');
    writeFileSync(file, 'images: []');
    expect(readSpec('--spec', file)).toEqual({ text: 'images: []', origin: file });
    expect(readSpec('--spec', 'images: []')).toEqual({ text: 'images: []', origin: 'inline' });
    expect(() => readSpec('--spec', '/no/such/spec.yaml')).toThrow('--spec: no such file "/no/such/spec.yaml"');
  });

  // Issue 20 (8): a FIFO hung forever (the timeout did not apply), a 300 MiB file was read whole.
  describe('reads only a regular file, of at most 4 MiB, without waiting', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mm-spec-file-'));
    let writer: ChildProcess | undefined;
    afterEach(() => {
      writer?.kill();
      writer = undefined;
    });

    it('refuses a FIFO at once, though no writer has opened it', () => {
      const fifo = join(dir, 'spec.fifo');
      execFileSync('mkfifo', [fifo]);
      // a writer that comes late, so that a reader which waits for one (as readFileSync did) ends, and fails this test
      writer = spawn('sh', ['-c', 'sleep 3; printf "images: []" > "$0"', fifo], { stdio: 'ignore' });
      const started = Date.now();
      expect(() => readSpec('Input `spec`', fifo)).toThrow(
        `Input \`spec\`: "${fifo}" is a FIFO (named pipe), not a regular file. Write the spec to a regular file, or give the YAML itself`,
      );
      expect(Date.now() - started).toBeLessThan(1000);
    });

    it('refuses a directory and a device', () => {
      const sub = join(dir, 'spec.d');
      mkdirSync(sub);
      expect(() => readSpec('--spec', sub)).toThrow(`--spec: "${sub}" is a directory, not a regular file`);
      expect(() => readSpec('--spec', '/dev/null')).toThrow('--spec: "/dev/null" is a character device, not a regular file');
    });

    it(`refuses a file over ${MAX_SPEC_BYTES / 1024 / 1024} MiB before reading it, naming the limit`, () => {
      expect(MAX_SPEC_BYTES).toBe(4 * 1024 * 1024);
      const big = join(dir, 'big.yaml');
      writeFileSync(big, '');
      truncateSync(big, 300 * 1024 * 1024); // sparse: no disk space, and reading it whole would take 300 MiB
      const started = Date.now();
      expect(() => readSpec('--spec', big)).toThrow(
        `--spec: "${big}" is 300 MiB, over the limit of 4 MiB. Split the images over several specs and steps`,
      );
      expect(Date.now() - started).toBeLessThan(1000);
      const justOver = join(dir, 'just-over.yaml');
      writeFileSync(justOver, '');
      truncateSync(justOver, MAX_SPEC_BYTES + 1);
      expect(() => readSpec('--spec', justOver)).toThrow(`--spec: "${justOver}" is 4194305 bytes, over the limit of 4 MiB`);
      const atLimit = join(dir, 'at-limit.yaml');
      writeFileSync(atLimit, 'images: []'.padEnd(MAX_SPEC_BYTES, ' '));
      expect(readSpec('--spec', atLimit).text).toHaveLength(MAX_SPEC_BYTES);
    });

    it('--spec on the CLI refuses a FIFO the same way', () => {
      const fifo = join(dir, 'cli.fifo');
      execFileSync('mkfifo', [fifo]);
      writer = spawn('sh', ['-c', 'sleep 3; printf "images: []" > "$0"', fifo], { stdio: 'ignore' });
      expect(() => parseMergeCommand(['--spec', fifo], () => 'pw')).toThrow(`--spec: "${fifo}" is a FIFO (named pipe), not a regular file`);
    });
  });
});

// The bug this builder fixed: spec.ts had its own list of attestation modes, without `referrers`.
describe('attestations: referrers with a spec, on every surface', () => {
  const spec = (extra = '') =>
    `images:\n  - {tags: [r.io/a:1], sources: [r.io/a:x]${extra}}\n  - {tags: [r.io/b:1], sources: [r.io/b:x], attestations: strip}`;

  it('a spec image sets it', () => {
    const { images } = getInputs((name) => ({ spec: spec(', attestations: referrers') })[name] ?? '');
    expect(images.map((i) => i.request.attestations)).toEqual(['referrers', 'strip']);
  });

  it('the step input, with a spec, is every image’s default', () => {
    const { images } = getInputs((name) => ({ spec: spec(), attestations: 'referrers' })[name] ?? '');
    expect(images.map((i) => i.request.attestations)).toEqual(['referrers', 'strip']);
  });

  it('the CLI flag, with --spec, is every image’s default', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mm-spec-')), 'spec.yaml');
    writeFileSync(file, spec());
    const command = parseMergeCommand(['--spec', file, '--attestations', 'referrers'], () => 'pw');
    expect(!command.help && command.images.map((i) => i.request.attestations)).toEqual(['referrers', 'strip']);
  });

  it('a spec image with a value no surface allows is refused under its position', () => {
    expect(() => getInputs((name) => ({ spec: spec(', attestations: drop') })[name] ?? '')).toThrow(
      'Input `spec` images[0].attestations is "drop". Use one of: keep, strip, referrers',
    );
  });

  it('a step default no surface allows is refused under the step’s name, at the first image', () => {
    expect(() => getInputs((name) => ({ spec: spec(), format: 'v2' })[name] ?? '')).toThrow(
      'Input `spec` images[0]: Input `format` is "v2". Use one of: auto, oci, docker',
    );
    const file = join(mkdtempSync(join(tmpdir(), 'mm-spec-')), 'spec.yaml');
    writeFileSync(file, spec());
    expect(() => parseMergeCommand(['--spec', file, '--format', 'v2'], () => 'pw')).toThrow(
      '--spec images[0]: --format is "v2". Use one of: auto, oci, docker',
    );
  });
});

// Issue 20 (4): two images of a spec writing one tag both reported "Pushed" and exited 0, the tag
// holding one of them. The whole spec is known before any request, so it is refused at parse time.
describe('two spec images writing one tag, on every surface', () => {
  const specOf = (tags: string[][]) =>
    `images:\n${tags.map((t, i) => `  - {tags: [${t.join(', ')}], sources: [r.io/src/i${i}:x]}`).join('\n')}\n`;

  it('input `spec`: refused, naming both images and the tag, however the references are written', () => {
    const spec = specOf([['r.io/a:1'], ['r.io/b:1'], ['r.io/c:1'], ['r.io/d:1', 'x']]);
    const refused = (text: string) => () => getInputs((name) => ({ spec: text })[name] ?? '');
    expect(refused(specOf([['r.io/a:1'], ['r.io/b:1'], ['r.io/c:1'], ['r.io/d:1', 'r.io/a:1']]))).toThrow(
      'Input `spec` images[0] and images[3] both write the tag r.io/a:1. Give each tag to one image only',
    );
    // docker.io/library/x:latest, x and index.docker.io/library/x:latest are one tag
    expect(refused(spec.replace('r.io/a:1', 'index.docker.io/library/x:latest'))).toThrow(
      'Input `spec` images[0] and images[3] both write the tag docker.io/library/x:latest ("index.docker.io/library/x:latest" and "x")',
    );
    expect(refused(specOf([['R.io/a:1'], ['r.io/a:1']]))).toThrow(
      'Input `spec` images[0] and images[1] both write the tag r.io/a:1 ("R.io/a:1" and "r.io/a:1")',
    );
  });

  it('input `spec`: the same repository under other tags, or one tag twice in one image, is not a clash', () => {
    const values = { spec: specOf([['r.io/a:1', 'r.io/a:1'], ['r.io/a:2'], ['r.io/b:1']]) };
    expect(getInputs((name) => values[name as 'spec'] ?? '').images).toHaveLength(3);
  });

  it('--spec: refused the same way, in the CLI’s words', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mm-spec-')), 'spec.yaml');
    writeFileSync(file, specOf([['r.io/a:1'], ['docker.io/library/x:latest'], ['r.io/b:1', 'x']]));
    expect(() => parseMergeCommand(['--spec', file], () => 'pw')).toThrow(
      '--spec images[1] and images[2] both write the tag docker.io/library/x:latest ("docker.io/library/x:latest" and "x")',
    );
  });
});
