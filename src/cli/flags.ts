// The CLI's command lines -> the step's request: each flag is a field of request/fields.ts under
// the CLI's own name (--tag for tags, SOURCE arguments for sources, --dry-run for push: false),
// built by the same builder as the action's inputs, every error naming the flag. Pure but for
// reading the password from standard input, which the caller passes in.
import { parseArgs } from 'node:util';
import { UsageError } from '../base/errors.js';
import type { ClientSettings } from '../engine/model.js';
import type { ImageReference } from '../oci/reference.js';
import { type StepRequest, buildClientSettings, buildStep } from '../request/build.js';
import type { FieldName, FieldNaming, FieldRecord } from '../request/fields.js';
import { parseReferences } from '../request/parse.js';

/** Options every command takes. */
const COMMON_OPTIONS = {
  username: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  registry: { type: 'string' },
  'insecure-registry': { type: 'string', multiple: true },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
} as const;

const MERGE_OPTIONS = {
  ...COMMON_OPTIONS,
  tag: { type: 'string', short: 't', multiple: true },
  platforms: { type: 'string', short: 'p' },
  'select-platform': { type: 'string', multiple: true },
  spec: { type: 'string' },
  attestations: { type: 'string' },
  referrers: { type: 'string' },
  'dangling-attestations': { type: 'string' },
  'require-attestations': { type: 'string' },
  format: { type: 'string' },
  'artifact-type': { type: 'string' },
  'metadata-file': { type: 'string', multiple: true },
  'bake-target': { type: 'string', multiple: true },
  'dry-run': { type: 'boolean' },
  annotation: { type: 'string', multiple: true },
  append: { type: 'boolean' },
  'cleanup-sources': { type: 'boolean' },
  sign: { type: 'string' },
  attest: { type: 'boolean' },
  'fulcio-url': { type: 'string' },
  'tsa-url': { type: 'string' },
  'rekor-url': { type: 'string' },
  'signing-config': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
} as const;

const INSPECT_OPTIONS = {
  ...COMMON_OPTIONS,
  raw: { type: 'boolean' },
  check: { type: 'boolean' },
  referrers: { type: 'boolean' },
} as const;

type Options = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

const parse = <T extends Options>(args: string[], options: T) => {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
};

/** Reads the password (`--password-stdin`); called only when the flag is given. */
export type PasswordReader = () => string;

export interface OutputFlags {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
}

export type MergeCommand = { help: true } | ({ help: false; output: OutputFlags } & StepRequest);

export type InspectCommand =
  | { help: true }
  | {
      help: false;
      reference: ImageReference;
      client: ClientSettings;
      raw: boolean;
      check: boolean;
      referrers: boolean;
      output: OutputFlags;
    };

/** The flag each field is given with, where it is not `--<field>`. */
const FLAG: Partial<Record<FieldName, string>> = {
  sources: 'SOURCE',
  tags: '--tag',
  'metadata-files': '--metadata-file',
  'bake-targets': '--bake-target',
  'select-platforms': '--select-platform',
  annotations: '--annotation',
  'insecure-registries': '--insecure-registry',
  password: '--password-stdin',
  push: '--dry-run',
};

export const flagNaming: FieldNaming = {
  label: (field) => FLAG[field] ?? `--${field}`,
  missing: (field) =>
    new UsageError(field === 'sources' ? 'merge needs at least one SOURCE (or --metadata-file)' : 'merge needs at least one --tag'),
};

interface CommonValues {
  username?: string;
  'password-stdin'?: boolean;
  registry?: string;
  'insecure-registry'?: string[];
  timeout?: string;
}

/**
 * Client settings from the flags every command takes; explicit credentials default to
 * `defaultRegistry`. Every value is checked before the password is read (only with --password-stdin).
 */
function clientSettings(values: CommonValues, readPassword: PasswordReader, defaultRegistry: string): ClientSettings {
  if (values.username !== undefined && !values['password-stdin']) throw new UsageError('--username needs --password-stdin');
  if (values['password-stdin'] && values.username === undefined) throw new UsageError('--password-stdin needs --username');
  const record: FieldRecord = { registry: values.registry, 'insecure-registries': values['insecure-registry'], timeout: values.timeout };
  const settings = buildClientSettings(record, flagNaming, defaultRegistry);
  if (values.username === undefined) return settings;
  const username = values.username.trim();
  if (username === '') throw new UsageError('--username is empty');
  const password = readPassword();
  if (password === '')
    throw new UsageError('--password-stdin: standard input is empty', {
      hint: 'Pipe the password or token in, e.g. echo "$TOKEN" | manifest-merge … --username USER --password-stdin',
    });
  return buildClientSettings({ ...record, username, password }, flagNaming, defaultRegistry);
}

export function parseMergeCommand(args: string[], readPassword: PasswordReader): MergeCommand {
  const { values, positionals } = parse(args, MERGE_OPTIONS);
  if (values.help) return { help: true };
  if (values.spec !== undefined && (positionals.length > 0 || values.tag?.length || values['metadata-file']?.length)) {
    throw new UsageError('--spec lists every image with its tags and sources: give no SOURCE, --metadata-file or --tag with it');
  }
  const record: FieldRecord = {
    spec: values.spec,
    sources: positionals,
    tags: values.tag ?? [],
    'metadata-files': values['metadata-file'],
    'bake-targets': values['bake-target'],
    'artifact-type': values['artifact-type'],
    platforms: values.platforms,
    'select-platforms': values['select-platform']?.join('\n'),
    annotations: values.annotation?.join('\n'),
    attestations: values.attestations,
    referrers: values.referrers,
    'dangling-attestations': values['dangling-attestations'],
    'require-attestations': values['require-attestations'],
    format: values.format,
    push: !values['dry-run'],
    append: values.append ?? false,
    'cleanup-sources': values['cleanup-sources'] ?? false,
    sign: values.sign,
    attest: values.attest ?? false,
    'fulcio-url': values['fulcio-url'],
    'tsa-url': values['tsa-url'],
    'rekor-url': values['rekor-url'],
    'signing-config': values['signing-config'],
  };
  // the image fields are checked before the client's, and the password is read last
  const step = buildStep(record, flagNaming);
  const client = {
    ...clientSettings(values, readPassword, step.images[0].request.tags[0].registry),
    ...(step.client.sigstore ? { sigstore: step.client.sigstore } : {}),
  };
  return {
    help: false,
    ...step,
    client,
    output: { json: values.json ?? false, quiet: values.quiet ?? false, verbose: values.verbose ?? false },
  };
}

export function parseInspectCommand(args: string[], readPassword: PasswordReader): InspectCommand {
  const { values, positionals } = parse(args, INSPECT_OPTIONS);
  if (values.help) return { help: true };
  if (positionals.length !== 1) throw new UsageError('inspect takes exactly one REF');
  if (values.raw && (values.check || values.json || values.referrers))
    throw new UsageError('--raw prints the bytes only; it cannot be combined with --check, --referrers or --json');
  const [reference] = parseReferences('REF', positionals);
  return {
    help: false,
    reference,
    client: clientSettings(values, readPassword, reference.registry),
    raw: values.raw ?? false,
    check: values.check ?? false,
    referrers: values.referrers ?? false,
    output: { json: values.json ?? false, quiet: false, verbose: values.verbose ?? false },
  };
}
