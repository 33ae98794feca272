// The action's inputs -> the step's request (docker/login-action's context.ts is the model): each
// input is the field of the same name (request/fields.ts); one builder (request/build.ts) checks
// them, every error quoting the bad value under the input's name and saying what is allowed.
// Takes a getter, so tests need no @actions/core.
import { InputError } from '../base/errors.js';
import { type StepRequest, buildStep } from '../request/build.js';
import { FIELDS, type FieldName, type FieldNaming, type FieldRecord } from '../request/fields.js';

export type ActionInputs = StepRequest;

export type InputGetter = (name: string) => string;

/** Lists name their input bare ("`sources`: Invalid image reference …"); every other input as "Input `x`". */
const BARE = new Set<FieldName>(['sources', 'tags', 'platforms', 'select-platforms', 'annotations']);

export const inputNaming: FieldNaming = {
  label: (field) => (BARE.has(field) ? `\`${field}\`` : `Input \`${field}\``),
  missing: (field) =>
    field === 'sources'
      ? new InputError('Input `sources` is empty', {
          hint: 'List the per-platform images to merge, one per line (tags, repo@sha256:… digests or oci-layout://PATH), or give metadata-files, or digests-dir and image',
        })
      : new InputError('Input `tags` is empty', {
          hint: 'List the tags to push the index to, one per line (e.g. ghcr.io/acme/app:latest)',
        }),
};

/** Every input, read as the field of the same name. */
export function readInputs(getInput: InputGetter): FieldRecord {
  return Object.fromEntries((Object.keys(FIELDS) as FieldName[]).map((name) => [name, getInput(name)]));
}

export function getInputs(getInput: InputGetter): ActionInputs {
  const record = readInputs(getInput);
  if (String(record.spec).trim() !== '') {
    const clash = (['sources', 'tags', 'digests-dir', 'image', 'metadata-files'] as const).filter(
      (name) => String(record[name]).trim() !== '',
    );
    if (clash.length > 0) {
      throw new InputError(
        `Input \`spec\` is set, and so ${clash.length === 1 ? 'is' : 'are'} ${clash.map((n) => `\`${n}\``).join(', ')}`,
        {
          hint: 'With a spec, each image lists its own tags and sources; move them into the spec',
        },
      );
    }
  }
  const username = String(record.username).trim();
  const password = String(record.password);
  if ((username === '') !== (password === '')) {
    throw new InputError(
      `Input \`${username ? 'password' : 'username'}\` is empty while \`${username ? 'username' : 'password'}\` is set`,
      {
        hint: 'Give both, or neither (to use docker/login-action credentials)',
      },
    );
  }
  return buildStep(record, inputNaming);
}
