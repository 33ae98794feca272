// Shared by the integration tests that run the built bundles as users and the runner start them:
// `node dist/cli.js …` and `node dist/index.js` (INPUT_* variables, GITHUB_OUTPUT and
// GITHUB_STEP_SUMMARY files), each in an environment of PATH and a temp HOME/DOCKER_CONFIG only.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// the bundles under test: dist/, or a trial build elsewhere ($MANIFEST_MERGE_DIST, as scripts/bundle.mjs writes it)
export const CLI = resolve(process.env.MANIFEST_MERGE_DIST ?? 'dist', 'cli.js');
export const ACTION = resolve(process.env.MANIFEST_MERGE_DIST ?? 'dist', 'index.js');

export interface NodeRun {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export interface NodeOptions {
  /** HOME and DOCKER_CONFIG of the child, unless env sets them. */
  home: string;
  /** Added to the environment last, so it may override PATH, HOME and DOCKER_CONFIG. */
  env?: Record<string, string>;
  /** Written to the child's standard input, which is then closed (closed empty without it). */
  stdin?: string;
}

/** `node ARGS` with only PATH, HOME and DOCKER_CONFIG (plus options.env) in its environment. */
export function runNode(args: string[], options: NodeOptions): Promise<NodeRun> {
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH ?? '', HOME: options.home, DOCKER_CONFIG: options.home, ...options.env },
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => stdout.push(d));
  child.stderr.on('data', (d: Buffer) => stderr.push(d));
  child.stdin.end(options.stdin ?? '');
  return new Promise((done) =>
    child.on('close', (code) => done({ code, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString() })),
  );
}

export interface CliOptions extends NodeOptions {
  /** Options for node itself, before the script (e.g. `--import`). */
  nodeArgs?: string[];
}

/** The built CLI, `node [nodeArgs] dist/cli.js ARGS`. */
export function runCli(args: string[], options: CliOptions): Promise<NodeRun> {
  const { nodeArgs = [], ...rest } = options;
  return runNode([...nodeArgs, CLI, ...args], rest);
}

export interface ActionOptions {
  /** Added to the environment last, after the INPUT_* variables (e.g. PATH, RUNNER_DEBUG). */
  env?: Record<string, string>;
  /** HOME of the child; the run's own temp directory without it. */
  home?: string;
  /** DOCKER_CONFIG: a directory used as is, or the config.json to write in `<temp dir>/docker` (`{}` without it). */
  dockerConfig?: string | Record<string, unknown>;
  /** Where the run's temp directory (RUNNER_TEMP, the GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files) is made, as a mkdtemp prefix. */
  tempPrefix?: string;
  /** false: no GITHUB_STEP_SUMMARY variable at all (summary is then ''). */
  stepSummary?: boolean;
}

export interface ActionRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The GITHUB_OUTPUT file, parsed. */
  outputs: Record<string, string>;
  /** The GITHUB_OUTPUT file as written. */
  outputText: string;
  /** The GITHUB_STEP_SUMMARY file. */
  summary: string;
}

/** Parses the GITHUB_OUTPUT file format (`name<<DELIMITER\nvalue\nDELIMITER`, and `name=value` lines). */
export function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const match = /^([^<=]+)<<(.+)$/.exec(lines[i]);
    if (match) {
      const [, name, delimiter] = match;
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i]);
      outputs[name] = value.join('\n');
    } else if (lines[i].includes('=')) {
      const at = lines[i].indexOf('=');
      outputs[lines[i].slice(0, at)] = lines[i].slice(at + 1);
    }
  }
  return outputs;
}

/** The action bundle as the runner starts it: `node dist/index.js` with INPUT_NAME for every input. */
export async function runAction(inputs: Record<string, string>, options: ActionOptions = {}): Promise<ActionRun> {
  const dir = await mkdtemp(options.tempPrefix ?? join(tmpdir(), 'mm-action-'));
  const outputFile = join(dir, 'output');
  const summaryFile = join(dir, 'summary');
  const stepSummary = options.stepSummary ?? true;
  await writeFile(outputFile, '');
  if (stepSummary) await writeFile(summaryFile, '');
  let dockerConfig: string;
  if (typeof options.dockerConfig === 'string') {
    dockerConfig = options.dockerConfig;
  } else {
    dockerConfig = join(dir, 'docker');
    await mkdir(dockerConfig);
    await writeFile(join(dockerConfig, 'config.json'), JSON.stringify(options.dockerConfig ?? {}));
  }
  const inputEnv = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v]));
  const run = await runNode([ACTION], {
    home: options.home ?? dir,
    env: {
      DOCKER_CONFIG: dockerConfig,
      GITHUB_OUTPUT: outputFile,
      ...(stepSummary ? { GITHUB_STEP_SUMMARY: summaryFile } : {}),
      RUNNER_TEMP: dir,
      ...inputEnv,
      ...options.env,
    },
  });
  const outputText = await readFile(outputFile, 'utf8');
  return {
    code: run.code,
    stdout: run.stdout.toString(),
    stderr: run.stderr,
    outputs: parseOutputFile(outputText),
    outputText,
    summary: stepSummary ? await readFile(summaryFile, 'utf8') : '',
  };
}
