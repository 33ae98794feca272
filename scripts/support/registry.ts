// Throwaway `docker-registry` (CNCF distribution 2.8) processes on loopback ports for
// integration tests, `npm run demo` and `npm run bench`. Three auth modes: none,
// htpasswd (Basic) and token (Bearer, against scripts/support/token-server.ts).
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, accessSync, rmSync, constants as fsConstants } from 'node:fs';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import type { TokenServer } from './token-server.js';

const execFileAsync = promisify(execFile);

export type RegistryAuth = 'none' | 'htpasswd' | 'token';

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
  auth: RegistryAuth;
  port: number;
  /** temp dir holding config.yml, htpasswd and data/ (removed by stop) */
  dataDir: string;
  configPath: string;
  pid: number;
  stop(): Promise<void>;
  /** the process's stdout and stderr so far (capped) */
  logs(): string;
}

const LOG_CAP = 256 * 1024;
const TOOL_PACKAGES: Record<ToolName, string> = { skopeo: 'skopeo', 'docker-registry': 'docker-registry', buildah: 'buildah' };
const TOOL_BINARIES: Record<ToolName, string[]> = { skopeo: ['skopeo'], 'docker-registry': ['docker-registry', 'registry'], buildah: ['buildah'] };

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

let aptUpdated: Promise<void> | undefined;
const installs = new Map<ToolName, Promise<string>>();

/**
 * Path of `name` (for docker-registry also `registry`). When missing and we are root on
 * Debian, installs the Debian package with apt-get (update once first); otherwise throws:
 * in CI a missing tool is an error, never a skip.
 */
export async function ensureTool(name: ToolName): Promise<string> {
  const found = findOnPath(...TOOL_BINARIES[name]);
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
  const found = findOnPath(...TOOL_BINARIES[name]);
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
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
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

function registryConfig(options: {
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
  if (options.schema1) lines.push('compatibility:', '  schema1:', '    enabled: true');
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
  const auth = options.auth ?? 'none';
  const name = options.name ?? `registry-${auth}`;
  if (auth === 'token' && !options.tokenServer) throw new Error(`startRegistry(${name}): auth 'token' needs a tokenServer (startTokenServer())`);
  const binary = await ensureTool('docker-registry');
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
    const configPath = join(dataDir, 'config.yml');
    await writeFile(
      configPath,
      registryConfig({
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
    const child = spawnTracked(binary, ['serve', configPath], { cwd: dataDir });
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
      await waitUntilUp(url, child, startTimeoutMs, () => output);
    } catch (error) {
      lastError = error;
      await stopTracked(child, 500);
      if (/address already in use/i.test(output)) continue;
      break;
    }
    let stopped: Promise<void> | undefined;
    return {
      name,
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

async function waitUntilUp(url: string, child: ChildProcess, timeoutMs: number, logs: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 10;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}) before answering on ${url}:\n${logs()}`);
    }
    try {
      const response = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.status === 200 || response.status === 401) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`docker-registry did not answer GET ${url}/v2/ within ${timeoutMs} ms:\n${logs()}`);
    await sleep(delay);
    delay = Math.min(delay * 2, 100);
  }
}
