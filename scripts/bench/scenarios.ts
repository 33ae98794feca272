// The scenarios of issue 5, each a set of cases; each case runs every contender `runs`
// times, interleaved (ours, peer, peer, ours, …) so that a noisy neighbour hurts all alike.
//   (a) N buildx sources (image + attestation each) in the target repository, N = 2, 4, 8
//   (b) K single-platform Docker images (3 layers) from other repositories of the same registry
//   (c) 2 platforms from another registry, one layer of 1 MiB / 64 MiB / 512 MiB each
//   (d) the (b) merge of 2 platforms, from another registry, to 1 and to 3 target registries
//   (e) 20 images of 4 platforms each: one `merge --spec`, 20 separate runs, peers in a loop
//   (f) one 512 MiB layer across registries with no latency proxy: the raw undici GET → PUT limit
//   (h) the seed case: 2 buildx images (image + attestation, 3 layers) in two repositories merged into a
//       third, and the same with 8 platforms
// Ours runs with --referrers skip (the work the peers do) and, on a row of its own, with default
// settings (referrers: copy), as users run it. Every row counts its waves (scripts/bench/waves.ts).
// Peers: every merging tool (imagetools, crane, regctl, docker, buildah) in every scenario; the
// copiers (skopeo, crane copy, regctl image copy) where an index to copy exists.
import { MT, type FixtureDescriptor } from '../support/fixtures/media.js';
import { getManifest } from '../support/fixtures/client.js';
import { pushDockerImage, pushIndex } from '../support/fixtures/images.js';
import { pushLargeImage } from '../support/fixtures/large.js';
import { pushBuildxImage } from '../support/fixtures/buildx.js';
import { authRequests, logins, resetCounts, startSite, stopSite, sumCounts, timeline, type Site, type TimedRequest } from './lab.js';
import { countWaves } from './waves.js';
import { measureSteps, median } from './measure.js';
import { fileURLToPath } from 'node:url';
import {
  MERGERS,
  craneCopy,
  hasTool,
  loopOf,
  mergeWith,
  oursMerge,
  oursSpec,
  regctlCopy,
  skopeoCopy,
  type PreparedRun,
  type ToolId,
  type Tools,
} from './tools.js';

export interface BenchContext {
  tools: Tools;
  runs: number;
  latencyMs: number;
  log: (line: string) => void;
}

export interface Row {
  scenario: 'a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'h';
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
  /** round trips waited for one after another, per run (none where no proxy sees the requests: (f)) */
  waves: number[];
  /** from spawning the tool to its first request reaching a proxy, per run */
  startupMs: number[];
  /** the last run's requests on a time axis (ms since spawn), and its wall time: the waterfall */
  timeline?: { requests: TimedRequest[]; wallMs: number };
  /** bytes of blobs the work moves (scenario c), for throughput */
  bytes?: number;
  /** why this tool could not do the work (first failed run) */
  failure?: string;
}

interface Contender {
  tool: ToolId;
  /** a fresh run: commands, the sites whose proxies count it, a check that the work was done */
  prepare(
    run: number,
  ): Promise<{ prepared: PreparedRun; sites: Site[]; check: () => Promise<string | undefined>; dispose?: () => Promise<void> }>;
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
export const MiB = 1024 * 1024;

function firstLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return (
    lines.find((l) => /error|fail|denied|invalid|is a manifest list|unsupported|not/i.test(l)) ??
    lines[lines.length - 1] ??
    ''
  ).slice(0, 200);
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

async function runCase(
  ctx: BenchContext,
  scenario: Row['scenario'],
  name: string,
  contenders: Contender[],
  bytes?: number,
): Promise<Row[]> {
  const rows = contenders.map((c): Row => ({
    scenario,
    case: name,
    tool: c.tool,
    wallMs: [],
    peakRssKiB: [],
    requests: [],
    byKind: {},
    authRequests: 0,
    waves: [],
    startupMs: [],
    ...(bytes ? { bytes } : {}),
  }));
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
        const requests = timeline(sites, m.startedMs);
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
        if (requests.length > 0) {
          row.waves.push(countWaves(requests));
          row.startupMs.push(requests[0].startMs);
          row.timeline = { requests, wallMs: m.wallMs };
        }
        ctx.log(
          `  (${scenario}) ${name} ${contender.tool} run ${run}: ${Math.round(m.wallMs)} ms, ${counts.total} requests${requests.length ? `, ${countWaves(requests)} waves` : ''}, ${Math.round(m.peakRssKiB / 1024)} MiB RSS`,
        );
      } finally {
        await prepared.cleanup();
        await dispose?.();
      }
    }
  }
  return rows;
}

const ref = (site: Site, repository: string, tag: string) => `${site.host}/${repository}:${tag}`;

/** One contender per tool of `wanted` that is here: ours first, then in the order given. */
function contendersFor(ctx: BenchContext, wanted: ToolId[], make: (tool: ToolId) => Contender): Contender[] {
  return (['ours', ...wanted.filter((t) => t !== 'ours')] as ToolId[]).filter((t) => hasTool(ctx.tools, t)).map(make);
}

// ---- (a) ------------------------------------------------------------------------------------

export async function scenarioA(
  ctx: BenchContext,
  site: Site,
  sizes: number[],
  peers: ToolId[] = ['ours-default', 'ours-local', ...MERGERS],
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const n of sizes) {
    const repository = `bench/a${n}`;
    await Promise.all(
      PLATFORMS.slice(0, n).map((platform, i) =>
        pushBuildxImage(site.endpoint, repository, `p${i}`, { platform, seed: `bench-a${n}-${i}`, layers: 3 }),
      ),
    );
    const sources = PLATFORMS.slice(0, n).map((_, i) => ref(site, repository, `p${i}`));
    const contenders = contendersFor(ctx, peers, (tool) => ({
      tool,
      prepare: async (run) => ({
        prepared: await mergeWith(tool, ctx.tools, sources, [ref(site, repository, `${tool}-r${run}`)], {
          all: true,
          platforms: [...PLATFORMS.slice(0, n), 'unknown/unknown'],
          logins: logins([site]),
        }),
        sites: [site],
        check: indexCheck(site, repository, `${tool}-r${run}`, n),
      }),
    }));
    ctx.log(`(a) ${n} buildx sources in ${repository}`);
    rows.push(...(await runCase(ctx, 'a', `N=${n}`, contenders)));
  }
  return rows;
}

// ---- (b) ------------------------------------------------------------------------------------

export async function scenarioB(
  ctx: BenchContext,
  site: Site,
  sizes: number[],
  peers: ToolId[] = ['ours-default', 'ours-local', ...MERGERS],
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const k of sizes) {
    await Promise.all(
      PLATFORMS.slice(0, k).map((platform, i) =>
        pushDockerImage(site.endpoint, `bench/b${k}-src${i}`, 'v1', { platform, seed: `bench-b${k}-${i}`, layers: 3, layerSize: 4096 }),
      ),
    );
    const sources = PLATFORMS.slice(0, k).map((_, i) => ref(site, `bench/b${k}-src${i}`, 'v1'));
    const target = (tool: string, run: number) => `bench/b${k}-${tool}-r${run}`;
    const contenders = contendersFor(ctx, peers, (tool) => ({
      tool,
      prepare: async (run) => ({
        prepared: await mergeWith(tool, ctx.tools, sources, [ref(site, target(tool, run), 'v1')], { logins: logins([site]) }),
        sites: [site],
        check: indexCheck(site, target(tool, run), 'v1', k),
      }),
    }));
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

export async function scenarioC(
  ctx: BenchContext,
  source: Site,
  layerSizes: number[],
  peers: ToolId[] = ['ours-default', 'skopeo', 'crane-copy', 'regctl-copy', ...MERGERS],
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const size of layerSizes) {
    const repository = `bench/c${size / MiB}m`;
    ctx.log(`(c) seeding 2 platforms with one ${sizeLabel(size)} layer each`);
    const images = await Promise.all(
      ['linux/amd64', 'linux/arm64'].map((platform) =>
        pushLargeImage(source.endpoint, repository, platform.split('/')[1], { platform, seed: `bench-c-${size}`, layerBytes: size }),
      ),
    );
    // what skopeo copies: the same two images under one index
    const manifests: FixtureDescriptor[] = images.map((image) => ({ ...image.descriptor }));
    await pushIndex(source.endpoint, repository, 'multi', { manifests, mediaType: MT.OciIndex });
    const bytes = images.reduce((sum, image) => sum + image.layers.reduce((s, l) => s + l.size, 0) + image.config.size + image.size, 0);
    const sources = ['amd64', 'arm64'].map((tag) => ref(source, repository, tag));
    /** a fresh target registry per run: no tool finds blobs a previous run left there */
    const fresh = async (run: number, tool: string) => {
      const target = await startSite(`c-${tool}-${run}`, ctx.latencyMs);
      return {
        target,
        tag: ref(target, repository, 'v1'),
        check: indexCheck(target, repository, 'v1', 2),
        dispose: () => stopSite(target),
      };
    };
    const copiers: Partial<Record<ToolId, typeof skopeoCopy>> = { skopeo: skopeoCopy, 'crane-copy': craneCopy, 'regctl-copy': regctlCopy };
    const contenders = contendersFor(ctx, peers, (tool) => ({
      tool,
      prepare: async (run) => {
        const t = await fresh(run, tool);
        const copy = copiers[tool];
        const options = { logins: logins([source, t.target]) };
        // the copiers copy an index holding the same two images (they cannot merge)
        const prepared = copy
          ? await copy(ctx.tools, ref(source, repository, 'multi'), t.tag, options)
          : await mergeWith(tool, ctx.tools, sources, [t.tag], options);
        return { prepared, sites: [source, t.target], check: t.check, dispose: t.dispose };
      },
    }));
    rows.push(...(await runCase(ctx, 'c', sizeLabel(size), contenders, bytes)));
  }
  return rows;
}

// ---- (d) ------------------------------------------------------------------------------------

export async function scenarioD(
  ctx: BenchContext,
  source: Site,
  targets: Site[],
  peers: ToolId[] = ['ours-default', ...MERGERS],
): Promise<Row[]> {
  const rows: Row[] = [];
  await Promise.all(
    ['linux/amd64', 'linux/arm64'].map((platform, i) =>
      pushDockerImage(source.endpoint, `bench/d-src${i}`, 'v1', { platform, seed: `bench-d-${i}`, layers: 3, layerSize: 4096 }),
    ),
  );
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
    const contenders = contendersFor(ctx, peers, (tool) => ({
      tool,
      prepare: async (run) => ({
        prepared: await mergeWith(tool, ctx.tools, sources, tags(tool, run), { logins: logins([source, ...used]) }),
        sites: [source, ...used],
        check: checkAll(tool, run),
      }),
    }));
    ctx.log(`(d) 2 platforms from another registry to ${count} target registr${count === 1 ? 'y' : 'ies'}`);
    rows.push(...(await runCase(ctx, 'd', `${count} target${count === 1 ? '' : 's'}`, contenders)));
  }
  return rows;
}

// ---- (e) ------------------------------------------------------------------------------------

/**
 * 20 images of 4 single-platform Docker images each (other repositories of the registry, as in
 * (b)). "1 image": one of them, every tool. "20 images": ours as one `merge --spec` step, ours
 * run once per image, and each peer run once per image in a loop (how a workflow without a spec
 * would do it).
 */
export async function scenarioE(
  ctx: BenchContext,
  site: Site,
  count: number,
  peers: ToolId[] = ['ours-default', ...MERGERS],
): Promise<Row[]> {
  const perImage = 4;
  const image = (i: number) => `bench/e${i}`;
  await Promise.all(
    Array.from({ length: count }, (_, i) => i).flatMap((i) =>
      PLATFORMS.slice(0, perImage).map((platform, p) =>
        pushDockerImage(site.endpoint, `${image(i)}-src${p}`, 'v1', { platform, seed: `bench-e${i}-${p}`, layers: 2, layerSize: 4096 }),
      ),
    ),
  );
  const sources = (i: number) => PLATFORMS.slice(0, perImage).map((_, p) => ref(site, `${image(i)}-src${p}`, 'v1'));
  const target = (i: number, tool: string, run: number) => `${image(i)}-${tool}-r${run}`;
  const checkImages = (n: number, tool: string, run: number) => async () => {
    for (let i = 0; i < n; i++) {
      const problem = await indexCheck(site, target(i, tool, run), 'v1', perImage)();
      if (problem) return problem;
    }
    return undefined;
  };
  const options = { logins: logins([site]) };
  const rows: Row[] = [];
  ctx.log(`(e) 1 image of ${perImage} platforms`);
  const one = contendersFor(ctx, peers, (tool) => ({
    tool,
    prepare: async (run) => ({
      prepared: await mergeWith(tool, ctx.tools, sources(0), [ref(site, target(0, `one-${tool}`, run), 'v1')], options),
      sites: [site],
      check: checkImages(1, `one-${tool}`, run),
    }),
  }));
  rows.push(...(await runCase(ctx, 'e', '1 image', one)));
  ctx.log(`(e) ${count} images of ${perImage} platforms`);
  const jobs = (tool: string, run: number) =>
    Array.from({ length: count }, (_, i) => ({ sources: sources(i), tags: [ref(site, target(i, tool, run), 'v1')] }));
  const many = contendersFor(ctx, ['ours-loop', ...peers], (tool) => ({
    tool,
    prepare: async (run) => {
      let prepared: PreparedRun;
      if (tool === 'ours' || tool === 'ours-default')
        prepared = await oursSpec(ctx.tools, jobs(tool, run), { ...options, defaults: tool === 'ours-default' });
      else {
        const each = await Promise.all(
          jobs(tool, run).map((job) => mergeWith(tool === 'ours-loop' ? 'ours' : tool, ctx.tools, job.sources, job.tags, options)),
        );
        prepared = loopOf(each);
      }
      return { prepared, sites: [site], check: checkImages(count, tool, run) };
    },
  }));
  rows.push(...(await runCase(ctx, 'e', `${count} images`, many)));
  return rows;
}

// ---- (h) ------------------------------------------------------------------------------------

/**
 * The seed case (issue 21): `platforms` buildx images (an index with the image and its attestation,
 * 3 layers) each in its own repository of the registry, merged into another one. 2 platforms is
 * the seed note's case; the protocol's dependency chain is 6 waves (sources, children, mounts, child
 * manifests, the tag, the read-back), whatever the number of platforms.
 */
export async function scenarioH(
  ctx: BenchContext,
  site: Site,
  sizes: number[],
  peers: ToolId[] = ['ours-default', 'ours-local', ...MERGERS],
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const n of sizes) {
    const repository = (i: number) => `bench/h${n}-src${i}`;
    await Promise.all(
      PLATFORMS.slice(0, n).map((platform, i) =>
        pushBuildxImage(site.endpoint, repository(i), 'v1', { platform, seed: `bench-h${n}-${i}`, layers: 3 }),
      ),
    );
    const sources = PLATFORMS.slice(0, n).map((_, i) => ref(site, repository(i), 'v1'));
    const target = (tool: string, run: number) => `bench/h${n}-${tool}-r${run}`;
    const contenders = contendersFor(ctx, peers, (tool) => ({
      tool,
      prepare: async (run) => ({
        prepared: await mergeWith(tool, ctx.tools, sources, [ref(site, target(tool, run), 'v1')], {
          all: true,
          platforms: [...PLATFORMS.slice(0, n), 'unknown/unknown'],
          logins: logins([site]),
        }),
        sites: [site],
        check: indexCheck(site, target(tool, run), 'v1', n),
      }),
    }));
    ctx.log(`(h) ${n} buildx images from other repositories of the same registry`);
    rows.push(...(await runCase(ctx, 'h', `${n} platforms`, contenders)));
  }
  return rows;
}

// ---- (f) ------------------------------------------------------------------------------------

const RAW_COPY = fileURLToPath(new URL('./raw-copy.mjs', import.meta.url));

/** The site's registry itself, no proxy: (f) measures the copy, not the latency. */
function direct(site: Site): Site {
  return { ...site, host: site.registry.host };
}

function manifestCheck(site: Site, repository: string, tag: string): () => Promise<string | undefined> {
  return async () => {
    try {
      await getManifest(site.endpoint, repository, tag);
      return undefined;
    } catch (error) {
      return `${repository}:${tag} was not pushed: ${error instanceof Error ? error.message : String(error)}`;
    }
  };
}

/**
 * One image with one layer of `size` bytes, from one registry to a fresh other one, both on
 * loopback and without the latency proxy. `raw` is one undici GET streamed into one PUT of the
 * layer alone (scripts/bench/raw-copy.mjs): the limit any client can reach here.
 */
export async function scenarioF(
  ctx: BenchContext,
  sourceSite: Site,
  size: number,
  peers: ToolId[] = ['raw', 'skopeo', 'crane-copy', 'regctl-copy'],
): Promise<Row[]> {
  const source = direct(sourceSite);
  const repository = `bench/f${size / MiB}m`;
  ctx.log(`(f) seeding one image with one ${sizeLabel(size)} layer`);
  const image = await pushLargeImage(source.endpoint, repository, 'v1', {
    platform: 'linux/amd64',
    seed: `bench-f-${size}`,
    layerBytes: size,
  });
  const layer = image.layers[0];
  const copiers: Partial<Record<ToolId, typeof skopeoCopy>> = { skopeo: skopeoCopy, 'crane-copy': craneCopy, 'regctl-copy': regctlCopy };
  const contenders = contendersFor(ctx, peers, (tool) => ({
    tool,
    prepare: async (run) => {
      const target = direct(await startSite(`f-${tool}-${run}`, 0));
      const dispose = () => stopSite(target);
      const tag = ref(target, repository, 'v1');
      const options = { logins: logins([source, target]) };
      let prepared: PreparedRun;
      let check = manifestCheck(target, repository, 'v1');
      if (tool === 'raw') {
        prepared = {
          steps: [
            {
              command: ctx.tools.node,
              args: [RAW_COPY, source.registry.url, repository, layer.digest, String(layer.size), target.registry.url, repository],
            },
          ],
          env: process.env,
          freshContainersCache: false,
          cleanup: async () => undefined,
        };
        check = async () => {
          try {
            const fetched = await fetch(`${target.registry.url}/v2/${repository}/blobs/${layer.digest}`, { method: 'HEAD' });
            return fetched.status === 200 ? undefined : `the layer is not in the target (HEAD ${fetched.status})`;
          } catch (error) {
            return `the layer is not in the target: ${String(error)}`;
          }
        };
      } else {
        const copy = copiers[tool];
        prepared = copy
          ? await copy(ctx.tools, ref(source, repository, 'v1'), tag, options)
          : await oursMerge(ctx.tools, [ref(source, repository, 'v1')], [tag], options);
      }
      return { prepared, sites: [], check, dispose };
    },
  }));
  return runCase(ctx, 'f', `${sizeLabel(size)} layer, no latency`, contenders, layer.size);
}

export function medianOf(row: Row, key: 'wallMs' | 'peakRssKiB' | 'requests'): number {
  return median(row[key]);
}
