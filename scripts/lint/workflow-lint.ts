// Lints the workflows users copy from README.md: every fenced `yaml` block that is a workflow,
// a map of jobs, a job or a list of steps is wrapped into a minimal workflow (fragments get an
// `on:`, a job id and `runs-on:` around them) and checked twice:
//   - by actionlint (syntax, expressions, popular actions' inputs, shellcheck on `run:`), with
//     this action's steps pointed at `./` so that actionlint reads our action.yml;
//   - against action.yml here: every `with:` key of this action's steps is a declared input,
//     every required input is given, every `steps.<id>.outputs.X` of such a step is a
//     declared output.
// Problems carry README line numbers. Also lints .github/workflows/ itself.
//
// CLI: `node --import tsx scripts/lint/workflow-lint.ts [README.md]`.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { ensureGoTool } from '../support/go-tools.js';

const execFileAsync = promisify(execFile);

export interface YamlBlock {
  /** README line of the block's first line (the one after the opening fence), 1-based */
  line: number;
  text: string;
}

/** Every fenced block whose info string is `yaml` or `yml`, in order. */
export function yamlBlocks(markdown: string): YamlBlock[] {
  const blocks: YamlBlock[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^( {0,3})(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i]);
    if (!open) continue;
    const fence = open[2];
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(lines[j]);
      if (close && close[1][0] === fence[0] && close[1].length >= fence.length) break;
      body.push(lines[j]);
    }
    if (/^ya?ml$/i.test(open[3])) blocks.push({ line: i + 2, text: body.join('\n') });
    i = j;
  }
  return blocks;
}

export type BlockKind = 'workflow' | 'jobs' | 'job' | 'steps' | 'other';

type Mapping = Record<string, unknown>;
const isMapping = (v: unknown): v is Mapping => typeof v === 'object' && v !== null && !Array.isArray(v);
const JOB_KEYS = ['runs-on', 'steps', 'uses', 'needs', 'strategy', 'services', 'container'];

/** What a block is, from its parsed YAML (which may throw on a block that is not YAML). */
export function blockKind(text: string): BlockKind {
  const doc: unknown = parse(dedent(text), { uniqueKeys: true });
  if (Array.isArray(doc)) return doc.every((s) => isMapping(s) && ('uses' in s || 'run' in s)) && doc.length > 0 ? 'steps' : 'other';
  if (!isMapping(doc)) return 'other';
  if ('jobs' in doc) return 'workflow';
  if (Object.keys(doc).some((k) => JOB_KEYS.includes(k))) return 'job';
  const values = Object.values(doc);
  if (values.length > 0 && values.every((v) => isMapping(v) && Object.keys(v).some((k) => JOB_KEYS.includes(k)))) return 'jobs';
  return 'other';
}

function dedent(text: string): string {
  const lines = text.split('\n');
  const indents = lines.filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)![0].length);
  const cut = indents.length > 0 ? Math.min(...indents) : 0;
  return lines.map((l) => l.slice(cut)).join('\n');
}

function indent(text: string, by: number): string {
  const pad = ' '.repeat(by);
  return text
    .split('\n')
    .map((l) => (l.trim() === '' ? l : pad + l))
    .join('\n');
}

export interface WrappedBlock extends YamlBlock {
  kind: Exclude<BlockKind, 'other'>;
  /** a complete workflow */
  workflow: string;
  /** lines of `workflow` before the block's first line */
  offset: number;
}

/** The block as a complete workflow, its own lines kept in order (after `offset` added lines). */
export function wrapBlock(block: YamlBlock): WrappedBlock | undefined {
  const kind = blockKind(block.text);
  const body = dedent(block.text);
  const on = 'on: workflow_dispatch';
  let header: string[];
  let text: string;
  switch (kind) {
    case 'other':
      return undefined;
    case 'workflow': {
      const doc = parse(body) as Mapping;
      header = 'on' in doc ? [] : [on];
      text = body;
      break;
    }
    case 'jobs':
      header = [on, 'jobs:'];
      text = indent(body, 2);
      break;
    case 'job': {
      const doc = parse(body) as Mapping;
      header = [on, 'jobs:', '  readme:', ...('runs-on' in doc || 'uses' in doc ? [] : ['    runs-on: ubuntu-latest'])];
      text = indent(body, 4);
      break;
    }
    case 'steps':
      header = [on, 'jobs:', '  readme:', '    runs-on: ubuntu-latest', '    steps:'];
      text = indent(body, 6);
      break;
  }
  return { ...block, kind, workflow: [...header, text].join('\n') + '\n', offset: header.length };
}

export interface ActionMetadata {
  inputs: Map<string, { required: boolean }>;
  outputs: Set<string>;
}

export function readActionMetadata(text: string): ActionMetadata {
  const doc = parse(text) as { inputs?: Record<string, { required?: boolean; default?: string }>; outputs?: Record<string, unknown> };
  return {
    // an input with a default is never missing, whatever `required` says (as on the runner)
    inputs: new Map(Object.entries(doc.inputs ?? {}).map(([id, i]) => [id, { required: i.required === true && i.default === undefined }])),
    outputs: new Set(Object.keys(doc.outputs ?? {})),
  };
}

export interface UsageProblem {
  /** line in the workflow text (1-based) */
  line: number;
  message: string;
}

/** Whether `uses` names this action: `owner/name@ref` (any ref, so pins count) or `./`. */
export function usesThisAction(uses: string, repository: string): boolean {
  return uses === './' || uses.toLowerCase().startsWith(`${repository.toLowerCase()}@`);
}

/** Line (1-based) of the first line at or after `from` that matches. */
function lineOf(lines: string[], from: number, test: (line: string) => boolean): number {
  for (let i = Math.max(0, from - 1); i < lines.length; i++) if (test(lines[i])) return i + 1;
  return from;
}

/**
 * Every step of `workflow` (its text) that uses this action against its metadata: `with:`
 * keys are declared inputs, required inputs are there, and every `steps.<id>.outputs.X` in the
 * same job names a declared output.
 */
export function actionUsageProblems(workflow: string, action: ActionMetadata, repository: string): UsageProblem[] {
  const lines = workflow.split('\n');
  const doc = parse(workflow) as { jobs?: Record<string, { steps?: Array<Record<string, unknown>> }> };
  const problems: UsageProblem[] = [];
  let cursor = 1;
  for (const job of Object.values(doc.jobs ?? {})) {
    const ours = new Set<string>();
    for (const step of job?.steps ?? []) {
      if (typeof step.uses !== 'string') continue;
      const uses = step.uses;
      const at = lineOf(lines, cursor, (l) => l.includes(uses));
      cursor = at + 1;
      if (!usesThisAction(uses, repository)) continue;
      if (typeof step.id === 'string') ours.add(step.id);
      const given = isMapping(step.with) ? Object.keys(step.with) : [];
      for (const key of given) {
        if (action.inputs.has(key)) continue;
        const line = lineOf(lines, at, (l) => new RegExp(`(^|[\\s{,])${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*:`).test(l));
        problems.push({ line, message: `input "${key}" is not declared in action.yml (inputs: ${[...action.inputs.keys()].join(', ')})` });
      }
      for (const [id, input] of action.inputs) {
        if (input.required && !given.includes(id)) problems.push({ line: at, message: `required input "${id}" is missing` });
      }
    }
    if (ours.size === 0) continue;
    const jobText = JSON.stringify(job);
    for (const m of jobText.matchAll(/steps\.([A-Za-z_][\w-]*)\.outputs\.([A-Za-z_][\w-]*)/g)) {
      const [ref, id, output] = m;
      if (!ours.has(id) || action.outputs.has(output)) continue;
      const line = lineOf(lines, 1, (l) => l.includes(ref));
      problems.push({ line, message: `"${ref}": action.yml declares no output "${output}" (outputs: ${[...action.outputs].join(', ')})` });
    }
  }
  return problems;
}

export interface LintProblem {
  /** the file the problem is reported against (README.md, or the workflow file) */
  file: string;
  line: number;
  message: string;
  /** actionlint's rule, or "action.yml" for our own checks */
  rule: string;
}

interface ActionlintError {
  message: string;
  filepath: string;
  line: number;
  column: number;
  kind: string;
}

/** shellcheck on PATH (actionlint checks `run:` scripts with it, as on GitHub's runners). */
export function findShellcheck(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    if (existsSync(join(dir, 'shellcheck'))) return join(dir, 'shellcheck');
  }
  throw new Error(
    'shellcheck is not on PATH: actionlint needs it to check run: scripts (Debian: apt-get install shellcheck; .ci/run installs it)',
  );
}

/** actionlint's findings in the project at `root` (a directory with .git and .github/workflows). */
export async function actionlint(root: string, files: string[] = []): Promise<ActionlintError[]> {
  const bin = await ensureGoTool('actionlint');
  const args = ['-format', '{{json .}}', `-shellcheck=${findShellcheck()}`, '-pyflakes=', ...files];
  try {
    const { stdout } = await execFileAsync(bin, args, { cwd: root, maxBuffer: 16 * 1024 * 1024 });
    return JSON.parse(stdout || '[]') as ActionlintError[];
  } catch (error) {
    // exit 1: problems found, printed as JSON; anything else is actionlint failing to run
    const e = error as { code?: number; stdout?: string; stderr?: string };
    if (e.code === 1 && e.stdout) return JSON.parse(e.stdout) as ActionlintError[];
    throw new Error(`actionlint failed (exit ${e.code}): ${e.stderr ?? String(error)}`);
  }
}

/** `owner/name` from package.json's repository URL: what users write in `uses:`. */
export async function repositoryName(root: string): Promise<string> {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { repository?: { url?: string } | string };
  const url = typeof pkg.repository === 'string' ? pkg.repository : (pkg.repository?.url ?? '');
  const m = /github\.com[/:]([^/]+\/[^/]+?)(\.git)?$/.exec(url);
  if (!m) throw new Error(`package.json's repository (${url}) is not a GitHub URL`);
  return m[1];
}

export interface ReadmeLint {
  /** the blocks checked, with their kind */
  checked: WrappedBlock[];
  /** README lines of yaml blocks that are not workflows, jobs or steps (not checked) */
  skipped: number[];
  problems: LintProblem[];
}

/**
 * Lints every workflow-like yaml block of `markdown` (named `file` in problems) with actionlint
 * and against `actionYml`. `repository` is this action's `owner/name`.
 */
export async function lintMarkdownWorkflows(
  markdown: string,
  actionYml: string,
  repository: string,
  file = 'README.md',
): Promise<ReadmeLint> {
  const problems: LintProblem[] = [];
  const checked: WrappedBlock[] = [];
  const skipped: number[] = [];
  for (const block of yamlBlocks(markdown)) {
    let wrapped: WrappedBlock | undefined;
    try {
      wrapped = wrapBlock(block);
    } catch (error) {
      // the parser's position is in the (dedented) block: the same line numbers, shifted
      const at = (error as { linePos?: Array<{ line: number }> }).linePos?.[0]?.line ?? 1;
      const message = (error as Error).message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
      problems.push({ file, line: block.line + at - 1, message: `not valid YAML: ${message}`, rule: 'yaml' });
      continue;
    }
    if (wrapped) checked.push(wrapped);
    else skipped.push(block.line);
  }

  const action = readActionMetadata(actionYml);
  for (const block of checked) {
    for (const p of actionUsageProblems(block.workflow, action, repository)) {
      problems.push({ file, line: block.line + p.line - 1 - block.offset, message: p.message, rule: 'action.yml' });
    }
  }

  // one throwaway project for actionlint: our action at its root, each block a workflow
  const project = await mkdtemp(join(tmpdir(), 'readme-workflows-'));
  try {
    await mkdir(join(project, '.git'));
    await mkdir(join(project, '.github', 'workflows'), { recursive: true });
    await writeFile(join(project, 'action.yml'), actionYml);
    const main = (parse(actionYml) as { runs?: { main?: string } }).runs?.main;
    if (main) {
      // actionlint checks that the action's entry point exists; the bundle's content is not its concern
      await mkdir(join(project, main, '..'), { recursive: true });
      await writeFile(join(project, main), '');
    }
    const byFile = new Map<string, WrappedBlock>();
    const ours = new RegExp(`(uses:\\s*)${repository.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}@[^\\s#]+`, 'gi');
    for (const block of checked) {
      const name = `.github/workflows/readme-line-${block.line}.yml`;
      byFile.set(name, block);
      await writeFile(join(project, name), block.workflow.replace(ours, '$1./'));
    }
    if (byFile.size > 0) {
      for (const e of await actionlint(project, [...byFile.keys()])) {
        const block = byFile.get(e.filepath);
        if (!block) throw new Error(`actionlint reported on a file it was not given: ${e.filepath}`);
        problems.push({ file, line: block.line + e.line - 1 - block.offset, message: e.message, rule: e.kind });
      }
    }
  } finally {
    await rm(project, { recursive: true, force: true });
  }
  problems.sort((a, b) => a.line - b.line);
  return { checked, skipped, problems };
}

/** actionlint over the repository's own .github/workflows/, plus our action's usage check. */
export async function lintRepositoryWorkflows(root: string): Promise<LintProblem[]> {
  const problems: LintProblem[] = (await actionlint(root)).map((e) => ({
    file: e.filepath,
    line: e.line,
    message: e.message,
    rule: e.kind,
  }));
  const action = readActionMetadata(await readFile(join(root, 'action.yml'), 'utf8'));
  const repository = await repositoryName(root);
  for (const name of await readdir(join(root, '.github', 'workflows'))) {
    if (!/\.ya?ml$/.test(name)) continue;
    const file = join('.github', 'workflows', name);
    for (const p of actionUsageProblems(await readFile(join(root, file), 'utf8'), action, repository))
      problems.push({ file, line: p.line, message: p.message, rule: 'action.yml' });
  }
  return problems;
}

export function formatProblems(problems: LintProblem[]): string {
  return problems.map((p) => `${p.file}:${p.line}: ${p.message} [${p.rule}]`).join('\n');
}

async function main(args: string[]): Promise<number> {
  const root = process.cwd();
  const readme = resolve(args[0] ?? 'README.md');
  const result = await lintMarkdownWorkflows(
    await readFile(readme, 'utf8'),
    await readFile(join(root, 'action.yml'), 'utf8'),
    await repositoryName(root),
    args[0] ?? 'README.md',
  );
  const own = await lintRepositoryWorkflows(root);
  const all = [...own, ...result.problems];
  process.stdout.write(
    `${result.checked.length} workflow blocks checked (${result.skipped.length} other yaml blocks), .github/workflows linted\n`,
  );
  if (all.length > 0) process.stdout.write(`${formatProblems(all)}\n`);
  return all.length > 0 ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
