// Processes a test started indirectly (a credential helper and what it spawned): are they gone?
import { readFileSync } from 'node:fs';

/** Alive and not a zombie (a killed child whose parent died is a zombie until init reaps it). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The processes of `pids` still alive after waiting up to `withinMs` for them to die. */
export async function waitUntilDead(pids: number[], withinMs: number): Promise<number[]> {
  const until = Date.now() + withinMs;
  let alive = pids.filter(isAlive);
  while (alive.length > 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    alive = alive.filter(isAlive);
  }
  return alive;
}
