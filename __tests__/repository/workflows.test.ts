// The repository as an action's home (issue 15): its workflows pass actionlint (with
// shellcheck) and do what they claim, action.yml follows the metadata schema, every workflow
// example in README.md and docs/ lints and uses only declared inputs and outputs, the release checks
// hold, and dependabot groups the runtime dependencies. What only GitHub's runners can prove
// (the e2e run itself, the tag move) is checked here for shape, and runs there.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { actionMetadataProblems } from '../../scripts/lint/action-schema.js';
import { ensureGoTool } from '../../scripts/support/go-tools.js';
import { checkRelease, changelogProblems, ReleaseCheckError } from '../../scripts/release-check.js';
import {
  actionUsageProblems,
  blockKind,
  findShellcheck,
  formatProblems,
  lintMarkdownWorkflows,
  lintRepositoryWorkflows,
  readActionMetadata,
  type ReadmeLint,
  repositoryName,
  wrapBlock,
  yamlBlocks,
} from '../../scripts/lint/workflow-lint.js';

const root = process.cwd();
const read = (path: string) => readFile(join(root, path), 'utf8');

type Step = { id?: string; uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string>; name?: string };
type Job = {
  needs?: string | string[];
  if?: string;
  'runs-on'?: string;
  permissions?: Record<string, string>;
  strategy?: { matrix?: Record<string, unknown> & { include?: Array<Record<string, string>> } };
  services?: Record<string, { image: string; ports?: string[]; volumes?: string[] }>;
  outputs?: Record<string, string>;
  steps: Step[];
};
type Workflow = { on: Record<string, unknown>; permissions?: Record<string, string>; jobs: Record<string, Job> };

const workflow = async (name: string) => parse(await read(`.github/workflows/${name}`)) as Workflow;
const stepUsing = (job: Job, action: string) => job.steps.filter((s) => s.uses?.split('@')[0] === action);
const runs = (job: Job) => job.steps.map((s) => s.run ?? '').join('\n');

let actionYml: string;
let repository: string;

beforeAll(
  async () => {
    // a clean CI machine builds actionlint first (go install), which takes longer than a test
    await ensureGoTool('actionlint');
    findShellcheck();
    actionYml = await read('action.yml');
    repository = await repositoryName(root);
  },
  10 * 60 * 1000,
);

describe('.github/workflows', () => {
  it('actionlint (with shellcheck on every run: script) finds nothing, and every uses: ./ step matches action.yml', async () => {
    const problems = await lintRepositoryWorkflows(root);
    expect(formatProblems(problems)).toBe('');
  });

  it('the lint has teeth: a misspelt input of uses: ./ in a workflow fails it, from actionlint and from our check', async () => {
    const project = await mkdtemp(join(tmpdir(), 'workflows-lint-'));
    await mkdir(join(project, '.git'));
    await mkdir(join(project, '.github/workflows'), { recursive: true });
    await cp(join(root, 'dist'), join(project, 'dist'), { recursive: true });
    for (const file of ['action.yml', 'package.json']) await cp(join(root, file), join(project, file));
    const e2e = await read('.github/workflows/e2e.yml');
    const bad = e2e.replace('          platforms: linux/amd64,linux/arm64\n', '          platfroms: linux/amd64,linux/arm64\n');
    expect(bad).not.toBe(e2e);
    await writeFile(join(project, '.github/workflows/e2e.yml'), bad);
    const problems = await lintRepositoryWorkflows(project);
    const line = bad.split('\n').findIndex((l) => l.includes('platfroms:')) + 1;
    expect(
      problems
        .filter((p) => p.line === line)
        .map((p) => p.rule)
        .sort(),
    ).toEqual(['action', 'action.yml']);
    expect(problems.find((p) => p.rule === 'action.yml')?.message).toMatch(/input "platfroms" is not declared in action.yml/);
  });

  it('every action is a pinned major version (vN) of its publisher', async () => {
    for (const name of ['ci.yml', 'e2e.yml', 'release.yml']) {
      for (const job of Object.values((await workflow(name)).jobs)) {
        for (const { uses } of job.steps) {
          if (uses === undefined || uses === './') continue;
          expect(`${name}: ${uses}`).toMatch(/: (actions|docker)\/[a-z-]+@v\d+$/);
        }
      }
    }
  });

  it('ci.yml runs .ci/run itself on pull requests and pushes to main, and the CLI on Node 20 and 24', async () => {
    const ci = await workflow('ci.yml');
    expect(Object.keys(ci.on).sort()).toEqual(['pull_request', 'push']);
    expect(ci.on.push).toEqual({ branches: ['main'] });
    const ciRun = Object.values(ci.jobs).find((j) => /\bbash \.ci\/run\b/.test(runs(j)));
    expect(ciRun).toBeDefined();
    // as root, so .ci/run installs its Debian packages (apt-get) the way it does on a clean machine
    expect(runs(ciRun!)).toMatch(/sudo .*bash \.ci\/run/);
    expect(stepUsing(ciRun!, 'actions/setup-go')).toHaveLength(1);
    const cli = Object.values(ci.jobs).find((j) => j.strategy?.matrix?.node);
    expect(cli?.strategy?.matrix?.node).toEqual([20, 24]);
    expect(stepUsing(cli!, 'actions/setup-node')[0].with?.['node-version']).toBe('${{ matrix.node }}');
    expect(runs(cli!)).toMatch(/__tests__\/integration\/cli\.test\.ts/);
    expect(runs(cli!)).toMatch(/node dist\/cli\.js --version/);
  });

  it('e2e.yml: two build jobs push linux/amd64 and linux/arm64 by digest with provenance mode=max and an SBOM', async () => {
    const e2e = await workflow('e2e.yml');
    const build = e2e.jobs.build;
    expect(build.strategy?.matrix?.platform).toEqual(['linux/amd64', 'linux/arm64']);
    expect(build.services?.registry.image).toMatch(/^registry:\d+$/);
    expect(stepUsing(build, 'docker/setup-qemu-action')).toHaveLength(1);
    expect(stepUsing(build, 'docker/setup-buildx-action')[0].with?.['driver-opts']).toBe('network=host');
    const [push] = stepUsing(build, 'docker/build-push-action');
    expect(push.with).toMatchObject({ platforms: '${{ matrix.platform }}', provenance: 'mode=max', sbom: true });
    expect(push.with?.outputs).toMatch(/push-by-digest=true/);
    expect(push.with?.outputs).toMatch(/push=true/);
    // the digest is what the merge job gets
    expect(JSON.stringify(build.steps)).toContain('steps.build.outputs.digest');
    expect(stepUsing(build, 'actions/upload-artifact')).toHaveLength(1);
  });

  it('e2e.yml: the action (uses: ./) merges the repo@digest list, into the same registry and into another, then imagetools finds both platforms’ provenance and SBOM', async () => {
    const e2e = await workflow('e2e.yml');
    const merge = e2e.jobs.merge;
    expect(merge.needs).toBe('build');
    const [step] = merge.steps.filter((s) => s.uses === './');
    expect(step.with).toMatchObject({ sources: '${{ steps.sources.outputs.list }}', platforms: 'linux/amd64,linux/arm64' });
    expect(stepUsing(merge, 'actions/download-artifact')).toHaveLength(1);
    // two registry services; the cross-registry leg targets the other one
    const ports = Object.values(merge.services ?? {}).map((s) => s.ports?.[0]);
    expect(ports).toEqual(['5000:5000', '5001:5000']);
    const targets = (merge.strategy?.matrix?.include ?? []).map((leg) => leg.target.split('/')[0]);
    expect(targets).toEqual(['localhost:5000', '127.0.0.1:5001']);
    const script = runs(merge);
    expect(script).toContain(`imagetools inspect "$REF" --format '{{json .Provenance}}'`);
    expect(script).toContain(`imagetools inspect "$REF" --format '{{json .SBOM}}'`);
    expect(script).toMatch(/for platform in linux\/amd64 linux\/arm64/);
    expect(script).toContain('.[$p].SLSA');
    expect(script).toContain('.[$p].SPDX');
  });

  it('release.yml: on a published release, checks dist, version and CHANGELOG, then moves the major tag (the only job that may write)', async () => {
    const release = await workflow('release.yml');
    expect(release.on).toEqual({ release: { types: ['published'] } });
    expect(release.permissions).toEqual({ contents: 'read' });
    const { check, 'move-major-tag': move } = release.jobs;
    expect(runs(check)).toContain('npm run check-dist');
    expect(runs(check)).toContain('scripts/release-check.ts "$TAG"');
    expect(move.needs).toBe('check');
    expect(move.if).toBe("needs.check.outputs.move == 'true'");
    expect(move.permissions).toEqual({ contents: 'write' });
    expect(runs(move)).toMatch(/git tag --force --annotate "\$MAJOR"/);
    expect(runs(move)).toMatch(/git push --force origin "refs\/tags\/\$MAJOR"/);
  });
});

describe('.github/dependabot.yml', () => {
  // dependabot's patterns: `*` matches any run of characters
  const matches = (pattern: string, name: string) =>
    new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(name);
  type Group = { patterns?: string[]; 'exclude-patterns'?: string[] };
  const groupOf = (groups: Record<string, Group>, name: string) =>
    Object.entries(groups).find(
      ([, g]) => (g.patterns ?? []).some((p) => matches(p, name)) && !(g['exclude-patterns'] ?? []).some((p) => matches(p, name)),
    )?.[0];

  it('updates npm and github-actions; every @actions/* package and undici land in one group, apart from the dev tooling', async () => {
    const config = parse(await read('.github/dependabot.yml')) as {
      version: number;
      updates: Array<{ 'package-ecosystem': string; directory: string; groups?: Record<string, Group> }>;
    };
    expect(config.version).toBe(2);
    expect(config.updates.map((u) => u['package-ecosystem']).sort()).toEqual(['github-actions', 'npm']);
    const npm = config.updates.find((u) => u['package-ecosystem'] === 'npm')!;
    const runtime = ['@actions/core', '@actions/exec', '@actions/http-client', 'undici'].map((n) => groupOf(npm.groups!, n));
    expect(new Set(runtime).size).toBe(1);
    expect(runtime[0]).toBeDefined();
    expect(groupOf(npm.groups!, 'typescript')).not.toBe(runtime[0]);
    expect(groupOf(npm.groups!, 'typescript')).toBeDefined();
    // the runtime packages this project has are the ones the group is for
    const pkg = JSON.parse(await read('package.json')) as {
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
    };
    const names = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies });
    for (const name of names.filter((n) => n.startsWith('@actions/') || n === 'undici'))
      expect(groupOf(npm.groups!, name)).toBe(runtime[0]);
  });
});

describe('action.yml', () => {
  it('follows the action metadata schema', () => {
    expect(actionMetadataProblems(actionYml)).toEqual([]);
  });

  it('the schema refuses a misspelt key, a runtime the runners do not start, a missing description, a duplicate key', () => {
    expect(actionMetadataProblems(actionYml.replace("    description: 'Digest of", "    descripton: 'Digest of"))).toEqual([
      "/outputs/digest: must have required property 'description'",
      '/outputs/digest: unknown key "descripton"',
    ]);
    expect(actionMetadataProblems(actionYml.replace('using: node24', 'using: node16'))).toEqual([
      '/runs/using: must be equal to one of the allowed values (node20, node24, composite, docker)',
    ]);
    expect(actionMetadataProblems(actionYml.replace('  main: dist/index.js', '  mian: dist/index.js'))).toEqual([
      "/runs: must have required property 'main'",
      '/runs: unknown key "mian"',
    ]);
    expect(actionMetadataProblems(actionYml.replace(/^description: .*\n/m, ''))).toEqual(["/: must have required property 'description'"]);
    expect(actionMetadataProblems(actionYml.replace("    default: 'keep'\n", "    default: 'keep'\n    default: 'strip'\n"))[0]).toMatch(
      /Map keys must be unique/,
    );
  });

  it('README documents every input and output, and no other', async () => {
    const readme = await read('README.md');
    const table = (heading: string) => {
      const section = readme.split(/^## /m).find((s) => s.startsWith(`${heading}\n`)) ?? '';
      return section
        .split('\n')
        .filter((l) => /^\| `/.test(l))
        .flatMap((l) => [...l.split('|')[1].matchAll(/`([^`]+)`/g)].map((m) => m[1]))
        .sort();
    };
    const action = readActionMetadata(actionYml);
    expect(table('Inputs')).toEqual([...action.inputs.keys()].sort());
    expect(table('Outputs')).toEqual([...action.outputs].sort());
  });
});

// The workflow examples live in README.md and in the pages of docs/: each file is linted on its
// own (problems name it and its line), and the counts hold over all of them together.
const markdownFiles = (dir: string): string[] =>
  readdirSync(join(root, dir), { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => (e.isDirectory() ? markdownFiles(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : []));
const exampleFiles = ['README.md', ...(existsSync(join(root, 'docs')) ? markdownFiles('docs') : [])];
const lints = new Map<string, Promise<{ text: string; result: ReadmeLint }>>();
const lintOf = (file: string) => {
  if (!lints.has(file))
    lints.set(
      file,
      read(file).then(async (text) => ({ text, result: await lintMarkdownWorkflows(text, actionYml, repository, file) })),
    );
  return lints.get(file)!;
};
// a YAML line `uses: acme/manifest-merge@…`, in whatever fence; prose mentions are not examples
const usage = (l: string) => l.trimStart().replace(/^-\s+/, '').startsWith(`uses: ${repository}@`);
const countUsage = (text: string) => text.split('\n').filter(usage).length;

describe('README workflow examples', () => {
  describe.each(exampleFiles)('%s', (file) => {
    it('every workflow, job and steps block lints clean and uses only declared inputs and outputs', async () => {
      const { text, result } = await lintOf(file);
      expect(formatProblems(result.problems)).toBe('');
      // no example of this action escapes the check: each one is in a checked block
      expect(result.checked.reduce((n, b) => n + countUsage(b.text), 0)).toBe(countUsage(text));
    });
  });

  it('README.md and docs/ together hold more than 5 examples, of every kind of block, each checked', async () => {
    expect(exampleFiles).toContain('README.md');
    const all = await Promise.all(exampleFiles.map(lintOf));
    const examples = all.reduce((n, { text }) => n + countUsage(text), 0);
    expect(examples).toBeGreaterThan(5);
    expect(all.reduce((n, { result }) => n + result.checked.reduce((m, b) => m + countUsage(b.text), 0), 0)).toBe(examples);
    expect(new Set(all.flatMap(({ result }) => result.checked.map((b) => b.kind)))).toEqual(new Set(['steps', 'workflow', 'jobs', 'job']));
    // the front door keeps examples of its own (the quick start and the common workflows)
    expect(countUsage(all[0].text)).toBeGreaterThan(0);
  });

  const example = (body: string) => `# Example\n\nText.\n\n\`\`\`yaml\n${body}\n\`\`\`\n`;
  const step = (withLines: string, after = '') =>
    example(
      `      - id: merge\n        uses: acme/manifest-merge@v1\n        with:\n          sources: ghcr.io/acme/app:a\n          tags: ghcr.io/acme/app:latest\n${withLines}${after}`,
    );

  it('fails on a misspelt input, naming it and its README line', async () => {
    const result = await lintMarkdownWorkflows(step('          platfroms: linux/amd64\n'), actionYml, repository);
    expect(result.problems.map((p) => `${p.line} ${p.rule}`)).toEqual(['11 action.yml', '11 action']);
    expect(result.problems[0].message).toMatch(/^input "platfroms" is not declared in action.yml/);
    expect(result.problems[1].message).toMatch(/input "platfroms" is not defined in action "Manifest Merge"/);
  });

  it('fails on an undeclared output, a missing required input, a pinned SHA with a bad input', async () => {
    const output = await lintMarkdownWorkflows(
      step('', '      - run: echo "${{ steps.merge.outputs.index-digest }}"\n'),
      actionYml,
      repository,
    );
    expect(output.problems.map((p) => `${p.line} ${p.rule}: ${p.message}`)).toEqual([
      expect.stringMatching(/^11 action.yml: "steps.merge.outputs.index-digest": action.yml declares no output "index-digest"/),
      expect.stringMatching(/^11 expression: property "index-digest" is not defined/),
    ]);
    // (action.yml may make no input required; this one does)
    const requiring =
      'name: x\ndescription: y\ninputs:\n  sources: { description: s, required: true }\n  tags: { description: t, required: true }\nruns: { using: node24, main: dist/index.js }\n';
    const missing = await lintMarkdownWorkflows(example('- uses: acme/manifest-merge@v1\n  with: { sources: a }'), requiring, repository);
    expect(missing.problems.map((p) => `${p.line} ${p.rule}: ${p.message}`)).toEqual([
      '6 action.yml: required input "tags" is missing',
      expect.stringMatching(/^6 action: missing input "tags" which is required by action "x"/),
    ]);
    const pinned = await lintMarkdownWorkflows(
      example(
        '- uses: acme/manifest-merge@0123456789abcdef0123456789abcdef01234567 # v1.0.0\n  with: { sources: a, tags: b, dry-run: true }',
      ),
      actionYml,
      repository,
    );
    expect(pinned.problems.map((p) => `${p.line} ${p.rule}`)).toEqual(['7 action.yml', '7 action']);
  });

  it('reports actionlint’s findings (expressions, shellcheck, other actions’ inputs) and broken YAML at their README lines', async () => {
    const body = [
      'jobs:',
      '  merge:',
      '    runs-on: ubuntu-latest',
      '    steps:',
      '      - uses: docker/login-action@v3',
      '        with: { registry: ghcr.io, user: x }',
      '      - run: echo ${{ github.shaa }}',
      '      - run: cd $HOME/x',
    ].join('\n');
    const result = await lintMarkdownWorkflows(example(body), actionYml, repository);
    expect(result.problems.map((p) => `${p.line} ${p.rule}`)).toEqual(['11 action', '12 expression', '13 shellcheck']);
    // steps of one job pasted above another job: no YAML document, reported where it breaks
    const broken = await lintMarkdownWorkflows(
      example('      - uses: acme/manifest-merge@v1\n\n  merge:\n    needs: build'),
      actionYml,
      repository,
    );
    expect(broken.problems.map((p) => `${p.line} ${p.rule}: ${p.message}`)).toEqual([
      '8 yaml: not valid YAML: Unexpected scalar at node end',
    ]);
  });

  it('wraps each kind of fragment into a workflow, keeping its lines in order; other yaml is left alone', () => {
    expect(blockKind('- uses: a/b@v1\n- run: x')).toBe('steps');
    expect(blockKind('    permissions: {}\n    steps:\n      - run: x')).toBe('job');
    expect(blockKind('  job:\n    runs-on: ubuntu-latest\n    steps: [{ run: x }]')).toBe('jobs');
    expect(blockKind('jobs:\n  a: { runs-on: x, steps: [{ run: y }] }')).toBe('workflow');
    expect(blockKind('auths:\n  ghcr.io: {}')).toBe('other');
    const [block] = yamlBlocks(example('      - uses: a/b@v1\n      - run: x'));
    expect(block.line).toBe(6);
    const wrapped = wrapBlock(block)!;
    expect(wrapped.workflow.split('\n').slice(wrapped.offset, wrapped.offset + 2)).toEqual(['      - uses: a/b@v1', '      - run: x']);
    expect(parse(wrapped.workflow)).toEqual({
      on: 'workflow_dispatch',
      jobs: { readme: { 'runs-on': 'ubuntu-latest', steps: [{ uses: 'a/b@v1' }, { run: 'x' }] } },
    });
    // sh, json and text fences are not yaml
    expect(yamlBlocks('```sh\nls\n```\n```json\n{}\n```\n````yaml\n```\nx: 1\n````\n')).toEqual([{ line: 8, text: '```\nx: 1' }]);
  });

  it('steps.<id>.outputs of another action are not ours to check', () => {
    const wf =
      'on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - id: meta\n        uses: docker/metadata-action@v5\n      - run: echo ${{ steps.meta.outputs.tags }}\n';
    expect(actionUsageProblems(wf, readActionMetadata(actionYml), repository)).toEqual([]);
  });
});

describe('release checks (scripts/release-check.ts, run by release.yml)', () => {
  it('this commit is releasable as its package.json version, and the major tag would move to it', async () => {
    const { version } = JSON.parse(await read('package.json')) as { version: string };
    const plan = checkRelease(root, `v${version}`, [`v${version}`, 'v1', 'v0.9.0']);
    expect(plan).toMatchObject({ version, major: `v${version.split('.')[0]}`, moveMajor: true });
  });

  async function repo(version: string, changelog: string, lockVersion = version): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'release-check-'));
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'x', version }));
    await writeFile(
      join(dir, 'package-lock.json'),
      JSON.stringify({ name: 'x', version: lockVersion, packages: { '': { version: lockVersion } } }),
    );
    await writeFile(join(dir, 'CHANGELOG.md'), changelog);
    return dir;
  }
  const changelog = (v: string) =>
    `# Changelog\n\n## [Unreleased]\n\n## [${v}] - 2026-12-01\n\n### Fixed\n\n- a thing\n\n[Unreleased]: https://x/compare/v${v}...HEAD\n[${v}]: https://x/releases/tag/v${v}\n`;
  const problems = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      if (error instanceof ReleaseCheckError) return error.problems;
      throw error;
    }
    return [];
  };

  it('refuses a tag that differs from package.json or the lockfile, or that is not vX.Y.Z', async () => {
    const dir = await repo('1.2.0', changelog('1.2.0'), '1.1.0');
    expect(problems(() => checkRelease(dir, 'v1.2.0', []))).toEqual(['package-lock.json has version "1.1.0", the tag says 1.2.0']);
    expect(problems(() => checkRelease(dir, 'v1.3.0', []))).toEqual([
      'package.json has version "1.2.0", the tag says 1.3.0 (npm version 1.3.0 --no-git-tag-version)',
      'package-lock.json has version "1.1.0", the tag says 1.3.0',
      'CHANGELOG.md has no "## [1.3.0] - YYYY-MM-DD" entry (move the [Unreleased] entries under it)',
    ]);
    expect(problems(() => checkRelease(dir, '1.2.0', []))).toEqual(['tag "1.2.0" is not vX.Y.Z (or vX.Y.Z-prerelease)']);
    expect(problems(() => checkRelease(dir, 'v1', []))).toEqual(['tag "v1" is not vX.Y.Z (or vX.Y.Z-prerelease)']);
  });

  it('needs a dated, non-empty CHANGELOG entry with its link', () => {
    expect(changelogProblems(changelog('1.2.0'), '1.2.0')).toEqual([]);
    expect(changelogProblems(changelog('1.2.0').replace(' - 2026-12-01', ''), '1.2.0')).toEqual([
      expect.stringMatching(/no "## \[1\.2\.0\] - YYYY-MM-DD" entry/),
    ]);
    expect(changelogProblems(changelog('1.2.0').replace('### Fixed\n\n- a thing\n', ''), '1.2.0')).toEqual([
      "CHANGELOG.md's entry for 1.2.0 is empty",
    ]);
    expect(changelogProblems(changelog('1.2.0').replace(/^\[1\.2\.0\]: .*$/m, ''), '1.2.0')).toEqual([
      'CHANGELOG.md has no link "[1.2.0]: …" at its end',
    ]);
    // 1.2.0 must not match 1.2.00 or 1x2x0
    expect(changelogProblems(changelog('1.2.00'), '1.2.0')).toHaveLength(1);
    expect(changelogProblems(changelog('1x2x0'), '1.2.0')).toHaveLength(1);
  });

  it('moves the major tag only to the newest final release of that major', async () => {
    const fix = await repo('1.0.5', changelog('1.0.5'));
    expect(checkRelease(fix, 'v1.0.5', ['v1', 'v1.0.4', 'v1.2.0', 'v2.0.0'])).toMatchObject({
      major: 'v1',
      moveMajor: false,
      reason: 'v1.2.0 is newer than v1.0.5: v1 stays',
    });
    expect(checkRelease(fix, 'v1.0.5', ['v1', 'v1.0.4', 'v1.1.0-rc.1', 'v2.0.0'])).toMatchObject({ major: 'v1', moveMajor: true });
    const rc = await repo('1.1.0-rc.1', changelog('1.1.0-rc.1'));
    expect(checkRelease(rc, 'v1.1.0-rc.1', ['v1.0.5'])).toMatchObject({
      major: 'v1',
      moveMajor: false,
      reason: 'v1.1.0-rc.1 is a prerelease: v1 stays',
    });
    const next = await repo('2.0.0', changelog('2.0.0'));
    expect(checkRelease(next, 'v2.0.0', ['v1', 'v1.9.0'])).toMatchObject({ major: 'v2', moveMajor: true });
  });
});
