// Action inputs (and CLI flags, which map onto the same names) → a typed, validated request.
// Pure: takes a getter, so tests and the CLI don't need @actions/core.
import { InputError, ManifestMergeError } from './errors.js';
import { type Platform, formatPlatform, parsePlatform, platformKey } from './platform.js';
import type { Annotations, AttestationMode, DescriptorAnnotation, OutputFormat } from './plan.js';
import { type ImageReference, parseReference } from './reference.js';

export interface Inputs {
  sources: ImageReference[];
  tags: ImageReference[];
  platforms?: Platform[];
  attestations: AttestationMode;
  format: OutputFormat;
  push: boolean;
  append: boolean;
  annotations: Annotations;
  /** annotation lines that cannot apply here (e.g. `manifest:`), with the reason */
  skippedAnnotations: string[];
  /** the one warning naming every skipped annotation line and why (undefined when none was skipped) */
  annotationsWarning?: string;
  insecureRegistries: string[];
  username?: string;
  password?: string;
  /** registry the username/password are for (default: the first tag's) */
  registry?: string;
  timeoutMs: number;
  summary: boolean;
}

export type InputGetter = (name: string) => string;

/** Splits a list input on newlines and commas; trims; drops blank lines and `#` comments. */
export function parseList(value: string, options: { commas?: boolean } = {}): string[] {
  const lines = value.split(/\r?\n/);
  const items = options.commas === false ? lines : lines.flatMap((l) => (l.trim().startsWith('#') ? [l] : l.split(',')));
  return items.map((i) => i.trim()).filter((i) => i !== '' && !i.startsWith('#'));
}

export function parseBoolean(name: string, value: string, fallback: boolean): boolean {
  const v = value.trim();
  if (v === '') return fallback;
  if (['true', 'True', 'TRUE'].includes(v)) return true;
  if (['false', 'False', 'FALSE'].includes(v)) return false;
  throw new InputError(`Input \`${name}\` is "${value}"`, { hint: 'Use true or false' });
}

function parseChoice<T extends string>(name: string, value: string, allowed: readonly T[], fallback: T): T {
  const v = value.trim().toLowerCase();
  if (v === '') return fallback;
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw new InputError(`Input \`${name}\` is "${value}"`, { hint: `Use one of: ${allowed.join(', ')}` });
}

/** `90`, `90s`, `10m`, `1h30m`, `1500ms` → milliseconds. */
export function parseDuration(name: string, value: string, fallbackMs: number): number {
  const v = value.trim();
  if (v === '') return fallbackMs;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...v.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== v) {
    throw new InputError(`Input \`${name}\` is "${value}", not a duration`, { hint: 'Write seconds (600) or a duration like 10m, 90s, 1h30m' });
  }
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2]], 0);
  if (ms <= 0) throw new InputError(`Input \`${name}\` must be more than zero`);
  return ms;
}

function parseReferences(name: string, items: string[]): ImageReference[] {
  return items.map((item) => {
    try {
      return parseReference(item);
    } catch (error) {
      if (error instanceof ManifestMergeError) throw new InputError(`\`${name}\`: ${error.message}`, { cause: error });
      throw error;
    }
  });
}

/** Tags must name a tag: a digest is content, not a name to push to. */
export function parseTargetTags(items: string[]): ImageReference[] {
  return parseReferences('tags', items).map((ref, i) => {
    if (ref.digest) {
      throw new InputError(`\`tags\`: "${items[i]}" is a digest reference, which cannot be a target`, {
        hint: 'Targets are tags (e.g. ghcr.io/acme/app:latest); digests belong in `sources`',
      });
    }
    return { ...ref, tag: ref.tag ?? 'latest' };
  });
}

export function parsePlatformList(items: string[]): Platform[] | undefined {
  if (items.length === 0) return undefined;
  const seen = new Map<string, string>();
  return items.map((item) => {
    let platform: Platform;
    try {
      platform = parsePlatform(item);
    } catch (error) {
      if (error instanceof ManifestMergeError) throw new InputError(`\`platforms\`: ${error.message}`, { cause: error });
      throw error;
    }
    const key = platformKey(platform);
    const earlier = seen.get(key);
    if (earlier !== undefined) throw new InputError(`\`platforms\` lists ${formatPlatform(platform)} twice ("${earlier}" and "${item}")`, { hint: 'List each platform once' });
    seen.set(key, item);
    return platform;
  });
}

const SKIP_REASONS: Record<string, string> = {
  manifest: "manifest: annotations live inside each image manifest, and changing one would change that image's digest; set them when building, e.g. with docker/build-push-action's annotations input",
  'index-descriptor': 'index-descriptor: annotations describe an index inside a parent index, which a merge does not write',
};

const ANNOTATION_LINE = /^(?:([a-z-]+)(?:\[([^\]]*)\])?:)?([^=\s][^=]*)=(.*)$/s;

/**
 * `key=value` lines with optional `index:` (default) or `manifest-descriptor[platform]:` prefixes,
 * as `docker buildx imagetools create --annotation` and docker/metadata-action write them.
 * `manifest:` and `index-descriptor:` cannot apply to a merged index (a child's bytes are fixed by
 * its digest); they are returned in `skipped` rather than silently dropped.
 */
export function parseAnnotations(lines: string[]): { annotations: Annotations; skipped: string[]; warning?: string } {
  const annotations: Annotations = { index: {}, descriptors: [] };
  const skipped: string[] = [];
  const skippedKeys = new Map<string, string[]>();
  const skip = (level: string, key: string, line: string) => {
    skipped.push(`${line} (${SKIP_REASONS[level]})`);
    skippedKeys.set(level, [...(skippedKeys.get(level) ?? []), `${level}:${key}`]);
  };
  for (const line of lines) {
    const match = ANNOTATION_LINE.exec(line);
    if (!match) throw new InputError(`\`annotations\`: "${line}" is not key=value`, { hint: 'Write key=value, optionally prefixed with index: or manifest-descriptor[os/arch]:' });
    const [, level = 'index', selector, rawKey, value] = match;
    const key = rawKey.trim();
    let platform: Platform | undefined;
    if (selector !== undefined && selector.trim() !== '') {
      try {
        platform = parsePlatform(selector);
      } catch (error) {
        if (error instanceof ManifestMergeError) throw new InputError(`\`annotations\`: "${line}": ${error.message}`, { cause: error });
        throw error;
      }
    }
    switch (level) {
      case 'index':
        if (platform) throw new InputError(`\`annotations\`: "${line}": a platform selector only applies to manifest-descriptor annotations`);
        annotations.index[key] = value;
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
        throw new InputError(`\`annotations\`: "${line}" has unknown level "${level}"`, { hint: 'Use index: (default) or manifest-descriptor:' });
    }
  }
  if (skipped.length === 0) return { annotations, skipped };
  // One warning for all of them (docker/metadata-action writes several `manifest:` lines at once).
  const groups = [...skippedKeys].map(([level, keys]) => `${keys.join(', ')} (${SKIP_REASONS[level]})`);
  const applied = lines.length - skipped.length;
  const rest = applied === 0 ? 'No other annotation was given' : `The other ${applied} line${applied === 1 ? '' : 's'} (index:, manifest-descriptor:) appl${applied === 1 ? 'ies' : 'y'}`;
  const warning = `${skipped.length} annotation line${skipped.length === 1 ? '' : 's'} skipped, as ${skipped.length === 1 ? 'it cannot' : 'they cannot'} apply to a merged index: ${groups.join('; ')}. ${rest}.`;
  return { annotations, skipped, warning };
}

/** `https://index.docker.io/v1/`, `ghcr.io/`, `localhost:5000` → the registry as references name it. */
export function normalizeRegistryInput(name: string, value: string): string {
  const host = value.trim().replace(/^[a-z]+:\/\//i, '').split('/')[0];
  try {
    return parseReference(`${host}/x`).registry;
  } catch (error) {
    if (error instanceof ManifestMergeError) throw new InputError(`Input \`${name}\`: "${value}" is not a registry host[:port]`, { cause: error });
    throw error;
  }
}

export const DEFAULT_TIMEOUT_MS = 10 * 60_000;

export function getInputs(getInput: InputGetter): Inputs {
  const sourceItems = parseList(getInput('sources'));
  const tagItems = parseList(getInput('tags'));
  if (sourceItems.length === 0) throw new InputError('Input `sources` is empty', { hint: 'List the per-platform images to merge, one per line (tags or repo@sha256:… digests)' });
  if (tagItems.length === 0) throw new InputError('Input `tags` is empty', { hint: 'List the tags to push the index to, one per line (e.g. ghcr.io/acme/app:latest)' });
  const sources = parseReferences('sources', sourceItems);
  const tags = parseTargetTags(tagItems);
  const { annotations, skipped, warning: annotationsWarning } = parseAnnotations(parseList(getInput('annotations'), { commas: false }));
  const username = getInput('username').trim() || undefined;
  const password = getInput('password') || undefined;
  if ((username === undefined) !== (password === undefined)) {
    throw new InputError(`Input \`${username ? 'password' : 'username'}\` is empty while \`${username ? 'username' : 'password'}\` is set`, { hint: 'Give both, or neither (to use docker/login-action credentials)' });
  }
  let registry = getInput('registry').trim() || undefined;
  if (registry) registry = normalizeRegistryInput('registry', registry);
  return {
    sources,
    tags,
    platforms: parsePlatformList(parseList(getInput('platforms'))),
    attestations: parseChoice('attestations', getInput('attestations'), ['keep', 'strip'] as const, 'keep'),
    format: parseChoice('format', getInput('format'), ['auto', 'oci', 'docker'] as const, 'auto'),
    push: parseBoolean('push', getInput('push'), true),
    append: parseBoolean('append', getInput('append'), false),
    annotations,
    skippedAnnotations: skipped,
    annotationsWarning,
    insecureRegistries: parseList(getInput('insecure-registries')).map((r) => normalizeRegistryInput('insecure-registries', r)),
    username,
    password,
    registry: username ? (registry ?? tags[0].registry) : registry,
    timeoutMs: parseDuration('timeout', getInput('timeout'), DEFAULT_TIMEOUT_MS),
    summary: parseBoolean('summary', getInput('summary'), true),
  };
}
