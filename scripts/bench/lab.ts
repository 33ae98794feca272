// The bench's world: registries behind latency-injecting proxies ("sites"), and what the
// machine is. Every request any tool makes goes through a site's proxy, which counts it by
// kind: the same yardstick for us and every peer.
import { execFileSync } from 'node:child_process';
import { cpus, totalmem, release } from 'node:os';
import { startFaultProxy, type FaultProxy, type FaultProxyCounts } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';

export interface Site {
  name: string;
  registry: RunningRegistry;
  proxy: FaultProxy;
  /** `127.0.0.1:PORT` of the proxy: the registry part of every reference a tool is given */
  host: string;
}

export async function startSite(name: string, latencyMs: number): Promise<Site> {
  const registry = await startRegistry({ name: `bench-${name}` });
  try {
    const proxy = await startFaultProxy({ target: registry.url, latencyMs });
    return { name, registry, proxy, host: proxy.host };
  } catch (error) {
    await registry.stop();
    throw error;
  }
}

export async function stopSite(site: Site): Promise<void> {
  await site.proxy.stop();
  await site.registry.stop();
}

/** Request counts summed over sites, by kind. */
export function sumCounts(sites: Site[]): { total: number; byKind: Record<string, number> } {
  const byKind: Record<string, number> = {};
  let total = 0;
  for (const site of sites) {
    const counts: FaultProxyCounts = site.proxy.counts();
    total += counts.total;
    for (const [kind, n] of Object.entries(counts.byKind)) byKind[kind] = (byKind[kind] ?? 0) + n;
  }
  return { total, byKind };
}

/** Requests that are part of finding out about auth, not the work: pings and token requests. */
export function authRequests(byKind: Record<string, number>): number {
  return Object.entries(byKind)
    .filter(([kind]) => /\b(ping|token)$/.test(kind))
    .reduce((sum, [, n]) => sum + n, 0);
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
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).split('\n')[0].trim();
  } catch {
    return undefined;
  }
}
