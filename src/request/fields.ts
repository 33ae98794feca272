// Every field a run can be given, declared once: its kind, the values it allows and its default.
// The action's inputs, the CLI's flags and a spec image are three ways to write the same fields;
// each surface reads its own into a `FieldRecord` (field name -> raw value) and build.ts turns
// that record into the engine's request and the client's settings. A field's choices live here
// and nowhere else, so no surface can drift from another. Pure: types and data only.
import type { AttestationMode, DanglingMode, OutputFormat, ReferrersMode } from '../engine/model.js';
import { ATTESTATION_KINDS } from '../oci/attestation-kinds.js';

/** Field `sign`: `true` signs the index, `recursive` every manifest it lists too. */
export type SignField = 'false' | 'true' | 'recursive';

/** Input `github-annotations`: add the run's repository and commit to the index (auto: for ghcr.io only). */
export type GithubAnnotationsMode = 'auto' | 'true' | 'false';

export type FieldKind =
  /** image references, one per line or comma (sources also take oci-layout://PATH) */
  | 'references'
  /** os/arch[/variant] values, each at most once */
  | 'platforms'
  /** key=value lines, optionally prefixed (index:, manifest-descriptor[os/arch]:) */
  | 'annotations'
  /** file paths or globs (`*`, `?`, `**`), one per line or comma */
  | 'paths'
  /** names, one per line or comma (bake targets) */
  | 'names'
  /** one media type, type/subtype (RFC 6838) */
  | 'media-type'
  /** one of `choices` */
  | 'choice'
  /** any of `choices`, one per line or comma (none: empty) */
  | 'choice-list'
  | 'boolean'
  /** 90, 90s, 10m, 1h30m */
  | 'duration'
  /** registry host[:port] values */
  | 'registries'
  /** one registry host[:port] */
  | 'registry'
  /** text taken as written (a path, a repository, a user name, a secret, the spec) */
  | 'text';

/**
 * Where a field may be set: `image` fields may differ per image of a spec (an image's own value
 * overrides the step's); `step` fields hold for the whole run (the client, the summary, push).
 */
export type FieldScope = 'image' | 'step';

export interface FieldSpec {
  kind: FieldKind;
  scope: FieldScope;
  /** for `choice` and `choice-list`: the values allowed, in the order an error lists them */
  choices?: readonly string[];
  /** the value when none is given (choice, boolean) */
  default?: string | boolean;
}

/** The fields, in the order an error lists them. */
export const FIELDS = {
  tags: { kind: 'references', scope: 'image' },
  sources: { kind: 'references', scope: 'image' },
  'digests-dir': { kind: 'text', scope: 'image' },
  image: { kind: 'text', scope: 'image' },
  'metadata-files': { kind: 'paths', scope: 'image' },
  'bake-targets': { kind: 'names', scope: 'image' },
  platforms: { kind: 'platforms', scope: 'image' },
  'select-platforms': { kind: 'platforms', scope: 'image' },
  annotations: { kind: 'annotations', scope: 'image' },
  attestations: { kind: 'choice', scope: 'image', choices: ['keep', 'strip', 'referrers'], default: 'keep' },
  referrers: { kind: 'choice', scope: 'image', choices: ['copy', 'skip'], default: 'copy' },
  'dangling-attestations': { kind: 'choice', scope: 'image', choices: ['drop', 'keep'], default: 'drop' },
  'require-attestations': { kind: 'choice-list', scope: 'image', choices: ATTESTATION_KINDS },
  format: { kind: 'choice', scope: 'image', choices: ['auto', 'oci', 'docker'], default: 'auto' },
  'artifact-type': { kind: 'media-type', scope: 'image' },
  append: { kind: 'boolean', scope: 'image', default: false },
  'cleanup-sources': { kind: 'boolean', scope: 'image', default: false },
  sign: { kind: 'choice', scope: 'image', choices: ['false', 'true', 'recursive'], default: 'false' },
  attest: { kind: 'boolean', scope: 'image', default: false },
  push: { kind: 'boolean', scope: 'step', default: true },
  spec: { kind: 'text', scope: 'step' },
  'github-annotations': { kind: 'choice', scope: 'step', choices: ['auto', 'true', 'false'], default: 'auto' },
  summary: { kind: 'boolean', scope: 'step', default: true },
  'insecure-registries': { kind: 'registries', scope: 'step' },
  username: { kind: 'text', scope: 'step' },
  password: { kind: 'text', scope: 'step' },
  registry: { kind: 'registry', scope: 'step' },
  timeout: { kind: 'duration', scope: 'step' },
  'github-token': { kind: 'text', scope: 'step' },
  'fulcio-url': { kind: 'text', scope: 'step' },
  'tsa-url': { kind: 'text', scope: 'step' },
  'rekor-url': { kind: 'text', scope: 'step' },
  'signing-config': { kind: 'text', scope: 'step' },
} as const satisfies Record<string, FieldSpec>;

export type FieldName = keyof typeof FIELDS;

/** The fields of kind `choice`, and the type each one's value has once checked. */
export interface ChoiceValues {
  attestations: AttestationMode;
  referrers: ReferrersMode;
  'dangling-attestations': DanglingMode;
  format: OutputFormat;
  'github-annotations': GithubAnnotationsMode;
  sign: SignField;
}
export type ChoiceField = keyof ChoiceValues;
export type BooleanField = 'append' | 'push' | 'summary' | 'cleanup-sources' | 'attest';

// The table and the types agree: a choice added to one and not the other does not compile.
type TableChoices<F extends ChoiceField> = (typeof FIELDS)[F]['choices'][number];
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _choicesAgree: { [F in ChoiceField]: Same<TableChoices<F>, ChoiceValues[F]> } = {
  attestations: true,
  referrers: true,
  'dangling-attestations': true,
  format: true,
  'github-annotations': true,
  sign: true,
};

/** The fields a spec image may set, in table order. */
export const IMAGE_FIELDS = (Object.keys(FIELDS) as FieldName[]).filter((name) => FIELDS[name].scope === 'image');

/** The choices of a choice field, as declared. */
export function choicesOf<F extends ChoiceField>(field: F): readonly ChoiceValues[F][] {
  return FIELDS[field].choices as readonly string[] as readonly ChoiceValues[F][];
}

/**
 * A field's raw value as a surface has it: text (lists split on newlines and commas), a boolean
 * (a CLI switch), or items taken exactly as given (CLI arguments, each one value).
 */
export type RawValue = string | boolean | readonly string[];

/** One record of fields, from step inputs, CLI flags or a spec image. A field left out takes its default. */
export type FieldRecord = Partial<Record<FieldName, RawValue>>;

/** How a surface names its fields in errors ("Input `format`", "--format", "images[0].format"). */
export interface FieldNaming {
  label(field: FieldName): string;
  /** the error for an empty `sources` or `tags`, in the surface's words */
  missing(field: 'sources' | 'tags'): Error;
}
