// Input `github-annotations`: GHCR links a multi-arch package to its repository (and shows it on
// the package page) only through annotations on the index. The values come from @actions/github's
// Context (main.ts passes it; the bundle takes only its context module, not Octokit). Pure.
import type { MergeRequest } from '../engine/model.js';
import type { GithubAnnotationsMode } from '../request/fields.js';

/** What of the workflow run's context the annotations need (@actions/github's Context has it). */
export interface RunContext {
  /** e.g. https://github.com */
  serverUrl: string;
  /** owner/name, when the run has one */
  repository?: string;
  sha?: string;
}

export const SOURCE_KEY = 'org.opencontainers.image.source';
export const REVISION_KEY = 'org.opencontainers.image.revision';

/** The annotations the run's GitHub context gives, or none outside a workflow run. */
export function githubContextAnnotations(context: RunContext): Record<string, string> {
  const server = (context.serverUrl || 'https://github.com').replace(/\/+$/, '');
  const out: Record<string, string> = {};
  if (context.repository) out[SOURCE_KEY] = `${server}/${context.repository}`;
  if (context.sha) out[REVISION_KEY] = context.sha;
  return out;
}

/**
 * The request with the context's annotations added to its index, unless the user gave the same
 * key (theirs wins). `auto`: only when a tag is on ghcr.io, and never with format docker (a
 * Docker list cannot carry annotations). Same commit, same annotations: the digest stays stable.
 */
export function withGithubAnnotations(request: MergeRequest, mode: GithubAnnotationsMode, runContext: RunContext): MergeRequest {
  if (mode === 'false') return request;
  if (mode === 'auto' && (request.format === 'docker' || !request.tags.some((t) => t.registry === 'ghcr.io'))) return request;
  const context = githubContextAnnotations(runContext);
  if (Object.keys(context).length === 0) return request;
  const annotations = request.annotations ?? { index: Object.create(null) as Record<string, string>, descriptors: [] };
  const index: Record<string, string> = Object.assign(Object.create(null), context, annotations.index) as Record<string, string>;
  return { ...request, annotations: { ...annotations, index } };
}
