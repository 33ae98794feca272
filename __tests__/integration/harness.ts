// Shared by the integration tests: a real client on a temp DOCKER_CONFIG, and a merge runner
// that records logs (so tests can search them) and the client's request counts.
import { mkdtemp, writeFile } from 'node:fs/promises';
import type { Dispatcher } from 'undici';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MergeResult, SigningSettings } from '../../src/engine/model.js';
import { getInputs } from '../../src/action/inputs.js';
import { type Logger, createMemoryLogger } from '../../src/base/logger.js';
import { ACTION_EXPLICIT_CREDENTIALS, renderActionError } from '../../src/action/wording.js';
import type { ClientSetup } from '../../src/engine/client-setup.js';
import type { RetryOptions } from '../../src/registry/client-types.js';
import { checkStep, runStep } from '../../src/engine/run-step.js';

export interface MergeRun {
  result: MergeResult;
  logs: string[];
}

/** How the harness builds the client: where config.json is, and a retry policy (tests shorten the delays). */
export interface HarnessOptions {
  configDir?: string;
  retry?: RetryOptions;
  requestTimeoutMs?: number;
  /** test-only undici dispatcher (quirks.test.ts maps Docker Hub's host names to loopback) */
  dispatcher?: Dispatcher;
  /** where GitHub's and Docker Hub's web APIs are (cleanup.test.ts: local stand-ins, scripts/support/hosted-apis.ts) */
  githubApiUrl?: string;
  hubApiUrl?: string;
  /** `sign` / `attest`: the identity token's source and the GitHub API (sign.test.ts: a private Sigstore, scripts/support/sigstore.ts) */
  signing?: SigningSettings;
}

export interface MergeError {
  error: Error;
  /** the error as the action's log shows it (its own words for the advice) */
  message: string;
  logs: string[];
}

/** The client setup the action gives runStep, with the harness's test-only knobs. */
async function actionSetup(logger: Logger, options: HarnessOptions): Promise<ClientSetup> {
  const configDir = options.configDir ?? (await emptyDockerConfig());
  return {
    logger,
    configDir,
    explicitCredentials: ACTION_EXPLICIT_CREDENTIALS,
    retry: options.retry,
    requestTimeoutMs: options.requestTimeoutMs,
    dispatcher: options.dispatcher,
    githubApiUrl: options.githubApiUrl,
    hubApiUrl: options.hubApiUrl,
    ...(options.signing ? { signing: options.signing } : {}),
  };
}

/** Action inputs (as names → values), run through the same parsing and the same step as the action. */
export async function merge(values: Record<string, string>, options: HarnessOptions = {}): Promise<MergeRun> {
  const inputs = getInputs((name) => values[name] ?? '');
  const logger = createMemoryLogger();
  const outcomes = await runStep(inputs, await actionSetup(logger, options));
  checkStep(outcomes, inputs.spec);
  const [first] = outcomes;
  if (!first.ok) throw first.error;
  return { result: first.result, logs: logger.lines };
}

/** Runs a merge that must fail; returns the error and the logs. */
export async function mergeFailure(values: Record<string, string>, options: HarnessOptions = {}): Promise<MergeError> {
  const logger = createMemoryLogger();
  try {
    const inputs = getInputs((name) => values[name] ?? '');
    const outcomes = await runStep(inputs, await actionSetup(logger, options));
    checkStep(outcomes, inputs.spec);
  } catch (error) {
    return { error: error as Error, message: renderActionError(error), logs: logger.lines };
  }
  throw new Error('expected the merge to fail, but it succeeded');
}

export async function emptyDockerConfig(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mm-docker-config-'));
  await writeFile(join(dir, 'config.json'), '{}');
  return dir;
}

export async function dockerConfigWith(config: Record<string, unknown>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mm-docker-config-'));
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

export function basicAuth(username: string, password: string): string {
  return Buffer.from(`${username}:${password}`).toString('base64');
}
