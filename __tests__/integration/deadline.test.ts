// Defect #4 (credential helper part): a helper that never answers held the CLI 100 s (the kill
// reached only `sh`) and the action 75 s, then was reported as "not JSON". Both entries run
// helpers in their own process group under the one deadline: they return within the budget, the
// helper's children are dead, and the error says it timed out waiting for the credential helper.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { isAlive } from '../support/process.js';
import { ACTION, CLI, runAction, runCli } from './processes.js';

// Stuck as on a keychain prompt: a child that would outlive a kill of the helper alone, and no answer.
const HANGING_HELPER = `#!/bin/sh
sleep 300 &
echo "$$ $!" > "$PIDS_FILE"
wait
`;

let server: Server;
let host: string;
let root: string;
let binDir: string;

beforeAll(async () => {
  if (!existsSync(CLI) || !existsSync(ACTION)) throw new Error('the bundles are missing: run npm run build');
  root = await mkdtemp(join(tmpdir(), 'mm-deadline-'));
  binDir = join(root, 'bin');
  await mkdir(binDir);
  await writeFile(join(binDir, 'docker-credential-hanging'), HANGING_HELPER);
  await chmod(join(binDir, 'docker-credential-hanging'), 0o755);
  // a registry that wants credentials for everything
  server = createServer((_req, res) => {
    res.writeHead(401, { 'www-authenticate': 'Basic realm="registry"', 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
});

async function expectDead(pidsFile: string): Promise<void> {
  const pids = readFileSync(pidsFile, 'utf8').trim().split(' ').map(Number);
  expect(pids).toHaveLength(2);
  const until = Date.now() + 2000;
  while (pids.some(isAlive) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  expect(pids.filter(isAlive)).toEqual([]);
}

async function setup(name: string): Promise<{ dockerConfig: string; env: Record<string, string>; pidsFile: string }> {
  const dockerConfig = join(root, name);
  await mkdir(dockerConfig);
  await writeFile(join(dockerConfig, 'config.json'), JSON.stringify({ credsStore: 'hanging' }));
  const pidsFile = join(root, `${name}.pids`);
  return {
    dockerConfig,
    pidsFile,
    env: { PATH: `${binDir}${delimiter}${process.env.PATH ?? ''}`, PIDS_FILE: pidsFile, DOCKER_CONFIG: dockerConfig },
  };
}

describe('a credential helper that never answers', () => {
  it('the CLI stops it at --timeout, with its children, and says which wait timed out', async () => {
    const { dockerConfig, env, pidsFile } = await setup('cli');
    const started = Date.now();
    const run = await runCli(['inspect', '--timeout', '3s', `${host}/acme/app:v1`], { home: dockerConfig, env });
    const elapsed = Date.now() - started;
    expect(run.code).toBe(1);
    expect(elapsed).toBeLessThan(8000);
    expect(run.stderr).toMatch(
      /^manifest-merge: Credential helper docker-credential-hanging for 127\.0\.0\.1:\d+ \(configured by credsStore in .*\) timed out: no answer after \d+(\.\d)? s/m,
    );
    expect(run.stderr).toContain('raise --timeout');
    expect(run.stderr).not.toContain('not JSON');
    await expectDead(pidsFile);
  });

  it('the action too (no @actions/exec, which cannot kill a process group)', async () => {
    const { dockerConfig, env, pidsFile } = await setup('action');
    const started = Date.now();
    const run = await runAction({ sources: `${host}/acme/app:v1`, tags: `${host}/acme/app:merged`, timeout: '3s' }, { dockerConfig, env });
    const elapsed = Date.now() - started;
    expect(run.code).toBe(1);
    expect(elapsed).toBeLessThan(8000);
    const errors = run.stdout.split('\n').filter((l) => l.startsWith('::error::'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^::error::Credential helper docker-credential-hanging for 127\.0\.0\.1:\d+ .* timed out: no answer after/);
    expect(errors[0]).toContain('raise input `timeout`');
    await expectDead(pidsFile);
  });
});
