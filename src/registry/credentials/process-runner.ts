// Runs a credential helper: node:child_process for both entries, each command in its own process
// group, so that the one deadline can kill a helper together with whatever it started (a shell
// script's `sleep`, a keychain prompt): killing only the direct child leaves a grandchild holding
// the pipes open. Its output is bounded, and its time too.
import { spawn } from 'node:child_process';
import { TimeoutError } from '../../base/errors.js';

export interface CommandRunner {
  /**
   * Runs `command args…` with `stdin`; rejects when the command cannot be started (e.g. not on
   * PATH), and with a TimeoutError (wait 'credential helper') when it runs past `timeoutMs`.
   */
  run(
    command: string,
    args: string[],
    stdin: string,
    options?: { timeoutMs?: number },
  ): Promise<{ exitCode: number; stdout: string; stderr: string }>;
}

/** A helper's own limit, within the run's deadline: helpers answer in well under a second. */
const HELPER_TIMEOUT_MS = 60_000;
const MAX_HELPER_OUTPUT = 1024 * 1024;

/** Kills the process group led by `pid` (the helper and everything it started); the child alone where groups do not exist. */
function killGroup(child: ReturnType<typeof spawn>): void {
  try {
    if (process.platform !== 'win32' && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    else child.kill('SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * A CommandRunner on node:child_process `spawn`, with `env` (default: this process's
 * environment, read at each run) deciding PATH. Each command leads its own process group
 * (`detached`), killed whole when it runs over its time.
 */
export function createChildProcessRunner(env?: NodeJS.ProcessEnv, timeoutMs = HELPER_TIMEOUT_MS): CommandRunner {
  return {
    run(command, args, stdin, options = {}) {
      const limitMs = Math.max(0, Math.min(options.timeoutMs ?? timeoutMs, timeoutMs));
      return new Promise((resolve, reject) => {
        const child = spawn(command, args, { env: env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true, detached: true });
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        let outSize = 0;
        let settled = false;
        const collect = (into: Buffer[]) => (chunk: Buffer) => {
          outSize += chunk.length;
          if (outSize <= MAX_HELPER_OUTPUT) into.push(chunk);
        };
        const timer = setTimeout(() => {
          if (settled) return;
          settled = true;
          killGroup(child);
          reject(new TimeoutError(`${command} timed out: no answer within ${formatSeconds(limitMs)}`, { wait: 'credential helper' }));
        }, limitMs);
        child.stdout.on('data', collect(stdout));
        child.stderr.on('data', collect(stderr));
        // a helper that exits without reading stdin makes the write fail with EPIPE: not our error
        child.stdin.on('error', () => undefined);
        child.on('error', (error) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          reject(error);
        });
        child.on('close', (code, signal) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({
            exitCode: code ?? (signal ? 128 : 1),
            stdout: Buffer.concat(stdout).toString('utf8'),
            stderr: Buffer.concat(stderr).toString('utf8'),
          });
        });
        child.stdin.end(stdin);
      });
    },
  };
}

/** `250 ms`, `1.5 s`: a run's duration, for messages. */
export function formatSeconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}

/** node:child_process spawn based runner on this process's environment. */
export const childProcessRunner: CommandRunner = createChildProcessRunner();
