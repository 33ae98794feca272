// The CLI's command lines → the engine's request and the client's settings: the CLI's own
// counterpart of inputs.ts, through the same parsers (request.ts), every error naming the flag.
// Pure but for reading the password from standard input, which the caller passes in.
import { parseArgs } from 'node:util';
import { UsageError } from '../base/errors.js';
import type { MergeRequest } from '../engine/model.js';
import type { ImageReference } from '../oci/reference.js';
import { DEFAULT_TIMEOUT_MS, parseAnnotations, parseChoice, parseDuration, parseList, parsePlatformList, parseReferences, parseSources, parseRegistry, parseTargetTags } from './parse.js';
import type { ClientSettings } from '../engine/model.js';
import { parseSpec, readSpec } from './spec.js';
import type { ImageRequest } from '../engine/model.js';

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
  format: { type: 'string' },
  'dry-run': { type: 'boolean' },
  annotation: { type: 'string', multiple: true },
  append: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
} as const;

const INSPECT_OPTIONS = { ...COMMON_OPTIONS, raw: { type: 'boolean' }, check: { type: 'boolean' }, referrers: { type: 'boolean' } } as const;

type Options = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

function parse<T extends Options>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** Reads the password (`--password-stdin`); called only when the flag is given. */
export type PasswordReader = () => string;

export interface OutputFlags {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
}

export type MergeCommand =
  | { help: true }
  | { help: false; request: MergeRequest; client: ClientSettings; output: OutputFlags; warnings: string[]; /** --spec: every image (the first is also `request`) */ images?: ImageRequest[] };

export type InspectCommand =
  | { help: true }
  | { help: false; reference: ImageReference; client: ClientSettings; raw: boolean; check: boolean; referrers: boolean; output: OutputFlags };

interface CommonValues {
  username?: string;
  'password-stdin'?: boolean;
  registry?: string;
  'insecure-registry'?: string[];
  timeout?: string;
}

/** Client settings from the common flags; explicit credentials default to `defaultRegistry`. */
function clientSettings(values: CommonValues, defaultRegistry: string, readPassword: PasswordReader): ClientSettings {
  if (values.username !== undefined && !values['password-stdin']) throw new UsageError('--username needs --password-stdin');
  if (values['password-stdin'] && values.username === undefined) throw new UsageError('--password-stdin needs --username');
  const registry = values.registry !== undefined ? parseRegistry('--registry', values.registry) : defaultRegistry;
  const timeoutMs = parseDuration('--timeout', values.timeout ?? '', DEFAULT_TIMEOUT_MS);
  const insecureRegistries = (values['insecure-registry'] ?? []).map((r) => parseRegistry('--insecure-registry', r));
  let credentials: ClientSettings['credentials'];
  if (values.username !== undefined) {
    const username = values.username.trim();
    if (username === '') throw new UsageError('--username is empty');
    const password = readPassword();
    if (password === '') throw new UsageError('--password-stdin: standard input is empty', { hint: 'Pipe the password or token in, e.g. echo "$TOKEN" | manifest-merge … --username USER --password-stdin' });
    credentials = { registry, username, password };
  }
  return { insecureRegistries, timeoutMs, ...(credentials ? { credentials } : {}) };
}

export function parseMergeCommand(args: string[], readPassword: PasswordReader): MergeCommand {
  const { values, positionals } = parse(args, MERGE_OPTIONS);
  if (values.help) return { help: true };
  if (values.spec !== undefined) return specCommand(values, positionals, readPassword);
  if (positionals.length === 0) throw new UsageError('merge needs at least one SOURCE');
  if (!values.tag?.length) throw new UsageError('merge needs at least one --tag');
  const sources = parseSources('SOURCE', positionals);
  const tags = parseTargetTags('--tag', values.tag);
  const { annotations, warning } = parseAnnotations((values.annotation ?? []).flatMap((value) => parseList(value, { commas: false })), '--annotation');
  const request: MergeRequest = {
    sources,
    tags,
    platforms: parsePlatformList('--platforms', parseList(values.platforms ?? '')),
    selectPlatforms: parsePlatformList('--select-platform', (values['select-platform'] ?? []).flatMap((v) => parseList(v))),
    attestations: parseChoice('--attestations', values.attestations ?? '', ['keep', 'strip', 'referrers'] as const, 'keep'),
    referrers: parseChoice('--referrers', values.referrers ?? '', ['copy', 'skip'] as const, 'copy'),
    danglingAttestations: parseChoice('--dangling-attestations', values['dangling-attestations'] ?? '', ['drop', 'keep'] as const, 'drop'),
    format: parseChoice('--format', values.format ?? '', ['auto', 'oci', 'docker'] as const, 'auto'),
    push: !values['dry-run'],
    append: values.append ?? false,
    annotations,
  };
  return {
    help: false,
    request,
    client: clientSettings(values, tags[0].registry, readPassword),
    output: { json: values.json ?? false, quiet: values.quiet ?? false, verbose: values.verbose ?? false },
    warnings: warning ? [warning] : [],
  };
}

export function parseInspectCommand(args: string[], readPassword: PasswordReader): InspectCommand {
  const { values, positionals } = parse(args, INSPECT_OPTIONS);
  if (values.help) return { help: true };
  if (positionals.length !== 1) throw new UsageError('inspect takes exactly one REF');
  if (values.raw && (values.check || values.json || values.referrers)) throw new UsageError('--raw prints the bytes only; it cannot be combined with --check, --referrers or --json');
  const [reference] = parseReferences('REF', positionals);
  return {
    help: false,
    reference,
    client: clientSettings(values, reference.registry, readPassword),
    raw: values.raw ?? false,
    check: values.check ?? false,
    referrers: values.referrers ?? false,
    output: { json: values.json ?? false, quiet: false, verbose: values.verbose ?? false },
  };
}

type MergeValues = ReturnType<typeof parse<typeof MERGE_OPTIONS>>['values'];

/** `merge --spec FILE`: the images come from the file; the other flags are defaults each image may override. */
function specCommand(values: MergeValues, positionals: string[], readPassword: PasswordReader): MergeCommand {
  if (positionals.length > 0 || values.tag?.length) throw new UsageError('--spec lists every image with its tags and sources: give no SOURCE and no --tag with it');
  const defaults: Record<string, string> = {
    platforms: values.platforms ?? '',
    'select-platforms': (values['select-platform'] ?? []).join('\n'),
    annotations: (values.annotation ?? []).join('\n'),
    attestations: values.attestations ?? '',
    referrers: values.referrers ?? '',
    'dangling-attestations': values['dangling-attestations'] ?? '',
    format: values.format ?? '',
    append: values.append ? 'true' : '',
  };
  const { text } = readSpec('--spec', values.spec!);
  const images = parseSpec('--spec', text, (name) => defaults[name] ?? '', !values['dry-run']);
  return {
    help: false,
    request: images[0].request,
    images,
    client: clientSettings(values, images[0].request.tags[0].registry, readPassword),
    output: { json: values.json ?? false, quiet: values.quiet ?? false, verbose: values.verbose ?? false },
    warnings: images.flatMap((i) => i.warnings),
  };
}
