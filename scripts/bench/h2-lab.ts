// HTTP/2 or not (issue 21): our CLI over HTTP/1.1 and over HTTP/2 (undici allowH2, negotiated by
// ALPN) against distribution v3 serving TLS (self-signed; Go's server offers h2 by default), with a
// TCP-level latency proxy in front (the bench's proxy speaks HTTP/1.1 only, so it cannot carry h2):
// every byte waits `--latency` ms each way before it is forwarded, so a new connection pays its TCP
// and TLS handshakes as on a real network. Two workloads, each contender interleaved per run:
//   merge: `--platforms` buildx images (image + attestation, 3 layers) from their own repositories into
//          a third one of the same registry: control requests only (mounts, manifests, the read-back);
//   copy:  one image with one `--size` MiB layer from one TLS registry to a fresh other one.
// The contenders are one trial bundle (scripts/bench/trial-knobs.patch, see copy-lab.ts) run without and with
// MM_ALLOW_H2 (undici's defaults: pipelining 1, 256 KiB stream window), and with h2 tuned to multiplex
// (pipelining 100) with 16 MiB windows.
//
//   node --import tsx scripts/bench/h2-lab.ts --cli DIST [--runs N] [--latency MS] [--platforms N] [--size MiB] [--only merge|copy]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pushBuildxImage } from '../support/fixtures/buildx.js';
import { pushLargeImage } from '../support/fixtures/large.js';
import { ensureGoTool } from '../support/go-tools.js';
import { runnerNode } from './startup.js';

const { values } = parseArgs({
  options: {
    cli: { type: 'string', default: 'dist' },
    runs: { type: 'string', default: '5' },
    latency: { type: 'string', default: '25' },
    platforms: { type: 'string', default: '8' },
    size: { type: 'string', default: '256' },
    only: { type: 'string', default: 'merge,copy' },
  },
});
const cli = resolve(values.cli!, 'cli.js');
const runs = Number(values.runs);
const latencyMs = Number(values.latency);
const platforms = Number(values.platforms);
const size = Number(values.size) * 1024 * 1024;
const only = new Set(values.only!.split(','));
const node = runnerNode();
const binary = await ensureGoTool('distribution-v3');
const work = await mkdtemp(join(tmpdir(), 'h2lab-'));
const cert = join(work, 'cert.pem');
const key = join(work, 'key.pem');
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    key,
    '-out',
    cert,
  ],
  { stdio: 'ignore' },
);

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

interface Registry {
  host: string;
  url: string;
  stop: () => Promise<void>;
}

/** distribution v3 on `dir` (shared storage): TLS or plain. */
async function registry(dir: string, tls: boolean): Promise<Registry> {
  const port = await freePort();
  const config = join(dir, `config-${port}.yml`);
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(join(dir, 'data'))}`,
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    '  redirect:',
    '    disable: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: h2lab-secret',
    ...(tls ? ['  tls:', `    certificate: ${JSON.stringify(cert)}`, `    key: ${JSON.stringify(key)}`] : []),
    'health:',
    '  storagedriver:',
    '    enabled: false',
  ];
  await writeFile(config, `${lines.join('\n')}\n`);
  const child = spawn(binary, ['serve', config], { stdio: 'ignore' });
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      const ok = await new Promise<boolean>((done) => {
        const s = connect(port, '127.0.0.1', () => {
          s.destroy();
          done(true);
        });
        s.once('error', () => done(false));
      });
      if (ok) break;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host: `127.0.0.1:${port}`,
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/** A TCP proxy that holds every chunk `latencyMs` before forwarding it, both ways (order kept). */
async function latencyProxy(targetPort: number): Promise<{ host: string; stop: () => Promise<void>; connections: () => number }> {
  let count = 0;
  const sockets = new Set<Socket>();
  const delayed = (from: Socket, to: Socket) => {
    from.on('data', (chunk: Buffer) => {
      if (latencyMs === 0) {
        if (!to.write(chunk)) from.pause();
        return;
      }
      setTimeout(() => {
        if (!to.destroyed && !to.write(chunk)) from.pause();
      }, latencyMs);
    });
    to.on('drain', () => from.resume());
    from.on('end', () => setTimeout(() => to.end(), latencyMs));
    from.on('error', () => to.destroy());
  };
  const server: Server = createServer((client) => {
    count++;
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    delayed(client, upstream);
    delayed(upstream, client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    host: `127.0.0.1:${port}`,
    connections: () => count,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function timed(args: string[], env: NodeJS.ProcessEnv): Promise<{ wall: number; cpu: number; rss: number; code: number; err: string }> {
  return new Promise((done, fail) => {
    const started = performance.now();
    const child = spawn('/usr/bin/time', ['-f', 'TIME %U %S %M', node, cli, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', fail);
    child.once('exit', (code) => {
      const m = /TIME ([\d.]+) ([\d.]+) (\d+)/.exec(err);
      done({
        wall: performance.now() - started,
        cpu: m ? (Number(m[1]) + Number(m[2])) * 1000 : NaN,
        rss: m ? Number(m[3]) / 1024 : NaN,
        code: code ?? -1,
        err,
      });
    });
  });
}

const PLATFORMS = [
  'linux/amd64',
  'linux/arm64',
  'linux/arm/v7',
  'linux/arm/v6',
  'linux/ppc64le',
  'linux/s390x',
  'linux/386',
  'linux/riscv64',
];
const contenders = [
  { label: 'HTTP/1.1', env: {} as Record<string, string> },
  { label: 'HTTP/2', env: { MM_ALLOW_H2: '1' } },
  { label: 'HTTP/2 multiplexed', env: { MM_ALLOW_H2: '1', MM_H2_PIPELINING: '100', MM_H2_WINDOW: String(16 * 1024 * 1024) } },
];
const config = join(work, 'docker');
await mkdir(config);
await writeFile(join(config, 'config.json'), '{"auths":{}}');
const baseEnv = { ...process.env, DOCKER_CONFIG: config };

async function measure(
  name: string,
  prepare: (run: number) => Promise<{ args: string[]; connections: () => number; dispose: () => Promise<void> }>,
  bytes?: number,
): Promise<void> {
  const results = new Map(contenders.map((c) => [c.label, { wall: [] as number[], cpu: [] as number[], rss: [] as number[], conns: 0 }]));
  process.stderr.write(`${name}: load before ${load()}\n`);
  for (let run = 1; run <= runs; run++) {
    for (const c of contenders) {
      const { args, connections, dispose } = await prepare(run);
      try {
        const r = await timed(args, { ...baseEnv, ...c.env });
        if (r.code !== 0) throw new Error(`${c.label}: exit ${r.code}: ${r.err.slice(-600)}`);
        const into = results.get(c.label)!;
        into.wall.push(r.wall);
        into.cpu.push(r.cpu);
        into.rss.push(r.rss);
        into.conns = connections();
        process.stderr.write(
          `  ${name} run ${run} ${c.label}: ${Math.round(r.wall)} ms, ${Math.round(r.cpu)} ms CPU, ${Math.round(r.rss)} MiB RSS, ${into.conns} connections (load ${load()})\n`,
        );
      } finally {
        await dispose();
      }
    }
  }
  process.stderr.write(`${name}: load after ${load()}\n`);
  for (const c of contenders) {
    const r = results.get(c.label)!;
    const range = (xs: number[]) => `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}`;
    const rate = bytes ? `  ${((bytes / 1048576 / median(r.wall)) * 1000).toFixed(0)} MiB/s` : '';
    process.stdout.write(
      `${name.padEnd(28)} ${c.label.padEnd(18)} wall ${Math.round(median(r.wall))} ms (${range(r.wall)})${rate}  CPU ${Math.round(median(r.cpu))} ms (${range(r.cpu)})  RSS ${Math.round(median(r.rss))} MiB  ${r.conns} TCP connections\n`,
    );
  }
}

const stops: Array<() => Promise<void>> = [];
try {
  if (only.has('merge')) {
    const dir = join(work, 'merge');
    await mkdir(dir);
    const seeder = await registry(dir, false);
    await Promise.all(
      PLATFORMS.slice(0, platforms).map((platform, i) =>
        pushBuildxImage({ host: seeder.host, url: seeder.url }, `h2/src${i}`, 'v1', { platform, seed: `h2lab-${i}`, layers: 3 }),
      ),
    );
    await seeder.stop();
    const served = await registry(dir, true);
    stops.push(served.stop);
    const proxy = await latencyProxy(Number(served.host.split(':')[1]));
    stops.push(proxy.stop);
    let before = 0;
    await measure(`merge, ${platforms} buildx platforms, ${latencyMs * 2} ms RTT`, async (run) => {
      before = proxy.connections();
      const args = ['merge', '--quiet', '--tag', `${proxy.host}/h2/out-${run}-${Math.random().toString(36).slice(2, 8)}:v1`];
      for (let i = 0; i < platforms; i++) args.push(`${proxy.host}/h2/src${i}:v1`);
      return { args, connections: () => proxy.connections() - before, dispose: async () => undefined };
    });
  }
  if (only.has('copy')) {
    const dir = join(work, 'copy');
    await mkdir(dir);
    const seeder = await registry(dir, false);
    await pushLargeImage({ host: seeder.host, url: seeder.url }, 'h2/big', 'v1', {
      platform: 'linux/amd64',
      seed: 'h2lab-big',
      layerBytes: size,
    });
    await seeder.stop();
    const source = await registry(dir, true);
    stops.push(source.stop);
    const sourceProxy = await latencyProxy(Number(source.host.split(':')[1]));
    stops.push(sourceProxy.stop);
    await measure(
      `copy, one ${size / 1048576} MiB layer, ${latencyMs * 2} ms RTT`,
      async () => {
        const targetDir = await mkdtemp(join(work, 'target-'));
        const target = await registry(targetDir, true);
        const targetProxy = await latencyProxy(Number(target.host.split(':')[1]));
        const before = sourceProxy.connections();
        return {
          args: ['merge', '--quiet', '--referrers', 'skip', '--tag', `${targetProxy.host}/h2/big:v1`, `${sourceProxy.host}/h2/big:v1`],
          connections: () => sourceProxy.connections() - before + targetProxy.connections(),
          dispose: async () => {
            await targetProxy.stop();
            await target.stop();
            await rm(targetDir, { recursive: true, force: true });
          },
        };
      },
      size,
    );
  }
} finally {
  for (const stop of stops.reverse()) await stop();
  await rm(work, { recursive: true, force: true });
}
