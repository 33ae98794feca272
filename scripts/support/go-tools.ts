// Go-built test and bench tools (registries, peers, linters), pinned here and nowhere else.
// `go install MODULE@VERSION` into its own directory per tool and version,
// ~/.cache/manifest-merge/go/<tool>@<version>/, so a second run finds the binary and starts
// nothing (the Go module and build caches, GOPATH and GOCACHE, make a re-install after a
// version bump fast too). Never shipped: the action and the CLI use none of this.
//
// CLI: `node --import tsx scripts/support/go-tools.ts install [name...]` (all tools without
// names) prints one line per tool and exits 1 with the reason when one cannot be installed.
import { execFile } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface GoTool {
  /** the `go install` package path (module path plus the command's directory) */
  package: string;
  /** the module version, a tag the Go module proxy serves */
  version: string;
  /** the executable `go install` writes */
  binary: string;
}

/** Every Go tool the tests, the bench and CI use, with its pinned version. */
export const GO_TOOLS = {
  /** go-containerregistry: `crane registry serve` is a registry; `crane` is a peer in the bench */
  crane: { package: 'github.com/google/go-containerregistry/cmd/crane', version: 'v0.22.1', binary: 'crane' },
  /** CNCF distribution v3, the registry Docker Hub, GHCR and Harbor descend from */
  'distribution-v3': { package: 'github.com/distribution/distribution/v3/cmd/registry', version: 'v3.1.2', binary: 'registry' },
  /** lints .github/workflows and action.yml usage */
  actionlint: { package: 'github.com/rhysd/actionlint/cmd/actionlint', version: 'v1.7.12', binary: 'actionlint' },
} as const satisfies Record<string, GoTool>;

export type GoToolName = keyof typeof GO_TOOLS;

export function isGoToolName(name: string): name is GoToolName {
  return Object.hasOwn(GO_TOOLS, name);
}

/** `$MANIFEST_MERGE_CACHE/go`, else `$XDG_CACHE_HOME/manifest-merge/go`, else `~/.cache/manifest-merge/go`. */
export function goToolsRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MANIFEST_MERGE_CACHE) return join(env.MANIFEST_MERGE_CACHE, 'go');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'manifest-merge', 'go');
}

/** Where `name` at its pinned version lives once installed (it may not exist yet). */
export function goToolPath(name: GoToolName, root = goToolsRoot()): string {
  const tool: GoTool = GO_TOOLS[name];
  return join(root, `${name}@${tool.version}`, tool.binary);
}

/** A tool that could not be installed: `reason` is what go said (or that go is missing). */
export class GoToolInstallError extends Error {
  constructor(
    readonly tool: string,
    readonly spec: string,
    readonly reason: string,
  ) {
    super(`could not install ${tool} (go install ${spec}): ${reason}`);
    this.name = 'GoToolInstallError';
  }
}

/** The `go` command: on PATH, or where the official tarball puts it. */
function findGo(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/local/go/bin'];
  for (const dir of dirs) {
    try {
      accessSync(join(dir, 'go'), fsConstants.X_OK);
      return join(dir, 'go');
    } catch {
      // not here
    }
  }
  return undefined;
}

const pending = new Map<GoToolName, Promise<string>>();

/**
 * Path of `name` at its pinned version, installing it first when absent. Idempotent and
 * cheap when installed (one stat). Safe against concurrent installs from several processes:
 * each builds into its own temp directory and renames it into place; the first rename wins.
 */
export function ensureGoTool(name: GoToolName): Promise<string> {
  const target = goToolPath(name);
  if (existsSync(target)) return Promise.resolve(target);
  let install = pending.get(name);
  if (!install) {
    install = installGoTool(name, target);
    pending.set(name, install);
    install.catch(() => pending.delete(name));
  }
  return install;
}

function installGoTool(name: GoToolName, target: string): Promise<string> {
  return goInstall(name, GO_TOOLS[name], join(target, '..'));
}

/**
 * `go install PACKAGE@VERSION` with GOBIN in a temp directory beside `finalDir`, renamed to
 * `finalDir` when complete: a directory that exists holds a whole binary. Exported for tests.
 */
export async function goInstall(label: string, tool: GoTool, finalDir: string): Promise<string> {
  const spec = `${tool.package}@${tool.version}`;
  const target = join(finalDir, tool.binary);
  const go = findGo();
  if (!go) throw new GoToolInstallError(label, spec, 'go is not on PATH (install Go 1.26 or later: https://go.dev/dl/)');
  const root = join(finalDir, '..');
  await mkdir(root, { recursive: true });
  const staging = await mkdtemp(join(root, `.${label}-`));
  await chmod(staging, 0o755);
  try {
    // Default build flags, so the build cache (GOCACHE) that earlier installs filled is reused.
    const env = { ...process.env, GOBIN: staging };
    await execFileAsync(go, ['install', spec], { env, maxBuffer: 16 * 1024 * 1024, timeout: 15 * 60 * 1000 });
  } catch (cause) {
    await rm(staging, { recursive: true, force: true });
    const output = `${(cause as { stderr?: string }).stderr ?? ''}`.trim();
    throw new GoToolInstallError(label, spec, output.split('\n').slice(-15).join('\n') || String(cause));
  }
  if (!existsSync(join(staging, tool.binary))) {
    await rm(staging, { recursive: true, force: true });
    throw new GoToolInstallError(label, spec, `go install succeeded but wrote no ${tool.binary} into GOBIN`);
  }
  try {
    await rename(staging, finalDir);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    // Another process installed it first: theirs is the same build.
    if (!existsSync(target)) throw error;
  }
  return target;
}

async function main(args: string[]): Promise<number> {
  const [command, ...names] = args;
  if (command !== 'install' && command !== 'path') {
    process.stderr.write('usage: go-tools.ts install [tool...] | path <tool>\n');
    process.stderr.write(`tools: ${Object.keys(GO_TOOLS).join(', ')}\n`);
    return 2;
  }
  const unknown = names.filter((n) => !isGoToolName(n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown tool ${unknown.join(', ')} (known: ${Object.keys(GO_TOOLS).join(', ')})\n`);
    return 2;
  }
  const wanted = (names.length > 0 ? names : Object.keys(GO_TOOLS)) as GoToolName[];
  if (command === 'path') {
    for (const name of wanted) process.stdout.write(`${goToolPath(name)}\n`);
    return 0;
  }
  let failed = 0;
  // One at a time: go install already uses every core, and the log reads in order.
  for (const name of wanted) {
    const started = Date.now();
    const cached = existsSync(goToolPath(name));
    try {
      const path = await ensureGoTool(name);
      const tool: GoTool = GO_TOOLS[name];
      process.stdout.write(`${name} ${tool.version}: ${path} (${cached ? 'cached' : `installed in ${((Date.now() - started) / 1000).toFixed(1)} s`})\n`);
    } catch (error) {
      failed++;
      process.stderr.write(`${(error as Error).message}\n`);
    }
  }
  return failed > 0 ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
