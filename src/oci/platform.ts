// Platform parse, normalise, compare and format. Pure.
import { PlatformError } from '../base/errors.js';
import { sanitizeLine } from '../base/redact.js';

/** OCI image-spec platform object (field names as on the wire). */
export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  features?: string[];
}

/**
 * Normalises a platform the way containerd's platforms.Normalize does: os and
 * architecture lower-cased, `macos` → `darwin`, aliases to GOARCH names
 * (`x86_64`/`x86-64` → `amd64`, `aarch64` → `arm64`, `i386`/`i686` → `386`,
 * `armhf` → `arm/v7`, `armel` → `arm/v6`), arm64 variant `v8` dropped and `9` → `v9`,
 * arm default variant `v7` and `5`/`6`/`7`/`8` → `v5`…, amd64 variant `v1` dropped.
 * Idempotent. os.version, os.features and features are kept (empty ones dropped).
 */
export function normalizePlatform(platform: Platform): Platform {
  let os = platform.os.toLowerCase();
  if (os === 'macos') os = 'darwin';
  let architecture = platform.architecture.toLowerCase();
  let variant = platform.variant?.toLowerCase() ?? '';
  switch (architecture) {
    case 'i386':
    case 'i686':
      architecture = '386';
      variant = '';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      architecture = 'amd64';
      if (variant === 'v1' || variant === '1') variant = '';
      break;
    case 'aarch64':
    case 'arm64':
      architecture = 'arm64';
      if (variant === '8' || variant === 'v8' || variant === 'v8.0' || variant === '8.0') variant = '';
      else if (variant === '9' || variant === '9.0' || variant === 'v9.0') variant = 'v9';
      break;
    case 'armhf':
      architecture = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      architecture = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      if (variant === '' || variant === '7') variant = 'v7';
      else if (/^[5-8]$/.test(variant)) variant = `v${variant}`;
      break;
  }
  const normalized: Platform = { architecture, os };
  if (platform['os.version']) normalized['os.version'] = platform['os.version'];
  if (platform['os.features']?.length) normalized['os.features'] = [...platform['os.features']];
  if (variant) normalized.variant = variant;
  if (platform.features?.length) normalized.features = [...platform.features];
  return normalized;
}

const COMPONENT = /^[a-z0-9_.-]+$/i;
const OS_VERSION = /^[a-z0-9_.+-]+$/i;
const PLATFORM_HINT =
  'Write it as os/arch or os/arch/variant, e.g. linux/amd64 or linux/arm/v7 (windows may add :os.version, e.g. windows/amd64:10.0.20348.2113)';

/** Parses `os/arch[/variant]` (e.g. `linux/arm/v7`), optionally with `:os.version` on windows (`windows/amd64:10.0.20348.2113`). */
export function parsePlatform(text: string): Platform {
  const trimmed = text.trim();
  const malformed = (why: string): never => {
    throw new PlatformError(`Malformed platform "${text}": ${why}`, { hint: PLATFORM_HINT });
  };
  if (!trimmed) malformed('it is empty');
  const [main, osVersion] = splitOnce(trimmed, ':');
  const parts = main.split('/');
  if (parts.length < 2) malformed('it needs at least an os and an architecture');
  if (parts.length > 3) malformed('it has more than three "/"-separated parts');
  const bad = parts.find((p) => !COMPONENT.test(p));
  if (bad !== undefined) malformed(bad ? `"${bad}" may only contain letters, digits, "_", "." and "-"` : 'a part is empty');
  if (osVersion !== undefined && !OS_VERSION.test(osVersion)) {
    malformed(
      osVersion ? `os.version "${osVersion}" may only contain letters, digits, "_", ".", "+" and "-"` : 'nothing follows ":" (os.version)',
    );
  }
  const platform: Platform = { os: parts[0], architecture: parts[1] };
  if (parts[2]) platform.variant = parts[2];
  if (osVersion) platform['os.version'] = osVersion;
  return normalizePlatform(platform);
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

/** `linux/arm/v7`, `windows/amd64:10.0.20348.2113` (os.version shown only when set). For people; use platformKey to compare. */
export function formatPlatform(platform: Platform): string {
  const p = normalizePlatform(platform);
  const base = [p.os, p.architecture, p.variant].filter(Boolean).join('/');
  return p['os.version'] ? `${base}:${p['os.version']}` : base;
}

/** Escapes the characters the key uses as separators, so distinct platforms never share a key. */
function keyPart(value: string): string {
  return value.replace(/[%/:+,]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Identity key: two entries with the same key are "the same platform" in one index
 * (same normalised os, architecture, variant, os.version and set of os.features).
 * Reads like formatPlatform (`linux/arm/v7`, `windows/amd64:10.0.20348.2113`), with
 * `+feature,…` for os.features; separator characters inside values are %-escaped.
 */
export function platformKey(platform: Platform): string {
  const p = normalizePlatform(platform);
  let key = [p.os, p.architecture, p.variant]
    .filter(Boolean)
    .map((v) => keyPart(v as string))
    .join('/');
  if (p['os.version']) key += `:${keyPart(p['os.version'])}`;
  const features = [...new Set(p['os.features'] ?? [])].sort(compareStrings);
  if (features.length) key += `+${features.map(keyPart).join(',')}`;
  return key;
}

/** True when `actual` satisfies an expected platform; an expected platform without os.version matches any os.version. */
export function platformMatches(expected: Platform, actual: Platform): boolean {
  const e = normalizePlatform(expected);
  const a = normalizePlatform(actual);
  if (e.os !== a.os || e.architecture !== a.architecture || (e.variant ?? '') !== (a.variant ?? '')) return false;
  return !e['os.version'] || e['os.version'] === a['os.version'];
}

const OS_ORDER = ['linux', 'windows', 'darwin', 'freebsd'];
const ARCH_ORDER = ['amd64', 'arm64', 'arm', '386', 'ppc64le', 's390x', 'riscv64', 'mips64le'];

function rank(order: string[], value: string): number {
  const at = order.indexOf(value);
  return at < 0 ? order.length : at;
}

/** Code-unit order: the same on every machine, unlike localeCompare. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Compares optional raw fields so that absent, empty and present values all differ. */
function compareRaw(a: string | readonly string[] | undefined, b: string | readonly string[] | undefined): number {
  const text = (v: typeof a) => (v === undefined ? '' : `=${JSON.stringify(v)}`);
  return compareStrings(text(a), text(b));
}

/**
 * Deterministic total order for index entries: os (linux, windows, darwin, freebsd, then
 * the rest by name), architecture (common ones first), variant (none first, so clients that
 * ignore variants pick the baseline; then newest first: arm v8, v7, v6),
 * os.version, os.features; platforms that normalise alike are then ordered by their raw
 * fields, so only identical platforms compare equal.
 */
export function comparePlatforms(a: Platform, b: Platform): number {
  const pa = normalizePlatform(a);
  const pb = normalizePlatform(b);
  return (
    rank(OS_ORDER, pa.os) - rank(OS_ORDER, pb.os) ||
    compareStrings(pa.os, pb.os) ||
    rank(ARCH_ORDER, pa.architecture) - rank(ARCH_ORDER, pb.architecture) ||
    compareStrings(pa.architecture, pb.architecture) ||
    Number(pa.variant !== undefined) - Number(pb.variant !== undefined) || // the baseline first: amd64 before amd64/v3
    compareStrings(pb.variant ?? '', pa.variant ?? '') || // then newest first: v8 before v7 before v6
    compareStrings(pa['os.version'] ?? '', pb['os.version'] ?? '') ||
    compareStrings(platformKey(pa), platformKey(pb)) ||
    compareStrings(a.os, b.os) ||
    compareStrings(a.architecture, b.architecture) ||
    compareRaw(a.variant, b.variant) ||
    compareRaw(a['os.version'], b['os.version']) ||
    compareRaw(a['os.features'], b['os.features']) ||
    compareRaw(a.features, b.features)
  );
}

/** The `unknown/unknown` platform buildx gives attestation manifests (or no platform at all). */
export function isUnknownPlatform(platform: Platform | undefined): boolean {
  return !platform || (platform.os === 'unknown' && platform.architecture === 'unknown');
}

/** Registry-served text, quoted for a message: escaped for one log line and cut short. */
function quoteServed(value: string): string {
  const line = sanitizeLine(value);
  return `"${line.length > 80 ? `${line.slice(0, 80)}…` : line}"`;
}

/**
 * A platform a registry served (an index descriptor's, or one read from a config blob), held to
 * the grammar of user input (parsePlatform): os, architecture, variant and every feature are
 * letters, digits, "_", "." and "-", os.version may add "+". A registry is not trusted: these
 * values reach log lines and the `platforms` output, where a newline could start a workflow
 * command. Returns the platform unchanged; throws PlatformError naming `source`.
 */
export function checkServedPlatform(platform: Platform, source: string): Platform {
  const refuse = (field: string, value: string, allowed: string): never => {
    throw new PlatformError(
      `${source}: the registry served a platform whose ${field} is ${quoteServed(value)}, which is not a valid platform part (${allowed})`,
      {
        hint: 'Nothing was written. The image was pushed with a malformed platform, or the registry altered it: rebuild and push it again, and compare with `manifest-merge inspect --raw`',
      },
    );
  };
  const letters = 'letters, digits, "_", "." and "-" only';
  if (!COMPONENT.test(platform.os)) refuse('os', platform.os, letters);
  if (!COMPONENT.test(platform.architecture)) refuse('architecture', platform.architecture, letters);
  if (platform.variant && !COMPONENT.test(platform.variant)) refuse('variant', platform.variant, letters);
  const osVersion = platform['os.version'];
  if (osVersion && !OS_VERSION.test(osVersion)) refuse('os.version', osVersion, 'letters, digits, "_", ".", "+" and "-" only');
  for (const feature of platform['os.features'] ?? []) if (!COMPONENT.test(feature)) refuse('os.features entry', feature, letters);
  for (const feature of platform.features ?? []) if (!COMPONENT.test(feature)) refuse('features entry', feature, letters);
  return platform;
}

/**
 * Platform of a bare image manifest, from its config blob (os, architecture, variant, os.version,
 * os.features), checked as every served platform is (checkServedPlatform), then normalised.
 */
export function platformFromConfig(config: unknown, subject: string): Platform {
  const c = (typeof config === 'object' && config !== null ? config : {}) as Record<string, unknown>;
  if (typeof c.os !== 'string' || typeof c.architecture !== 'string' || !c.os || !c.architecture) {
    throw new PlatformError(`${subject}: its config blob has no os/architecture, so its platform is unknown`, {
      hint: 'Push it inside an index whose descriptor carries the platform, or rebuild it with docker buildx',
    });
  }
  const platform: Platform = { os: c.os, architecture: c.architecture };
  if (typeof c.variant === 'string' && c.variant) platform.variant = c.variant;
  if (typeof c['os.version'] === 'string' && c['os.version']) platform['os.version'] = c['os.version'];
  if (Array.isArray(c['os.features']) && c['os.features'].every((f) => typeof f === 'string') && c['os.features'].length)
    platform['os.features'] = c['os.features'] as string[];
  return normalizePlatform(checkServedPlatform(platform, `${subject} (config blob)`));
}

/** A platform for a message, with its os.features: `windows/amd64:10.0.17763.5122 (os.features win32k)`. */
function describePlatform(platform: Platform): string {
  const features = platform['os.features'] ?? [];
  return features.length ? `${formatPlatform(platform)} (os.features ${features.join(', ')})` : formatPlatform(platform);
}

/**
 * The platform an image is listed under when one is given with its source: the image's own
 * (from its config, or its index's descriptor), with what the given one adds (os.version,
 * os.features, a variant). One that says otherwise than the image on os, architecture or a field
 * both have is refused, naming both.
 */
export function overridePlatform(own: Platform, given: Platform, subject: string): Platform {
  const a = normalizePlatform(own);
  const g = normalizePlatform(given);
  const sameFeatures = (x: string[] = [], y: string[] = []) => [...new Set(x)].sort().join(',') === [...new Set(y)].sort().join(',');
  const clash =
    a.os !== g.os || a.architecture !== g.architecture
      ? 'os/architecture'
      : a.variant && g.variant && a.variant !== g.variant
        ? 'variant'
        : a['os.version'] && g['os.version'] && a['os.version'] !== g['os.version']
          ? 'os.version'
          : a['os.features'] && g['os.features'] && !sameFeatures(a['os.features'], g['os.features'])
            ? 'os.features'
            : undefined;
  if (clash)
    throw new PlatformError(
      `${subject}: the platform given for it, ${describePlatform(g)}, contradicts the image's own, ${describePlatform(a)} (${clash})`,
      {
        hint: "A platform given with a source may only add os.version, os.features or a variant the image lacks: fix it, or leave it out to take the image's own",
      },
    );
  const merged: Platform = { ...a };
  if (g.variant) merged.variant = g.variant;
  if (g['os.version']) merged['os.version'] = g['os.version'];
  if (g['os.features']) merged['os.features'] = [...g['os.features']];
  return normalizePlatform(merged);
}
