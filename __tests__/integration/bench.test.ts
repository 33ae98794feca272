// A smoke run of `npm run bench` (scripts/bench/), our CLI only, one run per case, through the
// counting proxies. It asserts the request shapes the benchmark reports, never a time:
// (a) N = 2 and N = 4 buildx sources in the target repository: N reads, one index PUT, one read-back;
// (d) 2 platforms from another registry to 1 and to 3 target registries: each source blob read once.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { startSite, stopSite, type Site } from '../../scripts/bench/lab.js';
import { checkTargets, renderMarkdown, type BenchReport } from '../../scripts/bench/report.js';
import { scenarioA, scenarioD, type Row } from '../../scripts/bench/scenarios.js';
import { findTools } from '../../scripts/bench/tools.js';

const cli = resolve('dist/cli.js');
const sites: Site[] = [];
let rows: Row[];
let dRows: Row[];
const lines: string[] = [];

beforeAll(async () => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);
  const start = async (name: string) => {
    const site = await startSite(name, 1);
    sites.push(site);
    return site;
  };
  const [site, source, ...targets] = await Promise.all(['bench-smoke', 'bench-source', 'bench-t1', 'bench-t2', 'bench-t3'].map(start));
  const ctx = { tools: findTools(cli, false), runs: 1, latencyMs: 1, log: (line: string) => lines.push(line) };
  rows = await scenarioA(ctx, site, [2, 4], []);
  dRows = await scenarioD(ctx, source, targets, []);
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
    expect(markdown).toContain('**met**: (a) N=2: N+1 requests after auth plus 1 read-back (= 4): 4 (2 GET manifest, 1 PUT manifest, 1 HEAD manifest)');
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
      // each target: 2 children looked for (blobs this small are not), 8 uploads (POST, PUT), 2 children and the index PUT, 1 read-back
      expect(row.byKind).toEqual({
        'GET manifest': 2,
        'GET blob': 8,
        'HEAD manifest': 3 * targets,
        'POST upload': 8 * targets,
        'PUT upload': 8 * targets,
        'PUT manifest': 3 * targets,
      });
    }
  });
});
