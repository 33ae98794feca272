// What a run asks for, and the pure parsers both entries build it with. The action (inputs.ts)
// and the CLI (flags.ts) each read their own surface into the same two things: the engine's
// `MergeRequest` and the registry client's `ClientSettings`. Every parser takes the `label` under
// which its surface names the value ("Input `timeout`", "--timeout"), so an error quotes the bad
// value under the name the user wrote it with, and says what is allowed. Pure: no @actions/*.
import { InputError, ManifestMergeError } from '../base/errors.js';
import { type Platform, formatPlatform, normalizePlatform, parsePlatform, platformKey } from '../oci/platform.js';
import type { Annotations, DescriptorAnnotation, SourceReference } from '../engine/model.js';
import { isLayoutSource, parseLayoutSource } from '../sources/layout-reference.js';
import { type ImageReference, parseReference } from '../oci/reference.js';

export const DEFAULT_TIMEOUT_MS = 10 * 60_000;
/**
 * The longest budget accepted. Node timers hold at most 2^31-1 ms (24.8 days) and fire at once
 * beyond it; a merge that needs more than a day is stuck, not slow.
 */
export const MAX_TIMEOUT_MS = 24 * 3_600_000;

/** Splits a list value on newlines and commas; trims; drops blank lines and `#` comments. */
export function parseList(value: string, options: { commas?: boolean } = {}): string[] {
  const lines = value.split(/\r?\n/);
  const items = options.commas === false ? lines : lines.flatMap((l) => (l.trim().startsWith('#') ? [l] : l.split(',')));
  return items.map((i) => i.trim()).filter((i) => i !== '' && !i.startsWith('#'));
}

export function parseBoolean(label: string, value: string, fallback: boolean): boolean {
  const v = value.trim();
  if (v === '') return fallback;
  if (['true', 'True', 'TRUE'].includes(v)) return true;
  if (['false', 'False', 'FALSE'].includes(v)) return false;
  throw new InputError(`${label} is "${value}"`, { hint: 'Use true or false' });
}

export function parseChoice<T extends string>(label: string, value: string, allowed: readonly T[], fallback: T): T {
  const v = value.trim().toLowerCase();
  if (v === '') return fallback;
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw new InputError(`${label} is "${value}"`, { hint: `Use one of: ${allowed.join(', ')}` });
}

/** Any of `allowed`, each item one of them (case aside); a repeat counts once. */
export function parseChoiceList<T extends string>(label: string, items: string[], allowed: readonly T[]): T[] {
  const out: T[] = [];
  for (const item of items) {
    const v = item.trim().toLowerCase();
    if (!(allowed as readonly string[]).includes(v))
      throw new InputError(`${label} lists "${item}"`, { hint: `Use any of: ${allowed.join(', ')} (one per line or comma-separated)` });
    if (!out.includes(v as T)) out.push(v as T);
  }
  return out;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `90`, `90s`, `10m`, `1h30m`, `1500ms` → milliseconds; more than zero and at most 24h. */
export function parseDuration(label: string, value: string, fallbackMs: number): number {
  const v = value.trim();
  if (v === '') return fallbackMs;
  let ms: number;
  if (/^\d+$/.test(v)) {
    ms = Number(v) * 1000;
  } else {
    const parts = [...v.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
    if (parts.length === 0 || parts.map((p) => p[0]).join('') !== v) {
      throw new InputError(`${label} is "${value}", not a duration`, { hint: 'Write seconds (600) or a duration like 10m, 90s, 1h30m' });
    }
    ms = parts.reduce((sum, p) => sum + Number(p[1]) * DURATION_UNITS[p[2]], 0);
  }
  // under a millisecond rounds to none: a budget nothing can be done in
  if (!(ms >= 1))
    throw new InputError(`${label} is "${value}", which leaves no time at all`, {
      hint: 'Give a budget above zero, e.g. 10m (the default)',
    });
  if (ms > MAX_TIMEOUT_MS)
    throw new InputError(`${label} is "${value}", over the limit of 24h`, { hint: 'Give at most 24h (the default is 10m)' });
  return Math.round(ms);
}

/** Re-labels a grammar error (reference, platform) with the name the user gave the value under. */
function labelled<T>(label: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof ManifestMergeError) throw new InputError(`${label}: ${error.summary}`, { cause: error, hint: error.hint });
    throw error;
  }
}

export function parseReferences(label: string, items: string[]): ImageReference[] {
  return items.map((item) => labelled(label, () => parseReference(item)));
}

/** Where a source's options start: `REF platform=P [os.features=F+F]`. */
const SOURCE_OPTIONS = /\s+(?=(?:platform|os\.features)=)/;
const FEATURE = /^[a-z0-9_.-]+$/i;
const SOURCE_OPTIONS_HINT =
  'After the image, write platform=os/arch[/variant][:os.version] and optionally os.features=F[+F…], e.g. ghcr.io/acme/app@sha256:… platform=windows/amd64:10.0.17763.5122';

/**
 * Sources: image references, and `oci-layout://PATH[:TAG|@DIGEST]` layouts on disk; either may be
 * followed by the platform its image is to be listed under: `REF platform=os/arch[/variant][:os.version]`,
 * and `os.features=F[+F…]` (features joined by "+").
 */
export function parseSources(label: string, items: string[]): SourceReference[] {
  return items.map((item) => {
    const at = item.search(SOURCE_OPTIONS);
    const ref = at < 0 ? item : item.slice(0, at);
    const reference = isLayoutSource(ref) ? parseLayoutSource(ref, label) : labelled(label, () => parseReference(ref));
    if (at < 0) return reference;
    let platform: Platform | undefined;
    let features: string[] | undefined;
    for (const option of item.slice(at).trim().split(/\s+/)) {
      const eq = option.indexOf('=');
      const [key, value] = eq < 0 ? [option, ''] : [option.slice(0, eq), option.slice(eq + 1)];
      if (key === 'platform' && platform === undefined) {
        platform = labelled(`${label}: "${item}"`, () => parsePlatform(value));
      } else if (key === 'os.features' && features === undefined) {
        features = value.split('+');
        const bad = features.find((f) => !FEATURE.test(f));
        if (bad !== undefined)
          throw new InputError(`${label}: "${item}": os.features entry "${bad}" may only contain letters, digits, "_", "." and "-"`, {
            hint: SOURCE_OPTIONS_HINT,
          });
      } else {
        throw new InputError(
          `${label}: "${item}": "${option}" is ${key === 'platform' || key === 'os.features' ? 'given twice' : 'not an option of a source'}`,
          {
            hint: SOURCE_OPTIONS_HINT,
          },
        );
      }
    }
    if (!platform) throw new InputError(`${label}: "${item}" gives os.features without platform=`, { hint: SOURCE_OPTIONS_HINT });
    return { ...reference, platform: features ? normalizePlatform({ ...platform, 'os.features': features }) : platform };
  });
}

/** A media type as an index's artifactType takes it: type/subtype (RFC 6838), e.g. application/vnd.acme.bundle.v1+json. */
export function parseMediaType(label: string, value: string): string | undefined {
  const v = value.trim();
  if (v === '') return undefined;
  const NAME = '[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}';
  if (!new RegExp(`^${NAME}/${NAME}$`).test(v))
    throw new InputError(`${label} is "${value}", not a media type`, {
      hint: 'Write type/subtype, e.g. application/vnd.acme.bundle.v1+json',
    });
  return v;
}

/** Tags must name a tag: a digest is content, not a name to push to. A tag left out is `latest`. */
export function parseTargetTags(label: string, items: string[]): ImageReference[] {
  return parseReferences(label, items).map((ref, i) => {
    if (ref.digest) {
      throw new InputError(`${label}: "${items[i]}" is a digest reference, which cannot be a target`, {
        hint: 'Targets are tags (e.g. ghcr.io/acme/app:latest); digests belong in {sources}',
      });
    }
    return { ...ref, tag: ref.tag ?? 'latest' };
  });
}

/** The platforms the index must hold; undefined for none given. Each at most once (aliases count). */
export function parsePlatformList(label: string, items: string[]): Platform[] | undefined {
  if (items.length === 0) return undefined;
  const seen = new Map<string, string>();
  return items.map((item) => {
    const platform = labelled(label, () => parsePlatform(item));
    const key = platformKey(platform);
    const earlier = seen.get(key);
    if (earlier !== undefined)
      throw new InputError(`${label} lists ${formatPlatform(platform)} twice ("${earlier}" and "${item}")`, {
        hint: 'List each platform once',
      });
    seen.set(key, item);
    return platform;
  });
}

const SKIP_REASONS: Record<string, string> = {
  manifest:
    "manifest: annotations live inside each image manifest, and changing one would change that image's digest; set them when building, e.g. with docker/build-push-action's annotations input",
  'index-descriptor': 'index-descriptor: annotations describe an index inside a parent index, which a merge does not write',
};

const ANNOTATION_LINE = /^(?:([a-z-]+)(?:\[([^\]]*)\])?:)?([^=\s][^=]*)=(.*)$/s;

export interface ParsedAnnotations {
  annotations: Annotations;
  /** lines that cannot apply to a merged index (e.g. `manifest:`), with the reason */
  skipped: string[];
  /** the one warning naming every skipped line and why (undefined when none was skipped) */
  warning?: string;
}

/**
 * `key=value` lines with optional `index:` (default) or `manifest-descriptor[platform]:` prefixes,
 * as `docker buildx imagetools create --annotation` and docker/metadata-action write them.
 * `manifest:` and `index-descriptor:` cannot apply to a merged index (a child's bytes are fixed by
 * its digest); they are returned in `skipped` rather than silently dropped. The index record has
 * no prototype, so any key (`__proto__`, `constructor`) is stored as the annotation it is.
 */
export function parseAnnotations(lines: string[], label = '`annotations`'): ParsedAnnotations {
  const index: Record<string, string> = Object.create(null) as Record<string, string>;
  const annotations: Annotations = { index, descriptors: [] };
  const skipped: string[] = [];
  const skippedKeys = new Map<string, string[]>();
  const skip = (level: string, key: string, line: string) => {
    skipped.push(`${line} (${SKIP_REASONS[level]})`);
    skippedKeys.set(level, [...(skippedKeys.get(level) ?? []), `${level}:${key}`]);
  };
  for (const line of lines) {
    const match = ANNOTATION_LINE.exec(line);
    if (!match)
      throw new InputError(`${label}: "${line}" is not key=value`, {
        hint: 'Write key=value, optionally prefixed with index: or manifest-descriptor[os/arch]:',
      });
    const [, level = 'index', selector, rawKey, value] = match;
    const key = rawKey.trim();
    const platform =
      selector !== undefined && selector.trim() !== '' ? labelled(`${label}: "${line}"`, () => parsePlatform(selector)) : undefined;
    switch (level) {
      case 'index':
        if (platform) throw new InputError(`${label}: "${line}": a platform selector only applies to manifest-descriptor annotations`);
        index[key] = value;
        break;
      case 'manifest-descriptor': {
        const entry: DescriptorAnnotation = { key, value };
        if (platform) entry.platform = platform;
        annotations.descriptors.push(entry);
        break;
      }
      case 'manifest':
      case 'index-descriptor':
        skip(level, key, line);
        break;
      default:
        throw new InputError(`${label}: "${line}" has unknown level "${level}"`, { hint: 'Use index: (default) or manifest-descriptor:' });
    }
  }
  if (skipped.length === 0) return { annotations, skipped };
  // One warning for all of them (docker/metadata-action writes several `manifest:` lines at once).
  const groups = [...skippedKeys].map(([level, keys]) => `${keys.join(', ')} (${SKIP_REASONS[level]})`);
  const applied = lines.length - skipped.length;
  const rest =
    applied === 0
      ? 'No other annotation was given'
      : `The other ${applied} line${applied === 1 ? '' : 's'} (index:, manifest-descriptor:) appl${applied === 1 ? 'ies' : 'y'}`;
  const warning = `${skipped.length} annotation line${skipped.length === 1 ? '' : 's'} skipped, as ${skipped.length === 1 ? 'it cannot' : 'they cannot'} apply to a merged index: ${groups.join('; ')}. ${rest}.`;
  return { annotations, skipped, warning };
}

/** `https://index.docker.io/v1/`, `ghcr.io/`, `localhost:5000` → the registry as references name it. */
export function parseRegistry(label: string, value: string): string {
  const host = value
    .trim()
    .replace(/^[a-z]+:\/\//i, '')
    .split('/')[0];
  try {
    return parseReference(`${host}/x`).registry;
  } catch (error) {
    if (error instanceof ManifestMergeError) throw new InputError(`${label}: "${value}" is not a registry host[:port]`, { cause: error });
    throw error;
  }
}
