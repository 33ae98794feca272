// A lab for the copy path's levers (issue 21): one image with one layer in a source registry, copied
// to a fresh target registry per run, no latency proxy (scenario (f)'s setting), by each of several
// contenders, interleaved (a, b, c, a, b, c, …) so that a noisy neighbour hurts all alike. Reports
// wall time, the client's CPU (user + sys, from GNU time) and peak RSS: medians and ranges, with the
// load average before and after. A contender is our CLI (a bundle, optionally with extra Node flags
// or environment), the raw undici copy (raw-copy.mjs), or a Go peer.
//
// The levers of issue 21 were tried as environment knobs of a trial bundle (scripts/bench/trial-knobs.patch:
// MM_SOCKET_HWM, MM_GET_HWM, MM_VERIFY_HWM, MM_COALESCE, MM_VERIFY=tap, MM_STREAMS, MM_CHUNKED, MM_ALLOW_H2…), never
// in the shipped code:
//   git apply scripts/bench/trial-knobs.patch && MANIFEST_MERGE_DIST=/tmp/trial node scripts/bundle.mjs && git apply -R scripts/bench/trial-knobs.patch
//   node --import tsx scripts/bench/copy-lab.ts --contender base=ours:/tmp/trial --contender big=ours:/tmp/trial --env big:MM_GET_HWM=1048576
//
//   node --import tsx scripts/bench/copy-lab.ts [--size MiB] [--runs N] [--layers N] [--registry IMPL] [--tls]
//        [--contender LABEL=ours:DIST_DIR[:NODE_FLAGS]] [--contender LABEL=raw] [--contender LABEL=crane|regctl]
//        [--env LABEL:NAME=VALUE] [--prof DIR]
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pushLargeImage } from '../support/fixtures/large.js';
import { startRegistry, type RegistryImplementation, type RunningRegistry } from '../support/registry.js';
import { ensureGoTool } from '../support/go-tools.js';
import { runnerNode } from './startup.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '512' },
    layers: { type: 'string', default: '1' },
    runs: { type: 'string', default: '5' },
    registry: { type: 'string', default: 'distribution-2.8' },
    contender: { type: 'string', multiple: true },
    env: { type: 'string', multiple: true },
    node: { type: 'string' },
    prof: { type: 'string' },
  },
});
const MiB = 1024 * 1024;
const size = Number(values.size) * MiB;
const layers = Number(values.layers);
const runs = Number(values.runs);
const node = values.node ?? runnerNode();
const RAW = fileURLToPath(new URL('./raw-copy.mjs', import.meta.url));

interface Contender {
  label: string;
  kind: 'ours' | 'raw' | 'crane' | 'regctl';
  cli?: string;
  nodeFlags: string[];
  env: Record<string, string>;
}

const contenders: Contender[] = (values.contender ?? ['ours=ours:dist']).map((spec) => {
  const [label, rest] = spec.split(/=(.*)/s);
  const [kind, dist, flags] = rest.split(':');
  return {
    label,
    kind: kind as Contender['kind'],
    cli: dist ? resolve(dist, 'cli.js') : undefined,
    nodeFlags: flags ? flags.split(' ').filter(Boolean) : [],
    env: {},
  };
});
for (const spec of values.env ?? []) {
  const [label, assignment] = spec.split(/:(.*)/s);
  const [name, value] = assignment.split(/=(.*)/s);
  const c = contenders.find((x) => x.label === label);
  if (!c) throw new Error(`--env: no contender ${label}`);
  c.env[name] = value;
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

function timed(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ wall: number; cpu: number; rss: number; code: number; err: string }> {
  return new Promise((done, fail) => {
    const started = performance.now();
    const child = spawn('/usr/bin/time', ['-f', 'TIME %U %S %M', command, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', fail);
    child.once('exit', (code) => {
      const wall = performance.now() - started;
      const m = /TIME ([\d.]+) ([\d.]+) (\d+)/.exec(err);
      done({ wall, cpu: m ? (Number(m[1]) + Number(m[2])) * 1000 : NaN, rss: m ? Number(m[3]) / 1024 : NaN, code: code ?? -1, err });
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const implementation = values.registry as RegistryImplementation;
const source = await startRegistry({ name: 'copylab-source', implementation });
const repository = 'lab/copy';
const tools: Record<string, string> = {};
for (const c of contenders) if (c.kind === 'crane' || c.kind === 'regctl') tools[c.kind] = await ensureGoTool(c.kind);
try {
  const images = [];
  for (let i = 0; i < layers; i++) {
    images.push(
      await pushLargeImage(source, repository, `v${i}`, {
        platform: ['linux/amd64', 'linux/arm64', 'linux/s390x', 'linux/ppc64le'][i],
        seed: `copylab-${size}-${i}`,
        layerBytes: size,
      }),
    );
  }
  const results = new Map<string, { wall: number[]; cpu: number[]; rss: number[] }>(
    contenders.map((c) => [c.label, { wall: [], cpu: [], rss: [] }]),
  );
  process.stderr.write(`load before: ${load()}\n`);
  for (let run = 1; run <= runs; run++) {
    for (const c of contenders) {
      const target: RunningRegistry = await startRegistry({ name: `copylab-target`, implementation });
      const dir = await mkdtemp(join(tmpdir(), 'copylab-'));
      await writeFile(join(dir, 'config.json'), '{"auths":{}}');
      try {
        let command = node;
        let args: string[];
        const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: dir, ...c.env };
        if (c.kind === 'ours') {
          const prof = values.prof ? ['--cpu-prof', '--cpu-prof-dir', resolve(values.prof, c.label)] : [];
          args = [...c.nodeFlags, ...prof, c.cli!, 'merge', '--quiet', '--referrers', 'skip'];
          args.push('--tag', `${target.host}/${repository}:v1`);
          for (let i = 0; i < layers; i++) args.push(`${source.host}/${repository}:v${i}`);
        } else if (c.kind === 'raw') {
          if (layers !== 1) throw new Error('raw copies one layer');
          const layer = images[0].layers[0];
          args = [...c.nodeFlags, RAW, source.url, repository, layer.digest, String(layer.size), target.url, repository];
        } else if (c.kind === 'crane') {
          command = tools.crane;
          args = ['copy', '--insecure', `${source.host}/${repository}:v0`, `${target.host}/${repository}:v1`];
        } else {
          command = tools.regctl;
          env.REGCTL_CONFIG = join(dir, 'regctl.json');
          env.HOME = dir;
          args = [
            '--host',
            `reg=${source.host},tls=disabled`,
            '--host',
            `reg=${target.host},tls=disabled`,
            'image',
            'copy',
            `${source.host}/${repository}:v0`,
            `${target.host}/${repository}:v1`,
          ];
        }
        const r = await timed(command, args, env);
        if (r.code !== 0) throw new Error(`${c.label}: exit ${r.code}: ${r.err.slice(-800)}`);
        const into = results.get(c.label)!;
        into.wall.push(r.wall);
        into.cpu.push(r.cpu);
        into.rss.push(r.rss);
        process.stderr.write(
          `  run ${run} ${c.label}: ${Math.round(r.wall)} ms wall, ${Math.round(r.cpu)} ms CPU, ${Math.round(r.rss)} MiB RSS (load ${load()})\n`,
        );
      } finally {
        await target.stop();
        await rm(dir, { recursive: true, force: true });
      }
    }
  }
  process.stderr.write(`load after: ${load()}\n`);
  const bytes = size * layers;
  for (const c of contenders) {
    const r = results.get(c.label)!;
    const range = (xs: number[]) => `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}`;
    process.stdout.write(
      `${c.label.padEnd(16)} wall ${Math.round(median(r.wall))} ms (${range(r.wall)})  ${((bytes / MiB / median(r.wall)) * 1000).toFixed(0)} MiB/s  ` +
        `CPU ${Math.round(median(r.cpu))} ms (${range(r.cpu)})  RSS ${Math.round(median(r.rss))} MiB (${range(r.rss)})\n`,
    );
  }
} finally {
  await source.stop();
}
