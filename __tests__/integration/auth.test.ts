// Authentication like the docker CLI, and merges across registries, end to end: the real
// docker-registry in token-auth mode (RS256 JWTs from scripts/support/token-server.ts) and
// in htpasswd (Basic) mode, credentials from config.json, credential helpers on PATH,
// inputs, and the action bundle; every result verified with skopeo or by read-back.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { MergeResult } from '../../src/engine/model.js';
import { CredentialsError, HttpError } from '../../src/base/errors.js';
import { getInputs } from '../../src/action/inputs.js';
import { renderActionError } from '../../src/action/wording.js';
import { renderCliError } from '../../src/cli/wording.js';
import { createMemoryLogger } from '../../src/base/logger.js';
import { runStep } from '../../src/engine/run-step.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { hasManifest } from '../../scripts/support/fixtures/client.js';
import { pushBuildxImage, type PushedBuildxImage } from '../../scripts/support/fixtures/buildx.js';
import { seedCase, type SeedCase } from '../../scripts/support/fixtures/cases.js';
import { type RegistryEndpoint, type RunningRegistry, startRegistry } from '../../scripts/support/registry.js';
import { cleanupSkopeo, skopeoCopyAllToOciLayout, skopeoInspectRaw } from '../../scripts/support/skopeo.js';
import { type TokenServer, decodeJwt, startTokenServer } from '../../scripts/support/token-server.js';
import { ACTION, type ActionRun, runAction } from './processes.js';
import { ACTION_EXPLICIT_CREDENTIALS } from '../../src/action/wording.js';

// Every secret is distinctive, so a search for it cannot match anything else by chance.
const CI = { username: 'ci', password: 'ci-Pa55word-7f3a9c1e' };
const CI_REFRESH = 'ci-refresh-token-2b8d4e6f0a';
const HELPER = { username: 'helper-user', password: 'helper-Pa55word-5c7e9a1b' };
const PUBLISHER = { username: 'publisher', password: 'publisher-Pa55word-3d5f7b9c' };
const READER = { username: 'reader', password: 'reader-Pa55word-6b4d2f0e' };
const SEEDER = { username: 'seeder', password: 'seeder-Pa55word-1a2b3c4d' };
const ALICE = { username: 'alice', password: 'alice-Pa55word-8e6c4a20' };
const WRONG = 'wrong-Pa55word-0f1e2d3c';
const LEAKY_SECRET = 'leaky-Secret-9e8d7c6b';

let tokenServer: TokenServer;
/** token-auth registry: acme/ for ci and helper-user, team/ for publisher, public/ pulls anonymously */
let tokenRegistry: RunningRegistry;
/** htpasswd (Basic) registry: alice */
let basicRegistry: RunningRegistry;
/** no auth */
let plainRegistry: RunningRegistry;
let seed: SeedCase;
let publicAmd64: PushedBuildxImage;
let publicArm64: PushedBuildxImage;
let publicSources: string[];
let scratch: string;
let helperDir: string;
let helperLog: string;

const basic64 = (username: string, password: string): string => Buffer.from(`${username}:${password}`).toString('base64');
const seederEndpoint = (): RegistryEndpoint => ({ ...tokenRegistry, credentials: SEEDER });

/** A `docker-credential-NAME` shell script in helperDir; each `get` is logged as `NAME <server URL>`. */
async function writeHelper(name: string, body: string): Promise<void> {
  const path = join(helperDir, `docker-credential-${name}`);
  await writeFile(path, `#!/bin/sh\nserver=$(cat)\necho "${name} $1 $server" >> ${JSON.stringify(helperLog)}\n${body}\n`);
  await chmod(path, 0o755);
}

async function helperCalls(): Promise<string[]> {
  if (!existsSync(helperLog)) return [];
  return (await readFile(helperLog, 'utf8')).split('\n').filter(Boolean);
}

let configCount = 0;
async function dockerConfig(config: Record<string, unknown>): Promise<string> {
  const dir = join(scratch, `docker-config-${++configCount}`);
  await mkdir(dir);
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

interface Run {
  result?: MergeResult;
  error?: Error;
  logs: string[];
  secrets: string[];
}

/** The action's inputs through the engine with a real client; helpers are looked for on PATH with helperDir first. */
async function run(values: Record<string, string>, config: Record<string, unknown> = {}): Promise<Run> {
  const logger = createMemoryLogger();
  const secrets: string[] = [];
  const configDir = await dockerConfig(config);
  const env = { ...process.env, PATH: `${helperDir}${delimiter}${process.env.PATH ?? ''}` };
  try {
    const inputs = getInputs((name) => values[name] ?? '');
    const [outcome] = await runStep(inputs, {
      logger,
      onSecret: (s) => secrets.push(s),
      env,
      configDir,
      explicitCredentials: ACTION_EXPLICIT_CREDENTIALS,
    });
    if (!outcome.ok) throw outcome.error;
    return { result: outcome.result, logs: logger.lines, secrets };
  } catch (error) {
    return { error: error as Error, logs: logger.lines, secrets };
  }
}

async function succeed(values: Record<string, string>, config: Record<string, unknown> = {}): Promise<Run & { result: MergeResult }> {
  const outcome = await run(values, config);
  if (outcome.error) throw outcome.error;
  return outcome as Run & { result: MergeResult };
}

async function fail(values: Record<string, string>, config: Record<string, unknown> = {}): Promise<Run & { error: Error }> {
  const outcome = await run(values, config);
  if (!outcome.error) throw new Error('expected the merge to fail, but it succeeded');
  return outcome as Run & { error: Error };
}

/** The whole text a user could see of an error: message (hint included), request, cause chain. */
function errorText(error: Error): string {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    parts.push(e.message, String(e.stack ?? ''), JSON.stringify(e));
  }
  return parts.join('\n');
}

function expectNoSecret(texts: string[], secrets: string[]): void {
  const all = texts.join('\n');
  for (const secret of secrets) expect(all).not.toContain(secret);
}

async function verifyComplete(ref: string, creds?: { username: string; password: string }): Promise<string[]> {
  const dir = await mkdtemp(join(scratch, 'layout-'));
  await skopeoCopyAllToOciLayout(ref, dir, { tlsVerify: false, creds });
  return readdir(join(dir, 'blobs', 'sha256'));
}

async function servedDigest(ref: string, creds?: { username: string; password: string }): Promise<string> {
  return sha256Digest(await skopeoInspectRaw(ref, { tlsVerify: false, creds }));
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'mm-auth-test-'));
  helperDir = join(scratch, 'bin');
  helperLog = join(scratch, 'helper-calls.log');
  await mkdir(helperDir);
  tokenServer = await startTokenServer({
    users: {
      [CI.username]: { password: CI.password, refreshToken: CI_REFRESH, grants: [{ prefix: 'acme/', actions: ['pull', 'push'] }] },
      [HELPER.username]: { password: HELPER.password, grants: [{ prefix: 'acme/', actions: ['pull', 'push'] }] },
      [PUBLISHER.username]: { password: PUBLISHER.password, grants: [{ prefix: 'team/', actions: ['pull', 'push'] }] },
      [READER.username]: { password: READER.password, grants: [{ prefix: 'acme/', actions: ['pull'] }] },
      [SEEDER.username]: { password: SEEDER.password, grants: [{ prefix: '', actions: ['*'] }] },
    },
    anonymousPullPrefixes: ['public/'],
  });
  [tokenRegistry, basicRegistry, plainRegistry] = await Promise.all([
    startRegistry({ name: 'auth-token', auth: 'token', tokenServer }),
    startRegistry({ name: 'auth-htpasswd', auth: 'htpasswd', users: { [ALICE.username]: ALICE.password } }),
    startRegistry({ name: 'auth-plain' }),
  ]);
  [seed, publicAmd64, publicArm64] = await Promise.all([
    seedCase(seederEndpoint()),
    pushBuildxImage(seederEndpoint(), 'public/base-amd64', 'v1', { platform: 'linux/amd64', seed: 'public-amd64' }),
    pushBuildxImage(seederEndpoint(), 'public/base-arm64', 'v1', { platform: 'linux/arm64', seed: 'public-arm64' }),
  ]);
  publicSources = [`${tokenRegistry.host}/public/base-amd64:v1`, `${tokenRegistry.host}/public/base-arm64:v1`];

  await writeHelper(
    'mm-basic',
    `[ "$server" = "${tokenRegistry.host}" ] || { echo "credentials not found in native keychain"; exit 1; }\nprintf '{"ServerURL":"%s","Username":"${HELPER.username}","Secret":"${HELPER.password}"}' "$server"`,
  );
  await writeHelper('mm-token', `printf '{"ServerURL":"%s","Username":"<token>","Secret":"${CI_REFRESH}"}' "$server"`);
  await writeHelper('mm-empty', 'echo "credentials not found in native keychain"; exit 1');
  await writeHelper('mm-broken', 'echo "error: the keychain is locked" >&2; exit 3');
  // issue 20 (#6): its answer, secret and all, on stdout with exit 1; on stderr the secret again,
  // a terminal escape sequence, an OSC title and workflow commands
  await writeHelper(
    'mm-leaky',
    `printf '{"ServerURL":"%s","Username":"${HELPER.username}","Secret":"${LEAKY_SECRET}"}' "$server"\nprintf 'keychain: ${LEAKY_SECRET} rejected\\033[31m red\\033]0;pwned-title\\007\\n::set-output name=leak::${LEAKY_SECRET}\\n::error::forged\\n' >&2\nexit 1`,
  );
});

afterAll(async () => {
  await Promise.all([tokenRegistry?.stop(), basicRegistry?.stop(), plainRegistry?.stop(), tokenServer?.stop()]);
  await cleanupSkopeo();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const auths = (entry: Record<string, unknown>, host = (): string => tokenRegistry.host) => ({ auths: { [host()]: entry } });

describe('token auth: one token per merge, covering every repository', () => {
  it('config.json `auth`: the seed case merges with ONE token request carrying pull on both sources and pull,push on the target, and mounts every blob', async () => {
    const target = `${tokenRegistry.host}/acme/github-runner:focal`;
    tokenServer.reset();
    const { result } = await succeed(
      { sources: seed.sources.join('\n'), tags: target },
      auths({ auth: basic64(CI.username, CI.password) }),
    );

    // The measurement: one token request for the whole merge (reads, mounts, pushes, read-back).
    expect(tokenServer.requests).toHaveLength(1);
    const [request] = tokenServer.requests;
    expect(request).toMatchObject({ method: 'GET', user: CI.username, grantType: 'basic', status: 200, service: tokenServer.service });
    expect([...request.scopes].sort()).toEqual([
      'repository:acme/github-runner-amd64:pull',
      'repository:acme/github-runner-arm64:pull',
      'repository:acme/github-runner:pull,push',
    ]);
    expect(request.granted).toEqual(
      expect.arrayContaining([
        { type: 'repository', name: 'acme/github-runner-amd64', actions: ['pull'] },
        { type: 'repository', name: 'acme/github-runner', actions: ['pull', 'push'] },
      ]),
    );
    expect(result.requests.byKind['GET token']).toBe(1);

    // Cross-repository mounts (the two-repository token), nothing streamed.
    // per platform: config + 3 layers of the image, config + 1 layer of the attestation
    expect(result.targets[0].blobs).toEqual({ mounted: 2 * (1 + 3 + 1 + 1), copied: 0, existing: 0 });
    expect(result.targets[0].manifestsPushed).toBe(4);
    expect(await servedDigest(target, CI)).toBe(result.digest);
    const blobs = await verifyComplete(target, CI);
    expect(blobs).toContain(seed.arm64.image.layers[2].digest.slice(7));
  });

  it('a spec of three images in three repositories: still ONE token request, covering every repository of every image', async () => {
    tokenServer.reset();
    const host = tokenRegistry.host;
    const spec = ['one', 'two', 'three']
      .map((name) => `  - tags: [${host}/acme/spec-${name}:1]\n    sources: [${seed.sources.join(', ')}]`)
      .join('\n');
    const inputs = getInputs((name) => ({ spec: `images:\n${spec}` })[name] ?? '');
    const logger = createMemoryLogger();
    const outcomes = await runStep(inputs, {
      logger,
      configDir: await dockerConfig(auths({ auth: basic64(CI.username, CI.password) })),
      explicitCredentials: ACTION_EXPLICIT_CREDENTIALS,
    });
    expect(outcomes.map((o) => o.ok)).toEqual([true, true, true]);
    // each result holds the shared client's counts when it finished: the last is the whole step's
    expect(Math.max(...outcomes.map((o) => (o.ok ? (o.result.requests.byKind['GET token'] ?? 0) : 0)))).toBe(1);
    expect(tokenServer.requests).toHaveLength(1);
    expect([...tokenServer.requests[0].scopes].sort()).toEqual([
      'repository:acme/github-runner-amd64:pull',
      'repository:acme/github-runner-arm64:pull',
      'repository:acme/spec-one:pull,push',
      'repository:acme/spec-three:pull,push',
      'repository:acme/spec-two:pull,push',
    ]);
    for (const name of ['one', 'two', 'three']) expect(await hasManifest(seederEndpoint(), `acme/spec-${name}`, '1')).toBe(true);
  });

  it('a user who may pull but not push: one wider token request on insufficient_scope, then an error naming the registry and the permission; nothing written', async () => {
    tokenServer.reset();
    const { error } = await fail(
      { sources: seed.sources.join('\n'), tags: `${tokenRegistry.host}/acme/read-only:v1` },
      auths({ auth: basic64(READER.username, READER.password) }),
    );
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).code).toBe('DENIED');
    expect(error.message).toContain(
      `${tokenRegistry.host} denied access: the credentials from config.json auths["${tokenRegistry.host}"] do not grant pull,push on acme/read-only`,
    );
    expect(error.message).toContain('insufficient_scope');
    // the first token request, then exactly one re-request after the registry said insufficient_scope
    expect(tokenServer.requests.map((r) => [r.user, r.status])).toEqual([
      [READER.username, 200],
      [READER.username, 200],
    ]);
    expect(tokenServer.requests[0].granted).not.toContainEqual(
      expect.objectContaining({ name: 'acme/read-only', actions: expect.arrayContaining(['push']) }),
    );
    expect(await hasManifest(seederEndpoint(), 'acme/read-only', 'v1')).toBe(false);
  });
});

describe('credentials from config.json', () => {
  it('`username`/`password` under an https:// key', async () => {
    tokenServer.reset();
    const { result } = await succeed(
      { sources: seed.sources.join('\n'), tags: `${tokenRegistry.host}/acme/userpass:v1` },
      { auths: { [`https://${tokenRegistry.host}`]: { username: CI.username, password: CI.password } } },
    );
    expect(tokenServer.requests.map((r) => [r.method, r.user, r.status])).toEqual([['GET', CI.username, 200]]);
    expect(await servedDigest(`${tokenRegistry.host}/acme/userpass:v1`, CI)).toBe(result.digest);
  });

  it('`identitytoken`: exchanged by an OAuth2 refresh-token POST for every scope at once', async () => {
    tokenServer.reset();
    const { result, secrets } = await succeed(
      { sources: seed.sources.join('\n'), tags: `${tokenRegistry.host}/acme/identity:v1` },
      auths({ auth: basic64('<token>', ''), identitytoken: CI_REFRESH }),
    );
    expect(tokenServer.requests).toHaveLength(1);
    expect(tokenServer.requests[0]).toMatchObject({ method: 'POST', grantType: 'refresh_token', user: CI.username, status: 200 });
    expect([...tokenServer.requests[0].scopes].sort()).toEqual([
      'repository:acme/github-runner-amd64:pull',
      'repository:acme/github-runner-arm64:pull',
      'repository:acme/identity:pull,push',
    ]);
    expect(result.requests.byKind['POST token']).toBe(1);
    expect(secrets).toContain(CI_REFRESH);
    expect(await servedDigest(`${tokenRegistry.host}/acme/identity:v1`, CI)).toBe(result.digest);
  });

  it('`registrytoken`: sent as the Bearer token as is, no token request at all', async () => {
    const repos = ['acme/github-runner-amd64', 'acme/github-runner-arm64'];
    const registrytoken = tokenServer.issueToken({
      subject: CI.username,
      access: [
        ...repos.map((name) => ({ type: 'repository', name, actions: ['pull'] })),
        { type: 'repository', name: 'acme/regtoken', actions: ['pull', 'push'] },
      ],
    });
    expect(decodeJwt(registrytoken).header.alg).toBe('RS256');
    tokenServer.reset();
    const { result, secrets } = await succeed(
      { sources: seed.sources.join('\n'), tags: `${tokenRegistry.host}/acme/regtoken:v1` },
      auths({ registrytoken }),
    );
    expect(tokenServer.requests).toEqual([]);
    expect(result.requests.byKind['GET token']).toBeUndefined();
    expect(secrets).toContain(registrytoken);
    expect(await servedDigest(`${tokenRegistry.host}/acme/regtoken:v1`, CI)).toBe(result.digest);
  });

  it("inputs `username`/`password` win over config.json, for the first tag's registry by default", async () => {
    tokenServer.reset();
    const { result, secrets } = await succeed(
      { sources: seed.sources.join('\n'), tags: `${tokenRegistry.host}/acme/inputs:v1`, username: CI.username, password: CI.password },
      auths({ auth: basic64(CI.username, WRONG) }),
    );
    expect(tokenServer.requests.map((r) => [r.user, r.grantType, r.status])).toEqual([[CI.username, 'basic', 200]]);
    expect(secrets).toContain(CI.password);
    expect(await servedDigest(`${tokenRegistry.host}/acme/inputs:v1`, CI)).toBe(result.digest);
  });
});

describe('credential helpers on PATH', () => {
  it('credHelpers[host]: `docker-credential-NAME get` with the host on stdin; wins over auths', async () => {
    const before = (await helperCalls()).length;
    tokenServer.reset();
    const { result, secrets } = await succeed(
      { sources: seed.sources.join('\n'), tags: `${tokenRegistry.host}/acme/helper:v1` },
      { credHelpers: { [tokenRegistry.host]: 'mm-basic' }, ...auths({ auth: basic64(CI.username, WRONG) }) },
    );
    expect((await helperCalls()).slice(before)).toEqual([`mm-basic get ${tokenRegistry.host}`]);
    expect(tokenServer.requests.map((r) => [r.user, r.status])).toEqual([[HELPER.username, 200]]);
    expect(secrets).toContain(HELPER.password);
    expect(await servedDigest(`${tokenRegistry.host}/acme/helper:v1`, CI)).toBe(result.digest);
  });

  it('credsStore whose helper answers Username `<token>`: the Secret is an identity token (refresh-token POST)', async () => {
    tokenServer.reset();
    const { result } = await succeed(
      { sources: seed.sources.join('\n'), tags: `${tokenRegistry.host}/acme/store:v1` },
      { credsStore: 'mm-token' },
    );
    expect(tokenServer.requests.map((r) => [r.method, r.grantType, r.user, r.status])).toEqual([
      ['POST', 'refresh_token', CI.username, 200],
    ]);
    expect(await servedDigest(`${tokenRegistry.host}/acme/store:v1`, CI)).toBe(result.digest);
  });

  it('a failing helper is an error naming the helper and the host, with its message: the anonymous read it allows fails, and nothing is pushed', async () => {
    tokenServer.reset();
    const { error, logs } = await fail(
      { sources: seed.sources.join('\n'), tags: `${tokenRegistry.host}/acme/broken:v1` },
      { credHelpers: { [tokenRegistry.host]: 'mm-broken' } },
    );
    expect(error).toBeInstanceOf(CredentialsError);
    expect(error.message).toContain('docker-credential-mm-broken');
    expect(error.message).toContain(tokenRegistry.host);
    expect(error.message).toContain('the keychain is locked');
    expect(error.message).toContain('exit code 3');
    expect(tokenServer.requests.map((r) => r.user)).toEqual(['anonymous']);
    expect(logs.filter((l) => l.startsWith('warning:') && l.includes('docker-credential-mm-broken'))).toHaveLength(1);
    expect(await hasManifest(seederEndpoint(), 'acme/broken', 'v1')).toBe(false);
  });

  it('a helper missing from PATH is an error naming the helper and the host', async () => {
    const { error } = await fail(
      { sources: seed.sources.join('\n'), tags: `${tokenRegistry.host}/acme/missing:v1` },
      { credsStore: 'mm-not-installed' },
    );
    expect(error).toBeInstanceOf(CredentialsError);
    expect(error.message).toContain('docker-credential-mm-not-installed');
    expect(error.message).toContain(tokenRegistry.host);
    expect(error.message).toContain('credsStore');
  });

  it('a failing helper does not stop a read the registry lets through anonymously (public sources, dry run), and is reported as a warning', async () => {
    tokenServer.reset();
    const { result, logs } = await succeed(
      { sources: publicSources.join('\n'), tags: `${tokenRegistry.host}/public/dry:v1`, push: 'false' },
      { credsStore: 'mm-broken' },
    );
    expect(result.pushed).toBe(false);
    expect(result.platforms).toEqual(['linux/amd64', 'linux/arm64']);
    expect(tokenServer.requests.every((r) => r.user === 'anonymous' && r.status === 200)).toBe(true);
    expect(logs.some((l) => l.startsWith('warning:') && l.includes('docker-credential-mm-broken') && l.includes(tokenRegistry.host))).toBe(
      true,
    );
  });

  it('a failing helper that printed its secret on stdout: neither the warning, nor the error on either surface, shows stdout; stderr only redacted and escaped', async () => {
    const expectClean = (text: string) => {
      expect(text).not.toContain(LEAKY_SECRET);
      expect(text).not.toContain('ServerURL');
      expect(text).not.toContain('pwned-title');
      // eslint-disable-next-line no-control-regex
      expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
      expect(text).not.toMatch(/^::/m);
    };
    const dry = await succeed(
      { sources: publicSources.join('\n'), tags: `${tokenRegistry.host}/public/dry:v3`, push: 'false' },
      { credsStore: 'mm-leaky' },
    );
    const warning = dry.logs.find((l) => l.startsWith('warning:') && l.includes('docker-credential-mm-leaky'))!;
    expect(warning).toContain(
      'exit code 1): keychain: *** rejected red\\n::set-output name=leak::***\\n::error::forged (its stdout is not shown',
    );
    expectClean(warning);

    const { error, logs } = await fail(
      { sources: seed.sources.join('\n'), tags: `${tokenRegistry.host}/acme/leaky:v1` },
      { credHelpers: { [tokenRegistry.host]: 'mm-leaky' } },
    );
    expect(error).toBeInstanceOf(CredentialsError);
    for (const text of [renderActionError(error), renderCliError(error), errorText(error), ...logs]) expectClean(text);
    expect(renderActionError(error)).toContain('docker-credential-mm-leaky failed');
    expect(await hasManifest(seederEndpoint(), 'acme/leaky', 'v1')).toBe(false);
  });

  it('"credentials not found" from the helper means anonymous: public sources merge into a public dry run', async () => {
    const { result } = await succeed(
      { sources: publicSources.join('\n'), tags: `${tokenRegistry.host}/public/dry:v2`, push: 'false' },
      { credsStore: 'mm-empty' },
    );
    expect(result.sources.map((s) => s.digest)).toEqual([publicAmd64.indexDigest, publicArm64.indexDigest]);
  });
});

describe('wrong credentials', () => {
  it('token auth: the token service refusing the password is UNAUTHORIZED naming the registry and where credentials were looked for; the secret is never shown', async () => {
    const { error, logs, secrets } = await fail(
      { sources: seed.sources.join('\n'), tags: `${tokenRegistry.host}/acme/wrong:v1` },
      auths({ auth: basic64(CI.username, WRONG) }),
    );
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).code).toBe('UNAUTHORIZED');
    expect(error.message).toContain(`Registry ${tokenRegistry.host}`);
    expect(error.message).toContain(tokenServer.realm);
    expect(error.message).toContain(`config.json auths["${tokenRegistry.host}"]`);
    expect(error.message).toContain(join(scratch, `docker-config-${configCount}`, 'config.json'));
    expect(error.message).toContain('invalid username or password');
    expect(secrets).toEqual(expect.arrayContaining([WRONG, basic64(CI.username, WRONG)]));
    expectNoSecret([errorText(error), ...logs], [WRONG, basic64(CI.username, WRONG)]);
  });

  it('htpasswd: a refused Basic login is UNAUTHORIZED naming the registry and the inputs; the secret is never shown', async () => {
    const { error, logs } = await fail({
      sources: `${basicRegistry.host}/acme/none:v1`,
      tags: `${basicRegistry.host}/acme/wrong:v1`,
      username: ALICE.username,
      password: WRONG,
    });
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).code).toBe('UNAUTHORIZED');
    expect(error.message).toContain(basicRegistry.host);
    expect(error.message).toContain('inputs username/password');
    expectNoSecret([errorText(error), ...logs], [WRONG, basic64(ALICE.username, WRONG)]);
  });

  it('no credentials at all for a private repository: UNAUTHORIZED saying where credentials were looked for', async () => {
    const { error } = await fail({ sources: seed.sources.join('\n'), tags: `${tokenRegistry.host}/acme/anon:v1` });
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).code).toBe('UNAUTHORIZED');
    expect(error.message).toContain(tokenRegistry.host);
    expect(error.message).toMatch(/looked for in: .*config\.json/);
  });
});

describe('anonymous pulls of public sources', () => {
  it('push credentials for the target only: the public sources are pulled and mounted with one token', async () => {
    const target = `${tokenRegistry.host}/team/app:v1`;
    tokenServer.reset();
    const { result } = await succeed(
      { sources: publicSources.join('\n'), tags: target },
      auths({ auth: basic64(PUBLISHER.username, PUBLISHER.password) }),
    );
    expect(tokenServer.requests).toHaveLength(1);
    expect(tokenServer.requests[0].user).toBe(PUBLISHER.username);
    expect(tokenServer.requests[0].granted).toEqual([
      { type: 'repository', name: 'public/base-amd64', actions: ['pull'] },
      { type: 'repository', name: 'public/base-arm64', actions: ['pull'] },
      { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
    ]);
    expect(result.targets[0].blobs.mounted).toBeGreaterThan(0);
    expect(result.targets[0].blobs.copied).toBe(0);
    await verifyComplete(target, PUBLISHER);
  });
});

describe('across registries', () => {
  it('streams every blob from an anonymous token-auth source to an htpasswd target; skopeo copies the result whole', async () => {
    const target = `${basicRegistry.host}/acme/from-public:v1`;
    tokenServer.reset();
    const { result } = await succeed(
      { sources: publicSources.join('\n'), tags: target },
      auths({ auth: basic64(ALICE.username, ALICE.password) }, () => basicRegistry.host),
    );
    expect(tokenServer.requests.map((r) => [r.user, r.status])).toEqual([['anonymous', 200]]);
    expect(result.targets[0].blobs).toEqual({ mounted: 0, copied: 2 * (1 + 2 + 1 + 1), existing: 0 });
    expect(result.targets[0].manifestsPushed).toBe(4);
    expect(await servedDigest(target, ALICE)).toBe(result.digest);
    const blobs = await verifyComplete(target, ALICE);
    expect(blobs).toEqual(
      expect.arrayContaining([publicAmd64.image.layers[1].digest.slice(7), publicArm64.attestation.layers[0].digest.slice(7)]),
    );
  });

  it('tags on three registries (token, htpasswd, plain) in one merge: each gets its own plan and every tag is read back', async () => {
    const tags = [
      `${tokenRegistry.host}/acme/everywhere:v1`,
      `${basicRegistry.host}/acme/everywhere:v1`,
      `${plainRegistry.host}/acme/everywhere:v1`,
      `${plainRegistry.host}/acme/everywhere:latest`,
    ];
    const config = {
      auths: {
        [tokenRegistry.host]: { auth: basic64(CI.username, CI.password) },
        [basicRegistry.host]: { auth: basic64(ALICE.username, ALICE.password) },
      },
    };
    tokenServer.reset();
    const { result } = await succeed({ sources: seed.sources.join('\n'), tags: tags.join('\n') }, config);

    // one token for the token-auth registry (sources pull, its target pull,push); Basic needs none
    expect(tokenServer.requests.map((r) => [r.user, r.status])).toEqual([[CI.username, 200]]);
    expect(result.images).toEqual(tags.map((t) => `${t}@${result.digest}`));
    const byRepository = Object.fromEntries(result.targets.map((t) => [t.repository, t]));
    expect(Object.keys(byRepository).sort()).toEqual(
      [`${basicRegistry.host}/acme/everywhere`, `${plainRegistry.host}/acme/everywhere`, `${tokenRegistry.host}/acme/everywhere`].sort(),
    );
    const blobCount = 2 * (1 + 3 + 1 + 1);
    expect(byRepository[`${tokenRegistry.host}/acme/everywhere`].blobs).toEqual({ mounted: blobCount, copied: 0, existing: 0 });
    expect(byRepository[`${basicRegistry.host}/acme/everywhere`].blobs).toEqual({ mounted: 0, copied: blobCount, existing: 0 });
    expect(byRepository[`${plainRegistry.host}/acme/everywhere`].blobs).toEqual({ mounted: 0, copied: blobCount, existing: 0 });
    expect(byRepository[`${plainRegistry.host}/acme/everywhere`].tags).toEqual(['v1', 'latest']);
    for (const report of result.targets) expect(report.manifestsPushed).toBe(4);
    // read back by the engine (a HEAD per tag), and independently by skopeo
    expect(result.requests.byKind['HEAD manifest']).toBeGreaterThanOrEqual(tags.length);
    const creds = [CI, ALICE, undefined, undefined];
    for (const [i, tag] of tags.entries()) expect(await servedDigest(tag, creds[i])).toBe(result.digest);
    await verifyComplete(tags[1], ALICE);
    await verifyComplete(tags[2]);
  });

  it('a second run finds everything in place: children HEADed in each foreign target, nothing copied again', async () => {
    const tags = [`${basicRegistry.host}/acme/everywhere:v2`, `${plainRegistry.host}/acme/everywhere:v2`];
    const { result } = await succeed(
      { sources: seed.sources.join('\n'), tags: tags.join('\n') },
      {
        auths: {
          [tokenRegistry.host]: { auth: basic64(CI.username, CI.password) },
          [basicRegistry.host]: { auth: basic64(ALICE.username, ALICE.password) },
        },
      },
    );
    for (const report of result.targets) {
      expect(report.blobs).toEqual({ mounted: 0, copied: 0, existing: 0 });
      expect(report.manifestsExisting).toBe(4);
    }
    expect(result.requests.byKind['GET blob']).toBeUndefined();
    expect(result.requests.byKind['PUT upload']).toBeUndefined();
    // 4 children HEADed per target, each tag read back, each tag's previous digest read beside the
    // transfer (two tags move together: a refused one puts the other back), and the first request
    // to the htpasswd registry (which learns its Basic challenge)
    expect(result.requests.byKind['HEAD manifest']).toBe(2 * 4 + 2 + 2 + 1);
  });
});

// ---- the action bundle, as the runner runs it ----------------------------------------------

/** The bundle with helperDir first on PATH, debug logging on, and config as its config.json. */
const action = (inputs: Record<string, string>, config: Record<string, unknown> = {}): Promise<ActionRun> =>
  runAction(inputs, {
    dockerConfig: config,
    tempPrefix: join(scratch, 'action-'),
    env: { PATH: `${helperDir}${delimiter}${process.env.PATH ?? ''}`, RUNNER_DEBUG: '1' },
  });

/** The values the action registered with `::add-mask::` (the runner's masking protocol). */
function masked(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('::add-mask::'))
    .map((l) => l.slice('::add-mask::'.length));
}

/** Every line a user could see, except the add-mask commands themselves. */
function visibleText(runResult: ActionRun): string[] {
  return [
    ...runResult.stdout.split('\n').filter((l) => !l.startsWith('::add-mask::')),
    ...runResult.stderr.split('\n'),
    ...Object.values(runResult.outputs),
    runResult.summary,
  ];
}

describe('node dist/index.js with credentials', () => {
  beforeAll(() => {
    if (!existsSync(ACTION)) throw new Error('dist/index.js is missing: run npm run build');
  });

  it('INPUT_USERNAME/INPUT_PASSWORD: merges, masks the password and every token, and prints none of them anywhere else (log, outputs, summary)', async () => {
    const target = `${tokenRegistry.host}/acme/action-inputs:v1`;
    const runResult = await action({ sources: seed.sources.join('\n'), tags: target, username: CI.username, password: CI.password });
    expect(runResult.stderr).toBe('');
    expect(runResult.code).toBe(0);
    expect(runResult.outputs.digest).toBe(await servedDigest(target, CI));
    expect(runResult.summary).toContain(runResult.outputs.digest);
    expect(runResult.stdout).toContain('::debug::'); // debug logging was on: the search covers it

    const secrets = masked(runResult.stdout);
    expect(secrets).toContain(CI.password);
    // the user name is not a secret: masked, it would hide `acme` in every `ghcr.io/acme/app` of the log
    expect(secrets).not.toContain(CI.username);
    expect(secrets).toContain(basic64(CI.username, CI.password));
    // the token the registry accepted was masked too (a JWT: three base64url parts)
    expect(secrets.some((s) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(s))).toBe(true);
    // every masked value appears nowhere else
    expectNoSecret(visibleText(runResult), [...new Set([...secrets, CI.password])]);
  });

  it('a wrong INPUT_PASSWORD fails with one error naming the registry, never printing the password', async () => {
    const runResult = await action({
      sources: seed.sources.join('\n'),
      tags: `${tokenRegistry.host}/acme/action-wrong:v1`,
      username: CI.username,
      password: WRONG,
    });
    expect(runResult.code).toBe(1);
    const errors = runResult.stdout.split('\n').filter((l) => l.startsWith('::error::'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(tokenRegistry.host);
    expect(errors[0]).toContain('inputs');
    expect(masked(runResult.stdout)).toContain(WRONG);
    expectNoSecret(visibleText(runResult), [WRONG, basic64(CI.username, WRONG)]);
    expect(runResult.outputs).toEqual({});
  });

  it('a credential helper through @actions/exec: found on PATH, run silently (its answer is a secret)', async () => {
    const before = (await helperCalls()).length;
    const target = `${tokenRegistry.host}/acme/action-helper:v1`;
    const runResult = await action(
      { sources: seed.sources.join('\n'), tags: target },
      { credHelpers: { [tokenRegistry.host]: 'mm-basic' } },
    );
    expect(runResult.code).toBe(0);
    expect((await helperCalls()).slice(before)).toEqual([`mm-basic get ${tokenRegistry.host}`]);
    expect(masked(runResult.stdout)).toContain(HELPER.password);
    expectNoSecret(visibleText(runResult), [HELPER.password, ...masked(runResult.stdout)]);
    expect(runResult.stdout).not.toContain('[command]');
  });
});
