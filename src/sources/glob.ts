// File globs for inputs that name files (`metadata-files`): `*` and `?` within one path segment,
// `**` for any number of directories. Node 20 has no fs.glob, and a glob in an input is read on
// the runner, so the walk is bounded: at most MAX_GLOB_MATCHES files, at most MAX_GLOB_VISITS
// directory entries looked at, symbolic links to directories not followed (no loops). Names
// starting with "." match only a segment that starts with "." too, as in a shell.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../base/errors.js';
import { sanitizeLine } from '../base/redact.js';

export const MAX_GLOB_MATCHES = 1000;
export const MAX_GLOB_VISITS = 20_000;

export function hasGlob(pattern: string): boolean {
  return /[*?]/.test(pattern);
}

function segmentPattern(segment: string): RegExp {
  const body = segment
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '[^/]*')
    .replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`);
}

/**
 * The files `pattern` names, sorted. A pattern without `*` or `?` is returned as is (reading it
 * says whether it exists). `label` names the input in errors.
 */
export function expandGlob(label: string, pattern: string): string[] {
  if (!hasGlob(pattern)) return [pattern];
  const segments = pattern.split(/[\\/]/);
  const first = segments.findIndex(hasGlob);
  const base = segments.slice(0, first).join('/') || (pattern.startsWith('/') ? '/' : '.');
  const rest = segments.slice(first).filter((s) => s !== '');
  if (rest.some((s) => s.includes('**') && s !== '**'))
    throw new InputError(`${label}: "${sanitizeLine(pattern)}" uses ** inside a name`, {
      hint: 'Write ** as a whole path segment (metadata/**/*.json); * and ? match within one segment',
    });
  // a trailing ** names every file below
  if (rest[rest.length - 1] === '**') rest.push('*');
  const found = new Set<string>();
  let visits = 0;
  const walk = (dir: string, parts: string[]): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (cause) {
      if (dir === base)
        throw new InputError(
          `${label}: cannot read the directory "${sanitizeLine(base)}" of "${sanitizeLine(pattern)}" (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`,
          { cause, hint: 'Download the metadata artifacts first (actions/download-artifact), or fix the path' },
        );
      return;
    }
    visits += entries.length;
    if (visits > MAX_GLOB_VISITS)
      throw new InputError(`${label}: "${sanitizeLine(pattern)}" looks at over ${MAX_GLOB_VISITS} directory entries`, {
        hint: 'Narrow the pattern to the directory the metadata files are in, e.g. metadata/*.json',
      });
    const [part, ...later] = parts;
    if (part === '**') {
      walk(dir, later);
      for (const e of entries) if (e.isDirectory() && !e.name.startsWith('.')) walk(join(dir, e.name), parts);
      return;
    }
    const match = segmentPattern(part);
    for (const e of entries) {
      if (!match.test(e.name) || (e.name.startsWith('.') && !part.startsWith('.'))) continue;
      const path = dir === '.' ? e.name : join(dir, e.name);
      if (later.length > 0) {
        if (e.isDirectory()) walk(path, later);
      } else if (e.isFile() || (e.isSymbolicLink() && isFile(path))) {
        found.add(path);
        if (found.size > MAX_GLOB_MATCHES)
          throw new InputError(`${label}: "${sanitizeLine(pattern)}" matches over ${MAX_GLOB_MATCHES} files`, {
            hint: 'Narrow the pattern to the metadata files, e.g. metadata/*.json',
          });
      }
    }
  };
  if (rest.length > 0) walk(base, rest);
  return [...found].sort();
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
