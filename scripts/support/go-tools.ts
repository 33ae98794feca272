// Go-built test and bench tools (registries, peers, linters), pinned here and nowhere else.
// `go install MODULE@VERSION` into its own directory per tool and version,
// ~/.cache/manifest-merge/go/<tool>@<version>/, so a second run finds the binary and starts
// nothing (the Go module and build caches, GOPATH and GOCACHE, make a re-install after a
// version bump fast too). Never shipped: the action and the CLI use none of this.
//
// Local modules (LOCAL_GO_MODULES) are small Go programs of this repository, each with its own
// go.mod and go.sum pinning what it builds on: `go build` into
// <tool>@local-<hash of its sources>/, so an edit rebuilds and an unchanged module is a lookup.
//
// CLI: `node --import tsx scripts/support/go-tools.ts install [name...]` (the test tools,
// GO_TOOLS and LOCAL_GO_MODULES, without names; the bench's peers only when named) prints one line per tool and exits 1 with the reason when one cannot be installed.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants as fsConstants, existsSync, readFileSync, readdirSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface GoTool {
  /** the `go install` package path (module path plus the command's directory) */
  package: string;
  /** the module version, a tag the Go module proxy serves */
  version: string;
  /** the executable `go install` writes */
  binary: string;
  /**
   * The module path, for a tool `go install PACKAGE@VERSION` cannot install: `go build PACKAGE`
   * in a throwaway main module that requires MODULE@VERSION instead (the binary records the module
   * and version just as go install's does; `go version -m` shows them).
   */
  module?: string;
}

/** Every Go tool the tests, the bench and CI use, with its pinned version. */
export const GO_TOOLS = {
  /** go-containerregistry: `crane registry serve` is a registry; `crane` is a peer in the bench */
  crane: { package: 'github.com/google/go-containerregistry/cmd/crane', version: 'v0.22.1', binary: 'crane' },
  /** CNCF distribution v3, the registry Docker Hub, GHCR and Harbor descend from */
  'distribution-v3': { package: 'github.com/distribution/distribution/v3/cmd/registry', version: 'v3.1.2', binary: 'registry' },
  /**
   * olareg, regclient's registry: the first in the tests with the OCI 1.1 referrers API that is not
   * written here. Built, not installed: the module proxy refuses the version list of
   * github.com/olareg/olareg (403), and `go install …@v0.1.2` fails at its deprecation look-up,
   * which reads that list; fetching v0.1.2 itself needs no list.
   */
  olareg: { package: 'github.com/olareg/olareg/cmd/olareg', version: 'v0.1.2', binary: 'olareg', module: 'github.com/olareg/olareg' },
  /** Sigstore's certificate authority: `fulcio serve --ca ephemeralca` issues keyless certificates in the signing tests */
  fulcio: { package: 'github.com/sigstore/fulcio', version: 'v1.8.8', binary: 'fulcio' },
  /** Sigstore's RFC 3161 timestamp authority (`--timestamp-signer memory`), the signing tests' proof of time */
  'timestamp-server': {
    package: 'github.com/sigstore/timestamp-authority/v2/cmd/timestamp-server',
    version: 'v2.1.3',
    binary: 'timestamp-server',
  },
  /**
   * Rekor v2 (rekor-tiles) on Tessera's POSIX backend: a transparency log in a directory, no
   * database or cloud storage; the signing tests' tlog. v2.3.0: the last release that builds with
   * Go 1.26 (v2.4.x require Go 1.27).
   */
  'rekor-tiles': {
    package: 'github.com/sigstore/rekor-tiles/v2/cmd/rekor-server/posix',
    version: 'v2.3.0',
    binary: 'posix',
  },
  /** cosign v3: verifies what the signing tests produce (`cosign verify`, `verify-attestation --new-bundle-format`) */
  cosign: { package: 'github.com/sigstore/cosign/v3/cmd/cosign', version: 'v3.1.3', binary: 'cosign' },
  /**
   * cosign v2, the release line many pipelines still run: verifies the same signatures
   * (`--new-bundle-format`, bundles as referrers). Its binary is also named cosign: each tool has
   * its own directory.
   */
  'cosign-v2': { package: 'github.com/sigstore/cosign/v2/cmd/cosign', version: 'v2.6.5', binary: 'cosign' },
  /** lints .github/workflows and action.yml usage */
  actionlint: { package: 'github.com/rhysd/actionlint/cmd/actionlint', version: 'v1.7.12', binary: 'actionlint' },
} as const satisfies Record<string, GoTool>;

/**
 * Peers of the bench only (`npm run bench`), installed on first use there and never by CI or
 * the tests: buildx alone takes minutes to build on 2 cores, and nothing in `npm test` runs them.
 */
export const BENCH_GO_TOOLS = {
  /** `docker buildx imagetools create`, run as a docker CLI plugin: needs no daemon */
  buildx: { package: 'github.com/docker/buildx/cmd/buildx', version: 'v0.38.2', binary: 'buildx' },
  /** regclient's CLI: `regctl index create`, `regctl image copy` */
  regctl: { package: 'github.com/regclient/regclient/cmd/regctl', version: 'v0.11.7', binary: 'regctl' },
} as const satisfies Record<string, GoTool>;

const ALL_GO_TOOLS: Record<string, GoTool> = { ...GO_TOOLS, ...BENCH_GO_TOOLS };

/** A Go program of this repository: a directory with go.mod, go.sum and its `.go` files. */
export interface LocalGoModule {
  /** the module's directory, relative to scripts/support/ */
  directory: string;
  /** the executable `go build` writes */
  binary: string;
}

/** Go programs built from this repository (their dependencies pinned by their go.mod and go.sum); the tests use them. */
export const LOCAL_GO_MODULES = {
  /** go-containerregistry v0.22.1's pkg/registry with the OCI 1.1 referrers API turned on */
  'referrers-registry': { directory: 'referrers-registry', binary: 'referrers-registry' },
} as const satisfies Record<string, LocalGoModule>;

export type LocalGoModuleName = keyof typeof LOCAL_GO_MODULES;
export type GoToolName = keyof typeof GO_TOOLS | keyof typeof BENCH_GO_TOOLS | LocalGoModuleName;

export function isGoToolName(name: string): name is GoToolName {
  return Object.hasOwn(ALL_GO_TOOLS, name) || Object.hasOwn(LOCAL_GO_MODULES, name);
}

function isLocalModule(name: GoToolName): name is LocalGoModuleName {
  return Object.hasOwn(LOCAL_GO_MODULES, name);
}

const SUPPORT_DIR = fileURLToPath(new URL('.', import.meta.url));

/** The directory of a local module. */
export function localModuleDir(name: LocalGoModuleName): string {
  return join(SUPPORT_DIR, LOCAL_GO_MODULES[name].directory);
}

/**
 * `local-<12 hex>`: the sha256 of the module's go.mod, go.sum and `.go` files (names and bytes),
 * so the cached binary is the build of exactly these sources, and an edit builds anew.
 */
export function localModuleVersion(name: LocalGoModuleName): string {
  const dir = localModuleDir(name);
  const files = readdirSync(dir)
    .filter((f) => f === 'go.mod' || f === 'go.sum' || f.endsWith('.go'))
    .sort();
  const hash = createHash('sha256');
  for (const file of files)
    hash
      .update(`${file}\0`)
      .update(readFileSync(join(dir, file)))
      .update('\0');
  return `local-${hash.digest('hex').slice(0, 12)}`;
}

/** The version a tool's cache directory is named after: the pinned module version, or a local module's source hash. */
export function goToolVersion(name: GoToolName): string {
  return isLocalModule(name) ? localModuleVersion(name) : ALL_GO_TOOLS[name].version;
}

/** `$MANIFEST_MERGE_CACHE/go`, else `$XDG_CACHE_HOME/manifest-merge/go`, else `~/.cache/manifest-merge/go`. */
export function goToolsRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MANIFEST_MERGE_CACHE) return join(env.MANIFEST_MERGE_CACHE, 'go');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'manifest-merge', 'go');
}

/** Where `name` at its pinned version lives once installed (it may not exist yet). */
export function goToolPath(name: GoToolName, root = goToolsRoot()): string {
  const binary = isLocalModule(name) ? LOCAL_GO_MODULES[name].binary : ALL_GO_TOOLS[name].binary;
  return join(root, `${name}@${goToolVersion(name)}`, binary);
}

/** A tool that could not be installed: `reason` is what go said (or that go is missing). */
export class GoToolInstallError extends Error {
  constructor(
    readonly tool: string,
    readonly spec: string,
    readonly reason: string,
  ) {
    super(`could not install ${tool} (${spec}): ${reason}`);
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
  if (isLocalModule(name)) return goBuildLocal(name, LOCAL_GO_MODULES[name], localModuleDir(name), join(target, '..'));
  return goInstall(name, ALL_GO_TOOLS[name], join(target, '..'));
}

/**
 * `go build` of a local module (its go.sum must list every dependency: -mod=readonly) into a
 * temp directory beside `finalDir`, renamed into place when complete. Exported for tests.
 */
export async function goBuildLocal(label: string, module: LocalGoModule, sourceDir: string, finalDir: string): Promise<string> {
  return intoPlace(label, `go build in ${sourceDir}`, module.binary, finalDir, async (go, staging) => {
    await execFileAsync(go, ['build', '-mod=readonly', '-buildvcs=false', '-o', join(staging, module.binary), '.'], {
      cwd: sourceDir,
      env: process.env,
      maxBuffer: 16 * 1024 * 1024,
      timeout: 15 * 60 * 1000,
    });
  });
}

/**
 * `go install PACKAGE@VERSION` with GOBIN in a temp directory beside `finalDir`, renamed to
 * `finalDir` when complete: a directory that exists holds a whole binary. Exported for tests.
 */
export async function goInstall(label: string, tool: GoTool, finalDir: string): Promise<string> {
  const spec = `${tool.package}@${tool.version}`;
  if (tool.module) return goBuildRequired(label, { ...tool, module: tool.module }, finalDir);
  return intoPlace(`${label}`, `go install ${spec}`, tool.binary, finalDir, async (go, staging) => {
    // Default build flags, so the build cache (GOCACHE) that earlier installs filled is reused.
    const env = { ...process.env, GOBIN: staging };
    await execFileAsync(go, ['install', spec], { env, maxBuffer: 16 * 1024 * 1024, timeout: 15 * 60 * 1000 });
  });
}

/**
 * `go build PACKAGE` in a throwaway main module (in the staging directory) whose go.mod requires
 * MODULE@VERSION: what `go install PACKAGE@VERSION` does, without the deprecation look-up that
 * needs the module's version list. `-mod=mod` lets go resolve the module's own requirements into
 * that go.mod and go.sum (checked against the checksum database as for any download).
 */
async function goBuildRequired(label: string, tool: GoTool & { module: string }, finalDir: string): Promise<string> {
  return intoPlace(
    label,
    `go build ${tool.package} requiring ${tool.module}@${tool.version}`,
    tool.binary,
    finalDir,
    async (go, staging) => {
      const work = join(staging, 'module');
      await mkdir(work);
      await writeFile(join(work, 'go.mod'), `module manifest-merge.local/go-tools/${label}\n\nrequire ${tool.module} ${tool.version}\n`);
      const env = { ...process.env, GOFLAGS: '-mod=mod', GOWORK: 'off' };
      try {
        await execFileAsync(go, ['build', '-o', join(staging, tool.binary), tool.package], {
          cwd: work,
          env,
          maxBuffer: 16 * 1024 * 1024,
          timeout: 15 * 60 * 1000,
        });
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    },
  );
}

/**
 * Runs `build(go, staging)`, which writes `binary` into a fresh temp directory beside `finalDir`,
 * then renames that directory to `finalDir`: a directory that exists holds a whole binary.
 */
async function intoPlace(
  label: string,
  spec: string,
  binary: string,
  finalDir: string,
  build: (go: string, staging: string) => Promise<void>,
): Promise<string> {
  const target = join(finalDir, binary);
  const go = findGo();
  if (!go) throw new GoToolInstallError(label, spec, 'go is not on PATH (install Go 1.26 or later: https://go.dev/dl/)');
  const root = join(finalDir, '..');
  await mkdir(root, { recursive: true });
  const staging = await mkdtemp(join(root, `.${label}-`));
  await chmod(staging, 0o755);
  try {
    await build(go, staging);
  } catch (cause) {
    await rm(staging, { recursive: true, force: true });
    const output = `${(cause as { stderr?: string }).stderr ?? ''}`.trim();
    throw new GoToolInstallError(label, spec, output.split('\n').slice(-15).join('\n') || String(cause));
  }
  if (!existsSync(join(staging, binary))) {
    await rm(staging, { recursive: true, force: true });
    throw new GoToolInstallError(label, spec, `the build succeeded but wrote no ${binary}`);
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

function allNames(): GoToolName[] {
  return [...Object.keys(GO_TOOLS), ...Object.keys(LOCAL_GO_MODULES)] as GoToolName[];
}

async function main(args: string[]): Promise<number> {
  const [command, ...names] = args;
  if (command !== 'install' && command !== 'path') {
    process.stderr.write('usage: go-tools.ts install [tool...] | path <tool>\n');
    process.stderr.write(
      `tools: ${[...Object.keys(ALL_GO_TOOLS), ...Object.keys(LOCAL_GO_MODULES)].join(', ')} (without names: ${allNames().join(', ')})\n`,
    );
    return 2;
  }
  const unknown = names.filter((n) => !isGoToolName(n));
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown tool ${unknown.join(', ')} (known: ${[...Object.keys(ALL_GO_TOOLS), ...Object.keys(LOCAL_GO_MODULES)].join(', ')})\n`,
    );
    return 2;
  }
  const wanted = (names.length > 0 ? names : allNames()) as GoToolName[];
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
      process.stdout.write(
        `${name} ${goToolVersion(name)}: ${path} (${cached ? 'cached' : `installed in ${((Date.now() - started) / 1000).toFixed(1)} s`})\n`,
      );
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
