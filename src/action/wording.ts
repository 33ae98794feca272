// The action's words: advice speaks of the step's inputs and docker/login-action, the way a
// workflow author fixes things. base/errors.ts holds the kinds, facts and hints; this fills in
// their `{term}` placeholders for a workflow log.
import { type Vocabulary, renderError } from '../base/errors.js';

export const ACTION_WORDS: Vocabulary = {
  login: 'log in with docker/login-action before this step (or pass the username and password inputs)',
  credentials: 'the username and password inputs',
  timeout: 'input `timeout`',
  insecure: 'input `insecure-registries`',
  platforms: 'input `platforms`',
  append: 'input `append`',
  attestations: 'input `attestations`',
  referrers: 'input `referrers`',
  format: 'input `format`',
  username: 'input `username`',
  password: 'input `password`',
  rerun: 're-run the job',
  sources: 'input `sources`',
  tags: 'input `tags`',
  annotations: 'input `annotations`',
  artifacttype: 'input `artifact-type`',
  requireattestations: 'input `require-attestations`',
};

/** How messages name credentials given to the step itself (rather than by docker/login-action). */
export const ACTION_EXPLICIT_CREDENTIALS = 'inputs username/password';

/** The one message the workflow log shows for `error`. */
export function renderActionError(error: unknown): string {
  return renderError(error, ACTION_WORDS);
}
