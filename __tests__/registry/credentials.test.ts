import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CredentialsError, TimeoutError, isTimeout, renderError } from '../../src/base/errors.js';
import { createMemoryLogger } from '../../src/base/logger.js';
import { type CommandRunner, childProcessRunner, createDockerCredentialProvider, credentialHost } from '../../src/registry/credentials/lookup.js';
import type { Credentials } from '../../src/registry/client-types.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

let root: string;
let binDir: string;
let callsFile: string;
let counter = 0;

// A credential helper the way docker-credential-helpers behave: server URL on stdin,
// JSON on stdout, "credentials not found in native keychain" with exit 1 when unknown.
const HELPER = `#!/bin/sh
read -r url
echo "$(basename "$0") $1 $url" >> "$CALLS_FILE"
case "$url" in
  ghcr.io) echo '{"ServerURL":"ghcr.io","Username":"helper-user","Secret":"helper-secret"}' ;;
  https://index.docker.io/v1/) echo '{"ServerURL":"https://index.docker.io/v1/","Username":"hub-user","Secret":"hub-secret"}' ;;
  token.example.com) echo '{"ServerURL":"token.example.com","Username":"<token>","Secret":"helper-identity-token"}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`;
const BROKEN_HELPER = `#!/bin/sh
cat > /dev/null
echo "error getting credentials - err: exit status 1, out: keychain locked" >&2
exit 3
`;
// A helper stuck on a prompt: it starts a child that outlives any kill of the helper alone
// (holding stdout open), records both process ids, and never answers.
const HANGING_HELPER = `#!/bin/sh
sleep 300 &
echo "$$ $!" > "$PIDS_FILE"
wait
`;
const GARBAGE_HELPER = `#!/bin/sh
cat > /dev/null
echo "not json: some-secret-value"
`;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'mm-credentials-'));
  binDir = join(root, 'bin');
  mkdirSync(binDir);
  for (const [name, script] of [
    ['docker-credential-test', HELPER],
    ['docker-credential-broken', BROKEN_HELPER],
    ['docker-credential-garbage', GARBAGE_HELPER],
    ['docker-credential-hanging', HANGING_HELPER],
  ]) {
    writeFileSync(join(binDir, name), script);
    chmodSync(join(binDir, name), 0o755);
  }
  callsFile = join(root, 'calls.log');
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A fresh config dir holding `config` (an object is written as JSON, a string as is). */
function configDir(config?: unknown): string {
  const dir = join(root, `config-${++counter}`);
  mkdirSync(dir, { recursive: true });
  if (config !== undefined) writeFileSync(join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  return dir;
}

function env(): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${binDir}:${process.env.PATH ?? ''}`, CALLS_FILE: callsFile, PIDS_FILE: join(root, 'pids'), HOME: join(root, 'no-home') };
}

function calls(): string[] {
  try {
    return readFileSync(callsFile, 'utf8').trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function make(config: unknown, options: { explicit?: { registry: string; username: string; password: string }; runner?: CommandRunner; deadline?: number; explicitSource?: string } = {}) {
  const secrets: string[] = [];
  const logger = createMemoryLogger();
  const dir = configDir(config);
  const provider = createDockerCredentialProvider({ configDir: dir, env: env(), onSecret: (s) => secrets.push(s), logger, ...options });
  return { provider, secrets, logger, dir };
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error,
  );
}

describe('credentialHost', () => {
  it.each([
    ['ghcr.io', 'ghcr.io'],
    ['https://ghcr.io', 'ghcr.io'],
    ['http://localhost:5000', 'localhost:5000'],
    ['localhost:5000/v1/', 'localhost:5000'],
    ['https://ghcr.io/v2/', 'ghcr.io'],
    ['https://index.docker.io/v1/', 'docker.io'],
    ['index.docker.io', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
    ['docker.io', 'docker.io'],
    ['GHCR.IO', 'ghcr.io'],
  ])('%s → %s', (key, host) => {
    expect(credentialHost(key)).toBe(host);
  });
});

describe('config.json auths', () => {
  it.each<[string, Record<string, unknown>, string, Credentials]>([
    ['auth (base64 user:pass)', { 'ghcr.io': { auth: b64('u1:pw:with:colons') } }, 'ghcr.io', { kind: 'basic', username: 'u1', password: 'pw:with:colons', source: 'config.json auths["ghcr.io"]' }],
    ['username/password', { 'ghcr.io': { username: 'u2', password: 'pw2' } }, 'ghcr.io', { kind: 'basic', username: 'u2', password: 'pw2', source: 'config.json auths["ghcr.io"]' }],
    [
      'identitytoken',
      { 'myacr.azurecr.io': { auth: b64('00000000-0000-0000-0000-000000000000:'), identitytoken: 'refresh-tok' } },
      'myacr.azurecr.io',
      { kind: 'identity-token', username: '00000000-0000-0000-0000-000000000000', token: 'refresh-tok', source: 'config.json auths["myacr.azurecr.io"]' },
    ],
    ['registrytoken', { 'r.example.com': { registrytoken: 'reg-tok' } }, 'r.example.com', { kind: 'registry-token', token: 'reg-tok', source: 'config.json auths["r.example.com"]' }],
    ['https:// key', { 'https://ghcr.io': { auth: b64('u3:pw3') } }, 'ghcr.io', { kind: 'basic', username: 'u3', password: 'pw3', source: 'config.json auths["https://ghcr.io"]' }],
    ['http:// key with port', { 'http://localhost:5000': { auth: b64('u4:pw4') } }, 'localhost:5000', { kind: 'basic', username: 'u4', password: 'pw4', source: 'config.json auths["http://localhost:5000"]' }],
    ['host/v1/ key', { 'quay.io/v1/': { auth: b64('u5:pw5') } }, 'quay.io', { kind: 'basic', username: 'u5', password: 'pw5', source: 'config.json auths["quay.io/v1/"]' }],
    ['https://host/v2/ key', { 'https://quay.io/v2/': { auth: b64('u6:pw6') } }, 'quay.io', { kind: 'basic', username: 'u6', password: 'pw6', source: 'config.json auths["https://quay.io/v2/"]' }],
    [
      'Docker Hub key',
      { 'https://index.docker.io/v1/': { auth: b64('hub:hubpw') } },
      'docker.io',
      { kind: 'basic', username: 'hub', password: 'hubpw', source: 'config.json auths["https://index.docker.io/v1/"]' },
    ],
    ['Docker Hub as index.docker.io', { 'index.docker.io': { auth: b64('hub2:pw') } }, 'docker.io', { kind: 'basic', username: 'hub2', password: 'pw', source: 'config.json auths["index.docker.io"]' }],
    ['Docker Hub as docker.io', { 'docker.io': { auth: b64('hub3:pw') } }, 'docker.io', { kind: 'basic', username: 'hub3', password: 'pw', source: 'config.json auths["docker.io"]' }],
    [
      'Docker Hub as registry-1.docker.io',
      { 'registry-1.docker.io': { auth: b64('hub4:pw') } },
      'docker.io',
      { kind: 'basic', username: 'hub4', password: 'pw', source: 'config.json auths["registry-1.docker.io"]' },
    ],
    [
      'exact key preferred over other spellings',
      { 'http://ghcr.io': { auth: b64('plain:pw') }, 'ghcr.io': { auth: b64('exact:pw') } },
      'ghcr.io',
      { kind: 'basic', username: 'exact', password: 'pw', source: 'config.json auths["ghcr.io"]' },
    ],
    [
      'an empty entry is skipped for a populated spelling',
      { 'ghcr.io': {}, 'https://ghcr.io': { auth: b64('filled:pw') } },
      'ghcr.io',
      { kind: 'basic', username: 'filled', password: 'pw', source: 'config.json auths["https://ghcr.io"]' },
    ],
  ])('%s', async (_name, auths, registry, expected) => {
    const { provider } = make({ auths });
    await expect(provider.credentialsFor(registry)).resolves.toEqual(expected);
  });

  it('is anonymous without a matching entry, and when config.json is missing', async () => {
    const { provider } = make({ auths: { 'ghcr.io': { auth: b64('u:p') } } });
    await expect(provider.credentialsFor('quay.io')).resolves.toBeUndefined();
    const missing = createDockerCredentialProvider({ configDir: join(root, 'does-not-exist'), env: env() });
    await expect(missing.credentialsFor('ghcr.io')).resolves.toBeUndefined();
    expect(missing.describeLookup('ghcr.io')).toContain('not found');
  });

  it('does not confuse Docker Hub with another registry', async () => {
    const { provider } = make({ auths: { 'https://index.docker.io/v1/': { auth: b64('hub:pw') } } });
    await expect(provider.credentialsFor('ghcr.io')).resolves.toBeUndefined();
  });

  it('finds config.json through $DOCKER_CONFIG', async () => {
    const dir = configDir({ auths: { 'ghcr.io': { auth: b64('from-env:pw') } } });
    const provider = createDockerCredentialProvider({ env: { ...env(), DOCKER_CONFIG: dir } });
    await expect(provider.credentialsFor('ghcr.io')).resolves.toMatchObject({ username: 'from-env' });
  });

  it('rejects malformed JSON naming the file and quoting none of it', async () => {
    const { provider, dir } = make('{"auths": {"ghcr.io": {"auth": "c2VjcmV0LXZhbHVl" ');
    const error = await rejection(provider.credentialsFor('ghcr.io'));
    expect(error).toBeInstanceOf(CredentialsError);
    expect(error.message).toContain(join(dir, 'config.json'));
    expect(error.message).toContain('not valid JSON');
    expect(error.message).not.toContain('c2VjcmV0LXZhbHVl');
  });

  it('rejects an auth value that is not base64 of user:pass', async () => {
    const { provider } = make({ auths: { 'ghcr.io': { auth: b64('no-colon-here') } } });
    const error = await rejection(provider.credentialsFor('ghcr.io'));
    expect(error).toBeInstanceOf(CredentialsError);
    expect(error.message).toContain('auths["ghcr.io"]');
    expect(error.message).not.toContain(b64('no-colon-here'));
  });
});

describe('explicit input credentials', () => {
  it('win over config.json for their registry only', async () => {
    const { provider, secrets } = make(
      { auths: { 'ghcr.io': { auth: b64('file:pw') }, 'quay.io': { auth: b64('quay:pw') } } },
      { explicit: { registry: 'ghcr.io', username: 'input-user', password: 'input-pw' } },
    );
    await expect(provider.credentialsFor('ghcr.io')).resolves.toEqual({ kind: 'basic', username: 'input-user', password: 'input-pw', source: 'inputs username/password' });
    await expect(provider.credentialsFor('quay.io')).resolves.toMatchObject({ username: 'quay' });
    expect(secrets).toContain('input-pw');
    expect(provider.describeLookup('ghcr.io')).toContain('inputs username/password');
    expect(provider.describeLookup('quay.io')).toContain('given for ghcr.io');
  });

  it('match Docker Hub under any of its names', async () => {
    const { provider } = make(undefined, { explicit: { registry: 'index.docker.io', username: 'hub-input', password: 'pw' } });
    await expect(provider.credentialsFor('docker.io')).resolves.toMatchObject({ username: 'hub-input', source: 'inputs username/password' });
  });

  it('are named as the surface names them (the CLI: its flags)', async () => {
    const { provider } = make(undefined, { explicit: { registry: 'ghcr.io', username: 'u', password: 'pw' }, explicitSource: '--username/--password-stdin' });
    await expect(provider.credentialsFor('ghcr.io')).resolves.toMatchObject({ source: '--username/--password-stdin' });
    expect(provider.describeLookup('quay.io')).toMatch(/^--username\/--password-stdin \(given for ghcr.io, not quay.io\)/);
  });
});

describe('credential helpers', () => {
  it('credsStore: runs docker-credential-NAME get with the host on stdin, once per registry', async () => {
    const before = calls().length;
    const { provider, secrets } = make({ auths: { 'ghcr.io': {} }, credsStore: 'test' });
    const first = await provider.credentialsFor('ghcr.io');
    const second = await provider.credentialsFor('ghcr.io');
    expect(first).toEqual({ kind: 'basic', username: 'helper-user', password: 'helper-secret', source: 'credential helper docker-credential-test' });
    expect(second).toEqual(first);
    expect(calls().slice(before)).toEqual(['docker-credential-test get ghcr.io']);
    expect(secrets).toContain('helper-secret');
  });

  it('credsStore: gives Docker Hub its config key', async () => {
    const before = calls().length;
    const { provider } = make({ credsStore: 'test' });
    await expect(provider.credentialsFor('docker.io')).resolves.toMatchObject({ username: 'hub-user', password: 'hub-secret' });
    expect(calls().slice(before)).toEqual(['docker-credential-test get https://index.docker.io/v1/']);
  });

  it('turns a <token> username into an identity token', async () => {
    const { provider, secrets } = make({ credHelpers: { 'token.example.com': 'test' } });
    await expect(provider.credentialsFor('token.example.com')).resolves.toEqual({
      kind: 'identity-token',
      token: 'helper-identity-token',
      source: 'credential helper docker-credential-test',
    });
    expect(secrets).toContain('helper-identity-token');
  });

  it('credHelpers for the host win over auths and credsStore', async () => {
    const before = calls().length;
    const { provider } = make({ auths: { 'ghcr.io': { auth: b64('file:pw') } }, credHelpers: { 'ghcr.io': 'test' }, credsStore: 'broken' });
    await expect(provider.credentialsFor('ghcr.io')).resolves.toMatchObject({ username: 'helper-user', source: 'credential helper docker-credential-test' });
    expect(calls().slice(before)).toEqual(['docker-credential-test get ghcr.io']);
  });

  it('auths win over credsStore when they hold a secret', async () => {
    const { provider } = make({ auths: { 'quay.io': { auth: b64('file:pw') } }, credsStore: 'broken' });
    await expect(provider.credentialsFor('quay.io')).resolves.toMatchObject({ username: 'file' });
  });

  it('is anonymous when the helper answers "credentials not found"', async () => {
    const { provider } = make({ credsStore: 'test' });
    await expect(provider.credentialsFor('unknown.example.com')).resolves.toBeUndefined();
  });

  it('falls back to auths when the host helper has nothing, but never to credsStore', async () => {
    const { provider } = make({ auths: { 'unknown.example.com': { auth: b64('file:pw') } }, credHelpers: { 'unknown.example.com': 'test', 'other.example.com': 'test' }, credsStore: 'broken' });
    await expect(provider.credentialsFor('unknown.example.com')).resolves.toMatchObject({ username: 'file' });
    await expect(provider.credentialsFor('other.example.com')).resolves.toBeUndefined();
  });

  it('reports a failing helper naming helper and host, with its message', async () => {
    const { provider } = make({ credHelpers: { 'ghcr.io': 'broken' } });
    const error = await rejection(provider.credentialsFor('ghcr.io'));
    expect(error).toBeInstanceOf(CredentialsError);
    expect(error.message).toContain('docker-credential-broken');
    expect(error.message).toContain('ghcr.io');
    expect(error.message).toContain('exit code 3');
    expect(error.message).toContain('keychain locked');
  });

  it('runs a failing helper once per registry, however often its credentials are asked for (every 401 asks)', async () => {
    let runs = 0;
    const runner: CommandRunner = {
      async run() {
        runs++;
        return { exitCode: 1, stdout: '', stderr: 'keychain locked' };
      },
    };
    const { provider } = make({ credsStore: 'desktop' }, { runner });
    const errors = await Promise.all([1, 2, 3].map(() => rejection(provider.credentialsFor('ghcr.io'))));
    expect(errors.every((e) => e instanceof CredentialsError && e.message.includes('docker-credential-desktop'))).toBe(true);
    expect(runs).toBe(1);
  });

  it('reports a missing helper naming helper and host', async () => {
    const { provider } = make({ credsStore: 'not-installed' });
    const error = await rejection(provider.credentialsFor('ghcr.io'));
    expect(error).toBeInstanceOf(CredentialsError);
    expect(error.message).toContain('docker-credential-not-installed');
    expect(error.message).toContain('ghcr.io');
  });

  it('reports helper output that is not JSON without quoting it', async () => {
    const { provider } = make({ credsStore: 'garbage' });
    const error = await rejection(provider.credentialsFor('ghcr.io'));
    expect(error).toBeInstanceOf(CredentialsError);
    expect(error.message).toContain('not JSON');
    expect(error.message).not.toContain('some-secret-value');
  });

  it('refuses a helper name that is a path', async () => {
    const { provider } = make({ credsStore: '../../bin/sh' });
    await expect(provider.credentialsFor('ghcr.io')).rejects.toBeInstanceOf(CredentialsError);
  });

  it('uses the runner it is given', async () => {
    const seen: Array<[string, string[], string]> = [];
    const runner: CommandRunner = {
      async run(command, args, stdin) {
        seen.push([command, args, stdin]);
        return { exitCode: 0, stdout: JSON.stringify({ ServerURL: stdin, Username: 'AWS', Secret: 'ecr-pw' }), stderr: '' };
      },
    };
    const { provider } = make({ credHelpers: { '123456789012.dkr.ecr.us-east-1.amazonaws.com': 'ecr-login' } }, { runner });
    await expect(provider.credentialsFor('123456789012.dkr.ecr.us-east-1.amazonaws.com')).resolves.toEqual({
      kind: 'basic',
      username: 'AWS',
      password: 'ecr-pw',
      source: 'credential helper docker-credential-ecr-login',
    });
    expect(seen).toEqual([['docker-credential-ecr-login', ['get'], '123456789012.dkr.ecr.us-east-1.amazonaws.com']]);
  });
});

/** Alive and not a zombie (a killed child whose parent died is a zombie until init reaps it). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function waitUntilDead(pids: number[], withinMs: number): Promise<number[]> {
  const until = Date.now() + withinMs;
  let alive = pids.filter(isAlive);
  while (alive.length > 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    alive = alive.filter(isAlive);
  }
  return alive;
}

// Defect #4: a hanging helper held the CLI 100 s (the kill reached only `sh`) and the action 75 s,
// then was reported as "not JSON". It obeys the run's deadline, dies with its whole process group,
// and the error says it timed out, and which wait.
describe('a credential helper that never answers', () => {
  it('is stopped at the deadline with every process it started, and reported as a timeout of the credential helper', async () => {
    const started = Date.now();
    const { provider } = make({ credHelpers: { 'ghcr.io': 'hanging' } }, { deadline: started + 1500 });
    const error = await rejection(provider.credentialsFor('ghcr.io'));
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(4000);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(isTimeout(error)).toBe(true);
    expect((error as TimeoutError).facts).toMatchObject({ wait: 'credential helper', registry: 'ghcr.io' });
    expect(error.message).toMatch(/^Credential helper docker-credential-hanging for ghcr\.io \(configured by credHelpers\["ghcr\.io"\] in .*\) timed out: no answer after 1\.\d s/);
    expect(error.message).not.toContain('not JSON');

    const pids = readFileSync(join(root, 'pids'), 'utf8').trim().split(' ').map(Number);
    expect(pids).toHaveLength(2);
    expect(await waitUntilDead(pids, 2000)).toEqual([]);
  });

  it('gets no more time than the deadline leaves, however long its own limit', async () => {
    const runner: CommandRunner = {
      async run(_command, _args, _stdin, options) {
        throw new TimeoutError(`no answer within ${options?.timeoutMs} ms`, { wait: 'credential helper' });
      },
    };
    const { provider } = make({ credsStore: 'desktop' }, { runner, deadline: Date.now() - 5 });
    const error = await rejection(provider.credentialsFor('ghcr.io'));
    expect((error as TimeoutError).cause).toMatchObject({ message: expect.stringMatching(/^no answer within 0 ms/) });
  });

  it('words its advice for each surface', async () => {
    const { provider } = make({ credHelpers: { 'ghcr.io': 'hanging' } }, { deadline: Date.now() + 300 });
    const error = await rejection(provider.credentialsFor('ghcr.io'));
    expect(renderError(error, 'action')).toMatch(/Check that docker-credential-hanging answers on this machine without a prompt \(echo ghcr\.io \| docker-credential-hanging get\), or log in with docker\/login-action before this step .* without it, or raise input `timeout`$/);
    expect(renderError(error, 'cli')).toMatch(/or run `docker login` for that registry first .* without it, or raise --timeout$/);
  });
});

describe('childProcessRunner', () => {
  it('passes stdin and collects stdout, stderr and the exit code', async () => {
    await expect(childProcessRunner.run('sh', ['-c', 'read -r x; echo "out:$x"; echo err >&2; exit 4'], 'hello\n')).resolves.toEqual({
      exitCode: 4,
      stdout: 'out:hello\n',
      stderr: 'err\n',
    });
  });

  it('kills a command over its time limit with its process group, as a timeout', async () => {
    const started = Date.now();
    const error = await rejection(childProcessRunner.run('sh', ['-c', 'sleep 30 & wait'], '', { timeoutMs: 200 }));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).summary).toBe('sh timed out: no answer within 200 ms');
  });

  it('rejects when the command does not exist', async () => {
    await expect(childProcessRunner.run('manifest-merge-no-such-command', [], '')).rejects.toThrow(/ENOENT/);
  });
});

describe('secrets and descriptions', () => {
  it('passes every secret to onSecret', async () => {
    const { provider, secrets } = make({
      auths: {
        'a.example.com': { auth: b64('a:secret-a') },
        'b.example.com': { username: 'b', password: 'secret-b' },
        'c.example.com': { identitytoken: 'secret-c' },
        'd.example.com': { registrytoken: 'secret-d' },
      },
      credHelpers: { 'ghcr.io': 'test' },
    });
    for (const registry of ['a.example.com', 'b.example.com', 'c.example.com', 'd.example.com', 'ghcr.io']) await provider.credentialsFor(registry);
    expect(secrets).toEqual(expect.arrayContaining([b64('a:secret-a'), 'secret-a', 'secret-b', 'secret-c', 'secret-d', 'helper-secret']));
  });

  it('describes the places looked at, never the secrets', async () => {
    const { provider, dir, logger } = make(
      { auths: { 'ghcr.io': { auth: b64('u:very-secret') } }, credHelpers: { 'quay.io': 'test' }, credsStore: 'desktop' },
      { explicit: { registry: 'ghcr.io', username: 'x', password: 'input-secret' } },
    );
    await provider.credentialsFor('ghcr.io');
    const text = provider.describeLookup('ghcr.io');
    expect(text).toBe(`inputs username/password, ${join(dir, 'config.json')} (no credHelpers entry for ghcr.io, auths["ghcr.io"], credsStore "desktop")`);
    expect(provider.describeLookup('quay.io')).toContain('credHelpers["quay.io"] "test"');
    const everything = `${text}\n${logger.lines.join('\n')}`;
    for (const secret of ['very-secret', b64('u:very-secret'), 'input-secret']) expect(everything).not.toContain(secret);
  });
});
