// docker-credential-NAME get: the host (or Docker Hub's key) on stdin, <token> usernames, "credentials
// not found" as anonymous, failures and garbage reported naming the helper without quoting it, and
// a helper that never answers stopped at the deadline with everything it started.
import { afterEach, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CredentialsError, TimeoutError, isTimeout } from '../../../src/base/errors.js';
import { caught } from '../../support/caught.js';
import { waitUntilDead } from '../../support/process.js';
import { KNOWN_SECRET, LEAKED_SECRET, root, useCredentialHelpers, calls, make } from '../../support/docker-credentials.js';
import { clearSecrets, registerSecret } from '../../../src/base/redact.js';
import type { CommandRunner } from '../../../src/registry/credentials/lookup.js';
import { renderActionError } from '../../../src/action/wording.js';
import { renderCliError } from '../../../src/cli/wording.js';

useCredentialHelpers();

describe('credential helpers', () => {
  it('credsStore: runs docker-credential-NAME get with the host on stdin, once per registry', async () => {
    const before = calls().length;
    const { provider, secrets } = make({ auths: { 'ghcr.io': {} }, credsStore: 'test' });
    const first = await provider.credentialsFor('ghcr.io');
    const second = await provider.credentialsFor('ghcr.io');
    expect(first).toEqual({
      kind: 'basic',
      username: 'helper-user',
      password: 'helper-secret',
      source: 'credential helper docker-credential-test',
    });
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

  it('is anonymous when the helper answers "credentials not found"', async () => {
    const { provider } = make({ credsStore: 'test' });
    await expect(provider.credentialsFor('unknown.example.com')).resolves.toBeUndefined();
  });

  it('reports a failing helper naming helper and host, with its message', async () => {
    const { provider } = make({ credHelpers: { 'ghcr.io': 'broken' } });
    const error = await caught(provider.credentialsFor('ghcr.io'));
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
    const errors = await Promise.all([1, 2, 3].map(() => caught(provider.credentialsFor('ghcr.io'))));
    expect(errors.every((e) => e instanceof CredentialsError && e.message.includes('docker-credential-desktop'))).toBe(true);
    expect(runs).toBe(1);
  });

  it('reports a missing helper naming helper and host', async () => {
    const { provider } = make({ credsStore: 'not-installed' });
    const error = await caught(provider.credentialsFor('ghcr.io'));
    expect(error).toBeInstanceOf(CredentialsError);
    expect(error.message).toContain('docker-credential-not-installed');
    expect(error.message).toContain('ghcr.io');
  });

  it('reports helper output that is not JSON without quoting it', async () => {
    const { provider } = make({ credsStore: 'garbage' });
    const error = await caught(provider.credentialsFor('ghcr.io'));
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

// Defect #4: a hanging helper held the CLI 100 s (the kill reached only `sh`) and the action 75 s,
// then was reported as "not JSON". It obeys the run's deadline, dies with its whole process group,
// and the error says it timed out, and which wait.
describe('a credential helper that never answers', () => {
  it('is stopped at the deadline with every process it started, and reported as a timeout of the credential helper', async () => {
    const started = Date.now();
    const { provider } = make({ credHelpers: { 'ghcr.io': 'hanging' } }, { deadline: started + 1500 });
    const error = await caught(provider.credentialsFor('ghcr.io'));
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(4000);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(isTimeout(error)).toBe(true);
    expect((error as TimeoutError).facts).toMatchObject({ wait: 'credential helper', registry: 'ghcr.io' });
    expect(error.message).toMatch(
      /^Credential helper docker-credential-hanging for ghcr\.io \(configured by credHelpers\["ghcr\.io"\] in .*\) timed out: no answer after 1\.\d s/,
    );
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
    const error = await caught(provider.credentialsFor('ghcr.io'));
    expect((error as TimeoutError).cause).toMatchObject({ message: expect.stringMatching(/^no answer within 0 ms/) });
  });

  it('words its advice for each surface', async () => {
    const { provider } = make({ credHelpers: { 'ghcr.io': 'hanging' } }, { deadline: Date.now() + 300 });
    const error = await caught(provider.credentialsFor('ghcr.io'));
    expect(renderActionError(error)).toMatch(
      /Check that docker-credential-hanging answers on this machine without a prompt \(echo ghcr\.io \| docker-credential-hanging get\), or log in with docker\/login-action before this step .* without it, or raise input `timeout`$/,
    );
    expect(renderCliError(error)).toMatch(/or run `docker login` for that registry first .* without it, or raise --timeout$/);
  });
});

// Issue 20 (#6): a failing helper's stdout was quoted (a helper that printed its answer and exited
// 1 had its secret in a warning), and its stderr was quoted raw: secrets, escape sequences and
// workflow commands reached the log and the terminal.
describe('a failing credential helper: what its message quotes', () => {
  afterEach(() => clearSecrets());

  /** The error's message and both surfaces' rendering of it. */
  const texts = (error: Error) => [error.message, renderActionError(error), renderCliError(error)];

  it('never its stdout: a secret printed there with exit 1 is not shown, nor anything else of stdout', async () => {
    const { provider, secrets } = make({ credHelpers: { 'ghcr.io': 'leaky' } });
    const error = await caught(provider.credentialsFor('ghcr.io'));
    expect(error).toBeInstanceOf(CredentialsError);
    expect(error.message).toMatch(
      /^Credential helper docker-credential-leaky failed for ghcr\.io \(configured by credHelpers\["ghcr\.io"\] in .*; exit code 1\); it wrote nothing on stderr \(its stdout is not shown: it may hold a secret\)/,
    );
    for (const text of texts(error)) {
      expect(text).not.toContain(LEAKED_SECRET);
      expect(text).not.toContain('Username');
      expect(text).not.toContain('ServerURL');
    }
    // the secret it gave away is one: redacted wherever else it turns up
    expect(secrets).toContain(LEAKED_SECRET);
  });

  it('its stderr redacted (its own secret, credential-shaped text, a secret the run knows) and sanitised (no escape sequence, no workflow command)', async () => {
    registerSecret(KNOWN_SECRET);
    const { provider } = make({ credHelpers: { 'ghcr.io': 'noisy' } });
    const error = await caught(provider.credentialsFor('ghcr.io'));
    expect(error).toBeInstanceOf(CredentialsError);
    expect(error.message).toContain(
      'exit code 1): keychain error for u: *** refused; password=*** (was given ***) red\\n::set-output name=leak::***\\n::error::forged',
    );
    for (const text of texts(error)) {
      for (const secret of [LEAKED_SECRET, 'hunter2-pw-77', KNOWN_SECRET, 'Username', 'pwned-title']) expect(text).not.toContain(secret);
      // eslint-disable-next-line no-control-regex
      expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
      expect(text).not.toContain('\n');
      expect(text).not.toMatch(/^::/m);
    }
  });

  it('its stderr bounded: a long one is cut, and says so', async () => {
    const { provider } = make({ credHelpers: { 'ghcr.io': 'chatty' } });
    const error = await caught(provider.credentialsFor('ghcr.io'));
    expect(error.message).toContain('exit code 4): the keychain daemon said something long, part 0 of 100; ');
    const quoted = error.message.slice(
      error.message.indexOf('exit code 4): ') + 'exit code 4): '.length,
      error.message.indexOf('. Check that'),
    );
    expect(quoted.length).toBeLessThanOrEqual(340); // 300 quoted, and the note that it was cut (of some 6000)
    expect(quoted).toMatch(/… \(stderr cut at 300 characters\)/);
    expect(error.message).not.toContain('part 99 of 100');
  });

  it('a failure to start it: the system error, sanitised; a helper name from config.json, escaped', async () => {
    const runner: CommandRunner = {
      async run() {
        throw new Error('spawn failed\u001b[2J\n::error::forged');
      },
    };
    const started = await caught(make({ credsStore: 'desktop' }, { runner }).provider.credentialsFor('ghcr.io'));
    expect(started.message).toContain(': spawn failed\\n::error::forged');
    expect(started.message).not.toContain('\u001b');
    const named = await caught(make({ credsStore: 'bad\u001b]0;x\u0007\n::error::y' }).provider.credentialsFor('ghcr.io'));
    expect(named).toBeInstanceOf(CredentialsError);
    expect(named.message).toContain('Credential helper name "bad\\n::error::y"');
    // eslint-disable-next-line no-control-regex
    expect(named.message).not.toMatch(/[\u0000-\u001f]/);
  });
});
