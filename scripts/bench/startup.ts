// Action start-up: `node dist/index.js` with INPUT_* as the runner sets them, from spawn to
// the first TCP connection (and the first HTTP request) reaching a registry stand-in. The
// runner uses Node 24 (action.yml runs.using); the bench uses it when npx has it cached.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './measure.js';

export interface StartupResult {
  /** what differs from a plain `node dist/index.js`: "", "compile cache, warm", … */
  variant: string;
  node: string;
  nodeVersion: string;
  runs: number;
  /** spawn → first connection accepted, median ms */
  firstConnectionMs: number;
  /** spawn → first HTTP request line received, median ms */
  firstRequestMs: number;
  /** `node -e 0` spawn → exit, median ms: the floor any Node program pays */
  bareNodeMs: number;
  bundleBytes: number;
}

/** Node 24 as the runner has it (npx cache, offline), else this process's node. */
export function runnerNode(): string {
  const found = spawnSync('npx', ['--offline', '-y', '-p', 'node@24', 'node', '-p', 'process.execPath'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  const path = found.status === 0 ? found.stdout.trim().split('\n').pop() : undefined;
  return path && path.startsWith('/') ? path : process.execPath;
}

function timeToExit(node: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(node, args, { env, stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', () => resolve(performance.now() - started));
  });
}

export interface StartupVariant {
  /** shown in the report; "" for the plain run */
  label: string;
  /**
   * Node's compile cache (NODE_COMPILE_CACHE, Node 22.1+): 'warm' shares one directory that the
   * warm-up run fills (a second action step in the same job); 'cold' gives every run an empty one
   * (the first step of a fresh runner, which pays for writing the cache).
   */
  compileCache?: 'warm' | 'cold';
}

export async function measureStartup(
  bundle: string,
  bundleBytes: number,
  runs: number,
  node = runnerNode(),
  variant: StartupVariant = { label: '' },
): Promise<StartupResult> {
  let firstConnection: number | undefined;
  let firstRequest: number | undefined;
  const server = createServer((req, res) => {
    firstRequest ??= performance.now();
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"bench stand-in"}]}');
  });
  server.on('connection', () => {
    firstConnection ??= performance.now();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const dir = await mkdtemp(join(tmpdir(), 'mm-bench-startup-'));
  await writeFile(join(dir, 'config.json'), '{}');
  await writeFile(join(dir, 'output'), '');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    INPUT_SOURCES: `127.0.0.1:${port}/acme/app:amd64\n127.0.0.1:${port}/acme/app:arm64`,
    INPUT_TAGS: `127.0.0.1:${port}/acme/app:latest`,
    INPUT_TIMEOUT: '30s',
    GITHUB_OUTPUT: join(dir, 'output'),
    RUNNER_TEMP: dir,
    DOCKER_CONFIG: dir,
  };
  const connections: number[] = [];
  const requests: number[] = [];
  const bare: number[] = [];
  try {
    const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
    const warmCache = join(dir, 'compile-cache');
    for (let i = 0; i < runs + 1; i++) {
      firstConnection = undefined;
      firstRequest = undefined;
      const runEnv = { ...env };
      if (variant.compileCache === 'warm') runEnv.NODE_COMPILE_CACHE = warmCache;
      if (variant.compileCache === 'cold') runEnv.NODE_COMPILE_CACHE = await mkdtemp(join(dir, 'cold-cache-'));
      const started = performance.now();
      await timeToExit(node, [bundle], runEnv);
      bare.push(await timeToExit(node, ['-e', '0'], env));
      if (i === 0) continue; // warm the page cache first, as a runner's checkout has
      if (firstConnection !== undefined) connections.push(firstConnection - started);
      if (firstRequest !== undefined) requests.push(firstRequest - started);
    }
    if (connections.length === 0) throw new Error(`bench: ${bundle} never connected to the registry stand-in`);
    return {
      variant: variant.label,
      node,
      nodeVersion: version,
      runs,
      firstConnectionMs: median(connections),
      firstRequestMs: median(requests),
      bareNodeMs: median(bare.slice(1)),
      bundleBytes,
    };
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
}
