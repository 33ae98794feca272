// Several images in one step: input `spec` (CLI `merge --spec FILE`), a YAML or JSON document
// `images: [{tags, sources, platforms?, annotations?, …}]`. Each image is a record of fields of
// its own (build.ts turns it into a merge request); a field it sets overrides the step's field of
// the same name. The document's shape is checked here, before any request; every error names the
// image's position and the field.
import { parse as parseYaml } from 'yaml';
import { InputError } from '../base/errors.js';
import { readBoundedFile } from '../base/files.js';
import { type FieldName, type FieldRecord, IMAGE_FIELDS } from './fields.js';

/** At most this many images in one spec: more is a mistake (or a hostile file), not a monorepo. */
export const MAX_SPEC_IMAGES = 500;

/** At most this many bytes in a spec file: 500 images with long lists take well under 1 MiB. */
export const MAX_SPEC_BYTES = 4 * 1024 * 1024;

/**
 * The spec's text: the file it names (a single line), else the YAML itself. Only a regular file of
 * at most MAX_SPEC_BYTES, opened without waiting: a FIFO or a device is refused, not waited on.
 */
export function readSpec(label: string, value: string): { text: string; origin: string } {
  const v = value.trim();
  if (!v.includes('\n') && !v.includes('images:') && !v.startsWith('{')) {
    const bytes = readBoundedFile(label, v, {
      maxBytes: MAX_SPEC_BYTES,
      hint: 'Write the spec to a regular file, or give the YAML itself (images: …)',
      sizeHint: 'Split the images over several specs and steps',
    });
    return { text: bytes.toString('utf8'), origin: v };
  }
  return { text: value, origin: 'inline' };
}

/** A YAML value as the text of a field: a list one item a line, a mapping (annotations) one key=value a line. */
function fieldText(value: unknown, where: string): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) {
    return value
      .map((item, i) => {
        if (typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean') return String(item);
        throw new InputError(`${where}[${i}] is ${JSON.stringify(item)}, not a string`);
      })
      .join('\n');
  }
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => {
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
          throw new InputError(`${where}.${k} is ${JSON.stringify(v)}, not a string`);
        return `${k}=${String(v)}`;
      })
      .join('\n');
  }
  throw new InputError(`${where} is ${JSON.stringify(value)}, not a string or list`);
}

/** Every image of the spec as a record of the fields it sets itself; `label` names the spec ("Input `spec`", "--spec"). */
export function imageRecords(label: string, text: string): FieldRecord[] {
  let document: unknown;
  try {
    document = parseYaml(text, { maxAliasCount: 100 });
  } catch (cause) {
    throw new InputError(`${label} is not valid YAML or JSON: ${cause instanceof Error ? cause.message.split('\n')[0] : String(cause)}`, {
      cause,
    });
  }
  const images = (document as { images?: unknown } | null)?.images;
  if (typeof document !== 'object' || document === null || Array.isArray(document) || !Array.isArray(images) || images.length === 0) {
    throw new InputError(`${label} has no \`images\` list`, { hint: 'Write images: [{tags: [...], sources: [...]}, …]' });
  }
  const extra = Object.keys(document).filter((k) => k !== 'images');
  if (extra.length > 0)
    throw new InputError(`${label}: unknown key ${extra.map((k) => `"${k}"`).join(', ')} at the top`, {
      hint: 'The top holds only images:',
    });
  if (images.length > MAX_SPEC_IMAGES)
    throw new InputError(`${label} lists ${images.length} images, over the limit of ${MAX_SPEC_IMAGES}`, {
      hint: 'Split it over several steps',
    });
  return images.map((image, i) => imageRecord(`${label} images[${i}]`, image));
}

function imageRecord(position: string, image: unknown): FieldRecord {
  if (typeof image !== 'object' || image === null || Array.isArray(image))
    throw new InputError(`${position} is not a mapping`, { hint: 'Each image is {tags: [...], sources: [...], …}' });
  const own = image as Record<string, unknown>;
  const unknown = Object.keys(own).filter((k) => !(IMAGE_FIELDS as readonly string[]).includes(k));
  if (unknown.length > 0)
    throw new InputError(`${position}: unknown field ${unknown.map((k) => `"${k}"`).join(', ')}`, {
      hint: `An image may set: ${IMAGE_FIELDS.join(', ')}`,
    });
  const record: FieldRecord = {};
  for (const key of Object.keys(own) as FieldName[]) {
    const value = own[key];
    const where = `${position}.${key}`;
    record[key] =
      key === 'sources' && Array.isArray(value)
        ? value.map((item, i) => sourceText(item, `${where}[${i}]`)).join('\n')
        : fieldText(value, where);
  }
  return record;
}

const SOURCE_HINT =
  'A source is REF, or {ref: REF, platform: os/arch[/variant][:os.version]} (platform may also be {os, architecture, variant, os.version, os.features})';

/** A source of a spec: REF, or {ref, platform} as the line `REF platform=P [os.features=F+F]` (parse.ts parseSources). */
function sourceText(item: unknown, where: string): string {
  if (typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean') return String(item);
  if (typeof item !== 'object' || item === null || Array.isArray(item))
    throw new InputError(`${where} is ${JSON.stringify(item)}, not a string`, { hint: SOURCE_HINT });
  const { ref, platform, ...rest } = item as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) throw new InputError(`${where}: unknown key ${extra.map((k) => `"${k}"`).join(', ')}`, { hint: SOURCE_HINT });
  if (typeof ref !== 'string' || ref.trim() === '' || /[\s,]/.test(ref.trim()))
    throw new InputError(`${where}.ref is ${JSON.stringify(ref)}, not an image reference`, { hint: SOURCE_HINT });
  if (platform === undefined || platform === null) return ref.trim();
  return `${ref.trim()} ${platformText(platform, `${where}.platform`)}`;
}

function platformText(platform: unknown, where: string): string {
  const bad = (what: unknown, at = where): never => {
    throw new InputError(`${at} is ${JSON.stringify(what)}, not a platform`, { hint: SOURCE_HINT });
  };
  const word = (value: unknown, at: string): string => (typeof value === 'string' && /^[^\s,=+]+$/.test(value) ? value : bad(value, at));
  if (typeof platform === 'string') return `platform=${word(platform, where)}`;
  if (typeof platform !== 'object' || Array.isArray(platform) || platform === null) return bad(platform);
  const p = platform as Record<string, unknown>;
  const known = ['os', 'architecture', 'variant', 'os.version', 'os.features'];
  const extra = Object.keys(p).filter((k) => !known.includes(k));
  if (extra.length > 0) throw new InputError(`${where}: unknown key ${extra.map((k) => `"${k}"`).join(', ')}`, { hint: SOURCE_HINT });
  let text = `platform=${word(p.os, `${where}.os`)}/${word(p.architecture, `${where}.architecture`)}`;
  if (p.variant !== undefined) text += `/${word(p.variant, `${where}.variant`)}`;
  if (p['os.version'] !== undefined) text += `:${word(p['os.version'], `${where}.os.version`)}`;
  const features = p['os.features'];
  if (features !== undefined) {
    if (!Array.isArray(features) || features.length === 0) bad(features, `${where}.os.features`);
    text += ` os.features=${(features as unknown[]).map((f, i) => word(f, `${where}.os.features[${i}]`)).join('+')}`;
  }
  return text;
}
