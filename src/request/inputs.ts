// The action's inputs → the engine's request and the client's settings (docker/login-action's
// context.ts is the model): one function, every check quoting the bad value under the input's
// name and saying what is allowed. Takes a getter, so tests need no @actions/core.
import { InputError } from '../base/errors.js';
import type { MergeRequest } from '../engine/model.js';
import { DEFAULT_TIMEOUT_MS, parseAnnotations, parseBoolean, parseChoice, parseDuration, parseList, parsePlatformList, parseSources, parseRegistry, parseTargetTags } from './parse.js';
import type { ClientSettings } from '../engine/model.js';
import { digestFileSources } from '../sources/digest-files.js';
import { formatReference } from '../oci/reference.js';
import type { GithubAnnotationsMode } from '../action/github-context.js';
import { parseSpec, readSpec } from './spec.js';
import type { ImageRequest } from '../engine/model.js';

export interface ActionInputs {
  request: MergeRequest;
  client: ClientSettings;
  /** write the job summary table */
  summary: boolean;
  /** input `github-annotations` (applied by the action entry, which has the GitHub context) */
  githubAnnotations: GithubAnnotationsMode;
  /** input `spec`: every image (the first is also `request`) */
  images?: ImageRequest[];
  /** said once before the work starts (e.g. annotation lines that cannot apply) */
  warnings: string[];
}

export type InputGetter = (name: string) => string;

const input = (name: string) => `Input \`${name}\``;

export function getInputs(getInput: InputGetter): ActionInputs {
  const spec = getInput('spec');
  if (spec.trim() !== '') return getSpecInputs(getInput, spec);
  const digestsDir = getInput('digests-dir').trim();
  const sourceItems = [
    ...parseList(getInput('sources')),
    ...(digestsDir ? digestFileSources(input('digests-dir'), digestsDir, input('image'), getInput('image').trim()) : []),
  ];
  const tagItems = parseList(getInput('tags'));
  if (sourceItems.length === 0) {
    throw new InputError('Input `sources` is empty', { hint: 'List the per-platform images to merge, one per line (tags, repo@sha256:… digests or oci-layout://PATH), or give digests-dir and image' });
  }
  if (tagItems.length === 0) throw new InputError('Input `tags` is empty', { hint: 'List the tags to push the index to, one per line (e.g. ghcr.io/acme/app:latest)' });
  const sources = parseSources('`sources`', sourceItems);
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
      selectPlatforms: parsePlatformList('`select-platforms`', parseList(getInput('select-platforms'))),
      attestations: parseChoice(input('attestations'), getInput('attestations'), ['keep', 'strip', 'referrers'] as const, 'keep'),
      referrers: parseChoice(input('referrers'), getInput('referrers'), ['copy', 'skip'] as const, 'copy'),
      danglingAttestations: parseChoice(input('dangling-attestations'), getInput('dangling-attestations'), ['drop', 'keep'] as const, 'drop'),
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
    githubAnnotations: parseChoice(input('github-annotations'), getInput('github-annotations'), ['auto', 'true', 'false'] as const, 'auto'),
    warnings: warning ? [warning] : [],
  };
}

/** With `spec`, the images come from it; the step's inputs are defaults each image may override. */
function getSpecInputs(getInput: InputGetter, spec: string): ActionInputs {
  const clash = ['sources', 'tags', 'digests-dir', 'image'].filter((name) => getInput(name).trim() !== '');
  if (clash.length > 0) {
    throw new InputError(`Input \`spec\` is set, and so ${clash.length === 1 ? 'is' : 'are'} ${clash.map((n) => `\`${n}\``).join(', ')}`, {
      hint: 'With a spec, each image lists its own tags and sources; move them into the spec',
    });
  }
  const { text } = readSpec(input('spec'), spec);
  const images = parseSpec(input('spec'), text, getInput, parseBoolean(input('push'), getInput('push'), true));
  const single = getInputs((name) => (name === 'spec' ? '' : name === 'sources' || name === 'tags' ? images[0].request[name].map((r) => formatReference(r)).join('\n') : getInput(name)));
  return { ...single, request: images[0].request, images, warnings: images.flatMap((i) => i.warnings) };
}
