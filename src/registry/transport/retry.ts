// Retries with the one deadline. An operation (one request and the reading of its body, or a
// whole streamed copy) runs again when it failed with a TransientError, after a capped
// exponential backoff with full jitter, or after the registry's Retry-After (capped too). No wait
// of any kind outlives the deadline: each exchange carries a signal that aborts at it.
import { setTimeout as sleep } from 'node:timers/promises';
import { TimeoutError, TransientError } from '../../base/errors.js';
import type { Logger } from '../../base/logger.js';
import type { RetryOptions } from './http.js';
import type { RequestCounter } from './stats.js';

/** Statuses worth another attempt: timeouts, rate limits, server and gateway errors. */
export const RETRYABLE_STATUS: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** setTimeout (and AbortSignal.timeout) overflow past 2^31-1 ms: a longer wait is no wait at all. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Milliseconds to wait from a Retry-After header (delta seconds or HTTP date), or undefined. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export interface RetrierOptions {
  retry: Required<RetryOptions>;
  /** absolute deadline (epoch ms) for every wait */
  deadline?: number;
  logger: Logger;
  counter: RequestCounter;
}

export class Retrier {
  constructor(private readonly options: RetrierOptions) {}

  /**
   * Runs `attempt` until it succeeds, fails for good, or attempts / time run out. Only
   * TransientError is retried (and unwrapped into its `final` error at the end); a sequence that
   * must restart as a whole (a streamed copy) throws it from anywhere inside `attempt`.
   * `wait` names what is being waited for in a timeout ('registry', 'token service').
   */
  async run<T>(what: string, attempt: (attemptNumber: number) => Promise<T>, wait = 'registry'): Promise<T> {
    const { maxAttempts, baseDelayMs, maxDelayMs } = this.options.retry;
    for (let n = 1; ; n++) {
      this.checkDeadline(what, wait);
      try {
        return await attempt(n);
      } catch (error) {
        if (!(error instanceof TransientError)) throw error;
        if (n >= maxAttempts) throw error.final;
        const backoff = Math.round(Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (n - 1)));
        const delay = error.retryAfterMs === undefined ? backoff : Math.min(error.retryAfterMs, maxDelayMs);
        const deadline = this.options.deadline;
        if (deadline !== undefined && Date.now() + delay >= deadline) {
          throw new TimeoutError(`${error.final.summary} (timed out: no time left to retry within the time budget)`, {
            ...error.final.facts,
            wait,
            cause: error.final,
          });
        }
        this.options.counter.retried();
        const why = error.retryAfterMs === undefined ? '' : ` (Retry-After ${Math.round(error.retryAfterMs / 1000)} s)`;
        this.options.logger.debug(`${what}: attempt ${n} of ${maxAttempts} failed: ${error.reason}; retrying in ${delay} ms${why}`);
        if (delay > 0) await sleep(delay);
      }
    }
  }

  checkDeadline(what: string, wait = 'registry'): void {
    const deadline = this.options.deadline;
    if (deadline !== undefined && Date.now() >= deadline) {
      throw new TimeoutError(`${what}: timed out: the time budget ran out before the request to the ${wait} could be made`, { wait });
    }
  }

  /** A signal that aborts at the deadline (for one exchange and the reading of its body), or undefined without one. */
  signal(): AbortSignal | undefined {
    const deadline = this.options.deadline;
    if (deadline === undefined) return undefined;
    return AbortSignal.timeout(Math.min(MAX_TIMER_MS, Math.max(1, deadline - Date.now())));
  }
}
