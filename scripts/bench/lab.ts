// The bench's world: registries behind latency-injecting proxies ("sites"), and what the
// machine is. Every request any tool makes goes through a site's proxy, which counts it by
// kind: the same yardstick for us and every peer.
import { execFileSync } from 'node:child_process';
import { cpus, totalmem, release } from 'node:os';
import { startFaultProxy, type FaultProxy, type FaultProxyCounts } from '../support/fault-proxy.js';
import { startRegistry, type RegistryCredentials, type RegistryEndpoint, type RunningRegistry } from '../support/registry.js';
import { startTokenServer, type TokenServer } from '../support/token-server.js';

export interface Site {
  name: string;
  registry: RunningRegistry;
  /** what the fixtures seed and check through (the registry itself, with credentials when it has auth) */
  endpoint: RegistryEndpoint;
  proxy: FaultProxy;
  /** `127.0.0.1:PORT` of the proxy: the registry part of every reference a tool is given */
  host: string;
  /** token auth: the user every tool logs in as */
  credentials?: RegistryCredentials;
  /** token auth: the token server, behind its own latency proxy (counted with the registry's) */
  tokenServer?: TokenServer;
  tokenProxy?: FaultProxy;
}

const BENCH_USER: RegistryCredentials = { username: 'bench', password: 'bench-password' };

/** A registry behind a latency proxy; with `auth: 'token'`, also a token server behind another one (as Docker Hub or GHCR: 401, then a token). */
export async function startSite(name: string, latencyMs: number, options: { auth?: 'none' | 'token' } = {}): Promise<Site> {
  let tokenServer: TokenServer | undefined;
  let tokenProxy: FaultProxy | undefined;
  let registry: RunningRegistry | undefined;
  try {
    if (options.auth === 'token') {
      tokenServer = await startTokenServer({
        users: { [BENCH_USER.username]: { password: BENCH_USER.password, grants: [{ prefix: '', actions: ['pull', 'push'] }] } },
      });
      tokenProxy = await startFaultProxy({ target: tokenServer.url, latencyMs });
      registry = await startRegistry({
        name: `bench-${name}`,
        auth: 'token',
        tokenServer: { ...tokenServer, realm: `${tokenProxy.url}/token` },
      });
    } else {
      registry = await startRegistry({ name: `bench-${name}` });
    }
    const proxy = await startFaultProxy({ target: registry.url, latencyMs });
    const credentials = tokenServer ? BENCH_USER : undefined;
    const endpoint: RegistryEndpoint = credentials ? { host: registry.host, url: registry.url, credentials } : registry;
    return { name, registry, endpoint, proxy, host: proxy.host, credentials, tokenServer, tokenProxy };
  } catch (error) {
    await tokenProxy?.stop();
    await tokenServer?.stop();
    await registry?.stop();
    throw error;
  }
}

export async function stopSite(site: Site): Promise<void> {
  await site.proxy.stop();
  await site.registry.stop();
  await site.tokenProxy?.stop();
  await site.tokenServer?.stop();
}

export function resetCounts(site: Site): void {
  site.proxy.reset();
  site.tokenProxy?.reset();
}

/** `host → credentials` of the sites that need them, for the tools' auth files. */
export function logins(sites: Site[]): Record<string, RegistryCredentials> {
  return Object.fromEntries(sites.filter((s) => s.credentials).map((s) => [s.host, s.credentials!]));
}

/** Request counts summed over sites (registries and token servers), by kind. */
export function sumCounts(sites: Site[]): { total: number; byKind: Record<string, number> } {
  const byKind: Record<string, number> = {};
  let total = 0;
  for (const site of sites) {
    for (const proxy of [site.proxy, site.tokenProxy]) {
      if (!proxy) continue;
      const counts: FaultProxyCounts = proxy.counts();
      total += counts.total;
      for (const [kind, n] of Object.entries(counts.byKind)) byKind[kind] = (byKind[kind] ?? 0) + n;
    }
  }
  return { total, byKind };
}

/** One request of a run, as the proxies saw it: which site, what, and when (ms since the run was spawned). */
export interface TimedRequest {
  site: string;
  kind: string;
  status: number;
  startMs: number;
  endMs?: number;
}

/** Every request the sites' proxies (registries and token servers) saw, earliest first, timed from `originMs` (performance.now()). */
export function timeline(sites: Site[], originMs: number): TimedRequest[] {
  const out: TimedRequest[] = [];
  for (const site of sites) {
    for (const [proxy, name] of [
      [site.proxy, site.name],
      [site.tokenProxy, `${site.name} token`],
    ] as const) {
      for (const r of proxy?.requests() ?? [])
        out.push({
          site: name,
          kind: r.kind,
          status: r.status,
          startMs: r.startMs - originMs,
          ...(r.endMs !== undefined ? { endMs: r.endMs - originMs } : {}),
        });
    }
  }
  return out.sort((a, b) => a.startMs - b.startMs);
}

/** Requests that are about auth rather than the work: pings (GET /v2/), token requests, and requests answered 401. */
export function authRequests(sites: Site[]): number {
  let n = 0;
  for (const site of sites) {
    for (const proxy of [site.proxy, site.tokenProxy]) {
      for (const r of proxy?.requests() ?? []) if (/ (ping|token)$/.test(r.kind) || r.status === 401) n++;
    }
  }
  return n;
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  kernel: string;
  date: string;
  load: string;
}

export function machineInfo(): Machine {
  const list = cpus();
  let load = '';
  try {
    load = execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).split(' ').slice(0, 3).join(' ');
  } catch {
    load = 'unknown';
  }
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    kernel: release(),
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    load,
  };
}

/** `docker --version` and the like: first line of `command args`, or undefined when it fails. */
export function versionOf(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 })
      .split('\n')[0]
      .trim();
  } catch {
    return undefined;
  }
}
