// The GitHub Action: inputs -> the step -> outputs and job summary (docker/login-action's main.ts
// is the model: read inputs, do the work, `setFailed` on error). An expected failure ends in one
// message worded for the action; anything else also prints its stack, which names src/ lines
// (dist/ is source-mapped).
import { signingFromEnvironment } from '../request/signing.js';
import * as core from '@actions/core';
import { isExpectedError } from '../base/errors.js';
import type { Logger } from '../base/logger.js';
import { redactSecrets } from '../base/redact.js';
import { mapStackTrace } from '../base/stack.js';
import { checkStep, runStep } from '../engine/run-step.js';
import { readRunContext, wantsGithubAnnotations, withGithubAnnotations } from './github-context.js';
import { getInputs } from './inputs.js';
import { writeOutputs } from './outputs.js';
import { ACTION_EXPLICIT_CREDENTIALS, renderActionError } from './wording.js';

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
    if (inputs.client.githubToken) core.setSecret(inputs.client.githubToken);
    for (const warning of inputs.warnings) actionsLogger.warning(warning);
    // the run's context (and the event file, if at all) is read only when an image takes its annotations
    const annotated = inputs.images.some((image) => wantsGithubAnnotations(image.request, inputs.githubAnnotations));
    const context = annotated ? readRunContext(process.env, actionsLogger.warning) : undefined;
    const images = context
      ? inputs.images.map((image) => ({ ...image, request: withGithubAnnotations(image.request, inputs.githubAnnotations, context) }))
      : inputs.images;
    const outcomes = await runStep(
      { ...inputs, images },
      {
        logger: actionsLogger,
        onSecret: (s) => core.setSecret(s),
        explicitCredentials: ACTION_EXPLICIT_CREDENTIALS,
        // GitHub Enterprise Server's API, where the workflow runs there (cleanup-sources on its container registry)
        githubApiUrl: process.env.GITHUB_API_URL || undefined,
        signing: signingFromEnvironment(process.env),
      },
    );
    // without a spec, a failed merge sets no output; with one, every image's outcome is an output
    if (!inputs.spec) checkStep(outcomes, false);
    await writeOutputs(outcomes, { summary: inputs.summary, logger: actionsLogger });
    checkStep(outcomes, inputs.spec);
  } catch (error) {
    core.setFailed(renderActionError(error));
    if (!isExpectedError(error))
      core.error(redactSecrets(error instanceof Error && error.stack ? mapStackTrace(error.stack) : String(error)));
  }
}
