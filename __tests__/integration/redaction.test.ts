// Defect #6: a token service or registry whose error body quotes the Authorization header it got
// had the CLI print the credentials as they were. Every credential (the password, the token, the
// base64 `user:pass`) is redacted from every message, on both surfaces, not only through the
// runner's `::add-mask::` (which the CLI does not have).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACTION, CLI, runAction, runCli } from './processes.js';

const USER = 'ci-echo';
const PASSWORD = 'Pa55-echo-7c1d9e';
const PAIR = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
const TOKEN = 'tok-echo-3b8f0a6d2e41';
const MARKER = 'ECHO-MARKER';

type Mode = 'token-401' | 'token-500' | 'registry-500';

/** The server's echo: the header as received, and what it decodes to, as a careless service logs them. */
function echo(req: IncomingMessage): string {
  const authorization = req.headers.authorization ?? '';
  const [, value = ''] = authorization.split(' ');
  const decoded = authorization.startsWith('Basic ') ? Buffer.from(value, 'base64').toString('utf8') : value;
  return `${MARKER} got Authorization: ${authorization} (credential ${value}, that is ${decoded})`;
}

function errorBody(code: string, message: string): string {
  return JSON.stringify({ errors: [{ code, message }], details: message });
}

/** A registry with a token service on one loopback port that misbehaves as `mode` says. */
async function startEchoRegistry(mode: Mode): Promise<{ host: string; stop: () => Promise<void> }> {
  let port = 0;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body);
    };
    if (req.url?.startsWith('/token')) {
      if (mode === 'token-401') return send(401, errorBody('UNAUTHORIZED', echo(req)));
      if (mode === 'token-500') return send(500, errorBody('UNKNOWN', echo(req)));
      return send(200, JSON.stringify({ token: TOKEN, expires_in: 300 }));
    }
    if (!req.headers.authorization?.startsWith('Bearer ')) {
      return send(401, errorBody('UNAUTHORIZED', 'authentication required'), {
        'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="echo",scope="repository:acme/app:pull"`,
      });
    }
    return send(500, errorBody('UNKNOWN', echo(req)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  return { host: `127.0.0.1:${port}`, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}

const SECRETS = [PASSWORD, PAIR, TOKEN];
const modes: Mode[] = ['token-401', 'token-500', 'registry-500'];
const servers = new Map<Mode, { host: string; stop: () => Promise<void> }>();
let home: string;

beforeAll(async () => {
  if (!existsSync(CLI) || !existsSync(ACTION)) throw new Error('the bundles are missing: run npm run build');
  home = await mkdtemp(join(tmpdir(), 'mm-redaction-'));
  await writeFile(join(home, 'config.json'), '{}');
  for (const mode of modes) servers.set(mode, await startEchoRegistry(mode));
});

afterAll(async () => {
  await Promise.all([...servers.values()].map((s) => s.stop()));
});

describe.each(modes)('a server echoing the credentials it got (%s)', (mode) => {
  it('the CLI prints the error with every credential redacted', async () => {
    const { host } = servers.get(mode)!;
    const run = await runCli(['inspect', '--timeout', '30s', '--username', USER, '--password-stdin', `${host}/acme/app:v1`], {
      home,
      stdin: `${PASSWORD}\n`,
    });
    expect(run.code).toBe(1);
    // the echo did reach the message (so its redaction is what is tested)
    expect(run.stderr).toContain(MARKER);
    for (const secret of SECRETS) expect(run.stderr).not.toContain(secret);
  });

  it('the action too, outside the ::add-mask:: commands that register them', async () => {
    const { host } = servers.get(mode)!;
    const run = await runAction(
      { sources: `${host}/acme/app:v1`, tags: `${host}/acme/app:merged`, username: USER, password: PASSWORD, timeout: '30s' },
      { home },
    );
    expect(run.code).toBe(1);
    const visible = `${run.stdout}\n${run.stderr}`
      .split('\n')
      .filter((line) => !line.startsWith('::add-mask::'))
      .join('\n');
    expect(visible).toContain(MARKER);
    for (const secret of SECRETS) expect(visible).not.toContain(secret);
  });
});
