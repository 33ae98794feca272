// Request statistics: every HTTP exchange (registry requests, token requests, their retries),
// by kind. A layer just outside the wire, so nothing can reach the network uncounted.
import type { RequestStats, Send } from './http.js';

export class RequestCounter {
  private readonly counters: RequestStats = { requests: 0, byKind: {}, retries: 0 };

  count(kind: string): void {
    this.counters.requests++;
    this.counters.byKind[kind] = (this.counters.byKind[kind] ?? 0) + 1;
  }

  retried(): void {
    this.counters.retries++;
  }

  stats(): RequestStats {
    return { requests: this.counters.requests, byKind: { ...this.counters.byKind }, retries: this.counters.retries };
  }
}

/**
 * Counts each exchange once it settled. A failed HTTPS probe (a registry that may speak plain
 * HTTP) never became an HTTP exchange, so it is not counted.
 */
export function counted(send: Send, counter: RequestCounter): Send {
  return async (exchange) => {
    try {
      const response = await send(exchange);
      counter.count(exchange.kind);
      return response;
    } catch (error) {
      if (!exchange.probe) counter.count(exchange.kind);
      throw error;
    }
  };
}
