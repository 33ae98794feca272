// Platform parse, normalise, compare and format. Pure.
import { PlatformError } from './errors.js';

/** OCI image-spec platform object (field names as on the wire). */
export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  features?: string[];
}

const ARCH_ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  aarch64: 'arm64',
  armhf: 'arm',
  armel: 'arm',
  i386: '386',
  i686: '386',
};

/**
 * Normalises a platform the way containerd's platforms.Normalize does:
 * aliases to GOARCH names, arm64 variant v8 dropped, arm default variant v7,
 * amd64 variant v1 dropped, os lower-cased.
 */
export function normalizePlatform(platform: Platform): Platform {
  const os = platform.os.toLowerCase();
  let architecture = platform.architecture.toLowerCase();
  let variant = platform.variant?.toLowerCase() || undefined;
  if (platform.architecture.toLowerCase() === 'armhf') variant = variant ?? 'v7';
  if (platform.architecture.toLowerCase() === 'armel') variant = variant ?? 'v6';
  architecture = ARCH_ALIASES[architecture] ?? architecture;
  if (architecture === 'arm64' && (variant === 'v8' || variant === '8')) variant = undefined;
  if (architecture === 'amd64' && (variant === 'v1' || variant === '1')) variant = undefined;
  if (architecture === 'arm') {
    if (!variant) variant = 'v7';
    else if (/^[5-8]$/.test(variant)) variant = `v${variant}`;
  }
  const normalized: Platform = { architecture, os };
  if (platform['os.version']) normalized['os.version'] = platform['os.version'];
  if (platform['os.features']?.length) normalized['os.features'] = [...platform['os.features']];
  if (variant) normalized.variant = variant;
  if (platform.features?.length) normalized.features = [...platform.features];
  return normalized;
}

const COMPONENT = /^[a-z0-9_.-]+$/i;

/** Parses `os/arch[/variant]` (e.g. `linux/arm/v7`), optionally with `:os.version` on windows (`windows/amd64:10.0.20348.2113`). */
export function parsePlatform(text: string): Platform {
  const trimmed = text.trim();
  const [main, osVersion] = splitOnce(trimmed, ':');
  const parts = main.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !COMPONENT.test(p))) {
    throw new PlatformError(`Malformed platform "${text}"`, { hint: 'Write it as os/arch or os/arch/variant, e.g. linux/amd64 or linux/arm/v7' });
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

/** `linux/arm/v7`, `windows/amd64:10.0.20348.2113` (os.version shown only when set). */
export function formatPlatform(platform: Platform): string {
  const p = normalizePlatform(platform);
  const base = [p.os, p.architecture, p.variant].filter(Boolean).join('/');
  return p['os.version'] ? `${base}:${p['os.version']}` : base;
}

/** Identity key: two entries with the same key are "the same platform" in one index. */
export function platformKey(platform: Platform): string {
  const p = normalizePlatform(platform);
  const features = p['os.features']?.length ? `+${[...p['os.features']].sort().join(',')}` : '';
  return `${formatPlatform(p)}${features}`;
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

/** Deterministic order for index entries: os, then architecture (common ones first), then variant, then os.version. */
export function comparePlatforms(a: Platform, b: Platform): number {
  const pa = normalizePlatform(a);
  const pb = normalizePlatform(b);
  return (
    rank(OS_ORDER, pa.os) - rank(OS_ORDER, pb.os) ||
    pa.os.localeCompare(pb.os) ||
    rank(ARCH_ORDER, pa.architecture) - rank(ARCH_ORDER, pb.architecture) ||
    pa.architecture.localeCompare(pb.architecture) ||
    (pb.variant ?? '').localeCompare(pa.variant ?? '') || // v8 before v7 before v6
    (pa['os.version'] ?? '').localeCompare(pb['os.version'] ?? '') ||
    platformKey(pa).localeCompare(platformKey(pb))
  );
}

/** The `unknown/unknown` platform buildx gives attestation manifests. */
export function isUnknownPlatform(platform: Platform | undefined): boolean {
  return !platform || (platform.os === 'unknown' && platform.architecture === 'unknown');
}
