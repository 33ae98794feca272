// Waves: how many round trips a run waits for one after the other. From a proxy's log of when
// each request arrived and when its answer had been sent, a wave count is the length of the
// longest chain of requests in which each one arrived after the one before it had been answered:
// the critical path, counted in requests. A run that sends everything it can at once and waits
// only where the protocol makes it wait has as many waves as its dependency chain is long; one
// that waits for an answer it does not need (or for a free connection) has more. Counted from
// timestamps, never by dividing the wall time by the injected latency.

/** One request as a proxy saw it: arrival and end of its answer, in ms on one monotonic clock. */
export interface Timed {
  startMs: number;
  endMs?: number;
}

/**
 * How much earlier than the previous link's end a request may arrive and still count as waiting
 * for it: the proxy stamps the end when it hands the last bytes to the socket, the client sees
 * them a little later, so a dependent request never arrives before that stamp; the slack only
 * absorbs the clock's rounding.
 */
export const WAVE_EPSILON_MS = 0.5;

/** The longest chain of requests each arriving after the previous one ended, earliest first (requests still in flight are left out). */
export function criticalPath<T extends Timed>(requests: readonly T[], epsilonMs = WAVE_EPSILON_MS): T[] {
  const done = requests.filter((r): r is T & { endMs: number } => r.endMs !== undefined).sort((a, b) => a.startMs - b.startMs);
  // depth[i]: links of the longest chain ending with done[i]; before[i]: the link before it
  const depth: number[] = [];
  const before: number[] = [];
  for (let i = 0; i < done.length; i++) {
    depth[i] = 1;
    before[i] = -1;
    for (let j = 0; j < i; j++) {
      if (done[j].endMs <= done[i].startMs + epsilonMs && depth[j] + 1 > depth[i]) {
        depth[i] = depth[j] + 1;
        before[i] = j;
      }
    }
  }
  let last = -1;
  for (let i = 0; i < done.length; i++) if (last < 0 || depth[i] > depth[last]) last = i;
  const chain: T[] = [];
  for (let i = last; i >= 0; i = before[i]) chain.unshift(done[i]);
  return chain;
}

/** The number of waves: the length of the critical path (0 for no requests). */
export function countWaves(requests: readonly Timed[], epsilonMs = WAVE_EPSILON_MS): number {
  return criticalPath(requests, epsilonMs).length;
}

/**
 * Each request's wave: 1 + the longest chain of requests that ended before it arrived. Requests
 * of one wave went out together (or could have); the waterfall colours them alike.
 */
export function waveOf(requests: readonly Timed[], epsilonMs = WAVE_EPSILON_MS): number[] {
  const order = requests.map((_, i) => i).sort((a, b) => requests[a].startMs - requests[b].startMs);
  const wave = new Array<number>(requests.length).fill(0);
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    let w = 1;
    for (let m = 0; m < k; m++) {
      const j = order[m];
      const end = requests[j].endMs;
      if (end !== undefined && end <= requests[i].startMs + epsilonMs) w = Math.max(w, wave[j] + 1);
    }
    wave[i] = w;
  }
  return wave;
}
