// The scenarios of issue 5, each a set of cases; each case runs every contender `runs`
// times, interleaved (ours, peer, peer, ours, …) so that a noisy neighbour hurts all alike.
//   (a) N buildx sources (image + attestation each) in the target repository, N = 2, 4, 8
//   (b) K single-platform Docker images (3 layers) from other repositories of the same registry
//   (c) 2 platforms from another registry, one layer of 1 MiB / 64 MiB / 512 MiB each
//   (d) the (b) merge of 2 platforms, from another registry, to 1 and to 3 target registries
import { MT, getManifest, pushBuildxImage, pushDockerImage, pushIndex, pushLargeImage, type FixtureDescriptor } from '../support/fixtures.js';
import { authRequests, logins, resetCounts, startSite, stopSite, sumCounts, type Site } from './lab.js';
import { measureSteps, median } from './measure.js';
import { buildahMerge, dockerMerge, hasTool, oursMerge, skopeoCopy, type PreparedRun, type ToolId, type Tools } from './tools.js';

export interface BenchContext {
  tools: Tools;
  runs: number;
  latencyMs: number;
  log: (line: string) => void;
}

export interface Row {
  scenario: 'a' | 'b' | 'c' | 'd';
  /** e.g. "N=4", "512 MiB", "3 targets" */
  case: string;
  tool: ToolId;
  wallMs: number[];
  peakRssKiB: number[];
  requests: number[];
  /** requests by kind, of the last run */
  byKind: Record<string, number>;
  /** pings and token requests among `requests` (last run) */
  authRequests: number;
  /** bytes of blobs the work moves (scenario c), for throughput */
  bytes?: number;
  /** why this tool could not do the work (first failed run) */
  failure?: string;
}

interface Contender {
  tool: ToolId;
  /** a fresh run: commands, the sites whose proxies count it, a check that the work was done */
  prepare(run: number): Promise<{ prepared: PreparedRun; sites: Site[]; check: () => Promise<string | undefined>; dispose?: () => Promise<void> }>;
}

const PLATFORMS = ['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'linux/arm/v6', 'linux/ppc64le', 'linux/s390x', 'linux/386', 'linux/riscv64'];
export const MiB = 1024 * 1024;

function firstLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return (lines.find((l) => /error|fail|denied|invalid|is a manifest list|unsupported|not/i.test(l)) ?? lines[lines.length - 1] ?? '').slice(0, 200);
}

/** Checks that `repository:tag` on `site` is an index with at least `platforms` image entries. */
function indexCheck(site: Site, repository: string, tag: string, platforms: number): () => Promise<string | undefined> {
  return async () => {
    try {
      const fetched = await getManifest(site.endpoint, repository, tag);
      const body = JSON.parse(fetched.bytes.toString('utf8')) as { manifests?: Array<{ platform?: { os?: string } }> };
      const images = (body.manifests ?? []).filter((m) => m.platform?.os && m.platform.os !== 'unknown').length;
      return images >= platforms ? undefined : `${repository}:${tag} has ${images} platform(s), expected ${platforms}`;
    } catch (error) {
      return `${repository}:${tag} was not pushed: ${error instanceof Error ? error.message : String(error)}`;
    }
  };
}

async function runCase(ctx: BenchContext, scenario: Row['scenario'], name: string, contenders: Contender[], bytes?: number): Promise<Row[]> {
  const rows = contenders.map((c): Row => ({ scenario, case: name, tool: c.tool, wallMs: [], peakRssKiB: [], requests: [], byKind: {}, authRequests: 0, ...(bytes ? { bytes } : {}) }));
  for (let run = 1; run <= ctx.runs; run++) {
    for (const [i, contender] of contenders.entries()) {
      const row = rows[i];
      if (row.failure) continue;
      const { prepared, sites, check, dispose } = await contender.prepare(run);
      try {
        for (const site of sites) resetCounts(site);
        const m = await measureSteps(prepared.steps, { env: prepared.env, freshContainersCache: prepared.freshContainersCache });
        const counts = sumCounts(sites);
        const auth = authRequests(sites); // before the check, whose own token requests the token proxy sees
        const problem = m.exitCode !== 0 ? `exit ${m.exitCode}: ${firstLine(m.stderr)}` : await check();
        if (problem) {
          row.failure = problem;
          ctx.log(`  (${scenario}) ${name} ${contender.tool}: FAILED: ${problem}`);
          continue;
        }
        row.wallMs.push(m.wallMs);
        row.peakRssKiB.push(m.peakRssKiB);
        row.requests.push(counts.total);
        row.byKind = counts.byKind;
        row.authRequests = auth;
        ctx.log(`  (${scenario}) ${name} ${contender.tool} run ${run}: ${Math.round(m.wallMs)} ms, ${counts.total} requests, ${Math.round(m.peakRssKiB / 1024)} MiB RSS`);
      } finally {
        await prepared.cleanup();
        await dispose?.();
      }
    }
  }
  return rows;
}

const ref = (site: Site, repository: string, tag: string) => `${site.host}/${repository}:${tag}`;

// ---- (a) ------------------------------------------------------------------------------------

export async function scenarioA(ctx: BenchContext, site: Site, sizes: number[], peers: ToolId[] = ['ours-local', 'docker', 'buildah']): Promise<Row[]> {
  const rows: Row[] = [];
  for (const n of sizes) {
    const repository = `bench/a${n}`;
    await Promise.all(PLATFORMS.slice(0, n).map((platform, i) => pushBuildxImage(site.endpoint, repository, `p${i}`, { platform, seed: `bench-a${n}-${i}`, layers: 3 })));
    const sources = PLATFORMS.slice(0, n).map((_, i) => ref(site, repository, `p${i}`));
    const contenders: Contender[] = [
      { tool: 'ours', prepare: async (run) => ({ prepared: await oursMerge(ctx.tools, sources, [ref(site, repository, `ours-r${run}`)], { logins: logins([site]) }), sites: [site], check: indexCheck(site, repository, `ours-r${run}`, n) }) },
    ];
    if (peers.includes('ours-local') && hasTool(ctx.tools, 'ours-local')) {
      contenders.push({
        tool: 'ours-local',
        prepare: async (run) => ({ prepared: await oursMerge(ctx.tools, sources, [ref(site, repository, `local-r${run}`)], { node: ctx.tools.localNode, logins: logins([site]) }), sites: [site], check: indexCheck(site, repository, `local-r${run}`, n) }),
      });
    }
    if (peers.includes('docker') && hasTool(ctx.tools, 'docker')) {
      contenders.push({ tool: 'docker', prepare: async (run) => ({ prepared: await dockerMerge(ctx.tools, sources, ref(site, repository, `docker-r${run}`), { logins: logins([site]) }), sites: [site], check: indexCheck(site, repository, `docker-r${run}`, n) }) });
    }
    if (peers.includes('buildah') && hasTool(ctx.tools, 'buildah')) {
      contenders.push({
        tool: 'buildah',
        prepare: async (run) => ({ prepared: await buildahMerge(ctx.tools, sources, [ref(site, repository, `buildah-r${run}`)], { all: true, logins: logins([site]) }), sites: [site], check: indexCheck(site, repository, `buildah-r${run}`, n) }),
      });
    }
    ctx.log(`(a) ${n} buildx sources in ${repository}`);
    rows.push(...(await runCase(ctx, 'a', `N=${n}`, contenders)));
  }
  return rows;
}

// ---- (b) ------------------------------------------------------------------------------------

export async function scenarioB(ctx: BenchContext, site: Site, sizes: number[], peers: ToolId[] = ['ours-local', 'docker', 'buildah']): Promise<Row[]> {
  const rows: Row[] = [];
  for (const k of sizes) {
    await Promise.all(PLATFORMS.slice(0, k).map((platform, i) => pushDockerImage(site.endpoint, `bench/b${k}-src${i}`, 'v1', { platform, seed: `bench-b${k}-${i}`, layers: 3, layerSize: 4096 })));
    const sources = PLATFORMS.slice(0, k).map((_, i) => ref(site, `bench/b${k}-src${i}`, 'v1'));
    const target = (tool: string, run: number) => `bench/b${k}-${tool}-r${run}`;
    const contenders: Contender[] = [
      { tool: 'ours', prepare: async (run) => ({ prepared: await oursMerge(ctx.tools, sources, [ref(site, target('ours', run), 'v1')], { logins: logins([site]) }), sites: [site], check: indexCheck(site, target('ours', run), 'v1', k) }) },
    ];
    if (peers.includes('ours-local') && hasTool(ctx.tools, 'ours-local')) {
      contenders.push({
        tool: 'ours-local',
        prepare: async (run) => ({ prepared: await oursMerge(ctx.tools, sources, [ref(site, target('local', run), 'v1')], { node: ctx.tools.localNode, logins: logins([site]) }), sites: [site], check: indexCheck(site, target('local', run), 'v1', k) }),
      });
    }
    if (peers.includes('docker') && hasTool(ctx.tools, 'docker')) {
      contenders.push({ tool: 'docker', prepare: async (run) => ({ prepared: await dockerMerge(ctx.tools, sources, ref(site, target('docker', run), 'v1'), { logins: logins([site]) }), sites: [site], check: indexCheck(site, target('docker', run), 'v1', k) }) });
    }
    if (peers.includes('buildah') && hasTool(ctx.tools, 'buildah')) {
      contenders.push({ tool: 'buildah', prepare: async (run) => ({ prepared: await buildahMerge(ctx.tools, sources, [ref(site, target('buildah', run), 'v1')], { logins: logins([site]) }), sites: [site], check: indexCheck(site, target('buildah', run), 'v1', k) }) });
    }
    const auth = site.credentials ? ', token auth' : '';
    ctx.log(`(b) ${k} platforms from other repositories of the same registry${auth}`);
    rows.push(...(await runCase(ctx, 'b', `${k} platforms${auth}`, contenders)));
  }
  return rows;
}

// ---- (c) ------------------------------------------------------------------------------------

export function sizeLabel(bytes: number): string {
  return bytes >= MiB ? `${bytes / MiB} MiB` : `${bytes} B`;
}

export async function scenarioC(ctx: BenchContext, source: Site, layerSizes: number[], peers: ToolId[] = ['skopeo', 'buildah', 'docker']): Promise<Row[]> {
  const rows: Row[] = [];
  for (const size of layerSizes) {
    const repository = `bench/c${size / MiB}m`;
    ctx.log(`(c) seeding 2 platforms with one ${sizeLabel(size)} layer each`);
    const images = await Promise.all(
      ['linux/amd64', 'linux/arm64'].map((platform) => pushLargeImage(source.endpoint, repository, platform.split('/')[1], { platform, seed: `bench-c-${size}`, layerBytes: size })),
    );
    // what skopeo copies: the same two images under one index
    const manifests: FixtureDescriptor[] = images.map((image) => ({ ...image.descriptor }));
    await pushIndex(source.endpoint, repository, 'multi', { manifests, mediaType: MT.OciIndex });
    const bytes = images.reduce((sum, image) => sum + image.layers.reduce((s, l) => s + l.size, 0) + image.config.size + image.size, 0);
    const sources = ['amd64', 'arm64'].map((tag) => ref(source, repository, tag));
    /** a fresh target registry per run: no tool finds blobs a previous run left there */
    const fresh = async (run: number, tool: string) => {
      const target = await startSite(`c-${tool}-${run}`, ctx.latencyMs);
      return { target, tag: ref(target, repository, 'v1'), check: indexCheck(target, repository, 'v1', 2), dispose: () => stopSite(target) };
    };
    const contenders: Contender[] = [
      {
        tool: 'ours',
        prepare: async (run) => {
          const t = await fresh(run, 'ours');
          return { prepared: await oursMerge(ctx.tools, sources, [t.tag], { logins: logins([source, t.target]) }), sites: [source, t.target], check: t.check, dispose: t.dispose };
        },
      },
    ];
    if (peers.includes('skopeo') && hasTool(ctx.tools, 'skopeo')) {
      contenders.push({
        tool: 'skopeo',
        prepare: async (run) => {
          const t = await fresh(run, 'skopeo');
          return { prepared: await skopeoCopy(ctx.tools, ref(source, repository, 'multi'), t.tag, { logins: logins([source, t.target]) }), sites: [source, t.target], check: t.check, dispose: t.dispose };
        },
      });
    }
    if (peers.includes('buildah') && hasTool(ctx.tools, 'buildah')) {
      contenders.push({
        tool: 'buildah',
        prepare: async (run) => {
          const t = await fresh(run, 'buildah');
          return { prepared: await buildahMerge(ctx.tools, sources, [t.tag], { logins: logins([source, t.target]) }), sites: [source, t.target], check: t.check, dispose: t.dispose };
        },
      });
    }
    if (peers.includes('docker') && hasTool(ctx.tools, 'docker')) {
      // docker manifest cannot copy across registries; shown so that the table says so
      contenders.push({
        tool: 'docker',
        prepare: async (run) => {
          const t = await fresh(run, 'docker');
          return { prepared: await dockerMerge(ctx.tools, sources, t.tag, { logins: logins([source, t.target]) }), sites: [source, t.target], check: t.check, dispose: t.dispose };
        },
      });
    }
    rows.push(...(await runCase(ctx, 'c', sizeLabel(size), contenders, bytes)));
  }
  return rows;
}

// ---- (d) ------------------------------------------------------------------------------------

export async function scenarioD(ctx: BenchContext, source: Site, targets: Site[], peers: ToolId[] = ['buildah', 'docker']): Promise<Row[]> {
  const rows: Row[] = [];
  await Promise.all(['linux/amd64', 'linux/arm64'].map((platform, i) => pushDockerImage(source.endpoint, `bench/d-src${i}`, 'v1', { platform, seed: `bench-d-${i}`, layers: 3, layerSize: 4096 })));
  const sources = [0, 1].map((i) => ref(source, `bench/d-src${i}`, 'v1'));
  for (const count of [1, targets.length]) {
    const used = targets.slice(0, count);
    const repository = (tool: string, run: number) => `bench/d${count}-${tool}-r${run}`;
    const tags = (tool: string, run: number) => used.map((t) => ref(t, repository(tool, run), 'v1'));
    const checkAll = (tool: string, run: number) => async () => {
      for (const t of used) {
        const problem = await indexCheck(t, repository(tool, run), 'v1', 2)();
        if (problem) return problem;
      }
      return undefined;
    };
    const contenders: Contender[] = [{ tool: 'ours', prepare: async (run) => ({ prepared: await oursMerge(ctx.tools, sources, tags('ours', run), { logins: logins([source, ...used]) }), sites: [source, ...used], check: checkAll('ours', run) }) }];
    if (peers.includes('buildah') && hasTool(ctx.tools, 'buildah')) {
      contenders.push({ tool: 'buildah', prepare: async (run) => ({ prepared: await buildahMerge(ctx.tools, sources, tags('buildah', run), { logins: logins([source, ...used]) }), sites: [source, ...used], check: checkAll('buildah', run) }) });
    }
    if (count === 1 && peers.includes('docker') && hasTool(ctx.tools, 'docker')) {
      contenders.push({ tool: 'docker', prepare: async (run) => ({ prepared: await dockerMerge(ctx.tools, sources, tags('docker', run)[0], { logins: logins([source, ...used]) }), sites: [source, ...used], check: checkAll('docker', run) }) });
    }
    ctx.log(`(d) 2 platforms from another registry to ${count} target registr${count === 1 ? 'y' : 'ies'}`);
    rows.push(...(await runCase(ctx, 'd', `${count} target${count === 1 ? '' : 's'}`, contenders)));
  }
  return rows;
}

export function medianOf(row: Row, key: 'wallMs' | 'peakRssKiB' | 'requests'): number {
  return median(row[key]);
}
