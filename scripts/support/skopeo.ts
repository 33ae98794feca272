// skopeo as an independent verifier of what ended up in a registry: `inspect --raw` for
// exact manifest bytes, `copy --all` into an OCI layout (fails on any missing blob or
// bad digest). Every call is hermetic: our own signature policy, and either explicit
// credentials, an auth file, or anonymous access (never the user's own auth files).
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureTool, type RegistryCredentials } from './registry.js';

export interface SkopeoOptions {
  /** default false: test registries are plain HTTP */
  tlsVerify?: boolean;
  /** `username:password` or `{ username, password }` */
  creds?: string | RegistryCredentials;
  /** a docker config.json / containers auth.json */
  authfile?: string;
  /** default 120 s */
  timeoutMs?: number;
}

export interface SkopeoResult {
  stdout: Buffer;
  stderr: string;
}

/** Raised when skopeo exits non-zero; `message` carries skopeo's stderr. */
export class SkopeoError extends Error {
  constructor(
    readonly args: string[],
    readonly exitCode: number | string | null,
    readonly stderr: string,
  ) {
    super(`skopeo ${args.join(' ')} failed (${exitCode}): ${stderr.trim()}`);
    this.name = 'SkopeoError';
  }
}

let hermetic: Promise<{ dir: string; policy: string; emptyAuth: string }> | undefined;

/** A temp dir with an accept-anything policy.json and an empty auth file, made once per process. */
function hermeticFiles(): Promise<{ dir: string; policy: string; emptyAuth: string }> {
  hermetic ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mm-skopeo-'));
    const policy = join(dir, 'policy.json');
    const emptyAuth = join(dir, 'auth.json');
    await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    await writeFile(emptyAuth, JSON.stringify({ auths: {} }));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return { dir, policy, emptyAuth };
  })();
  return hermetic;
}

/** Removes the temp policy/auth files (call from afterAll; also done on process exit where that hook runs). */
export async function cleanupSkopeo(): Promise<void> {
  const pending = hermetic;
  hermetic = undefined;
  if (!pending) return;
  const { dir } = await pending;
  rmSync(dir, { recursive: true, force: true });
}

function credsString(creds: string | RegistryCredentials): string {
  return typeof creds === 'string' ? creds : `${creds.username}:${creds.password}`;
}

/** `docker://host/repo:tag`; a reference without a transport gets `docker://`. */
export function dockerTransport(ref: string): string {
  return /^(docker|oci|oci-archive|dir|docker-archive|docker-daemon|containers-storage):/.test(ref) ? ref : `docker://${ref}`;
}

/** Auth flags for one side (`''` for inspect, `src-` / `dest-` for copy). */
async function authArgs(prefix: '' | 'src-' | 'dest-', options: SkopeoOptions): Promise<string[]> {
  const args = [`--${prefix}tls-verify=${options.tlsVerify ?? false}`];
  if (options.creds) args.push(`--${prefix}creds`, credsString(options.creds));
  else args.push(`--${prefix}authfile`, options.authfile ?? (await hermeticFiles()).emptyAuth);
  return args;
}

/** Runs skopeo; resolves with stdout (bytes) and stderr, rejects with a SkopeoError carrying stderr. */
export async function runSkopeo(args: string[], options: { timeoutMs?: number } = {}): Promise<SkopeoResult> {
  const skopeo = await ensureTool('skopeo');
  const { dir } = await hermeticFiles();
  // Keep skopeo away from the user's registries.conf / auth: point HOME and XDG dirs at our temp dir.
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: dir, REGISTRY_AUTH_FILE: join(dir, 'auth.json') };
  return new Promise((resolve, reject) => {
    execFile(
      skopeo,
      args,
      { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024, timeout: options.timeoutMs ?? 120_000, env },
      (error, stdout, stderr) => {
        const stderrText = Buffer.from(stderr).toString('utf8');
        if (error) {
          const code = (error as NodeJS.ErrnoException & { code?: number | string }).code ?? null;
          reject(new SkopeoError(args, error.killed ? 'timeout' : code, stderrText || error.message));
          return;
        }
        resolve({ stdout: Buffer.from(stdout), stderr: stderrText });
      },
    );
  });
}

/** `skopeo inspect --raw docker://REF`: the exact manifest bytes the registry serves. */
export async function skopeoInspectRaw(ref: string, options: SkopeoOptions = {}): Promise<Buffer> {
  const args = ['--insecure-policy', 'inspect', '--raw', ...(await authArgs('', options)), dockerTransport(ref)];
  return (await runSkopeo(args, options)).stdout;
}

/** `skopeo inspect --config --raw docker://REF`: the image config blob (for an image manifest or the host platform's entry of an index). */
export async function skopeoInspectConfig(ref: string, options: SkopeoOptions = {}): Promise<Record<string, unknown>> {
  const args = ['--insecure-policy', 'inspect', '--config', '--raw', ...(await authArgs('', options)), dockerTransport(ref)];
  return JSON.parse((await runSkopeo(args, options)).stdout.toString('utf8')) as Record<string, unknown>;
}

/**
 * `skopeo copy --all docker://REF oci:DIR[:TAG]`: pulls every manifest and blob and checks
 * each digest; rejects (with skopeo's stderr) on any missing blob or bad digest.
 * An OCI layout holds only OCI types, so skopeo converts Docker manifests and lists (their
 * digests change in the layout); `preserveDigests: true` makes that conversion an error.
 */
export async function skopeoCopyAllToOciLayout(
  ref: string,
  dir: string,
  options: SkopeoOptions & { tag?: string; preserveDigests?: boolean } = {},
): Promise<SkopeoResult> {
  const policy = (await hermeticFiles()).policy;
  const destination = options.tag ? `oci:${dir}:${options.tag}` : `oci:${dir}`;
  const preserve = options.preserveDigests ? ['--preserve-digests'] : [];
  const args = ['--policy', policy, 'copy', '--all', ...preserve, ...(await authArgs('src-', options)), dockerTransport(ref), destination];
  return runSkopeo(args, options);
}

export interface SkopeoCopyOptions {
  all?: boolean;
  src?: SkopeoOptions;
  dest?: SkopeoOptions;
  /** extra flags, e.g. `['--format', 'oci']` */
  extraArgs?: string[];
  timeoutMs?: number;
}

/** `skopeo copy [--all] SRC DEST` between registries (e.g. a baseline for benchmarks); `docker://` is added to bare references. */
export async function skopeoCopy(source: string, destination: string, options: SkopeoCopyOptions = {}): Promise<SkopeoResult> {
  const policy = (await hermeticFiles()).policy;
  const args = [
    '--policy',
    policy,
    'copy',
    ...((options.all ?? true) ? ['--all'] : []),
    ...(await authArgs('src-', options.src ?? {})),
    ...(await authArgs('dest-', options.dest ?? {})),
    ...(options.extraArgs ?? []),
    dockerTransport(source),
    dockerTransport(destination),
  ];
  return runSkopeo(args, options);
}

export type DockerConfigAuth =
  { username: string; password: string } | { identitytoken: string; username?: string } | { registrytoken: string };

/**
 * Writes a docker `config.json` (as `docker login` / docker/login-action leave it) with
 * `auths` for each host; usable as skopeo's `authfile` and as `$DOCKER_CONFIG/config.json`.
 */
export async function writeDockerConfig(
  path: string,
  auths: Record<string, DockerConfigAuth>,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const entries: Record<string, Record<string, string>> = {};
  for (const [host, auth] of Object.entries(auths)) {
    if ('password' in auth) entries[host] = { auth: Buffer.from(`${auth.username}:${auth.password}`).toString('base64') };
    else if ('identitytoken' in auth)
      entries[host] = { auth: Buffer.from(`${auth.username ?? '<token>'}:`).toString('base64'), identitytoken: auth.identitytoken };
    else entries[host] = { registrytoken: auth.registrytoken };
  }
  await writeFile(path, `${JSON.stringify({ auths: entries, ...extra }, null, '\t')}\n`, { mode: 0o600 });
  return path;
}
