// A fault-injecting HTTP proxy in front of a registry (or any HTTP origin) for tests and
// benchmarks: added latency per request, and rules that answer with a status (429 with
// Retry-After, 5xx), reset the connection, truncate or alter a response body, or delay.
// Bodies stream through both ways (blob uploads and downloads are never buffered), and
// `Location` headers that point at the target are rewritten to point at the proxy.
import {
  createServer,
  request as httpRequest,
  Agent,
  type IncomingMessage,
  type ServerResponse,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export type Fault =
  | { kind: 'status'; status: number; retryAfter?: string; body?: string; headers?: Record<string, string> }
  | { kind: 'reset' }
  /** the first `bytes` of the body, then FIN (or, with `reset`, an RST: a connection reset mid-body) */
  | { kind: 'truncate'; bytes: number; reset?: boolean }
  | { kind: 'alter' }
  | { kind: 'delay'; ms: number };

export interface FaultRule {
  /** HTTP method to match (case-insensitive); any when absent */
  method?: string;
  /** tested against the request path with query (`/v2/acme/app/manifests/latest`) */
  path?: RegExp;
  /** request kind as counted (`GET manifest`, `POST mount`, …); any when absent */
  requestKind?: string;
  /** how many times the rule fires (default: unlimited) */
  times?: number;
  /** chance that a matching request fires the rule (default 1) */
  probability?: number;
  fault: Fault;
}

export interface ProxiedRequest {
  method: string;
  path: string;
  kind: string;
  /** status sent to the client (0 for a reset or a failed upstream) */
  status: number;
  /** fault kind applied, if any ('quirk': a personality answered) */
  fault?: Fault['kind'] | 'quirk';
  at: number;
  /** when it arrived, in ms on this process's monotonic clock (`performance.now()`): comparable across proxies of one process */
  startMs: number;
  /** when its response was sent whole or its connection closed, same clock; undefined while in flight */
  endMs?: number;
}

export interface FaultProxyCounts {
  total: number;
  byKind: Record<string, number>;
  /** requests that a rule fired on, by fault kind */
  faults: Record<string, number>;
}

export interface FaultProxy {
  /** `127.0.0.1:PORT`: use as the registry part of image references */
  host: string;
  /** `http://127.0.0.1:PORT` */
  url: string;
  counts(): FaultProxyCounts;
  /** every request since start or the last reset, in arrival order */
  requests(): ProxiedRequest[];
  /** zeroes counts and the request log (rules keep their remaining `times`) */
  reset(): void;
  setRules(rules: FaultRule[]): void;
  setLatency(ms: number): void;
  stop(): Promise<void>;
}

/** One request as a personality (quirks-proxy.ts) sees it. */
export interface ProxyExchange {
  method: string;
  /** path with query */
  path: string;
  kind: string;
  headers: IncomingHttpHeaders;
  /** the whole request body, read only for the kinds `readsBody` names (manifest PUTs: small) */
  body?: Buffer;
  /** the registry's origin, for a personality that asks it something itself */
  target: string;
}

/** A personality's own answer, sent instead of the registry's. */
export interface QuirkAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * A registry "personality": how a registry users push to differs from distribution, emulated
 * in front of the real one. Hooks run when a request arrives (before any fault rule) and on the
 * response headers.
 */
export interface Personality {
  /** request kinds whose body the proxy reads whole before calling `request` */
  readsBody?(kind: string): boolean;
  /** answer instead of the registry, or forward to another path (e.g. a mount without its query) */
  request?(exchange: ProxyExchange): Promise<QuirkAnswer | { path: string } | undefined> | QuirkAnswer | { path: string } | undefined;
  /** the response headers the client gets (after Location rewriting) */
  responseHeaders?(exchange: ProxyExchange, status: number, headers: OutgoingHttpHeaders): OutgoingHttpHeaders;
}

export interface StartFaultProxyOptions {
  /** a registry personality layered over the real registry (scripts/support/quirks-proxy.ts) */
  personality?: Personality;
  /**
   * the origin clients reach the proxy by (default its loopback URL): `Location` headers are
   * rewritten to it, e.g. `http://registry-1.docker.io` when a test maps that name to loopback
   */
  publicOrigin?: string;
  /** origin to forward to, e.g. a registry's `url` */
  target: string;
  /** added before forwarding each request (default 0) */
  latencyMs?: number;
  rules?: FaultRule[];
  /** source of the numbers `probability` is tested against (default Math.random); pass a seeded generator for repeatable runs */
  random?: () => number;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
]);

/** `GET manifest`, `HEAD blob`, `POST upload`, `POST mount`, `PATCH upload`, `PUT upload`, `GET ping`, `GET tags`, `GET token`, … */
export function classifyRequest(method: string, path: string): string {
  const m = method.toUpperCase();
  const [pathname, query = ''] = path.split('?', 2);
  if (pathname === '/v2' || pathname === '/v2/') return `${m} ping`;
  if (pathname === '/v2/_catalog') return `${m} catalog`;
  if (/^\/v2\/.+\/manifests\/[^/]+$/.test(pathname)) return `${m} manifest`;
  if (/^\/v2\/.+\/blobs\/uploads\/?/.test(pathname)) {
    if (m === 'POST' && /(^|&)mount=/.test(query)) return 'POST mount';
    return `${m} upload`;
  }
  if (/^\/v2\/.+\/blobs\/[^/]+$/.test(pathname)) return `${m} blob`;
  if (/^\/v2\/.+\/tags\/list$/.test(pathname)) return `${m} tags`;
  if (/^\/v2\/.+\/referrers\/[^/]+$/.test(pathname)) return `${m} referrers`;
  if (/\/token$/.test(pathname)) return `${m} token`;
  return `${m} other`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Sends the first `limit` bytes of `response` (headers as received, so Content-Length
 * still promises the whole body), then closes the connection once they are flushed:
 * the client sees a body cut short. A body shorter than `limit` goes through whole.
 */
function truncateInto(response: IncomingMessage, res: ServerResponse, limit: number, reset = false): Promise<void> {
  return new Promise<void>((resolve) => {
    let sent = 0;
    let cut = false;
    const close = () => {
      if (cut) return;
      cut = true;
      response.destroy();
      if (!res.headersSent) res.flushHeaders();
      // end() flushes what was queued, then sends FIN (not RST): the bytes arrive, the rest never does;
      // with `reset`, an RST once the queued bytes are flushed (ECONNRESET mid-body)
      const socket = res.socket;
      if (reset && socket) socket.write('', () => socket.resetAndDestroy());
      else socket?.end();
      resolve();
    };
    if (limit <= 0) return close();
    response.on('data', (chunk: Buffer) => {
      if (cut) return;
      const part = chunk.length > limit - sent ? chunk.subarray(0, limit - sent) : chunk;
      sent += part.length;
      const flowing = res.write(part);
      if (sent >= limit) return close();
      if (!flowing) {
        response.pause();
        res.once('drain', () => response.resume());
      }
    });
    response.once('end', () => {
      if (!cut) res.end(() => resolve());
    });
    response.once('error', () => {
      if (!cut) {
        res.destroy();
        resolve();
      }
    });
  });
}

/**
 * Changes one byte of the body, keeping its length: inside JSON the hex digit after the
 * first `sha256:` (the document stays valid JSON but no longer matches its digest, and
 * names a blob that does not exist); otherwise the middle byte of the first chunk.
 */
class Alter extends Transform {
  private done = false;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (!this.done && chunk.length > 0) {
      const copy = Buffer.from(chunk);
      const at = copy.indexOf('sha256:');
      if (at >= 0 && at + 7 < copy.length) {
        const i = at + 7;
        copy[i] = copy[i] === 0x30 ? 0x31 : 0x30; // '0' <-> '1' (or anything -> '0')
      } else {
        const i = Math.floor(copy.length / 2);
        copy[i] ^= 0x01;
      }
      this.done = true;
      this.push(copy);
      return callback();
    }
    this.push(chunk);
    callback();
  }
}

/** Starts the proxy on a free loopback port. */
export async function startFaultProxy(options: StartFaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  if (target.protocol !== 'http:') throw new Error(`fault proxy: only http targets are supported, got ${options.target}`);
  const targetOrigin = target.origin;
  let latencyMs = options.latencyMs ?? 0;
  const random = options.random ?? Math.random;
  let rules: Array<FaultRule & { remaining: number }> = [];
  const setRules = (next: FaultRule[]) => {
    rules = next.map((r) => ({ ...r, remaining: r.times ?? Number.POSITIVE_INFINITY }));
  };
  setRules(options.rules ?? []);
  let log: ProxiedRequest[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const sockets = new Set<Socket>();
  let proxyOrigin = '';

  function pickFault(method: string, path: string, kind: string): Fault | undefined {
    for (const rule of rules) {
      if (rule.remaining <= 0) continue;
      if (rule.method && rule.method.toUpperCase() !== method) continue;
      if (rule.requestKind && rule.requestKind !== kind) continue;
      if (rule.path && !rule.path.test(path)) continue;
      if (rule.probability !== undefined && random() >= rule.probability) continue;
      rule.remaining -= 1;
      return rule.fault;
    }
    return undefined;
  }

  function rewriteLocation(value: string): string {
    if (value.startsWith(targetOrigin)) return proxyOrigin + value.slice(targetOrigin.length);
    return value;
  }

  function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
    const out: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined || HOP_BY_HOP.has(name)) continue;
      out[name] = name === 'location' && typeof value === 'string' ? rewriteLocation(value) : value;
    }
    return out;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    let path = req.url ?? '/';
    const kind = classifyRequest(method, path);
    const entry: ProxiedRequest = { method, path, kind, status: 0, at: Date.now(), startMs: performance.now() };
    log.push(entry);
    res.once('close', () => {
      entry.endMs ??= performance.now();
    });
    if (latencyMs > 0) await sleep(latencyMs);
    const personality = options.personality;
    const exchange: ProxyExchange = { method, path, kind, headers: req.headers, target: targetOrigin };
    if (personality?.readsBody?.(kind)) {
      const chunks: Buffer[] = [];
      for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
      exchange.body = Buffer.concat(chunks);
    }
    const quirk = await personality?.request?.(exchange);
    if (quirk && 'status' in quirk) {
      if (!exchange.body) req.resume();
      entry.status = quirk.status;
      entry.fault = 'quirk';
      const body = quirk.body ?? '';
      res.writeHead(quirk.status, {
        'content-length': Buffer.byteLength(body),
        ...(body ? { 'content-type': 'application/json' } : {}),
        ...(quirk.headers ?? {}),
      });
      res.end(method === 'HEAD' ? undefined : body);
      return;
    }
    if (quirk) path = quirk.path;
    const fault = pickFault(method, path, kind);
    if (fault) entry.fault = fault.kind;

    if (fault?.kind === 'status') {
      req.resume(); // drain the upload so the client sees the answer, not EPIPE
      const body =
        fault.body ??
        JSON.stringify({
          errors: [{ code: fault.status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE', message: `injected ${fault.status}`, detail: null }],
        });
      const headers: OutgoingHttpHeaders = {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        ...(fault.headers ?? {}),
      };
      if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
      entry.status = fault.status;
      res.writeHead(fault.status, headers);
      res.end(method === 'HEAD' ? undefined : body);
      return;
    }
    if (fault?.kind === 'reset') {
      req.socket.resetAndDestroy();
      return;
    }
    if (fault?.kind === 'delay') await sleep(fault.ms);

    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || HOP_BY_HOP.has(name)) continue;
      headers[name] = value;
    }
    headers.host = target.host;
    const upstream = httpRequest({ protocol: target.protocol, hostname: target.hostname, port: target.port, method, path, headers, agent });
    const answered = new Promise<IncomingMessage>((resolve, reject) => {
      upstream.once('response', resolve);
      upstream.once('error', reject);
    });
    // Stream the request body up (never buffered, except what a personality read); a client abort aborts the upstream request.
    const uploaded = exchange.body
      ? new Promise<void>((resolve) => upstream.end(exchange.body, () => resolve()))
      : pipeline(req, upstream).catch(() => undefined);
    let response: IncomingMessage;
    try {
      response = await answered;
    } catch (error) {
      await uploaded;
      entry.status = 502;
      if (!res.headersSent) {
        const body = JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: `fault proxy: upstream failed: ${String(error)}` }] });
        res.writeHead(502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      } else res.destroy();
      return;
    }
    entry.status = response.statusCode ?? 0;
    let headersOut = responseHeaders(response.headers);
    if (personality?.responseHeaders) headersOut = personality.responseHeaders(exchange, response.statusCode ?? 502, headersOut);
    res.writeHead(response.statusCode ?? 502, response.statusMessage, headersOut);
    const hasBody = method !== 'HEAD' && response.statusCode !== 204 && response.statusCode !== 304;
    if (fault?.kind === 'truncate' && hasBody) {
      await truncateInto(response, res, fault.bytes, fault.reset);
      return;
    }
    if (fault?.kind === 'alter' && hasBody) {
      await pipeline(response, new Alter(), res).catch(() => undefined);
      return;
    }
    await pipeline(response, res).catch(() => undefined);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`fault proxy: ${String(error)}`);
      } else res.destroy();
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  server.unref();
  const port = (server.address() as AddressInfo).port;
  const host = `127.0.0.1:${port}`;
  proxyOrigin = options.publicOrigin ?? `http://${host}`;
  let stopped: Promise<void> | undefined;

  return {
    host,
    url: `http://${host}`,
    counts: () => {
      const byKind: Record<string, number> = {};
      const faults: Record<string, number> = {};
      for (const r of log) {
        byKind[r.kind] = (byKind[r.kind] ?? 0) + 1;
        if (r.fault) faults[r.fault] = (faults[r.fault] ?? 0) + 1;
      }
      return { total: log.length, byKind, faults };
    },
    requests: () => [...log],
    reset: () => {
      log = [];
    },
    setRules,
    setLatency: (ms: number) => {
      latencyMs = ms;
    },
    stop: () => {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        agent.destroy();
      });
      return stopped;
    },
  };
}
