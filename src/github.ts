// Input `github-annotations`: GHCR links a multi-arch package to its repository (and shows it on
// the package page) only through annotations on the index. The values are those of
// @actions/github's Context (GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_SHA), read from the
// same runner variables directly: the package itself would add an HTTP client to the bundle for
// three variables, and its current major needs Node 22 to install. Action entry only.
import type { MergeRequest } from './engine.js';

export type GithubAnnotationsMode = 'auto' | 'true' | 'false';

export const SOURCE_KEY = 'org.opencontainers.image.source';
export const REVISION_KEY = 'org.opencontainers.image.revision';

/** The annotations the run's GitHub context gives, or none outside a workflow run. */
export function githubContextAnnotations(env: NodeJS.ProcessEnv): Record<string, string> {
  const server = (env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/+$/, '');
  const out: Record<string, string> = {};
  if (env.GITHUB_REPOSITORY) out[SOURCE_KEY] = `${server}/${env.GITHUB_REPOSITORY}`;
  if (env.GITHUB_SHA) out[REVISION_KEY] = env.GITHUB_SHA;
  return out;
}

/**
 * The request with the context's annotations added to its index, unless the user gave the same
 * key (theirs wins). `auto`: only when a tag is on ghcr.io, and never with format docker (a
 * Docker list cannot carry annotations). Same commit, same annotations: the digest stays stable.
 */
export function withGithubAnnotations(request: MergeRequest, mode: GithubAnnotationsMode, env: NodeJS.ProcessEnv): MergeRequest {
  if (mode === 'false') return request;
  if (mode === 'auto' && (request.format === 'docker' || !request.tags.some((t) => t.registry === 'ghcr.io'))) return request;
  const context = githubContextAnnotations(env);
  if (Object.keys(context).length === 0) return request;
  const annotations = request.annotations ?? { index: Object.create(null) as Record<string, string>, descriptors: [] };
  const index: Record<string, string> = Object.assign(Object.create(null), context, annotations.index) as Record<string, string>;
  return { ...request, annotations: { ...annotations, index } };
}
