// The GitHub Action: inputs -> engine -> outputs and job summary (docker/login-action's main.ts
// is the model: read inputs, do the work, `setFailed` on error). An expected failure ends in one
// message worded for the action; anything else also prints its stack, which names src/ lines
// (dist/ is source-mapped).
import * as core from '@actions/core';
import { runMerge } from '../engine/merge.js';
import { isExpectedError, renderError } from '../base/errors.js';
import { context as githubContext } from '@actions/github';
import { type RunContext, withGithubAnnotations } from './github-context.js';
import { getInputs } from '../request/inputs.js';
import { formatReference } from '../oci/reference.js';
import { checkOutcomes, connectionsFor, imageResults, runImages } from '../engine/images.js';
import type { RegistryClient } from '../registry/client-types.js';
import type { ImageRequest } from '../engine/model.js';
import type { Logger } from '../base/logger.js';
import { redactSecrets } from '../base/redact.js';
import { mapStackTrace } from '../base/stack.js';
import { createClient, useClient } from '../engine/client-setup.js';
import { openSources, withLayouts } from '../sources/open.js';
import { buildMetadata, renderReport, renderSummaryMarkdown } from '../engine/summary.js';

/** Every line through redaction: a registry may echo a credential, and a secret shorter than the runner masks still counts. */
const actionsLogger: Logger = {
  debug: (m) => core.debug(redactSecrets(m)),
  info: (m) => core.info(redactSecrets(m)),
  warning: (m) => core.warning(redactSecrets(m)),
  group: (name, work) => core.group(name, work),
};

/** The workflow run, from @actions/github's context (whose `repo` throws outside a run). */
function runContext(): RunContext {
  let repository: string | undefined;
  try {
    repository = `${githubContext.repo.owner}/${githubContext.repo.repo}`;
  } catch {
    repository = undefined;
  }
  return { serverUrl: githubContext.serverUrl, repository, sha: githubContext.sha };
}

export async function run(): Promise<void> {
  try {
    const inputs = getInputs((name) => core.getInput(name));
    // The password is a secret; the username is not (masking it hid every `ghcr.io/<user>/app`).
    if (inputs.client.credentials) core.setSecret(inputs.client.credentials.password);
    for (const warning of inputs.warnings) actionsLogger.warning(warning);
    const images = inputs.images ?? [{ position: 'image', request: inputs.request, warnings: [] }];
    const run = runContext();
    const { requests, layouts } = await openSources(images.map((i) => withGithubAnnotations(i.request, inputs.githubAnnotations, run)));
    const client = withLayouts(createClient({ ...inputs.client, connectionsPerOrigin: connectionsFor(images.length) }, { logger: actionsLogger, onSecret: (s) => core.setSecret(s), surface: 'action' }), layouts);
    if (inputs.images) {
      await runSpec(images.map((image, i) => ({ ...image, request: requests[i] })), client, inputs.summary);
      return;
    }
    const result = await useClient(client, actionsLogger, (c) => runMerge(requests[0], c, actionsLogger));
    actionsLogger.info(renderReport(result));
    core.setOutput('digest', result.digest);
    core.setOutput('manifest', result.manifest);
    core.setOutput('platforms', result.platforms.join(','));
    core.setOutput('images', result.images.join('\n'));
    core.setOutput('metadata', JSON.stringify(buildMetadata(result)));
    core.setOutput('results', JSON.stringify(imageResults([{ position: 'image', tags: requests[0].tags.map((t) => formatReference(t)), ok: true, result }], (e) => renderError(e, 'action'))));
    if (inputs.summary && process.env.GITHUB_STEP_SUMMARY) {
      await core.summary.addRaw(renderSummaryMarkdown(result)).write();
    }
  } catch (error) {
    core.setFailed(renderError(error, 'action'));
    if (!isExpectedError(error)) core.error(redactSecrets(error instanceof Error && error.stack ? mapStackTrace(error.stack) : String(error)));
  }
}

/** `spec`: every image, then outputs for all (`digest` etc. are the first image's), then the step fails if any image did. */
async function runSpec(images: ImageRequest[], client: RegistryClient, summary: boolean): Promise<void> {
  const outcomes = await useClient(client, actionsLogger, (c) => runImages(images, c, actionsLogger));
  core.setOutput('results', JSON.stringify(imageResults(outcomes, (e) => renderError(e, 'action'))));
  const first = outcomes[0];
  if (first.ok) {
    core.setOutput('digest', first.result.digest);
    core.setOutput('manifest', first.result.manifest);
    core.setOutput('platforms', first.result.platforms.join(','));
    core.setOutput('images', first.result.images.join('\n'));
    core.setOutput('metadata', JSON.stringify(buildMetadata(first.result)));
  }
  for (const o of outcomes) {
    if (!o.ok) continue;
    actionsLogger.info(renderReport(o.result));
    if (summary && process.env.GITHUB_STEP_SUMMARY) await core.summary.addRaw(renderSummaryMarkdown(o.result)).write();
  }
  checkOutcomes(outcomes);
}
