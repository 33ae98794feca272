// npm run bench: manifest-merge against docker buildx imagetools, crane, regctl, docker manifest,
// buildah and skopeo on the same work, through a latency-injecting proxy that counts every
// request; writes BENCHMARKS.md. The Go peers (buildx, crane, regctl) are built with `go install`
// on first use (scripts/support/go-tools.ts, cached); one that cannot be built is "not available".
//
//   npm run bench                     every scenario, median of 5, peers when installed; a waves column, and an SVG
//                                     waterfall of one merge per scenario (benchmarks/waterfall-*.svg beside --out)
//   npm run bench -- --quick          one run of a reduced set (N=2, 2 platforms, 1 MiB, 1 and 3 targets, 5 images, 64 MiB for (f), the seed case)
//   options: --runs N  --latency MS  --only a,b,c,d,e,f,h,startup  --no-peers  --no-write  --out FILE  --cli PATH  --node PATH
//            --startup-bundle LABEL=PATH   also time the start-up of a trial bundle (a start-up lever under test)
// Our CLI runs on the Node the action runs on (24, from the npx cache) unless --node says otherwise;
// in (a) and (b) also on this machine's default Node when that is another one.
// BENCH_QUICK=1 is the same as --quick.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { machineInfo, startSite, stopSite, versionOf, type Site } from './bench/lab.js';
import { containersCacheIsolation } from './bench/measure.js';
import { checkTargets, renderText, writeMarkdown, type BenchReport } from './bench/report.js';
import {
  MiB,
  scenarioA,
  scenarioB,
  scenarioC,
  scenarioD,
  scenarioE,
  scenarioF,
  scenarioH,
  type BenchContext,
  type Row,
} from './bench/scenarios.js';
import { measureStartup, runnerNode, type StartupResult } from './bench/startup.js';
import { findTools } from './bench/tools.js';
import { ensureGoTool } from './support/go-tools.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    runs: { type: 'string' },
    latency: { type: 'string' },
    only: { type: 'string' },
    'no-peers': { type: 'boolean' },
    'no-write': { type: 'boolean' },
    out: { type: 'string' },
    cli: { type: 'string' },
    node: { type: 'string' },
    'startup-bundle': { type: 'string', multiple: true },
  },
});
const quick = values.quick === true || process.env.BENCH_QUICK === '1';
const runs = Number(values.runs ?? (quick ? 1 : 5));
const latencyMs = Number(values.latency ?? 50);
const only = new Set((values.only ?? 'a,b,c,d,e,f,h,startup').split(',').map((s) => s.trim()));
const peers = values['no-peers'] !== true;
const cli = resolve(values.cli ?? 'dist/cli.js');
const bundle = resolve('dist/index.js');
const out = resolve(values.out ?? 'BENCHMARKS.md');
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
if (!Number.isFinite(latencyMs) || latencyMs < 0) throw new Error(`--latency must be milliseconds, got ${values.latency}`);
if (!existsSync(cli)) throw new Error(`${cli} does not exist: run npm run build first`);

const log = (line: string) => process.stderr.write(`${line}\n`);
const tools = findTools(cli, peers, values.node ?? runnerNode());
const notes: string[] = [];
if (peers) {
  for (const name of ['buildx', 'crane', 'regctl'] as const) {
    try {
      tools[name] = await ensureGoTool(name);
    } catch (error) {
      const reason = (error instanceof Error ? error.message : String(error)).split('\n').slice(-3).join(' ').slice(0, 300);
      notes.push(`${name}: not available: ${reason}`);
      log(`${name}: not available: ${reason}`);
    }
  }
  if (tools.buildx && !tools.docker)
    notes.push('docker buildx imagetools: not available: buildx runs as a plugin of the docker CLI, which is not installed here.');
}
const ctx: BenchContext = { tools, runs, latencyMs, log };
const machine = machineInfo();
const versions: Record<string, string> = {
  'manifest-merge': versionOf(process.execPath, [cli, '--version']) ?? '?',
  'docker-registry': versionOf('docker-registry', ['--version'])?.replace(/^\S+\s+/, '') ?? '?',
};
if (tools.docker) versions.docker = versionOf(tools.docker, ['--version'])?.replace(/^Docker version /, '') ?? '?';
if (tools.buildah) versions.buildah = versionOf(tools.buildah, ['--version'])?.replace(/^buildah version /, '') ?? '?';
if (tools.skopeo) versions.skopeo = versionOf(tools.skopeo, ['--version'])?.replace(/^skopeo version /, '') ?? '?';
if (tools.buildx) versions.buildx = versionOf(tools.buildx, ['version'])?.replace(/^github.com\/docker\/buildx /, '') ?? '?';
if (tools.crane) versions.crane = versionOf(tools.crane, ['version']) ?? '?';
if (tools.regctl) versions.regctl = versionOf(tools.regctl, ['version', '--format', '{{.VCSTag}}']) ?? '?';
if (peers) {
  const missing = (['docker', 'buildah', 'skopeo'] as const).filter((t) => !tools[t]);
  if (missing.length) notes.push(`Not installed here, so not measured: ${missing.join(', ')}.`);
  if (!(await containersCacheIsolation()))
    notes.push(
      'buildah and skopeo ran with their shared blob-info cache (no private mount namespace here): later runs may mount what earlier runs copied.',
    );
}

const rows: Row[] = [];
const sites: Site[] = [];
const site = async (name: string, auth: 'none' | 'token' = 'none') => {
  const s = await startSite(name, latencyMs, { auth });
  sites.push(s);
  return s;
};
let startup: StartupResult[] | undefined;
const started = performance.now();
try {
  // first, while no registry of ours is busy
  if (only.has('startup')) {
    if (!existsSync(bundle)) throw new Error(`${bundle} does not exist: run npm run build first`);
    log('Action start-up');
    const n = quick ? 5 : 21;
    startup = [await measureStartup(bundle, statSync(bundle).size, n, tools.node)];
    // the levers: Node's compile cache (Node 22.1+), warm (a later step of the job) and cold (a fresh runner)
    if (Number(tools.nodeVersion.replace(/^v/, '').split('.')[0]) >= 22) {
      startup.push(
        await measureStartup(bundle, statSync(bundle).size, n, tools.node, { label: 'NODE_COMPILE_CACHE, cold', compileCache: 'cold' }),
      );
      startup.push(
        await measureStartup(bundle, statSync(bundle).size, n, tools.node, { label: 'NODE_COMPILE_CACHE, warm', compileCache: 'warm' }),
      );
    }
    if (tools.localNode) startup.push(await measureStartup(bundle, statSync(bundle).size, n, tools.localNode, { label: '' }));
    for (const spec of values['startup-bundle'] ?? []) {
      const [label, path] = spec.includes('=')
        ? [spec.slice(0, spec.indexOf('=')), spec.slice(spec.indexOf('=') + 1)]
        : ['trial bundle', spec];
      for (const node of [tools.node, tools.localNode].filter((n): n is string => n !== undefined)) {
        startup.push(await measureStartup(resolve(path), statSync(resolve(path)).size, n, node, { label }));
      }
    }
  }
  if (only.has('a') || only.has('b') || only.has('h')) {
    const main = await site('main');
    if (only.has('a')) rows.push(...(await scenarioA(ctx, main, quick ? [2] : [2, 4, 8])));
    if (only.has('b')) rows.push(...(await scenarioB(ctx, main, quick ? [2] : [2, 8])));
    if (only.has('h')) rows.push(...(await scenarioH(ctx, main, quick ? [2] : [2, 8])));
  }
  // the same (b) merge where the registry wants a token, as every public registry does
  if (only.has('b') && !quick) rows.push(...(await scenarioB(ctx, await site('token', 'token'), [2])));
  if (only.has('c') || only.has('d')) {
    const source = await site('source');
    if (only.has('c')) rows.push(...(await scenarioC(ctx, source, quick ? [1 * MiB] : [1 * MiB, 64 * MiB, 512 * MiB])));
    if (only.has('d')) {
      const targets = [await site('target-1'), await site('target-2'), await site('target-3')];
      rows.push(...(await scenarioD(ctx, source, targets)));
    }
  }
  if (only.has('e')) rows.push(...(await scenarioE(ctx, await site('scale'), quick ? 5 : 20)));
  if (only.has('f')) rows.push(...(await scenarioF(ctx, await site('copy-source'), quick ? 64 * MiB : 512 * MiB)));
} finally {
  await Promise.all(sites.map(stopSite));
}

const args = process.argv.slice(2).filter((a) => a !== '--no-write');
const report: BenchReport = {
  machine,
  command: `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`,
  latencyMs,
  runs,
  versions,
  rows,
  tools,
  startup,
  notes,
};
process.stdout.write(`${renderText(report)}\n`);
log(`bench finished in ${((performance.now() - started) / 1000).toFixed(0)} s`);
if (values['no-write'] !== true) {
  await writeMarkdown(out, report);
  log(`wrote ${out}`);
}
process.exitCode = checkTargets(report).some((c) => !c.met) && process.env.BENCH_STRICT === '1' ? 1 : 0;
