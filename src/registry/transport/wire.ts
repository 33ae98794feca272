// The innermost layer: one HTTP exchange through undici. The only module that imports undici's
// runtime (others import its types at most). One keep-alive Agent with bounded connections per
// origin, and a second one without certificate checks for hosts the insecure policy allows.
import { Agent, type Dispatcher } from 'undici';
import type { Exchange, ResponseBody, WireResponse } from './http.js';

export interface WireOptions {
  /** injected dispatcher (tests: a MockAgent); not closed by us */
  dispatcher?: Dispatcher;
  connectionsPerOrigin: number;
  /** headers and idle-body timeout of one exchange */
  requestTimeoutMs: number;
}

export class Wire {
  private readonly dispatcher: Dispatcher;
  private readonly ownAgent?: Agent;
  private insecureAgent?: Agent;
  private closed = false;

  constructor(private readonly options: WireOptions) {
    if (options.dispatcher) {
      this.dispatcher = options.dispatcher;
    } else {
      this.ownAgent = new Agent({
        connections: options.connectionsPerOrigin,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 120_000,
        headersTimeout: options.requestTimeoutMs,
        bodyTimeout: options.requestTimeoutMs,
      });
      this.dispatcher = this.ownAgent;
    }
  }

  readonly send = async (exchange: Exchange): Promise<WireResponse> => {
    const url = new URL(exchange.url);
    const data = await this.dispatcherFor(exchange, url).request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: exchange.method,
      headers: exchange.headers,
      body: exchange.body,
      headersTimeout: this.options.requestTimeoutMs,
      bodyTimeout: this.options.requestTimeoutMs,
      signal: exchange.signal,
    });
    return { status: data.statusCode, headers: data.headers, body: data.body as ResponseBody };
  };

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.ownAgent?.close(), this.insecureAgent?.close()]);
  }

  private dispatcherFor(exchange: Exchange, url: URL): Dispatcher {
    // Hosts the user calls insecure (and loopback ones) are spoken to the way docker does: TLS
    // without certificate verification, when we own the connection pool.
    if (!this.ownAgent || url.protocol !== 'https:' || !exchange.insecureTls) return this.dispatcher;
    this.insecureAgent ??= new Agent({
      connections: this.options.connectionsPerOrigin,
      keepAliveTimeout: 30_000,
      headersTimeout: this.options.requestTimeoutMs,
      bodyTimeout: this.options.requestTimeoutMs,
      // nothing is verified here, so no CA store either (loading Node's roots costs ~10-20 ms of start-up)
      connect: { rejectUnauthorized: false, ca: [] },
    });
    return this.insecureAgent;
  }
}
