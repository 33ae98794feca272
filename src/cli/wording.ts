// The CLI's words: advice speaks of flags and `docker login`, the way someone at a terminal fixes
// things. base/errors.ts holds the kinds, facts and hints; this fills in their `{term}`
// placeholders for stderr.
import { type Vocabulary, renderError } from '../base/errors.js';

export const CLI_WORDS: Vocabulary = {
  login: 'run `docker login` for that registry first (or pass --username with --password-stdin)',
  credentials: '--username with --password-stdin',
  timeout: '--timeout',
  insecure: '--insecure-registry',
  platforms: '--platforms',
  append: '--append',
  attestations: '--attestations',
  referrers: '--referrers',
  format: '--format',
  username: '--username',
  password: '--password-stdin',
  rerun: 'run the command again',
  sources: 'the SOURCE arguments',
  tags: '--tag',
  annotations: '--annotation',
  artifacttype: '--artifact-type',
  requireattestations: '--require-attestations',
};

/** How messages name credentials given on the command line (rather than by `docker login`). */
export const CLI_EXPLICIT_CREDENTIALS = '--username/--password-stdin';

/** The one message stderr shows for `error`. */
export function renderCliError(error: unknown): string {
  return renderError(error, CLI_WORDS);
}
