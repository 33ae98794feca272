// A smoke run of `npm run bench` (scripts/bench/), our CLI only, one run per case, through the
// counting proxies. It asserts the request shapes the benchmark reports, never a time:
// (a) N = 2 and N = 4 buildx sources in the target repository: N reads, one index PUT, one read-back;
// (d) 2 platforms from another registry to 1 and to 3 target registries: each source blob read once;
// (e) 2 images in one `merge --spec` step: the requests of 2 separate runs, no more;
// (f) one layer across registries, ours beside the raw undici GET → PUT yardstick (raw-copy.mjs).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { startSite, stopSite, type Site } from '../../scripts/bench/lab.js';
import { checkTargets, issue14Targets, renderMarkdown, type BenchReport } from '../../scripts/bench/report.js';
import { MiB, scenarioA, scenarioD, scenarioE, scenarioF, type Row } from '../../scripts/bench/scenarios.js';
import { findTools } from '../../scripts/bench/tools.js';

const cli = resolve('dist/cli.js');
const sites: Site[] = [];
let rows: Row[];
let dRows: Row[];
let eRows: Row[];
let fRows: Row[];
const lines: string[] = [];

beforeAll(async () => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);
  const start = async (name: string) => {
    const site = await startSite(name, 1);
    sites.push(site);
    return site;
  };
  const [site, source, scale, copySource, ...targets] = await Promise.all(
    ['bench-smoke', 'bench-source', 'bench-scale', 'bench-copy', 'bench-t1', 'bench-t2', 'bench-t3'].map(start),
  );
  const ctx = { tools: findTools(cli, false), runs: 1, latencyMs: 1, log: (line: string) => lines.push(line) };
  rows = await scenarioA(ctx, site, [2, 4], []);
  dRows = await scenarioD(ctx, source, targets, []);
  eRows = await scenarioE(ctx, scale, 2, []);
  fRows = await scenarioF(ctx, copySource, 1 * MiB, ['raw']);
});

afterAll(async () => {
  await Promise.all(sites.map(stopSite));
});

describe('bench smoke: scenario (a), our tool', () => {
  it('measures one row per N, with our CLI doing the merge', () => {
    expect(rows.map((r) => [r.scenario, r.case, r.tool, r.failure])).toEqual([
      ['a', 'N=2', 'ours', undefined],
      ['a', 'N=4', 'ours', undefined],
    ]);
    for (const row of rows) {
      expect(row.wallMs).toHaveLength(1);
      expect(row.peakRssKiB[0]).toBeGreaterThan(0);
    }
  });

  it('asks N reads, one index PUT and one read-back, for N = 2 and N = 4 alike', () => {
    for (const row of rows) {
      const n = Number(row.case.slice(2));
      expect(row.byKind).toEqual({ 'GET manifest': n, 'PUT manifest': 1, 'HEAD manifest': 1 });
      expect(row.requests).toEqual([n + 2]);
      expect(row.authRequests).toBe(0);
    }
  });

  it('reports the (a) request target as met in the table it writes', () => {
    const report: BenchReport = {
      machine: { cpus: 1, cpuModel: 'test', memoryGiB: 1, node: process.version, kernel: 'test', date: '2024-01-01T00:00:00Z', load: '0' },
      command: 'npm run bench -- --only a',
      latencyMs: 1,
      runs: 1,
      versions: {},
      rows,
      tools: { nodeVersion: process.version },
      notes: [],
    };
    const checks = checkTargets(report).filter((c) => c.target.startsWith('(a) N='));
    expect(checks.map((c) => [c.target.slice(0, 8), c.met])).toEqual([
      ['(a) N=2:', true],
      ['(a) N=4:', true],
    ]);
    const markdown = renderMarkdown(report);
    expect(markdown).toContain(`| (a) | N=4 | manifest-merge (Node ${process.version.slice(1)}) |`);
    expect(markdown).toContain(
      '**met**: (a) N=2: N+1 requests after auth plus 1 read-back (= 4): 4 (2 GET manifest, 1 PUT manifest, 1 HEAD manifest)',
    );
  });
});

describe('bench smoke: scenario (d), our tool', () => {
  it('reads each source blob once, whether it goes to 1 or to 3 target registries; every target gets the same requests', () => {
    expect(dRows.map((r) => [r.case, r.tool, r.failure])).toEqual([
      ['1 target', 'ours', undefined],
      ['3 targets', 'ours', undefined],
    ]);
    for (const [row, targets] of [
      [dRows[0], 1],
      [dRows[1], 3],
    ] as const) {
      // source: 2 manifests, 2 configs (for the platform; uploaded from memory), 6 layers
      // each target: 2 children looked for (blobs this small are not), 8 uploads (POST, PUT), 2 children and the index PUT, 1 read-back;
      // with several targets, the index also goes to each by digest before any tag moves (one PUT more per target),
      // and what each tag held is read (one HEAD per tag, sent beside the transfer, not a wave of its own) so that a
      // tag refused after others moved can put them back; a single tag reads nothing more (its refusal moves no tag)
      expect(row.byKind).toEqual({
        'GET manifest': 2,
        'GET blob': 8,
        'HEAD manifest': (targets > 1 ? 4 : 3) * targets,
        'POST upload': 8 * targets,
        'PUT upload': 8 * targets,
        'PUT manifest': (targets > 1 ? 4 : 3) * targets,
      });
    }
  });
});

describe('bench smoke: scenario (e), our tool', () => {
  it('merges 2 images in one --spec step with the requests of 2 separate runs', () => {
    expect(eRows.map((r) => [r.case, r.tool, r.failure])).toEqual([
      ['1 image', 'ours', undefined],
      ['2 images', 'ours', undefined],
      ['2 images', 'ours-loop', undefined],
    ]);
    const [one, spec, loop] = eRows;
    expect(spec.byKind).toEqual(loop.byKind);
    for (const [kind, n] of Object.entries(one.byKind)) expect(spec.byKind[kind]).toBe(2 * n);
  });
});

describe('bench smoke: scenario (f), ours and the raw copy', () => {
  it('copies the layer both ways, straight to the registries (no proxy counts them)', () => {
    expect(fRows.map((r) => [r.case, r.tool, r.failure])).toEqual([
      ['1 MiB layer, no latency', 'ours', undefined],
      ['1 MiB layer, no latency', 'raw', undefined],
    ]);
    for (const row of fRows) {
      expect(row.requests).toEqual([0]);
      expect(row.bytes).toBeGreaterThan(1 * MiB);
    }
  });
});

describe('bench report: the targets of issue 14', () => {
  const row = (scenario: Row['scenario'], name: string, tool: Row['tool'], wallMs: number, extra: Partial<Row> = {}): Row => ({
    scenario,
    case: name,
    tool,
    wallMs: [wallMs],
    peakRssKiB: [50 * 1024],
    requests: [16],
    byKind: {},
    authRequests: 0,
    waves: [],
    startupMs: [],
    ...extra,
  });
  const report = (rows: Row[]): BenchReport => ({
    machine: { cpus: 1, cpuModel: 'test', memoryGiB: 1, node: 'v24.0.0', kernel: 'test', date: '2024-01-01T00:00:00Z', load: '0' },
    command: 'npm run bench',
    latencyMs: 50,
    runs: 1,
    versions: {},
    rows,
    tools: { nodeVersion: 'v24.0.0' },
    notes: [],
  });

  it('compares ours with the fastest peer that did the work, never with one that could not, nor with ourselves or the raw copy', () => {
    const checks = issue14Targets(
      report([
        row('c', '1 MiB', 'ours', 700),
        row('c', '1 MiB', 'ours-local', 100),
        row('c', '1 MiB', 'crane-copy', 650),
        row('c', '1 MiB', 'regctl-copy', 900),
        row('c', '1 MiB', 'docker', 10, { failure: 'exit 1: cannot use source images from a different registry' }),
        row('f', '1 MiB layer, no latency', 'ours', 500, { bytes: MiB }),
        row('f', '1 MiB layer, no latency', 'raw', 100, { bytes: MiB }),
      ]),
    );
    expect(checks.map((c) => [c.target, c.met])).toEqual([
      ["(c) 1 MiB: wall time at most the fastest peer's", false],
      ["(f) 1 MiB layer, no latency: at least 80% of the raw loopback copy's throughput", false],
      ['(f) 1 MiB layer, no latency: peak RSS at most 150 MB', true],
    ]);
    expect(checks[0].measured).toBe('700 ms vs crane copy 650 ms (1.08x)');
  });

  it('checks (b) against 16 requests and 0.25x docker, and (e) against 3x one image', () => {
    const checks = issue14Targets(
      report([
        row('b', '2 platforms', 'ours', 500),
        row('b', '2 platforms', 'docker', 2000),
        row('e', '1 image', 'ours', 600),
        row('e', '20 images', 'ours', 1900),
      ]),
    );
    expect(checks.map((c) => [c.target, c.met])).toEqual([
      ["(b) 2 platforms: wall time at most the fastest peer's", true],
      ['(b) 2 platforms: at most 16 requests', true],
      ["(b) 2 platforms: at most 0.25x docker manifest's wall time (manifest-merge (Node 24.0.0))", true],
      ['(e) 20 images in one step: at most 3x the wall time of one image', false],
    ]);
  });
});
