// The GitHub Action: inputs -> engine -> outputs and job summary. Expected failures end in
// one `setFailed` message; anything else also logs its stack at debug level.
import * as core from '@actions/core';
import * as exec from '@actions/exec';
import { runMerge } from './engine.js';
import { describeError, isExpectedError } from './errors.js';
import { getInputs } from './inputs.js';
import type { Logger } from './logger.js';
import type { CommandRunner } from './registry/credentials.js';
import type { RegistryClient } from './registry/types.js';
import { createClientForInputs, mergeRequestFor } from './setup.js';
import { buildMetadata, renderReport, renderSummaryMarkdown } from './summary.js';

const actionsLogger: Logger = {
  debug: (m) => core.debug(m),
  info: (m) => core.info(m),
  warning: (m) => core.warning(m),
};

/** Credential helpers run through @actions/exec, silently: their output is a secret. */
const actionsExecRunner: CommandRunner = {
  async run(command, args, stdin) {
    const out = await exec.getExecOutput(command, args, { input: Buffer.from(stdin), silent: true, ignoreReturnCode: true });
    return { exitCode: out.exitCode, stdout: out.stdout, stderr: out.stderr };
  },
};

export async function run(): Promise<void> {
  let client: RegistryClient | undefined;
  try {
    const inputs = getInputs((name) => core.getInput(name));
    // both credential inputs are secrets (the contract; the README says they are masked)
    if (inputs.username) core.setSecret(inputs.username);
    if (inputs.password) core.setSecret(inputs.password);
    if (inputs.annotationsWarning) core.warning(inputs.annotationsWarning);
    client = createClientForInputs(inputs, { logger: actionsLogger, onSecret: (s) => core.setSecret(s), runner: actionsExecRunner });
    const result = await runMerge(mergeRequestFor(inputs), client, actionsLogger);
    core.info(renderReport(result));
    const metadata = buildMetadata(result);
    core.setOutput('digest', result.digest);
    core.setOutput('manifest', result.manifest);
    core.setOutput('platforms', result.platforms.join(','));
    core.setOutput('images', result.images.join('\n'));
    core.setOutput('metadata', JSON.stringify(metadata));
    if (inputs.summary && process.env.GITHUB_STEP_SUMMARY) {
      await core.summary.addRaw(renderSummaryMarkdown(result)).write();
    }
  } catch (error) {
    core.setFailed(describeError(error));
    if (!isExpectedError(error) && error instanceof Error && error.stack) core.debug(error.stack);
  } finally {
    await client?.close();
  }
}
