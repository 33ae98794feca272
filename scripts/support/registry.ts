// Throwaway registries on loopback ports for integration tests, `npm run demo` and
// `npm run bench`. Four independent implementations: CNCF distribution 2.8 (Debian's
// `docker-registry`), distribution v3, go-containerregistry's `crane registry serve` and
// regclient's olareg (the last three built by go-tools.ts; olareg with and without its referrers
// API). Auth modes: none, htpasswd (Basic) and token (Bearer, against
// scripts/support/token-server.ts), where the implementation has them. What each one can do
// is in IMPLEMENTATIONS: tests ask it for a capability instead of naming implementations.
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, accessSync, rmSync, constants as fsConstants } from 'node:fs';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import { ensureGoTool } from './go-tools.js';
import type { TokenServer } from './token-server.js';

const execFileAsync = promisify(execFile);

export type RegistryAuth = 'none' | 'htpasswd' | 'token';

export type RegistryImplementation = 'distribution-2.8' | 'distribution-v3' | 'ggcr' | 'ggcr-referrers' | 'olareg' | 'olareg-no-referrers';

/** What an implementation does, as observed on the pinned version (registries.test.ts checks each claim). */
export interface RegistryCapabilities {
  /** a human name with the version, for test titles and the README */
  title: string;
  /** the auth modes startRegistry can give it */
  auth: readonly RegistryAuth[];
  /** `POST /blobs/uploads/?mount=D&from=R` answers 201 (mounted); false: 202 with an upload session */
  mount: boolean;
  /**
   * a blob is visible only in the repositories it was pushed or mounted to; false: a blob
   * pushed anywhere answers HEAD 200 in every repository of the registry (so "nothing was
   * written to this repository" cannot be checked with a blob HEAD)
   */
  blobsPerRepository: boolean;
  /** serves `GET /v2/<name>/referrers/<digest>` (OCI 1.1) */
  referrers: boolean;
  /** the referrers API lists a subject without referrers as `"manifests": null` (not `[]`, as OCI 1.1 says); false where it has no API */
  referrersEmptyIsNull: boolean;
  /** accepts `DELETE` of blobs and manifests (with `deleteEnabled` where that is a setting) */
  delete: boolean;
  /**
   * `DELETE /v2/<name>/manifests/<tag>` removes the tag only, the manifest stays (OCI 1.1, optional;
   * with `deleteEnabled`); false: refused (distribution 2.8 answers 400 DIGEST_INVALID)
   */
  deleteTags: boolean;
  /** accepts signed schema 1 manifests and serves them back as such (with `schema1` where that is a setting) */
  schema1: boolean;
  /** refuses an index whose child manifests are not in the repository */
  indexChildrenMustExist: boolean;
  /**
   * accepts an image manifest whose foreign (non-distributable, with `urls`) layers were never
   * pushed to it, as docker pushes a Windows image; false: refused like any missing layer
   */
  foreignLayersUnpushed: boolean;
}

export const IMPLEMENTATIONS: Readonly<Record<RegistryImplementation, RegistryCapabilities>> = {
  'distribution-2.8': {
    title: 'distribution 2.8 (Debian docker-registry)',
    auth: ['none', 'htpasswd', 'token'],
    mount: true,
    blobsPerRepository: true,
    referrers: false,
    referrersEmptyIsNull: false,
    delete: true,
    deleteTags: false,
    schema1: true,
    indexChildrenMustExist: true,
    foreignLayersUnpushed: true,
  },
  'distribution-v3': {
    title: 'distribution v3.1.2',
    auth: ['none', 'htpasswd', 'token'],
    mount: true,
    blobsPerRepository: true,
    // v3.1.2 has no referrers endpoint (GET answers 404)
    referrers: false,
    referrersEmptyIsNull: false,
    delete: true,
    deleteTags: true,
    // v3 removed schema 1 support altogether
    schema1: false,
    indexChildrenMustExist: true,
    foreignLayersUnpushed: true,
  },
  ggcr: {
    title: 'go-containerregistry v0.22.1 (crane registry serve)',
    // `crane registry serve` has no auth at all
    auth: ['none'],
    // it answers a mount with 202 and an upload session (pkg/registry/blobs.go ignores `mount`)
    mount: false,
    // one blob store for the whole registry: blobs are keyed by digest only
    blobsPerRepository: false,
    // the library has the API (registry.WithReferrersSupport) but `crane registry serve` does not turn it on
    referrers: false,
    referrersEmptyIsNull: false,
    delete: true,
    deleteTags: true,
    // it stores any manifest as sent, with its Content-Type: signed schema 1 included (no setting)
    schema1: true,
    indexChildrenMustExist: true,
    foreignLayersUnpushed: true,
  },
  'ggcr-referrers': {
    // scripts/support/referrers-registry: the same library with the referrers API turned on, for
    // the referrers suites (no registry of the three above has the API)
    title: 'go-containerregistry v0.22.1 with the referrers API (scripts/support/referrers-registry)',
    auth: ['none'],
    mount: false,
    blobsPerRepository: false,
    referrers: true,
    referrersEmptyIsNull: false,
    delete: true,
    deleteTags: true,
    schema1: true,
    indexChildrenMustExist: true,
    foreignLayersUnpushed: true,
  },
  olareg: {
    title: "olareg v0.1.2 (regclient's registry)",
    // olareg has no auth at all (it is meant to run behind a proxy that does it)
    auth: ['none'],
    mount: true,
    // a directory store: each repository is an OCI layout of its own
    blobsPerRepository: true,
    referrers: true,
    // Go writes its nil slice: {"schemaVersion":2,"mediaType":"…index.v1+json","manifests":null}
    referrersEmptyIsNull: true,
    // with --api-delete (startRegistry's deleteEnabled)
    delete: true,
    deleteTags: true,
    // it takes OCI and Docker schema 2 manifests only: any other Content-Type is refused with 400
    schema1: false,
    indexChildrenMustExist: true,
    // every layer must be in the repository, foreign ones too (MANIFEST_BLOB_UNKNOWN "layer not found")
    foreignLayersUnpushed: false,
  },
  'olareg-no-referrers': {
    // the same olareg with --api-referrer=false: GET referrers answers 404, so clients use fallback tags
    title: 'olareg v0.1.2 without its referrers API (--api-referrer=false)',
    auth: ['none'],
    mount: true,
    blobsPerRepository: true,
    referrers: false,
    referrersEmptyIsNull: false,
    delete: true,
    deleteTags: true,
    schema1: false,
    indexChildrenMustExist: true,
    foreignLayersUnpushed: false,
  },
};

/**
 * The implementations every describe.each suite runs on. `ggcr-referrers` is the ggcr code again
 * (with one more endpoint): it runs where the referrers API matters, not in every suite (CI time).
 * olareg runs in both modes: with its referrers API (the only one here not written for these
 * tests) and without it (fallback tags, on a registry whose other behaviour is the same). In this
 * order, the next one (otherImplementation) is always other code.
 */
export const IMPLEMENTATION_NAMES: RegistryImplementation[] = [
  'distribution-2.8',
  'distribution-v3',
  'olareg',
  'ggcr',
  'olareg-no-referrers',
];
/** Started only by the suites that ask for them by name (IMPLEMENTATIONS still says what they can do). */
export const EXTRA_IMPLEMENTATION_NAMES: RegistryImplementation[] = ['ggcr-referrers'];

export interface RegistryCredentials {
  username: string;
  password: string;
}

/** What a fixture or a test needs to talk to a registry (a RunningRegistry is one; so is a fault proxy plus credentials). */
export interface RegistryEndpoint {
  /** `127.0.0.1:PORT`, the registry part of an image reference */
  host: string;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** used by the fixtures' own client for Basic auth or token requests */
  credentials?: RegistryCredentials;
}

export interface StartRegistryOptions {
  /** which registry (default `distribution-2.8`) */
  implementation?: RegistryImplementation;
  auth?: RegistryAuth;
  /** htpasswd users (default `{ testuser: 'testpassword' }`); the first becomes `credentials` */
  users?: Record<string, string>;
  /** required for `auth: 'token'` */
  tokenServer?: TokenServer;
  /** `storage.delete.enabled` (lets tests delete blobs and manifests) */
  deleteEnabled?: boolean;
  /** `compatibility.schema1.enabled`: lets fixtures push signed schema 1 manifests */
  schema1?: boolean;
  /** label for logs and the temp dir */
  name?: string;
  /** log level (default `error`) */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** how long to wait for `GET /v2/` (default 15 s) */
  startTimeoutMs?: number;
}

export interface RunningRegistry extends RegistryEndpoint {
  name: string;
  implementation: RegistryImplementation;
  capabilities: RegistryCapabilities;
  auth: RegistryAuth;
  port: number;
  /** temp dir holding config.yml, htpasswd and data/ (removed by stop) */
  dataDir: string;
  /** the registry's config file ('' for ggcr and olareg, which take flags) */
  configPath: string;
  pid: number;
  stop(): Promise<void>;
  /** the process's stdout and stderr so far (capped) */
  logs(): string;
}

const LOG_CAP = 256 * 1024;
const TOOL_PACKAGES: Record<ToolName, string> = { skopeo: 'skopeo', 'docker-registry': 'docker-registry', buildah: 'buildah' };
const TOOL_BINARIES: Record<ToolName, string[]> = {
  skopeo: ['skopeo'],
  'docker-registry': ['docker-registry', 'registry'],
  buildah: ['buildah'],
};

export type ToolName = 'skopeo' | 'docker-registry' | 'buildah';

/** Full path of the first executable named `names[i]` on PATH, or undefined. */
export function findOnPath(...names: string[]): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const name of names) {
    for (const dir of dirs) {
      const candidate = join(dir, name);
      try {
        accessSync(candidate, fsConstants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/**
 * The tool on PATH. A `registry` counts as distribution 2.8 only when it says so: `go install`
 * of distribution v3 also writes a `registry` (into GOPATH/bin, often on PATH), and that is
 * another implementation with another config format.
 */
function findTool(name: ToolName): string | undefined {
  if (name !== 'docker-registry') return findOnPath(...TOOL_BINARIES[name]);
  const debian = findOnPath('docker-registry');
  if (debian) return debian;
  const registry = findOnPath('registry');
  if (!registry) return undefined;
  try {
    const version = execFileSync(registry, ['--version'], { encoding: 'utf8', timeout: 10000 });
    return /github\.com\/docker\/distribution v?2\./.test(version) ? registry : undefined;
  } catch {
    return undefined;
  }
}

let aptUpdated: Promise<void> | undefined;
const installs = new Map<ToolName, Promise<string>>();

/**
 * Path of `name` (for docker-registry also `registry`). When missing and we are root on
 * Debian, installs the Debian package with apt-get (update once first); otherwise throws:
 * in CI a missing tool is an error, never a skip.
 */
export async function ensureTool(name: ToolName): Promise<string> {
  const found = findTool(name);
  if (found) return found;
  let pending = installs.get(name);
  if (!pending) {
    pending = installTool(name);
    installs.set(name, pending);
    pending.catch(() => installs.delete(name));
  }
  return pending;
}

async function installTool(name: ToolName): Promise<string> {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const isDebian = existsSync('/etc/debian_version') && findOnPath('apt-get') !== undefined;
  if (!isRoot || !isDebian) {
    throw new Error(
      `${TOOL_BINARIES[name].join(' or ')} not found on PATH, and it can only be installed automatically as root on Debian/Ubuntu ` +
        `(apt-get install ${TOOL_PACKAGES[name]}). Install it and run again.`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    aptUpdated ??= execFileAsync('apt-get', ['update'], { env, maxBuffer: 64 * 1024 * 1024 }).then(() => undefined);
    await aptUpdated;
    await execFileAsync('apt-get', ['install', '-y', '--no-install-recommends', TOOL_PACKAGES[name]], { env, maxBuffer: 64 * 1024 * 1024 });
  } catch (cause) {
    aptUpdated = undefined;
    const stderr = (cause as { stderr?: string }).stderr ?? '';
    throw new Error(`apt-get install ${TOOL_PACKAGES[name]} failed: ${stderr.trim() || String(cause)}`, { cause });
  }
  const found = findTool(name);
  if (!found) throw new Error(`apt-get installed ${TOOL_PACKAGES[name]} but ${TOOL_BINARIES[name].join(' / ')} is still not on PATH`);
  return found;
}

/** A loopback TCP port that was free a moment ago (bind port 0, read it, release it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not read the port of a loopback listener'))));
    });
  });
}

// ---- process bookkeeping: never leave a registry behind ----

const live = new Set<ChildProcess>();
/** temp dirs to remove if the process exits without stop() */
const liveDirs = new Set<string>();
let exitHooksInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  const killAll = () => {
    for (const child of live) killGroup(child, 'SIGKILL');
    for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      // Keep the default behaviour (terminate) unless someone else handles the signal.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/** Spawns a long-running helper in its own process group, tracked for stop-on-exit. */
export function spawnTracked(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  installExitHooks();
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.unref();
  return child;
}

/** SIGTERM the process group, SIGKILL after `graceMs`, resolve when it has exited. */
export async function stopTracked(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    live.delete(child);
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  live.delete(child);
}

// ---- the registry ----

function yamlString(value: string): string {
  return JSON.stringify(value); // a JSON string is a valid YAML double-quoted scalar
}

/** config.yml for distribution 2.8 and v3: the keys both read, plus 2.8's schema 1 switch. */
function registryConfig(options: {
  implementation: 'distribution-2.8' | 'distribution-v3';
  port: number;
  dataDir: string;
  logLevel: string;
  deleteEnabled: boolean;
  schema1: boolean;
  auth: RegistryAuth;
  htpasswdPath?: string;
  tokenServer?: TokenServer;
}): string {
  const lines = [
    'version: 0.1',
    'log:',
    `  level: ${options.logLevel}`,
    '  formatter: text',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${yamlString(join(options.dataDir, 'data'))}`,
    '  delete:',
    `    enabled: ${options.deleteEnabled}`,
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    '  redirect:',
    '    disable: true',
    'http:',
    `  addr: 127.0.0.1:${options.port}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
    'health:',
    '  storagedriver:',
    '    enabled: false',
    // Foreign (non-distributable) layers, as in Windows images: by default 2.8 allows no URL.
    'validation:',
    '  manifests:',
    '    urls:',
    "      allow: ['^https?://']",
  ];
  // v3 has no schema 1 and no `compatibility` section (startRegistry refuses schema1 for it)
  if (options.schema1 && options.implementation === 'distribution-2.8') lines.push('compatibility:', '  schema1:', '    enabled: true');
  if (options.auth === 'htpasswd') {
    lines.push('auth:', '  htpasswd:', '    realm: basic-realm', `    path: ${yamlString(options.htpasswdPath ?? '')}`);
  } else if (options.auth === 'token' && options.tokenServer) {
    const ts = options.tokenServer;
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${yamlString(ts.realm)}`,
      `    service: ${yamlString(ts.service)}`,
      `    issuer: ${yamlString(ts.issuer)}`,
      `    rootcertbundle: ${yamlString(ts.certPath)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Starts a registry on a free loopback port and resolves once `GET /v2/` answers 200 or 401. */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<RunningRegistry> {
  const implementation = options.implementation ?? 'distribution-2.8';
  const capabilities = IMPLEMENTATIONS[implementation];
  if (!capabilities)
    throw new Error(
      `startRegistry: unknown implementation ${String(implementation)} (known: ${[...IMPLEMENTATION_NAMES, ...EXTRA_IMPLEMENTATION_NAMES].join(', ')})`,
    );
  const auth = options.auth ?? 'none';
  const name = options.name ?? `registry-${auth}`;
  if (!capabilities.auth.includes(auth)) {
    throw new Error(
      `startRegistry(${name}): ${capabilities.title} has no '${auth}' auth mode (it has: ${capabilities.auth.join(', ')}); ask IMPLEMENTATIONS before starting it`,
    );
  }
  if (options.schema1 && !capabilities.schema1)
    throw new Error(`startRegistry(${name}): ${capabilities.title} does not accept schema 1 manifests`);
  if (auth === 'token' && !options.tokenServer)
    throw new Error(`startRegistry(${name}): auth 'token' needs a tokenServer (startTokenServer())`);
  const binary = await registryBinary(implementation);
  const dataDir = await mkdtemp(join(tmpdir(), `mm-${name.replace(/[^a-zA-Z0-9_-]/g, '_')}-`));
  liveDirs.add(dataDir);
  installExitHooks();
  await mkdir(join(dataDir, 'data'), { recursive: true });

  let credentials: RegistryCredentials | undefined;
  let htpasswdPath: string | undefined;
  if (auth === 'htpasswd') {
    const users = options.users ?? { testuser: 'testpassword' };
    const entries = Object.entries(users);
    if (entries.length === 0) throw new Error(`startRegistry(${name}): htpasswd mode needs at least one user`);
    htpasswdPath = join(dataDir, 'htpasswd');
    // Cost 4 (the minimum): the registry runs bcrypt on every Basic-authenticated request.
    const lines = entries.map(([user, password]) => `${user}:${bcrypt.hashSync(password, 4)}`);
    await writeFile(htpasswdPath, `${lines.join('\n')}\n`, { mode: 0o600 });
    credentials = { username: entries[0][0], password: entries[0][1] };
  }

  const startTimeoutMs = options.startTimeoutMs ?? 15000;
  let lastError: unknown;
  // A port picked by freePort can be taken by someone else before the registry binds it: retry.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    let configPath = '';
    let args: string[];
    if (implementation === 'olareg' || implementation === 'olareg-no-referrers') {
      // A directory store (each repository an OCI layout under data/), no garbage collection (a
      // long suite must not lose an upload it has not referenced yet: a negative frequency turns it
      // off; "-1" alone is not a duration), the referrers API on or off.
      args = [
        'serve',
        '--addr',
        '127.0.0.1',
        '--port',
        String(port),
        '--dir',
        join(dataDir, 'data'),
        '--gc-frequency',
        '-1s',
        `--api-referrer=${implementation === 'olareg'}`,
        '-v',
        options.logLevel ?? 'error',
      ];
      if (options.deleteEnabled) args.push('--api-delete', '--api-blob-delete');
    } else if (implementation === 'ggcr-referrers') {
      args = ['--address', `127.0.0.1:${port}`, '--disk', join(dataDir, 'data')];
    } else if (implementation === 'ggcr') {
      // Blobs on disk (a merge bench pushes big layers); manifests live in memory until stop.
      args = ['registry', 'serve', '--address', `127.0.0.1:${port}`, '--disk', join(dataDir, 'data')];
    } else {
      configPath = join(dataDir, 'config.yml');
      await writeFile(
        configPath,
        registryConfig({
          implementation,
          port,
          dataDir,
          logLevel: options.logLevel ?? 'error',
          deleteEnabled: options.deleteEnabled ?? false,
          schema1: options.schema1 ?? false,
          auth,
          htpasswdPath,
          tokenServer: options.tokenServer,
        }),
      );
      args = ['serve', configPath];
    }
    const child = spawnTracked(binary, args, { cwd: dataDir });
    let output = '';
    const append = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.length > LOG_CAP) output = output.slice(output.length - LOG_CAP);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
    (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();

    const host = `127.0.0.1:${port}`;
    const url = `http://${host}`;
    try {
      await waitUntilUp(capabilities.title, url, child, startTimeoutMs, () => output);
    } catch (error) {
      lastError = error;
      await stopTracked(child, 500);
      if (/address already in use/i.test(output)) continue;
      break;
    }
    let stopped: Promise<void> | undefined;
    return {
      name,
      implementation,
      capabilities,
      auth,
      host,
      url,
      port,
      dataDir,
      configPath,
      pid: child.pid ?? -1,
      credentials,
      logs: () => output,
      stop: () => {
        stopped ??= (async () => {
          await stopTracked(child);
          await rm(dataDir, { recursive: true, force: true });
          liveDirs.delete(dataDir);
        })();
        return stopped;
      },
    };
  }
  await rm(dataDir, { recursive: true, force: true });
  liveDirs.delete(dataDir);
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

/** The executable for an implementation: Debian's docker-registry, or a pinned Go build. */
function registryBinary(implementation: RegistryImplementation): Promise<string> {
  switch (implementation) {
    case 'distribution-2.8':
      return ensureTool('docker-registry');
    case 'distribution-v3':
      return ensureGoTool('distribution-v3');
    case 'ggcr':
      return ensureGoTool('crane');
    case 'ggcr-referrers':
      return ensureGoTool('referrers-registry');
    case 'olareg':
    case 'olareg-no-referrers':
      return ensureGoTool('olareg');
  }
}

async function waitUntilUp(title: string, url: string, child: ChildProcess, timeoutMs: number, logs: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 10;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${title} exited (${child.exitCode ?? child.signalCode}) before answering on ${url}:\n${logs()}`);
    }
    try {
      const response = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.status === 200 || response.status === 401) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${title} did not answer GET ${url}/v2/ within ${timeoutMs} ms:\n${logs()}`);
    await sleep(delay);
    delay = Math.min(delay * 2, 100);
  }
}
