// Input `github-annotations`: GHCR links a multi-arch package to its repository (and shows it on
// the package page) only through annotations on the index. The values come from the runner's
// variables (GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_SHA), read when an image needs them and
// not before; the workflow's event file only when GITHUB_REPOSITORY is unset, bounded, and a bad
// one is a warning (@actions/github's Context read and parsed it whole when the bundle loaded).
import { InputError } from '../base/errors.js';
import { readBoundedFile } from '../base/files.js';
import { sanitizeLine } from '../base/redact.js';
import type { MergeRequest } from '../engine/model.js';
import type { GithubAnnotationsMode } from '../request/fields.js';

/** The event file is read at most this far: a push event is a few KiB, a large pull request a few hundred. */
export const MAX_EVENT_BYTES = 10 * 1024 * 1024;

/** What of the workflow run's context the annotations need. */
export interface RunContext {
  /** e.g. https://github.com */
  serverUrl: string;
  /** owner/name, when the run has one */
  repository?: string;
  sha?: string;
}

export const SOURCE_KEY = 'org.opencontainers.image.source';
export const REVISION_KEY = 'org.opencontainers.image.revision';

/** The repository of the event payload (as @actions/github's Context takes it), or undefined. */
function eventRepository(path: string): string | undefined {
  const text = readBoundedFile('GITHUB_EVENT_PATH', path, { maxBytes: MAX_EVENT_BYTES }).toString('utf8');
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (cause) {
    throw new InputError(
      `GITHUB_EVENT_PATH: "${path}" is not JSON (${sanitizeLine(cause instanceof Error ? cause.message : String(cause))})`,
      { cause },
    );
  }
  const repository = (payload as { repository?: { name?: unknown; owner?: { login?: unknown } } } | null)?.repository;
  const owner = repository?.owner?.login;
  const name = repository?.name;
  return typeof owner === 'string' && typeof name === 'string' && owner && name ? `${owner}/${name}` : undefined;
}

/**
 * The run's context from the runner's variables. The repository comes from GITHUB_REPOSITORY, or
 * else the event file GITHUB_EVENT_PATH names; an event file that cannot be read (not a regular
 * file, over MAX_EVENT_BYTES, not JSON) is a warning, and the source annotation is left out.
 */
export function readRunContext(env: NodeJS.ProcessEnv, warn: (message: string) => void): RunContext {
  let repository = env.GITHUB_REPOSITORY?.includes('/') ? env.GITHUB_REPOSITORY : undefined;
  const eventPath = env.GITHUB_EVENT_PATH;
  if (repository === undefined && eventPath) {
    try {
      repository = eventRepository(eventPath);
    } catch (error) {
      const why = error instanceof InputError ? error.summary : String(error);
      warn(`${why}; ${SOURCE_KEY} is left out`);
    }
  }
  return { serverUrl: env.GITHUB_SERVER_URL || 'https://github.com', repository, sha: env.GITHUB_SHA || undefined };
}

/** The annotations the run's GitHub context gives, or none outside a workflow run. */
export function githubContextAnnotations(context: RunContext): Record<string, string> {
  const server = (context.serverUrl || 'https://github.com').replace(/\/+$/, '');
  const out: Record<string, string> = {};
  if (context.repository) out[SOURCE_KEY] = `${server}/${context.repository}`;
  if (context.sha) out[REVISION_KEY] = context.sha;
  return out;
}

/** Whether the run's context would annotate this request: the mode says so (auto: a ghcr.io tag, not format docker). */
export function wantsGithubAnnotations(request: MergeRequest, mode: GithubAnnotationsMode): boolean {
  if (mode === 'false') return false;
  return mode === 'true' || (request.format !== 'docker' && request.tags.some((t) => t.registry === 'ghcr.io'));
}

/**
 * The request with the context's annotations added to its index, unless the user gave the same
 * key (theirs wins). `auto`: only when a tag is on ghcr.io, and never with format docker (a
 * Docker list cannot carry annotations). Same commit, same annotations: the digest stays stable.
 */
export function withGithubAnnotations(request: MergeRequest, mode: GithubAnnotationsMode, runContext: RunContext): MergeRequest {
  if (!wantsGithubAnnotations(request, mode)) return request;
  const context = githubContextAnnotations(runContext);
  if (Object.keys(context).length === 0) return request;
  const annotations = request.annotations ?? { index: Object.create(null) as Record<string, string>, descriptors: [] };
  const index: Record<string, string> = Object.assign(Object.create(null), context, annotations.index) as Record<string, string>;
  return { ...request, annotations: { ...annotations, index } };
}
