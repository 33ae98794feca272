// The one builder: a record of fields (from the action's inputs, the CLI's flags or a spec image)
// -> the engine's image requests and the client's settings. A run without a spec is a spec of one
// image. Every check quotes the bad value under the name its surface gave it (FieldNaming) and
// says what is allowed. Pure but for reading a spec file and a digests directory.
import { readSigningConfig } from './signing-config.js';
import { InputError, ManifestMergeError } from '../base/errors.js';
import type { ClientSettings, ImageRequest, MergeRequest } from '../engine/model.js';
import { digestFileSources } from '../sources/digest-files.js';
import { metadataFileSources } from '../sources/metadata-files.js';
import { formatReference, parseReference } from '../oci/reference.js';
import {
  type BooleanField,
  type ChoiceField,
  type ChoiceValues,
  FIELDS,
  type FieldNaming,
  type FieldRecord,
  type GithubAnnotationsMode,
  IMAGE_FIELDS,
  type RawValue,
  choicesOf,
} from './fields.js';
import {
  DEFAULT_TIMEOUT_MS,
  parseAnnotations,
  parseBoolean,
  parseChoice,
  parseChoiceList,
  parseDuration,
  parseList,
  parseMediaType,
  parsePlatformList,
  parseRegistry,
  parseSources,
  parseTargetTags,
} from './parse.js';
import { imageRecords, readSpec } from './spec.js';
import { ATTESTATION_KINDS } from '../oci/attestation-kinds.js';

/** What a step asks for: its images, one registry client for all, and the action's own switches. */
export interface StepRequest {
  /** every image to merge (one unless a spec lists several) */
  images: ImageRequest[];
  client: ClientSettings;
  /** the images come from a spec: one failing fails the step as one of several, and the others complete */
  spec: boolean;
  /** write the job summary table (the action's `summary`) */
  summary: boolean;
  /** the action's `github-annotations` (applied by the action, which has the run's context) */
  githubAnnotations: GithubAnnotationsMode;
  /** said once before the work starts (e.g. annotation lines that cannot apply) */
  warnings: string[];
}

/** `{ key: value }`, or nothing when the value is undefined (the request leaves unset fields out). */
function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

/** The text of a field: '' when not given; a list's items one a line. */
function text(value: RawValue | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return value;
  return value.join('\n');
}

/** The items of a list field: text is split on newlines (and commas unless `commas: false`); items given one by one are taken as they are. */
function items(value: RawValue | undefined, options: { commas?: boolean } = {}): string[] {
  if (value === undefined || typeof value === 'boolean') return [];
  if (typeof value === 'string') return parseList(value, options);
  return [...value];
}

function choice<F extends ChoiceField>(record: FieldRecord, naming: FieldNaming, field: F): ChoiceValues[F] {
  return parseChoice(naming.label(field), text(record[field]), choicesOf(field), FIELDS[field].default as ChoiceValues[F]);
}

function boolean(record: FieldRecord, naming: FieldNaming, field: BooleanField): boolean {
  const value = record[field];
  if (typeof value === 'boolean') return value;
  return parseBoolean(naming.label(field), text(value), FIELDS[field].default);
}

/** The sources buildx's metadata files name (`metadata-files`, `bake-targets`); tags' repositories preferred when a build pushed to several. */
function metadataSources(record: FieldRecord, naming: FieldNaming, tagItems: string[]): string[] {
  const patterns = items(record['metadata-files']);
  const targets = items(record['bake-targets']);
  if (patterns.length === 0) {
    if (targets.length > 0)
      throw new InputError(`${naming.label('bake-targets')} is set but ${naming.label('metadata-files')} is empty`, {
        hint: `Give the files buildx bake --metadata-file wrote as ${naming.label('metadata-files')}; the targets pick builds in them`,
      });
    return [];
  }
  const prefer = tagItems.flatMap((t) => {
    try {
      return [parseReference(t)];
    } catch {
      return []; // a bad tag is reported as such below
    }
  });
  return metadataFileSources(patterns, {
    label: naming.label('metadata-files'),
    targets,
    targetsLabel: naming.label('bake-targets'),
    prefer,
  });
}

/** One image: its sources (with those of a digests directory and of metadata files), tags (and each as written) and every image field. */
export function buildImage(
  record: FieldRecord,
  naming: FieldNaming,
  push: boolean,
): { request: MergeRequest; warnings: string[]; tagsAsWritten: string[] } {
  const digestsDir = text(record['digests-dir']).trim();
  const tagItems = items(record.tags);
  const sourceItems = [
    ...items(record.sources),
    ...(digestsDir ? digestFileSources(naming.label('digests-dir'), digestsDir, naming.label('image'), text(record.image).trim()) : []),
    ...metadataSources(record, naming, tagItems),
  ];
  if (sourceItems.length === 0) throw naming.missing('sources');
  if (tagItems.length === 0) throw naming.missing('tags');
  const sources = parseSources(naming.label('sources'), sourceItems);
  const tags = parseTargetTags(naming.label('tags'), tagItems);
  const { annotations, warning } = parseAnnotations(items(record.annotations, { commas: false }), naming.label('annotations'));
  const required = parseChoiceList(naming.label('require-attestations'), items(record['require-attestations']), ATTESTATION_KINDS);
  const request: MergeRequest = {
    sources,
    tags,
    platforms: parsePlatformList(naming.label('platforms'), items(record.platforms)),
    selectPlatforms: parsePlatformList(naming.label('select-platforms'), items(record['select-platforms'])),
    attestations: choice(record, naming, 'attestations'),
    referrers: choice(record, naming, 'referrers'),
    danglingAttestations: choice(record, naming, 'dangling-attestations'),
    format: choice(record, naming, 'format'),
    ...optional('artifactType', parseMediaType(naming.label('artifact-type'), text(record['artifact-type']))),
    push,
    append: boolean(record, naming, 'append'),
    annotations,
    ...(boolean(record, naming, 'cleanup-sources') ? { cleanupSources: true } : {}),
    ...(required.length > 0 ? { requireAttestations: required } : {}),
    ...signing(record, naming),
  };
  return { request, warnings: warning ? [warning] : [], tagsAsWritten: tagItems };
}

/** `sign` and `attest` as the engine takes them (absent when off). */
function signing(record: FieldRecord, naming: FieldNaming): Pick<MergeRequest, 'sign' | 'attest'> {
  const sign = choice(record, naming, 'sign');
  return {
    ...(sign === 'true' ? { sign: 'index' as const } : sign === 'recursive' ? { sign: 'recursive' as const } : {}),
    ...(boolean(record, naming, 'attest') ? { attest: true } : {}),
  };
}

/**
 * The Sigstore `sign` and `attest` use: `signing-config`'s services (read now, before any
 * request), each replaced by `fulcio-url`, `tsa-url` or `rekor-url` when given; absolute http(s)
 * URLs (signing needs a Fulcio and a TSA; the engine says so when it signs).
 */
function sigstoreEndpoints(record: FieldRecord, naming: FieldNaming): Pick<ClientSettings, 'sigstore'> {
  const [fulcioUrl, tsaUrl, rekorUrl] = (['fulcio-url', 'tsa-url', 'rekor-url'] as const).map((field) => {
    const value = text(record[field]).trim();
    if (!value) return undefined;
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    if (url?.protocol !== 'https:' && url?.protocol !== 'http:')
      throw new InputError(`${naming.label(field)} is not an http(s) URL: ${JSON.stringify(value)}`, {
        hint: 'Give an absolute URL, e.g. https://fulcio.githubapp.com',
      });
    return url.href;
  });
  const configPath = text(record['signing-config']).trim();
  const fromConfig = configPath
    ? readSigningConfig(naming.label('signing-config'), configPath, new Date(), { rekorUrlGiven: rekorUrl !== undefined })
    : {};
  const given = { ...(fulcioUrl ? { fulcioUrl } : {}), ...(tsaUrl ? { tsaUrl } : {}), ...(rekorUrl ? { rekorUrl } : {}) };
  const sigstore = { ...fromConfig, ...given };
  return Object.keys(sigstore).length > 0 ? { sigstore } : {};
}

/**
 * Two images of a spec writing one tag would race: both report it pushed, and the tag holds
 * whichever index came last. The spec is known whole before any request, so that is refused here,
 * naming both images. Tags compare as the registry sees them (`x`, `docker.io/library/x:latest`
 * and `index.docker.io/library/x:latest` are one tag); one image naming a tag twice writes it once.
 */
function checkOneImagePerTag(label: string, images: Array<{ request: MergeRequest; tagsAsWritten: string[] }>): void {
  const writer = new Map<string, { image: number; written: string }>();
  images.forEach(({ request, tagsAsWritten }, image) => {
    request.tags.forEach((tag, i) => {
      const key = formatReference(tag);
      const earlier = writer.get(key);
      if (earlier === undefined) writer.set(key, { image, written: tagsAsWritten[i] });
      else if (earlier.image !== image) {
        const written = tagsAsWritten[i];
        const spellings = earlier.written === key && written === key ? '' : ` ("${earlier.written}" and "${written}")`;
        throw new InputError(`${label} images[${earlier.image}] and images[${image}] both write the tag ${key}${spellings}`, {
          hint: 'Give each tag to one image only: a tag holds one index, and two images pushing it at once leave whichever came last',
        });
      }
    });
  });
}

/**
 * The client's settings from the step's fields; explicit credentials (both username and password,
 * which the surface has checked) are for `registry`, else `defaultRegistry` (the first tag's).
 */
export function buildClientSettings(record: FieldRecord, naming: FieldNaming, defaultRegistry: string): ClientSettings {
  const registryText = text(record.registry).trim();
  const registry = registryText ? parseRegistry(naming.label('registry'), registryText) : defaultRegistry;
  const insecureRegistries = items(record['insecure-registries']).map((r) => parseRegistry(naming.label('insecure-registries'), r));
  const username = text(record.username).trim();
  const password = text(record.password);
  const timeoutMs = parseDuration(naming.label('timeout'), text(record.timeout), DEFAULT_TIMEOUT_MS);
  const githubToken = text(record['github-token']).trim();
  return {
    insecureRegistries,
    ...(username && password ? { credentials: { registry, username, password } } : {}),
    timeoutMs,
    ...(githubToken ? { githubToken } : {}),
    ...sigstoreEndpoints(record, naming),
  };
}

/** The names a spec image's fields go by: its own under its position, the step's as the step names them. */
function imageNaming(position: string, own: FieldRecord, step: FieldNaming): FieldNaming {
  return {
    label: (field) => (Object.hasOwn(own, field) ? `${position}.${field}` : step.label(field)),
    missing: (field) =>
      new InputError(`${position}.${field} is empty`, {
        hint:
          field === 'sources'
            ? 'List the images to merge (or give metadata-files, or digests-dir and image)'
            : 'List the tags to push this image to',
      }),
  };
}

/** Every message about a spec image starts with where in the spec it is. */
function atPosition<T>(position: string, build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (error instanceof ManifestMergeError && !error.summary.includes(position))
      throw new InputError(`${position}: ${error.summary}`, { cause: error, hint: error.hint });
    throw error;
  }
}

/**
 * The step: with `spec`, one image per spec image (an image's own fields override the step's
 * image fields); without, the step's record is the one image. Then the client settings.
 */
export function buildStep(record: FieldRecord, naming: FieldNaming): StepRequest {
  const push = boolean(record, naming, 'push');
  const specText = text(record.spec);
  let images: ImageRequest[];
  if (specText.trim() !== '') {
    const label = naming.label('spec');
    const defaults = Object.fromEntries(IMAGE_FIELDS.filter((f) => record[f] !== undefined).map((f) => [f, record[f]])) as FieldRecord;
    const built = imageRecords(label, readSpec(label, specText).text).map((own, i) => {
      const position = `${label} images[${i}]`;
      return { position, ...atPosition(position, () => buildImage({ ...defaults, ...own }, imageNaming(position, own, naming), push)) };
    });
    checkOneImagePerTag(label, built);
    images = built.map(({ position, request, warnings }) => ({ position, request, warnings: warnings.map((w) => `${position}: ${w}`) }));
  } else {
    const { request, warnings } = buildImage(record, naming, push);
    images = [{ position: 'image', request, warnings }];
  }
  return {
    images,
    client: buildClientSettings(record, naming, images[0].request.tags[0].registry),
    spec: specText.trim() !== '',
    summary: boolean(record, naming, 'summary'),
    githubAnnotations: choice(record, naming, 'github-annotations'),
    warnings: images.flatMap((i) => i.warnings),
  };
}
