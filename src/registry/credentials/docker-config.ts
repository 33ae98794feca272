// The docker CLI's config.json as far as credentials go: `auths` (`auth` base64 of user:pass,
// `username`/`password`, `identitytoken`, `registrytoken`), `credHelpers`, `credsStore`, with keys
// in any of the spellings docker writes (`https://index.docker.io/v1/` for Docker Hub, a scheme,
// a path). Read once, validated, never quoted in an error (it holds secrets).
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CredentialsError } from '../../base/errors.js';
import type { Logger } from '../../base/logger.js';
import { DOCKER_HUB, DOCKER_HUB_CONFIG_KEY } from '../../oci/hosts.js';
import type { Credentials } from '../client-types.js';

/** One `auths` entry of config.json. */
interface AuthEntry {
  auth?: unknown;
  username?: unknown;
  password?: unknown;
  identitytoken?: unknown;
  registrytoken?: unknown;
}

export interface DockerConfig {
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
  const host = keyOrRegistry
    .trim()
    .toLowerCase()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//, '')
    .replace(/\/.*$/, '');
  return HUB_ALIASES.has(host) ? DOCKER_HUB : host;
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

/** The config keys naming `host`, best first. */
export function matchingKeys(keys: string[], host: string): string[] {
  return keys
    .filter((key) => credentialHost(key) === host)
    .sort((a, b) => keyRank(a, host) - keyRank(b, host) || (a < b ? -1 : a > b ? 1 : 0));
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** config.json's path: `configDir`, else $DOCKER_CONFIG, else ~/.docker. */
export function dockerConfigPath(configDir: string | undefined, env: NodeJS.ProcessEnv): string {
  const dir = configDir || env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker');
  return join(dir, 'config.json');
}

/** Reads and validates config.json; a missing file is an empty config. Entries of the wrong shape are ignored with a warning. */
export function loadDockerConfig(path: string, logger: Logger): DockerConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = isRecord(error) && typeof error.code === 'string' ? error.code : undefined;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return { path, exists: false, auths: {}, credHelpers: {} };
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
      else logger.warning(`${path}: auths[${JSON.stringify(key)}] is not an object; ignored`);
    }
  } else if (json.auths !== undefined && json.auths !== null) {
    logger.warning(`${path}: "auths" is not an object; ignored`);
  }
  const credHelpers: Record<string, string> = {};
  if (isRecord(json.credHelpers)) {
    for (const [key, helper] of Object.entries(json.credHelpers)) {
      if (typeof helper === 'string' && helper !== '') credHelpers[key] = helper;
      else logger.warning(`${path}: credHelpers[${JSON.stringify(key)}] is not a helper name; ignored`);
    }
  }
  const credsStore = nonEmptyString(json.credsStore);
  return { path, exists: true, auths, credHelpers, ...(credsStore ? { credsStore } : {}) };
}

/**
 * The credentials an `auths` entry holds, if any (an empty `{}` entry only records a login kept by
 * credsStore). Every secret in it goes to `onSecret`, even one that is not used.
 */
export function fromAuthEntry(config: DockerConfig, key: string, onSecret: (s: string) => void): Credentials | undefined {
  const entry = config.auths[key];
  const source = `config.json auths[${JSON.stringify(key)}]`;
  let username = nonEmptyString(entry.username);
  let password = nonEmptyString(entry.password);
  const auth = nonEmptyString(entry.auth);
  if (auth) {
    onSecret(auth);
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
    onSecret(registryToken);
    return { kind: 'registry-token', token: registryToken, source };
  }
  const identityToken = nonEmptyString(entry.identitytoken);
  if (identityToken) {
    onSecret(identityToken);
    return username
      ? { kind: 'identity-token', username, token: identityToken, source }
      : { kind: 'identity-token', token: identityToken, source };
  }
  if (username && password) {
    onSecret(password);
    return { kind: 'basic', username, password, source };
  }
  return undefined;
}
