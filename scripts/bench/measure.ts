// Runs a tool's commands as a user would, one after the other, and measures the whole:
// wall time from the first spawn to the last exit, and peak RSS of the largest process
// (GNU time's %M, the kernel's ru_maxrss; without /usr/bin/time, /proc/<pid>/status VmHWM
// polled every 5 ms).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findOnPath } from '../support/registry.js';

export interface Step {
  command: string;
  args: string[];
}

export interface StepsOptions {
  env?: NodeJS.ProcessEnv;
  /**
   * Give containers/image tools (buildah, skopeo) an empty blob-info cache, as on a fresh CI
   * runner: run the steps in a private mount namespace with a tmpfs over
   * /var/lib/containers/cache. Without it, runs 2..n would mount blobs that run 1 copied.
   */
  freshContainersCache?: boolean;
  /** kill after this long (default 10 min) */
  timeoutMs?: number;
}

export interface Measurement {
  wallMs: number;
  /** when the first command was spawned, on this process's `performance.now()` clock (the proxies' clock) */
  startedMs: number;
  /** peak RSS of the largest process, in KiB */
  peakRssKiB: number;
  exitCode: number;
  /** last 4 KiB of stderr */
  stderr: string;
  stdout: string;
}

const CONTAINERS_CACHE = '/var/lib/containers/cache';

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

let isolation: boolean | undefined;

/** Whether a private mount namespace with a tmpfs works here (root, util-linux unshare). */
async function canIsolate(): Promise<boolean> {
  if (isolation !== undefined) return isolation;
  const unshare = findOnPath('unshare');
  if (!unshare || typeof process.getuid !== 'function' || process.getuid() !== 0) return (isolation = false);
  const probe = await spawnCollect(
    unshare,
    ['-m', 'sh', '-c', `mkdir -p ${CONTAINERS_CACHE} && mount -t tmpfs tmpfs ${CONTAINERS_CACHE}`],
    process.env,
    10_000,
  );
  return (isolation = probe.exitCode === 0);
}

export async function containersCacheIsolation(): Promise<boolean> {
  return canIsolate();
}

function spawnCollect(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  onPid?: (pid: number) => void,
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout = (stdout + chunk.toString('utf8')).slice(-4096);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4096);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    if (child.pid !== undefined) onPid?.(child.pid);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ exitCode: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/** Runs `steps` in order (stopping at the first failure) and measures them as one job. */
export async function measureSteps(steps: Step[], options: StepsOptions = {}): Promise<Measurement> {
  const env = options.env ?? process.env;
  const timeoutMs = options.timeoutMs ?? 600_000;
  const time = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
  const isolate = options.freshContainersCache === true && (await canIsolate());
  if (!time) {
    if (isolate) throw new Error('bench: isolating the containers cache needs /usr/bin/time (apt-get install time)');
    return measureByPolling(steps, env, timeoutMs);
  }
  const dir = await mkdtemp(join(tmpdir(), 'mm-bench-step-'));
  try {
    const lines = ['set -e'];
    if (isolate) lines.push(`mount -t tmpfs tmpfs ${CONTAINERS_CACHE}`);
    steps.forEach((step, i) =>
      lines.push([time, '-f', '%M', '-o', join(dir, `rss.${i}`), step.command, ...step.args].map(quote).join(' ')),
    );
    const script = join(dir, 'steps.sh');
    await writeFile(script, `${lines.join('\n')}\n`);
    const [command, args] = isolate ? ['unshare', ['-m', 'sh', script]] : ['sh', [script]];
    const started = performance.now();
    const run = await spawnCollect(command, args, env, timeoutMs);
    const wallMs = performance.now() - started;
    let peakRssKiB = 0;
    for (let i = 0; i < steps.length; i++) {
      try {
        // GNU time writes "Command exited with non-zero status N" before the value on failure
        const text = await readFile(join(dir, `rss.${i}`), 'utf8');
        const value = Number(text.trim().split('\n').pop());
        if (Number.isFinite(value)) peakRssKiB = Math.max(peakRssKiB, value);
      } catch {
        // the step did not run
      }
    }
    return { wallMs, startedMs: started, peakRssKiB, exitCode: run.exitCode, stderr: run.stderr, stdout: run.stdout };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function measureByPolling(steps: Step[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Measurement> {
  const started = performance.now();
  let peakRssKiB = 0;
  let last = { exitCode: 0, stdout: '', stderr: '' };
  for (const step of steps) {
    let timer: NodeJS.Timeout | undefined;
    const poll = (pid: number) => {
      const read = async () => {
        try {
          const status = await readFile(`/proc/${pid}/status`, 'utf8');
          const hwm = /VmHWM:\s+(\d+)/.exec(status)?.[1];
          if (hwm) peakRssKiB = Math.max(peakRssKiB, Number(hwm));
        } catch {
          // exited
        }
      };
      timer = setInterval(() => void read(), 5);
      void read();
    };
    last = await spawnCollect(step.command, step.args, env, timeoutMs, poll);
    clearInterval(timer);
    if (last.exitCode !== 0) break;
  }
  return { wallMs: performance.now() - started, startedMs: started, peakRssKiB, ...last };
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
