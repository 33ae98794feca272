// The schema of an action's metadata file (action.yml), as GitHub's "Metadata syntax for GitHub
// Actions" documents it, checked with ajv. Written here instead of taken from
// @action-validator/cli: its 0.6.0 schema predates `using: node24` and rejects this action.
// JavaScript actions may only use runtimes the runners still start (node20, node24).
import { Ajv, type ErrorObject } from 'ajv';
import { parse } from 'yaml';

const ID = '^[A-Za-z_][A-Za-z0-9_-]*$';

const input = {
  type: 'object',
  required: ['description'],
  additionalProperties: false,
  properties: {
    description: { type: 'string', minLength: 1 },
    required: { type: 'boolean' },
    default: { type: 'string' },
    deprecationMessage: { type: 'string', minLength: 1 },
  },
};

const output = {
  type: 'object',
  required: ['description'],
  additionalProperties: false,
  properties: {
    description: { type: 'string', minLength: 1 },
    // composite actions only (checked below)
    value: { type: 'string' },
  },
};

const javascriptRuns = {
  type: 'object',
  required: ['using', 'main'],
  additionalProperties: false,
  properties: {
    using: { enum: ['node20', 'node24'] },
    main: { type: 'string', minLength: 1 },
    pre: { type: 'string', minLength: 1 },
    'pre-if': { type: 'string' },
    post: { type: 'string', minLength: 1 },
    'post-if': { type: 'string' },
  },
};

const compositeRuns = {
  type: 'object',
  required: ['using', 'steps'],
  additionalProperties: false,
  properties: {
    using: { const: 'composite' },
    steps: { type: 'array', items: { type: 'object' } },
  },
};

const dockerRuns = {
  type: 'object',
  required: ['using', 'image'],
  additionalProperties: false,
  properties: {
    using: { const: 'docker' },
    image: { type: 'string', minLength: 1 },
    env: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
    entrypoint: { type: 'string' },
    'pre-entrypoint': { type: 'string' },
    'post-entrypoint': { type: 'string' },
    args: { type: 'array', items: { type: ['string', 'number', 'boolean'] } },
  },
};

export const ACTION_SCHEMA = {
  type: 'object',
  required: ['name', 'description', 'runs'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1 },
    author: { type: 'string' },
    description: { type: 'string', minLength: 1 },
    inputs: { type: 'object', propertyNames: { pattern: ID }, additionalProperties: input },
    outputs: { type: 'object', propertyNames: { pattern: ID }, additionalProperties: output },
    // the branch `using` names, so that errors speak of that kind of action only
    runs: {
      type: 'object',
      required: ['using'],
      properties: { using: { enum: ['node20', 'node24', 'composite', 'docker'] } },
      allOf: [
        { if: { properties: { using: { enum: ['node20', 'node24'] } } }, then: javascriptRuns },
        { if: { properties: { using: { const: 'composite' } } }, then: compositeRuns },
        { if: { properties: { using: { const: 'docker' } } }, then: dockerRuns },
      ],
    },
    branding: {
      type: 'object',
      additionalProperties: false,
      properties: {
        icon: { type: 'string', pattern: '^[a-z0-9]+(-[a-z0-9]+)*$' },
        color: { enum: ['white', 'black', 'yellow', 'blue', 'green', 'orange', 'red', 'purple', 'gray-dark'] },
      },
    },
  },
} as const;

const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(ACTION_SCHEMA);

function describe(error: ErrorObject): string {
  const where = error.instancePath || '/';
  if (error.keyword === 'additionalProperties')
    return `${where}: unknown key "${(error.params as { additionalProperty: string }).additionalProperty}"`;
  if (error.keyword === 'enum')
    return `${where}: ${error.message} (${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')})`;
  return `${where}: ${error.message}`;
}

/** The problems with an action.yml's text, none when it is valid. */
export function actionMetadataProblems(text: string): string[] {
  let metadata: unknown;
  try {
    metadata = parse(text, { uniqueKeys: true });
  } catch (error) {
    return [`not valid YAML: ${(error as Error).message}`];
  }
  if (validate(metadata)) {
    const { runs, outputs } = metadata as { runs: { using: string }; outputs?: Record<string, { value?: string }> };
    // `value` maps a composite action's outputs to its steps; any other action sets them itself
    return Object.entries(outputs ?? {})
      .filter(([, o]) => (runs.using === 'composite') !== (o.value !== undefined))
      .map(([id]) =>
        runs.using === 'composite'
          ? `/outputs/${id}: a composite action's output needs a value`
          : `/outputs/${id}: value is for composite actions only`,
      );
  }
  // `if` only says that a `then` failed; the `then`'s own errors say what
  return [...new Set((validate.errors ?? []).filter((e) => e.keyword !== 'if').map(describe))];
}
