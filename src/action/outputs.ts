// The step's outputs and job summary, written in one place from the images' outcomes: `results`
// has every image (its digest and metadata, or its error); `digest`, `manifest`, `platforms`,
// `images` and `metadata` are the first image's (the only one without a spec); the log and the
// job summary get each merged image's report.
import * as core from '@actions/core';

import type { Logger } from '../base/logger.js';
import { type ImageOutcome, imageResults } from '../engine/images.js';
import { buildMetadata, renderReport, renderSummaryMarkdown } from '../engine/summary.js';
import { renderActionError } from './wording.js';

export async function writeOutputs(outcomes: ImageOutcome[], options: { summary: boolean; logger: Logger }): Promise<void> {
  core.setOutput('results', JSON.stringify(imageResults(outcomes, (e) => renderActionError(e))));
  const [first] = outcomes;
  if (first.ok) {
    core.setOutput('digest', first.result.digest);
    core.setOutput('manifest', first.result.manifest);
    core.setOutput('platforms', first.result.platforms.join(','));
    core.setOutput('images', first.result.images.join('\n'));
    core.setOutput('metadata', JSON.stringify(buildMetadata(first.result)));
  }
  for (const o of outcomes) {
    if (!o.ok) continue;
    options.logger.info(renderReport(o.result));
    if (options.summary && process.env.GITHUB_STEP_SUMMARY) await core.summary.addRaw(renderSummaryMarkdown(o.result)).write();
  }
}
