// What .github/workflows/release.yml checks before it moves the major tag, kept here so that a
// test can run every rule (a workflow's shell runs only on GitHub) and a maintainer can run it
// before tagging: `node --import tsx scripts/release-check.ts v1.2.3`.
//
// Rules: the tag is vX.Y.Z (optionally -prerelease); package.json and package-lock.json carry
// X.Y.Z; CHANGELOG.md has a dated `## [X.Y.Z] - YYYY-MM-DD` entry with content and its link at
// the end. The major tag (vX) moves only for a final release that is the newest of its major
// line, so publishing a v1.0.5 fix after v1.2.0 never drags v1 back. dist/ against src/ is
// `npm run check-dist`, run by the workflow as its own step.
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface ReleasePlan {
  /** X.Y.Z[-pre] */
  version: string;
  /** vX */
  major: string;
  /** true: move `major` to the release commit */
  moveMajor: boolean;
  /** why the major tag moves or stays */
  reason: string;
}

export class ReleaseCheckError extends Error {
  constructor(readonly problems: string[]) {
    super(`release check failed:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ReleaseCheckError';
  }
}

const TAG = /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?$/;

interface Parsed {
  major: number;
  minor: number;
  patch: number;
  prerelease?: string;
}

function parseTag(tag: string): Parsed | undefined {
  const m = TAG.exec(tag);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), prerelease: m[4] };
}

/** Final releases only; a prerelease of a version is older than the version itself. */
function newer(a: Parsed, b: Parsed): boolean {
  if (a.major !== b.major) return a.major > b.major;
  if (a.minor !== b.minor) return a.minor > b.minor;
  if (a.patch !== b.patch) return a.patch > b.patch;
  return a.prerelease === undefined && b.prerelease !== undefined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The problems with CHANGELOG.md's entry for `version`, none when it is in place. */
export function changelogProblems(changelog: string, version: string): string[] {
  const v = escapeRegExp(version);
  const heading = new RegExp(`^## \\[${v}\\] - (\\d{4}-\\d{2}-\\d{2})\\s*$`, 'm');
  const match = heading.exec(changelog);
  if (!match) return [`CHANGELOG.md has no "## [${version}] - YYYY-MM-DD" entry (move the [Unreleased] entries under it)`];
  const problems: string[] = [];
  const rest = changelog.slice(match.index + match[0].length);
  const next = rest.search(/^## |^\[[^\]]+\]: /m);
  const body = (next === -1 ? rest : rest.slice(0, next)).trim();
  if (body === '') problems.push(`CHANGELOG.md's entry for ${version} is empty`);
  if (!new RegExp(`^\\[${v}\\]: \\S+`, 'm').test(changelog)) problems.push(`CHANGELOG.md has no link "[${version}]: …" at its end`);
  return problems;
}

/**
 * Checks a release of `tag` in the repository at `root`, whose other tags are `tags` (every
 * tag of the repository; the major tags among them are ignored). Throws ReleaseCheckError
 * listing every problem; returns what to do with the major tag.
 */
export function checkRelease(root: string, tag: string, tags: readonly string[]): ReleasePlan {
  const parsed = parseTag(tag);
  if (!parsed) throw new ReleaseCheckError([`tag "${tag}" is not vX.Y.Z (or vX.Y.Z-prerelease)`]);
  const version = tag.slice(1);
  const problems: string[] = [];

  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string };
  if (pkg.version !== version)
    problems.push(
      `package.json has version ${JSON.stringify(pkg.version)}, the tag says ${version} (npm version ${version} --no-git-tag-version)`,
    );
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    version?: string;
    packages?: Record<string, { version?: string }>;
  };
  const lockVersions = [lock.version, lock.packages?.['']?.version];
  if (lockVersions.some((v) => v !== version))
    problems.push(`package-lock.json has version ${JSON.stringify(lockVersions.find((v) => v !== version))}, the tag says ${version}`);
  problems.push(...changelogProblems(readFileSync(join(root, 'CHANGELOG.md'), 'utf8'), version));
  if (problems.length > 0) throw new ReleaseCheckError(problems);

  const major = `v${parsed.major}`;
  if (parsed.prerelease !== undefined) return { version, major, moveMajor: false, reason: `${tag} is a prerelease: ${major} stays` };
  const newest = tags
    .filter((t) => t !== tag)
    .map((t) => ({ t, p: parseTag(t) }))
    .filter(
      (x): x is { t: string; p: Parsed } =>
        x.p !== undefined && x.p.major === parsed.major && x.p.prerelease === undefined && newer(x.p, parsed),
    );
  if (newest.length > 0) return { version, major, moveMajor: false, reason: `${newest[0].t} is newer than ${tag}: ${major} stays` };
  return { version, major, moveMajor: true, reason: `${tag} is the newest ${major} release: ${major} moves to it` };
}

// CLI: release-check.ts TAG [OTHER-TAG...]; writes major= and move= to $GITHUB_OUTPUT when set.
function main(args: string[]): number {
  const [tag, ...tags] = args;
  if (!tag) {
    process.stderr.write('usage: release-check.ts TAG [other tags of the repository...]\n');
    return 2;
  }
  try {
    const plan = checkRelease(process.cwd(), tag, tags);
    process.stdout.write(`${tag}: version, lockfile and CHANGELOG agree. ${plan.reason}\n`);
    if (process.env.GITHUB_OUTPUT) appendFileSync(process.env.GITHUB_OUTPUT, `major=${plan.major}\nmove=${plan.moveMajor}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
