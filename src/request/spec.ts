// Several images in one step: input `spec` (CLI `merge --spec FILE`), a YAML or JSON document
// `images: [{tags, sources, platforms?, annotations?, …}]`. Each image is a merge request of its
// own; a key it sets overrides the step's input of the same name. The whole document is checked
// here, before any request, and every error names the image's position and the field.
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { InputError, ManifestMergeError } from '../base/errors.js';
import type { ImageRequest, MergeRequest } from '../engine/model.js';
import { parseAnnotations, parseBoolean, parseChoice, parseList, parsePlatformList, parseSources, parseTargetTags } from './parse.js';
import { digestFileSources } from '../sources/digest-files.js';

/** Keys an image may set; each overrides the step's input of the same name. */
const IMAGE_KEYS = ['tags', 'sources', 'digests-dir', 'image', 'platforms', 'select-platforms', 'annotations', 'attestations', 'referrers', 'dangling-attestations', 'format', 'append'] as const;
type ImageKey = (typeof IMAGE_KEYS)[number];

/** At most this many images in one spec: more is a mistake (or a hostile file), not a monorepo. */
export const MAX_SPEC_IMAGES = 500;

/** The spec's text: the file it names (a single line naming an existing file), else the YAML itself. */
export function readSpec(label: string, value: string): { text: string; origin: string } {
  const v = value.trim();
  if (!v.includes('\n') && !v.includes('images:') && !v.startsWith('{')) {
    if (!existsSync(v)) throw new InputError(`${label}: no such file "${v}"`, { hint: 'Give the path of a YAML or JSON file, or the YAML itself (images: …)' });
    try {
      return { text: readFileSync(v, 'utf8'), origin: v };
    } catch (cause) {
      throw new InputError(`${label}: cannot read "${v}" (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause });
    }
  }
  return { text: value, origin: 'inline' };
}

/** A YAML value as the step input it overrides would be written: lists one item a line. */
function asInputText(value: unknown, where: string): string {
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
    // annotations as a mapping: key: value
    return Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => {
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new InputError(`${where}.${k} is ${JSON.stringify(v)}, not a string`);
        return `${k}=${String(v)}`;
      })
      .join('\n');
  }
  throw new InputError(`${where} is ${JSON.stringify(value)}, not a string or list`);
}

/**
 * Parses and checks every image of the spec. `step` reads the step's own inputs (by input name),
 * which an image's keys override; `push` is the step's alone.
 */
export function parseSpec(label: string, text: string, step: (name: string) => string, push: boolean): ImageRequest[] {
  let document: unknown;
  try {
    document = parseYaml(text, { maxAliasCount: 100 });
  } catch (cause) {
    throw new InputError(`${label} is not valid YAML or JSON: ${cause instanceof Error ? cause.message.split('\n')[0] : String(cause)}`, { cause });
  }
  const images = (document as { images?: unknown } | null)?.images;
  if (typeof document !== 'object' || document === null || Array.isArray(document) || !Array.isArray(images) || images.length === 0) {
    throw new InputError(`${label} has no \`images\` list`, { hint: 'Write images: [{tags: [...], sources: [...]}, …]' });
  }
  const extra = Object.keys(document).filter((k) => k !== 'images');
  if (extra.length > 0) throw new InputError(`${label}: unknown key ${extra.map((k) => `"${k}"`).join(', ')} at the top`, { hint: 'The top holds only images:' });
  if (images.length > MAX_SPEC_IMAGES) throw new InputError(`${label} lists ${images.length} images, over the limit of ${MAX_SPEC_IMAGES}`, { hint: 'Split it over several steps' });
  return images.map((image, i) => parseImage(`${label} images[${i}]`, image, step, push));
}

function parseImage(position: string, image: unknown, step: (name: string) => string, push: boolean): ImageRequest {
  if (typeof image !== 'object' || image === null || Array.isArray(image)) throw new InputError(`${position} is not a mapping`, { hint: 'Each image is {tags: [...], sources: [...], …}' });
  const own = image as Record<string, unknown>;
  const unknown = Object.keys(own).filter((k) => !(IMAGE_KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) throw new InputError(`${position}: unknown field ${unknown.map((k) => `"${k}"`).join(', ')}`, { hint: `An image may set: ${IMAGE_KEYS.join(', ')}` });
  const has = (key: ImageKey) => Object.hasOwn(own, key);
  const get = (key: ImageKey): string => (has(key) ? asInputText(own[key], `${position}.${key}`) : key === 'tags' || key === 'sources' || key === 'digests-dir' || key === 'image' ? '' : step(key));
  const field = (key: ImageKey) => (has(key) ? `${position}.${key}` : `Input \`${key}\``);
  try {
    const digestsDir = get('digests-dir').trim();
    const sourceItems = [...parseList(get('sources')), ...(digestsDir ? digestFileSources(field('digests-dir'), digestsDir, field('image'), get('image').trim()) : [])];
    const tagItems = parseList(get('tags'));
    if (sourceItems.length === 0) throw new InputError(`${position}.sources is empty`, { hint: 'List the images to merge (or give digests-dir and image)' });
    if (tagItems.length === 0) throw new InputError(`${position}.tags is empty`, { hint: 'List the tags to push this image to' });
    const { annotations, warning } = parseAnnotations(parseList(get('annotations'), { commas: false }), field('annotations'));
    const request: MergeRequest = {
      sources: parseSources(`${position}.sources`, sourceItems),
      tags: parseTargetTags(`${position}.tags`, tagItems),
      platforms: parsePlatformList(field('platforms'), parseList(get('platforms'))),
      selectPlatforms: parsePlatformList(field('select-platforms'), parseList(get('select-platforms'))),
      attestations: parseChoice(field('attestations'), get('attestations'), ['keep', 'strip'] as const, 'keep'),
      referrers: parseChoice(field('referrers'), get('referrers'), ['copy', 'skip'] as const, 'copy'),
      danglingAttestations: parseChoice(field('dangling-attestations'), get('dangling-attestations'), ['drop', 'keep'] as const, 'drop'),
      format: parseChoice(field('format'), get('format'), ['auto', 'oci', 'docker'] as const, 'auto'),
      push,
      append: parseBoolean(field('append'), get('append'), false),
      annotations,
    };
    return { position, request, warnings: warning ? [`${position}: ${warning}`] : [] };
  } catch (error) {
    // every message starts with where in the spec it is
    if (error instanceof ManifestMergeError && !error.summary.includes(position)) throw new InputError(`${position}: ${error.summary}`, { cause: error, hint: error.hint });
    throw error;
  }
}
