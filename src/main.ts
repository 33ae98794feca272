// The GitHub Action: inputs -> engine -> outputs and job summary (docker/login-action's main.ts
// is the model: read inputs, do the work, `setFailed` on error). An expected failure ends in one
// message worded for the action; anything else also prints its stack, which names src/ lines
// (dist/ is source-mapped).
import * as core from '@actions/core';
import { runMerge } from './engine.js';
import { isExpectedError, renderError } from './errors.js';
import { getInputs } from './inputs.js';
import type { Logger } from './logger.js';
import { redactSecrets } from './redact.js';
import { mapStackTrace } from './stack.js';
import { createClient, useClient } from './setup.js';
import { buildMetadata, renderReport, renderSummaryMarkdown } from './summary.js';

/** Every line through redaction: a registry may echo a credential, and a secret shorter than the runner masks still counts. */
const actionsLogger: Logger = {
  debug: (m) => core.debug(redactSecrets(m)),
  info: (m) => core.info(redactSecrets(m)),
  warning: (m) => core.warning(redactSecrets(m)),
  group: (name, work) => core.group(name, work),
};

export async function run(): Promise<void> {
  try {
    const inputs = getInputs((name) => core.getInput(name));
    // The password is a secret; the username is not (masking it hid every `ghcr.io/<user>/app`).
    if (inputs.client.credentials) core.setSecret(inputs.client.credentials.password);
    for (const warning of inputs.warnings) actionsLogger.warning(warning);
    const client = createClient(inputs.client, { logger: actionsLogger, onSecret: (s) => core.setSecret(s), surface: 'action' });
    const result = await useClient(client, actionsLogger, (c) => runMerge(inputs.request, c, actionsLogger));
    actionsLogger.info(renderReport(result));
    core.setOutput('digest', result.digest);
    core.setOutput('manifest', result.manifest);
    core.setOutput('platforms', result.platforms.join(','));
    core.setOutput('images', result.images.join('\n'));
    core.setOutput('metadata', JSON.stringify(buildMetadata(result)));
    if (inputs.summary && process.env.GITHUB_STEP_SUMMARY) {
      await core.summary.addRaw(renderSummaryMarkdown(result)).write();
    }
  } catch (error) {
    core.setFailed(renderError(error, 'action'));
    if (!isExpectedError(error)) core.error(redactSecrets(error instanceof Error && error.stack ? mapStackTrace(error.stack) : String(error)));
  }
}
