// The action's inputs → the engine's request and the client's settings (docker/login-action's
// context.ts is the model): one function, every check quoting the bad value under the input's
// name and saying what is allowed. Takes a getter, so tests need no @actions/core.
import { InputError } from './errors.js';
import type { MergeRequest } from './engine.js';
import {
  type ClientSettings,
  DEFAULT_TIMEOUT_MS,
  parseAnnotations,
  parseBoolean,
  parseChoice,
  parseDuration,
  parseList,
  parsePlatformList,
  parseReferences,
  parseRegistry,
  parseTargetTags,
} from './request.js';

export interface ActionInputs {
  request: MergeRequest;
  client: ClientSettings;
  /** write the job summary table */
  summary: boolean;
  /** said once before the work starts (e.g. annotation lines that cannot apply) */
  warnings: string[];
}

export type InputGetter = (name: string) => string;

const input = (name: string) => `Input \`${name}\``;

export function getInputs(getInput: InputGetter): ActionInputs {
  const sourceItems = parseList(getInput('sources'));
  const tagItems = parseList(getInput('tags'));
  if (sourceItems.length === 0) throw new InputError('Input `sources` is empty', { hint: 'List the per-platform images to merge, one per line (tags or repo@sha256:… digests)' });
  if (tagItems.length === 0) throw new InputError('Input `tags` is empty', { hint: 'List the tags to push the index to, one per line (e.g. ghcr.io/acme/app:latest)' });
  const sources = parseReferences('`sources`', sourceItems);
  const tags = parseTargetTags('`tags`', tagItems);
  const { annotations, warning } = parseAnnotations(parseList(getInput('annotations'), { commas: false }), '`annotations`');

  const username = getInput('username').trim() || undefined;
  const password = getInput('password') || undefined;
  if ((username === undefined) !== (password === undefined)) {
    throw new InputError(`Input \`${username ? 'password' : 'username'}\` is empty while \`${username ? 'username' : 'password'}\` is set`, {
      hint: 'Give both, or neither (to use docker/login-action credentials)',
    });
  }
  const registryInput = getInput('registry').trim();
  const registry = registryInput ? parseRegistry(input('registry'), registryInput) : tags[0].registry;

  return {
    request: {
      sources,
      tags,
      platforms: parsePlatformList('`platforms`', parseList(getInput('platforms'))),
      attestations: parseChoice(input('attestations'), getInput('attestations'), ['keep', 'strip'] as const, 'keep'),
      format: parseChoice(input('format'), getInput('format'), ['auto', 'oci', 'docker'] as const, 'auto'),
      push: parseBoolean(input('push'), getInput('push'), true),
      append: parseBoolean(input('append'), getInput('append'), false),
      annotations,
    },
    client: {
      insecureRegistries: parseList(getInput('insecure-registries')).map((r) => parseRegistry(input('insecure-registries'), r)),
      ...(username && password ? { credentials: { registry, username, password } } : {}),
      timeoutMs: parseDuration(input('timeout'), getInput('timeout'), DEFAULT_TIMEOUT_MS),
    },
    summary: parseBoolean(input('summary'), getInput('summary'), true),
    warnings: warning ? [warning] : [],
  };
}
