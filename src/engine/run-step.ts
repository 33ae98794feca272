// One step, the same for the action, the CLI and the tests: open the layouts the images name,
// build one registry client for all of them, merge every image, close the client, and return each
// image's outcome. A run without a spec is one image; a spec's images run side by side on the one
// client (images.ts), and one failing does not stop the others.
import type { ClientSettings, ImageRequest } from './model.js';
import { type ClientSetup, createClient, useClient } from './client-setup.js';
import { type ImageOutcome, checkOutcomes, connectionsFor, runImages } from './images.js';
import { type EngineOptions, runMerge } from './merge.js';
import { formatReference } from '../oci/reference.js';
import type { RegistryClient } from '../registry/client-types.js';
import { openSources, withLayouts } from '../sources/open.js';

/** What a step runs: its images and the settings of the client they share. */
export interface Step {
  images: ImageRequest[];
  client: ClientSettings;
  /** the images come from a spec: each runs as one of several (its log lines name it) */
  spec: boolean;
}

/** The merge of a run without a spec: logged as the run itself, failing as itself. */
async function runOne(image: ImageRequest, client: RegistryClient, setup: ClientSetup, options: EngineOptions): Promise<ImageOutcome[]> {
  const tags = image.request.tags.map((t) => formatReference(t));
  try {
    return [{ position: image.position, tags, ok: true, result: await runMerge(image.request, client, setup.logger, options) }];
  } catch (error) {
    return [{ position: image.position, tags, ok: false, error }];
  }
}

/**
 * Runs the step. Throws only for what stops every image before the first request (a layout that
 * cannot be opened); a failed merge is an outcome (see `checkStep`).
 */
export async function runStep(step: Step, setup: ClientSetup): Promise<ImageOutcome[]> {
  // One time budget for the whole step: opening layouts (a gzipped tar is extracted) spends it too.
  const deadline = setup.deadline ?? Date.now() + step.client.timeoutMs;
  const { requests, layouts } = await openSources(
    step.images.map((i) => i.request),
    { deadline },
  );
  const images = step.images.map((image, i) => ({ ...image, request: requests[i] }));
  const client = withLayouts(
    createClient({ ...step.client, connectionsPerOrigin: connectionsFor(images.length) }, { ...setup, deadline }),
    layouts,
  );
  const options = engineOptions(setup, step.client);
  return useClient(client, setup.logger, (c) =>
    step.spec ? runImages(images, c, setup.logger, undefined, options) : runOne(images[0], c, setup, options),
  );
}

/** What the engine gets from the surface beyond the request: the signing identity and Sigstore. */
function engineOptions(setup: ClientSetup, settings: ClientSettings): EngineOptions {
  const github = settings.githubToken ? { ...setup.signing?.github, token: settings.githubToken } : setup.signing?.github;
  return { signing: { ...setup.signing, ...settings.sigstore, ...(github ? { github } : {}) } };
}

/**
 * Throws when an image failed: without a spec, the one image's own error; with a spec, one error
 * naming each failed image (the others completed).
 */
export function checkStep(outcomes: ImageOutcome[], spec: boolean): void {
  if (spec) return checkOutcomes(outcomes);
  const [only] = outcomes;
  if (!only.ok) throw only.error;
}
