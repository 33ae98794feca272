// Where registry credentials come from, in the docker CLI's words: explicit credentials, then
// config.json (`credHelpers`, `auths`, `credsStore`), with credential helpers run as
// `docker-credential-NAME get` (server URL on stdin, JSON {ServerURL, Username, Secret} out).
// Helpers run on node:child_process for both entries, each in its own process group, so that the
// one deadline can kill a helper together with whatever it started (a shell script's `sleep`,
// a keychain prompt): killing only the direct child leaves a grandchild holding the pipes open.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CredentialsError, TimeoutError, isTimeout } from '../base/errors.js';
import { type Logger, silentLogger } from '../base/logger.js';
import { DOCKER_HUB, DOCKER_HUB_CONFIG_KEY } from '../oci/hosts.js';
import type { CredentialProvider, Credentials } from './client-types.js';

export interface CommandRunner {
  /**
   * Runs `command args…` with `stdin`; rejects when the command cannot be started (e.g. not on
   * PATH), and with a TimeoutError (wait 'credential helper') when it runs past `timeoutMs`.
   */
  run(command: string, args: string[], stdin: string, options?: { timeoutMs?: number }): Promise<{ exitCode: number; stdout: string; stderr: string }>;
}

/** A helper's own limit, within the run's deadline: helpers answer in well under a second. */
const HELPER_TIMEOUT_MS = 60_000;
const MAX_HELPER_OUTPUT = 1024 * 1024;

/** Kills the process group led by `pid` (the helper and everything it started); the child alone where groups do not exist. */
function killGroup(child: ReturnType<typeof spawn>): void {
  try {
    if (process.platform !== 'win32' && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    else child.kill('SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * A CommandRunner on node:child_process `spawn`, with `env` (default: this process's
 * environment, read at each run) deciding PATH. Each command leads its own process group
 * (`detached`), killed whole when it runs over its time.
 */
export function createChildProcessRunner(env?: NodeJS.ProcessEnv, timeoutMs = HELPER_TIMEOUT_MS): CommandRunner {
  return {
    run(command, args, stdin, options = {}) {
      const limitMs = Math.max(0, Math.min(options.timeoutMs ?? timeoutMs, timeoutMs));
      return new Promise((resolve, reject) => {
        const child = spawn(command, args, { env: env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true, detached: true });
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        let outSize = 0;
        let settled = false;
        const collect = (into: Buffer[]) => (chunk: Buffer) => {
          outSize += chunk.length;
          if (outSize <= MAX_HELPER_OUTPUT) into.push(chunk);
        };
        const timer = setTimeout(() => {
          if (settled) return;
          settled = true;
          killGroup(child);
          reject(new TimeoutError(`${command} timed out: no answer within ${formatSeconds(limitMs)}`, { wait: 'credential helper' }));
        }, limitMs);
        child.stdout.on('data', collect(stdout));
        child.stderr.on('data', collect(stderr));
        // a helper that exits without reading stdin makes the write fail with EPIPE: not our error
        child.stdin.on('error', () => undefined);
        child.on('error', (error) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          reject(error);
        });
        child.on('close', (code, signal) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({
            exitCode: code ?? (signal ? 128 : 1),
            stdout: Buffer.concat(stdout).toString('utf8'),
            stderr: Buffer.concat(stderr).toString('utf8'),
          });
        });
        child.stdin.end(stdin);
      });
    },
  };
}

function formatSeconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}

/** node:child_process spawn based runner on this process's environment. */
export const childProcessRunner: CommandRunner = createChildProcessRunner();

export interface DockerCredentialOptions {
  /** explicit credentials (action inputs, CLI flags), used for `registry` only */
  explicit?: { registry: string; username: string; password: string };
  /** how messages name where explicit credentials came from (default 'inputs username/password'; the CLI's flags) */
  explicitSource?: string;
  /** the run's deadline (epoch ms): a helper still running then is killed with its process group */
  deadline?: number;
  /** directory holding config.json; default $DOCKER_CONFIG, else ~/.docker */
  configDir?: string;
  env?: NodeJS.ProcessEnv;
  /** how helpers are run; default a child_process runner on `env` */
  runner?: CommandRunner;
  logger?: Logger;
  onSecret?: (s: string) => void;
}

/** One `auths` entry of config.json. */
interface AuthEntry {
  auth?: unknown;
  username?: unknown;
  password?: unknown;
  identitytoken?: unknown;
  registrytoken?: unknown;
}

interface DockerConfig {
  path: string;
  exists: boolean;
  auths: Record<string, AuthEntry>;
  credHelpers: Record<string, string>;
  credsStore?: string;
}

const HUB_ALIASES = new Set([DOCKER_HUB, 'index.docker.io', 'registry-1.docker.io']);

/**
 * The registry host a config key or registry name stands for: scheme and path dropped, lower
 * case, Docker Hub's names all `docker.io`. `https://index.docker.io/v1/` → `docker.io`,
 * `http://localhost:5000/v2/` → `localhost:5000`.
 */
export function credentialHost(keyOrRegistry: string): string {
  const host = keyOrRegistry.trim().toLowerCase().replace(/^[a-z][a-z0-9+.-]*:\/\//, '').replace(/\/.*$/, '');
  return HUB_ALIASES.has(host) ? DOCKER_HUB : host;
}

/** What to hand a credential helper on stdin: Docker Hub's config key, else the host. */
function helperServerUrl(registry: string): string {
  const host = credentialHost(registry);
  return host === DOCKER_HUB ? DOCKER_HUB_CONFIG_KEY : host;
}

/** Order in which matching config keys are tried: the exact forms docker writes first. */
function keyRank(key: string, host: string): number {
  if (host === DOCKER_HUB && key === DOCKER_HUB_CONFIG_KEY) return 0;
  if (key === host) return 1;
  if (key === `https://${host}`) return 2;
  if (key.startsWith('https://')) return 3;
  if (key.startsWith('http://')) return 5;
  return 4;
}

function matchingKeys(keys: string[], host: string): string[] {
  return keys
    .filter((key) => credentialHost(key) === host)
    .sort((a, b) => keyRank(a, host) - keyRank(b, host) || (a < b ? -1 : a > b ? 1 : 0));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function firstLine(text: string): string {
  const line = text.trim().split(/\r?\n/, 1)[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

class DockerCredentialProvider implements CredentialProvider {
  private readonly env: NodeJS.ProcessEnv;
  private readonly configPath: string;
  private readonly runner: CommandRunner;
  private readonly logger: Logger;
  private readonly onSecret: (s: string) => void;
  private readonly explicit?: { registry: string; username: string; password: string };
  private readonly explicitSource: string;
  private readonly deadline?: number;
  private config?: DockerConfig;
  private readonly cache = new Map<string, Promise<Credentials | undefined>>();

  constructor(options: DockerCredentialOptions) {
    this.env = options.env ?? process.env;
    const dir = options.configDir || this.env.DOCKER_CONFIG || join(this.env.HOME || homedir(), '.docker');
    this.configPath = join(dir, 'config.json');
    this.runner = options.runner ?? (options.env ? createChildProcessRunner(options.env) : childProcessRunner);
    this.logger = options.logger ?? silentLogger;
    this.explicitSource = options.explicitSource ?? 'inputs username/password';
    this.deadline = options.deadline;
    this.onSecret = (s) => {
      if (s) options.onSecret?.(s);
    };
    const explicit = options.explicit;
    if (explicit && explicit.registry.trim() && explicit.username && explicit.password) {
      this.explicit = explicit;
      this.onSecret(explicit.password);
    }
  }

  credentialsFor(registry: string): Promise<Credentials | undefined> {
    const host = credentialHost(registry);
    let pending = this.cache.get(host);
    if (!pending) {
      pending = this.lookup(registry, host);
      this.cache.set(host, pending);
    }
    return pending;
  }

  describeLookup(registry: string): string {
    const host = credentialHost(registry);
    const places: string[] = [];
    if (this.explicit) {
      places.push(
        credentialHost(this.explicit.registry) === host
          ? this.explicitSource
          : `${this.explicitSource} (given for ${this.explicit.registry}, not ${registry})`,
      );
    }
    let config: DockerConfig;
    try {
      config = this.loadConfig();
    } catch {
      places.push(`${this.configPath} (unreadable)`);
      return places.join(', ');
    }
    if (!config.exists) {
      places.push(`${this.configPath} (not found)`);
      return places.join(', ');
    }
    const details: string[] = [];
    const helperKey = matchingKeys(Object.keys(config.credHelpers), host)[0];
    details.push(helperKey === undefined ? `no credHelpers entry for ${registry}` : `credHelpers[${JSON.stringify(helperKey)}] "${config.credHelpers[helperKey]}"`);
    const authKeys = matchingKeys(Object.keys(config.auths), host);
    details.push(authKeys.length > 0 ? authKeys.map((k) => `auths[${JSON.stringify(k)}]`).join(', ') : `no auths entry for ${registry}`);
    if (config.credsStore) details.push(`credsStore "${config.credsStore}"`);
    places.push(`${config.path} (${details.join(', ')})`);
    return places.join(', ');
  }

  private async lookup(registry: string, host: string): Promise<Credentials | undefined> {
    const found = await this.find(registry, host);
    if (found) this.logger.debug(`credentials for ${registry}: ${found.source}`);
    else this.logger.debug(`no credentials for ${registry} (looked in ${this.describeLookup(registry)}); going anonymous`);
    return found;
  }

  private async find(registry: string, host: string): Promise<Credentials | undefined> {
    // 1. explicit credentials
    if (this.explicit && credentialHost(this.explicit.registry) === host) {
      return { kind: 'basic', username: this.explicit.username, password: this.explicit.password, source: this.explicitSource };
    }

    const config = this.loadConfig();
    // 2. a helper for this very host (docker: credHelpers win over auths and credsStore)
    const helperKey = matchingKeys(Object.keys(config.credHelpers), host)[0];
    if (helperKey !== undefined) {
      const fromHelper = await this.runHelper(config.credHelpers[helperKey], registry, `credHelpers[${JSON.stringify(helperKey)}]`);
      if (fromHelper) return fromHelper;
    }

    // 3. auths entries holding a secret (an empty `{}` entry only records a login kept by credsStore)
    for (const key of matchingKeys(Object.keys(config.auths), host)) {
      const credentials = this.fromAuthEntry(config, key);
      if (credentials) return credentials;
    }

    // 4. the default credential store (docker never asks it about a host that has its own helper)
    if (config.credsStore && helperKey === undefined) return this.runHelper(config.credsStore, registry, 'credsStore');
    return undefined;
  }

  private fromAuthEntry(config: DockerConfig, key: string): Credentials | undefined {
    const entry = config.auths[key];
    const source = `config.json auths[${JSON.stringify(key)}]`;
    let username = nonEmptyString(entry.username);
    let password = nonEmptyString(entry.password);
    const auth = nonEmptyString(entry.auth);
    if (auth) {
      this.onSecret(auth);
      const decoded = Buffer.from(auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(auth.trim()) || colon <= 0) {
        throw new CredentialsError(`${config.path}: auths[${JSON.stringify(key)}].auth is not base64 of "username:password"`, {
          hint: 'Fix or remove the entry, then {login}',
        });
      }
      username = decoded.slice(0, colon);
      password = decoded.slice(colon + 1).replace(/\0+$/, '');
    }
    const registryToken = nonEmptyString(entry.registrytoken);
    if (registryToken) {
      this.onSecret(registryToken);
      return { kind: 'registry-token', token: registryToken, source };
    }
    const identityToken = nonEmptyString(entry.identitytoken);
    if (identityToken) {
      this.onSecret(identityToken);
      return username ? { kind: 'identity-token', username, token: identityToken, source } : { kind: 'identity-token', token: identityToken, source };
    }
    if (username && password) {
      this.onSecret(password);
      return { kind: 'basic', username, password, source };
    }
    return undefined;
  }

  private async runHelper(name: string, registry: string, configuredBy: string): Promise<Credentials | undefined> {
    const program = `docker-credential-${name}`;
    const where = `configured by ${configuredBy} in ${this.configPath}`;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
      throw new CredentialsError(`Credential helper name "${name}" for ${registry} (${where}) is not a valid helper name`, {
        registry,
        hint: `A helper name is letters, digits, ".", "_" or "-" (docker runs docker-credential-NAME); fix ${this.configPath}, or use {credentials}`,
      });
    }
    const serverUrl = helperServerUrl(registry);
    let result: { exitCode: number; stdout: string; stderr: string };
    const started = Date.now();
    try {
      const timeoutMs = this.deadline === undefined ? undefined : Math.max(0, this.deadline - started);
      result = await this.runner.run(program, ['get'], serverUrl, timeoutMs === undefined ? {} : { timeoutMs });
    } catch (error) {
      if (isTimeout(error)) {
        throw new TimeoutError(`Credential helper ${program} for ${registry} (${where}) timed out: no answer after ${formatSeconds(Date.now() - started)}; it was stopped with every process it started`, {
          cause: error,
          registry,
          wait: 'credential helper',
          hint: `Check that ${program} answers on this machine without a prompt (echo ${serverUrl} | ${program} get), or {login} without it, or raise {timeout}`,
        });
      }
      // (an Error from another realm, e.g. under a test runner's VM, fails instanceof: read its message)
      const message = isRecord(error) && typeof error.message === 'string' ? error.message : undefined;
      const why = message ?? String(error);
      throw new CredentialsError(`Could not run credential helper ${program} for ${registry} (${where}): ${firstLine(why)}`, {
        cause: error,
        registry,
        hint: `Install ${program} on the PATH, or remove it from ${this.configPath}, or use {credentials}`,
      });
    }
    if (result.exitCode !== 0) {
      const said = `${result.stdout}\n${result.stderr}`;
      if (/credentials not found/i.test(said)) {
        this.logger.debug(`${program} has no credentials for ${serverUrl}`);
        return undefined;
      }
      const line = firstLine(result.stderr) || firstLine(result.stdout);
      throw new CredentialsError(`Credential helper ${program} failed for ${registry} (${where}; exit code ${result.exitCode})${line ? `: ${line}` : ''}`, {
        registry,
        hint: `Check that ${program} works on this machine (echo ${serverUrl} | ${program} get), or use {credentials}`,
      });
    }
    let answer: unknown;
    try {
      answer = JSON.parse(result.stdout);
    } catch {
      // the output may hold a secret: never quote it
      throw new CredentialsError(`Credential helper ${program} answered for ${registry} with something that is not JSON (${where})`, {
        registry,
        hint: `Check that ${program} works on this machine (echo ${serverUrl} | ${program} get), or use {credentials}`,
      });
    }
    if (!isRecord(answer)) {
      throw new CredentialsError(`Credential helper ${program} answered for ${registry} with JSON that is not an object (${where})`, {
        registry,
        hint: `Check that ${program} works on this machine (echo ${serverUrl} | ${program} get), or use {credentials}`,
      });
    }
    const secret = nonEmptyString(answer.Secret);
    const username = typeof answer.Username === 'string' ? answer.Username : '';
    if (!secret) {
      this.logger.debug(`${program} returned no secret for ${serverUrl}`);
      return undefined;
    }
    this.onSecret(secret);
    const source = `credential helper ${program}`;
    if (username === '<token>') return { kind: 'identity-token', token: secret, source };
    return { kind: 'basic', username, password: secret, source };
  }

  /** Reads and validates config.json once; a missing file is an empty config. */
  private loadConfig(): DockerConfig {
    if (this.config) return this.config;
    const path = this.configPath;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      const code = isRecord(error) && typeof error.code === 'string' ? error.code : undefined;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        this.config = { path, exists: false, auths: {}, credHelpers: {} };
        return this.config;
      }
      throw new CredentialsError(`Could not read the Docker config ${path}${code ? ` (${code})` : ''}`, { cause: error });
    }
    let json: unknown;
    try {
      json = text.trim() === '' ? {} : JSON.parse(text);
    } catch (error) {
      // JSON.parse messages may quote the file, which holds secrets: give only the position
      const position = error instanceof Error ? /position (\d+)/.exec(error.message)?.[1] : undefined;
      throw new CredentialsError(`The Docker config ${path} is not valid JSON${position ? ` (at character ${position})` : ''}`, {
        hint: 'Fix or remove the file, then {login}',
      });
    }
    if (!isRecord(json)) throw new CredentialsError(`The Docker config ${path} is not a JSON object`);

    const auths: Record<string, AuthEntry> = {};
    if (isRecord(json.auths)) {
      for (const [key, entry] of Object.entries(json.auths)) {
        if (isRecord(entry)) auths[key] = entry;
        else this.logger.warning(`${path}: auths[${JSON.stringify(key)}] is not an object; ignored`);
      }
    } else if (json.auths !== undefined && json.auths !== null) {
      this.logger.warning(`${path}: "auths" is not an object; ignored`);
    }
    const credHelpers: Record<string, string> = {};
    if (isRecord(json.credHelpers)) {
      for (const [key, helper] of Object.entries(json.credHelpers)) {
        if (typeof helper === 'string' && helper !== '') credHelpers[key] = helper;
        else this.logger.warning(`${path}: credHelpers[${JSON.stringify(key)}] is not a helper name; ignored`);
      }
    }
    const credsStore = nonEmptyString(json.credsStore);
    this.config = { path, exists: true, auths, credHelpers, ...(credsStore ? { credsStore } : {}) };
    return this.config;
  }
}

/**
 * Credentials the way the docker CLI finds them. Order (first hit wins): explicit inputs for that
 * registry; config.json `credHelpers[host]`; `auths` (`auth`, `username`/`password`,
 * `identitytoken`, `registrytoken`; keys in any of docker's spellings); `credsStore`.
 * A helper that is missing or fails is a CredentialsError; "credentials not found" is anonymous.
 * Results are cached per registry: one helper run per registry per provider.
 */
export function createDockerCredentialProvider(options: DockerCredentialOptions = {}): CredentialProvider {
  return new DockerCredentialProvider(options);
}
