// The registry client's transport: one logical request at a time, with scheme choice
// (HTTPS, or plain HTTP for loopback / insecure registries), the auth dance (401 →
// challenge → token → one retry), redirects, status checks with the registry's own
// error codes, and the retry loop (capped exponential backoff with full jitter).
import { STATUS_CODES } from 'node:http';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, type Dispatcher } from 'undici';
import {
  HttpError,
  ManifestMergeError,
  NetworkError,
  TimeoutError,
  errorCodeForStatus,
  type RegistryErrorDetail,
} from '../errors.js';
import type { Logger } from '../logger.js';
import { isLoopbackRegistry, registryApiHost } from '../hosts.js';
import type { CredentialProvider, RequestStats, RetryOptions, Scope } from './types.js';

export type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH';

/** The part of RegistryAuth (auth.ts) the transport uses. */
export interface Authorizer {
  declareScopes(registry: string, scopes: Scope[]): void;
  cachedAuthorization(registry: string, scopes: Scope[]): string | undefined;
  /** `sentAuthorization`: the header the refused request carried (so a rejected token is never reused) */
  authorize(registry: string, wwwAuthenticate: string, scopes: Scope[], sentAuthorization?: string): Promise<string | undefined>;
  /** where the credentials answering `registry`'s challenges came from; undefined while anonymous */
  credentialSource?(registry: string): string | undefined;
}

export interface HttpRequest {
  registry: string;
  method: Method;
  /** a `/v2/…` path (with query) on the registry, or an absolute URL (an upload Location) */
  target: string;
  /** stats key, e.g. "GET manifest" */
  kind: string;
  scopes: Scope[];
  /** what the request is about, for messages: "Manifest ghcr.io/acme/app:1.0" */
  what: string;
  /** statuses the caller handles; any other is an error (retried when transient) */
  expect: number[];
  headers?: Record<string, string>;
  body?: Buffer | string | Readable;
  /** follow 30x (GET / HEAD of blobs), dropping Authorization on another origin */
  followRedirects?: boolean;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  /** final URL (after redirects) */
  url: string;
  method: Method;
  /** aborts at the deadline; also covers reading the body */
  signal?: AbortSignal;
}

/**
 * A failure worth another attempt. Only ever thrown inside `retrying`, which unwraps it
 * into `final` once attempts or time run out.
 */
export class Transient extends Error {
  constructor(
    readonly final: ManifestMergeError,
    readonly reason: string,
    readonly retryAfterMs?: number,
  ) {
    super(final.message);
    this.name = 'Transient';
  }
}

export interface TransportOptions {
  /** builds the authorizer; it reports each token request through `onRequest` ("GET token", "POST token") for the stats */
  createAuth: (dispatcher: Dispatcher, onRequest: (kind: string) => void) => Authorizer;
  credentials: CredentialProvider;
  logger: Logger;
  insecureRegistries: string[];
  /** injected dispatcher (not closed by us); else we own an Agent */
  dispatcher?: Dispatcher;
  connectionsPerOrigin: number;
  retry: Required<RetryOptions>;
  requestTimeoutMs: number;
  deadline?: number;
  userAgent: string;
}

/** What to do when the overall time budget runs out (every TimeoutError carries it). */
export const TIME_BUDGET_HINT =
  'The step must finish within its time budget (input `timeout`, CLI --timeout; default 10m). Check the registry\'s status page and retry later, or raise the budget';

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
const ERROR_BODY_LIMIT = 64 * 1024;
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

interface RegistryState {
  scheme?: 'https' | 'http';
  /** a first request got an answer: the auth challenge (if any) is known */
  ready: boolean;
  /** the first request in flight; others wait for it */
  pioneer?: Promise<void>;
  /** lets the waiters go as soon as the pioneer holds an Authorization (before its retry is answered) */
  release?: () => void;
  /** no credentials are configured for this registry: nothing to queue behind the pioneer for */
  anonymous?: Promise<boolean>;
  /** an HTTPS attempt in flight on a registry that may speak plain HTTP; settles once it got an answer or failed */
  probe?: Promise<void>;
  /** that attempt failed: requests made meanwhile go straight to plain HTTP */
  httpsFailed?: boolean;
  /** the registry refused a monolithic upload once: go chunked from now on */
  chunkedUploads: boolean;
}

export function headerValue(headers: HttpResponse['headers'], name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

function errorCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 3; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export function isTransientNetworkError(error: unknown): boolean {
  const code = errorCode(error);
  if (code && TRANSIENT_CODES.has(code)) return true;
  const message = error instanceof Error ? error.message : '';
  return /socket hang up|other side closed|premature close/i.test(message);
}

function reasonOf(error: unknown): string {
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

/** URL for messages and logs: no user info, signed query parameters (object storage, upload state) elided. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  const base = `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  if (!parsed.search) return base;
  const query = parsed.search
    .slice(1)
    .split('&')
    .map((pair) => {
      const name = pair.split('=')[0];
      return /sig|token|credential|key|auth|secret|state|policy|password/i.test(decodeURIComponent(name)) ? `${name}=REDACTED` : pair;
    })
    .join('&');
  return `${base}?${query}`;
}

/** Appends `name=value` to a URL whose query may already exist, without re-encoding what is there. */
export function appendQuery(url: string, name: string, value: string): string {
  const hash = url.indexOf('#');
  const base = hash >= 0 ? url.slice(0, hash) : url;
  const separator = base.includes('?') ? (base.endsWith('?') || base.endsWith('&') ? '' : '&') : '?';
  return `${base}${separator}${name}=${encodeURIComponent(value)}`;
}

/** Milliseconds to wait from a Retry-After header (delta seconds or HTTP date), or undefined. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Parses a distribution `{"errors":[{code,message,detail}]}` body; anything else gives []. */
export function parseRegistryErrors(text: string): RegistryErrorDetail[] {
  try {
    const body: unknown = JSON.parse(text);
    const errors = (body as { errors?: unknown }).errors;
    if (!Array.isArray(errors)) return [];
    return errors
      .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string')
      .map((e) => {
        const detail: RegistryErrorDetail = { code: e.code as string };
        if (typeof e.message === 'string') detail.message = e.message;
        if (e.detail !== undefined) detail.detail = e.detail;
        return detail;
      });
  } catch {
    return [];
  }
}

/** Discards a body we do not need, so the connection can be reused. */
export async function discard(response: HttpResponse): Promise<void> {
  try {
    await response.body.dump({ limit: ERROR_BODY_LIMIT });
  } catch {
    // a body we throw away may fail; nothing to report
  }
}

export class RegistryTransport {
  readonly auth: Authorizer;
  private readonly options: TransportOptions;
  private readonly dispatcher: Dispatcher;
  private readonly ownAgent?: Agent;
  private insecureAgent?: Agent;
  private closed = false;
  private readonly registries = new Map<string, RegistryState>();
  private readonly counters: RequestStats = { requests: 0, byKind: {}, retries: 0 };

  constructor(options: TransportOptions) {
    this.options = options;
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
    this.auth = options.createAuth(this.dispatcher, (kind) => this.count(kind));
  }

  stats(): RequestStats {
    return { requests: this.counters.requests, byKind: { ...this.counters.byKind }, retries: this.counters.retries };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.ownAgent?.close(), this.insecureAgent?.close()]);
  }

  state(registry: string): RegistryState {
    let state = this.registries.get(registry);
    if (!state) {
      state = { ready: false, chunkedUploads: false };
      this.registries.set(registry, state);
    }
    return state;
  }

  /** Whether `registry` may be spoken to over plain HTTP (loopback, or listed insecure as host[:port], scheme and path ignored). */
  mayUsePlainHttp(registry: string): boolean {
    if (isLoopbackRegistry(registry)) return true;
    const wanted = registry.toLowerCase();
    return this.options.insecureRegistries.some((entry) => {
      const host = entry.trim().toLowerCase().replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
      return host === wanted || (!host.includes(':') && wanted.startsWith(`${host}:`));
    });
  }

  /** `https://host` (or `http://host` once a plain-HTTP registry was found to speak only that). */
  origin(registry: string): string {
    return `${this.state(registry).scheme ?? 'https'}://${registryApiHost(registry)}`;
  }

  /** Resolves a Location header against the URL it came with. */
  resolve(location: string, base: string): string {
    return new URL(location, base).href;
  }

  /**
   * Runs `attempt` until it succeeds, fails for good, or attempts / time run out. Only `Transient`
   * failures are retried; a request that must restart a longer sequence (a streamed copy) throws
   * `Transient` from anywhere inside `attempt`, and the whole sequence runs again.
   */
  async retrying<T>(what: string, attempt: (attemptNumber: number) => Promise<T>): Promise<T> {
    const { maxAttempts, baseDelayMs, maxDelayMs } = this.options.retry;
    for (let n = 1; ; n++) {
      this.checkDeadline(what);
      try {
        return await attempt(n);
      } catch (error) {
        if (!(error instanceof Transient)) throw error;
        if (n >= maxAttempts) throw error.final;
        const backoff = Math.round(Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (n - 1)));
        const delay = error.retryAfterMs === undefined ? backoff : Math.min(error.retryAfterMs, maxDelayMs);
        const deadline = this.options.deadline;
        if (deadline !== undefined && Date.now() + delay >= deadline) {
          throw new TimeoutError(`${error.final.message} (no time left to retry within the time budget)`, { cause: error.final, hint: TIME_BUDGET_HINT });
        }
        this.counters.retries++;
        const why = error.retryAfterMs === undefined ? '' : ` (Retry-After ${Math.round(error.retryAfterMs / 1000)} s)`;
        this.options.logger.debug(`${what}: attempt ${n} of ${maxAttempts} failed: ${error.reason}; retrying in ${delay} ms${why}`);
        if (delay > 0) await sleep(delay);
      }
    }
  }

  private checkDeadline(what: string): void {
    const deadline = this.options.deadline;
    if (deadline !== undefined && Date.now() >= deadline) {
      throw new TimeoutError(`${what}: the time budget ran out before the request could be made`, { hint: TIME_BUDGET_HINT });
    }
  }

  /**
   * One logical request: waits for the registry's first request if one is in flight (so the auth
   * challenge is learnt once), then sends with auth, redirects and the status check. Throws
   * `Transient` for what is worth retrying, a ManifestMergeError for the rest.
   */
  async request(req: HttpRequest): Promise<HttpResponse> {
    const state = this.state(req.registry);
    while (!state.ready && state.pioneer) {
      // Without credentials there is no token to wait for: go now. A registry that wants one anyway
      // answers each request 401 and auth.ts fetches a single anonymous token for them all.
      state.anonymous ??= this.options.credentials.credentialsFor(req.registry).then(
        (credentials) => credentials === undefined,
        () => false,
      );
      const pioneer = state.pioneer.then(() => false);
      if (await Promise.race([pioneer, state.anonymous.then((anonymous) => anonymous || pioneer)])) return this.send(req);
    }
    if (state.ready) return this.send(req);
    let release: () => void = () => undefined;
    state.pioneer = new Promise<void>((resolve) => (release = resolve));
    state.release = () => {
      state.ready = true;
      release();
    };
    try {
      const response = await this.send(req);
      state.ready = true;
      return response;
    } catch (error) {
      const final = error instanceof Transient ? error.final : error;
      if (final instanceof HttpError) state.ready = true;
      throw error;
    } finally {
      state.pioneer = undefined;
      state.release = undefined;
      release();
    }
  }

  private count(kind: string, delta = 1): void {
    this.counters.requests += delta;
    this.counters.byKind[kind] = (this.counters.byKind[kind] ?? 0) + delta;
    if (this.counters.byKind[kind] === 0) delete this.counters.byKind[kind];
  }

  private async send(req: HttpRequest): Promise<HttpResponse> {
    this.checkDeadline(req.what);
    const deadline = this.options.deadline;
    const signal = deadline === undefined ? undefined : AbortSignal.timeout(Math.max(1, deadline - Date.now()));
    const replayable = req.body === undefined || typeof req.body === 'string' || Buffer.isBuffer(req.body);

    let url = /^https?:\/\//i.test(req.target) ? req.target : `${this.origin(req.registry)}${req.target}`;
    let authorization = this.isRegistryOrigin(req.registry, url) ? this.auth.cachedAuthorization(req.registry, req.scopes) : undefined;
    let authorized = 0;
    let redirects = 0;
    let insufficientScopeRetried = false;
    for (;;) {
      const response = await this.hop(req, url, authorization, signal);
      url = response.url;
      const status = response.status;

      if (status === 401 && this.isRegistryOrigin(req.registry, url)) {
        const challenge = this.pickChallenge(response.headers['www-authenticate']);
        const errors = await this.readErrors(response);
        const insufficient = /insufficient_scope/i.test(challenge ?? '') || errors.some((e) => /insufficient_scope/i.test(`${e.code} ${e.message ?? ''}`));
        const mayAuthorize = challenge !== undefined && (authorized === 0 || (insufficient && !insufficientScopeRetried));
        if (mayAuthorize) {
          // insufficient_scope is answered by one wider token per request, however it came about
          if (insufficient) insufficientScopeRetried = true;
          authorized++;
          const value = await this.authorize(req, challenge, authorization);
          if (value !== undefined && value !== authorization) {
            authorization = value;
            // the registry's auth is known now: requests waiting for the first one may go with it
            this.state(req.registry).release?.();
            if (replayable) continue;
            // a streamed body is spent: the whole sequence starts again, now with the new token
            throw new Transient(this.statusError(req, url, status, errors, insufficient), 'the registry asked for authentication during a streamed upload');
          }
        }
        throw this.statusError(req, url, status, errors, insufficient);
      }

      if (req.followRedirects && REDIRECT_STATUS.has(status)) {
        const location = headerValue(response.headers, 'location');
        if (location && redirects < MAX_REDIRECTS) {
          redirects++;
          await discard(response);
          const next = this.resolve(location, url);
          if (!this.isRegistryOrigin(req.registry, next)) authorization = undefined;
          this.options.logger.debug(`${req.what}: following redirect to ${redactUrl(next)}`);
          url = next;
          continue;
        }
      }

      if (req.expect.includes(status)) return response;

      const errors = await this.readErrors(response);
      const error = this.statusError(req, url, status, errors);
      if (RETRYABLE_STATUS.has(status)) {
        const retryAfter = parseRetryAfter(headerValue(response.headers, 'retry-after'));
        throw new Transient(error, `${req.method} returned ${status} ${STATUS_CODES[status] ?? ''}`.trim(), retryAfter);
      }
      throw error;
    }
  }

  /** auth.ts retries its own token requests; what it throws is final. */
  private authorize(req: HttpRequest, challenge: string, sent: string | undefined): Promise<string | undefined> {
    return this.auth.authorize(req.registry, challenge, req.scopes, sent);
  }

  /** Every challenge the registry sent, as one header value (auth.ts parses several and picks). */
  private pickChallenge(header: string | string[] | undefined): string | undefined {
    if (header === undefined) return undefined;
    const value = (Array.isArray(header) ? header : [header]).map((v) => v.trim()).filter(Boolean).join(', ');
    return value || undefined;
  }

  private isRegistryOrigin(registry: string, url: string): boolean {
    try {
      return new URL(url).origin === new URL(this.origin(registry)).origin;
    } catch {
      return false;
    }
  }

  /** One HTTP exchange; on the very first contact with a plain-HTTP-capable registry, HTTPS then HTTP. */
  private async hop(req: HttpRequest, url: string, authorization: string | undefined, signal: AbortSignal | undefined): Promise<HttpResponse> {
    const state = this.state(req.registry);
    const mayProbe = () => state.scheme === undefined && this.mayUsePlainHttp(req.registry) && this.isRegistryOrigin(req.registry, url);
    // Requests sent in parallel (anonymous ones do not wait for the first) share one HTTPS attempt.
    if (mayProbe() && state.probe) await state.probe;
    const https = `https://${registryApiHost(req.registry)}/`;
    if (url.startsWith(https) && (state.scheme === 'http' || (mayProbe() && state.httpsFailed))) {
      const response = await this.exchange(req, `http://${url.slice('https://'.length)}`, authorization, signal);
      state.scheme = 'http';
      return response;
    }
    const probing = mayProbe();
    let settle = () => undefined as void;
    if (probing) state.probe = new Promise<void>((resolve) => (settle = resolve));
    try {
      const response = await this.exchange(req, url, authorization, signal);
      if (probing || this.isRegistryOrigin(req.registry, url)) state.scheme ??= 'https';
      return response;
    } catch (error) {
      const failure = error instanceof Transient ? error.final : error;
      if (!probing || signal?.aborted || !(failure instanceof NetworkError)) throw error;
      state.httpsFailed = true;
      settle();
      const plain = url.replace(/^https:/i, 'http:');
      // the HTTPS probe never became an HTTP exchange: it is not a request to count
      this.count(req.kind, -1);
      this.options.logger.debug(`${req.registry}: HTTPS failed (${reasonOf(failure.cause)}); trying plain HTTP`);
      const response = await this.exchange(req, plain, authorization, signal);
      state.scheme = 'http';
      return response;
    } finally {
      if (probing) {
        if (state.scheme === undefined) state.httpsFailed = undefined;
        state.probe = undefined;
        settle();
      }
    }
  }

  private async exchange(req: HttpRequest, url: string, authorization: string | undefined, signal: AbortSignal | undefined): Promise<HttpResponse> {
    const parsed = new URL(url);
    const headers: Record<string, string> = { 'user-agent': this.options.userAgent, ...req.headers };
    // Credentials never go over plain HTTP except to registries allowed to use it.
    if (authorization !== undefined && (parsed.protocol === 'https:' || this.mayUsePlainHttp(req.registry))) headers.authorization = authorization;
    this.count(req.kind);
    let data: Dispatcher.ResponseData;
    try {
      data = await this.dispatcherFor(req.registry, parsed).request({
        origin: parsed.origin,
        path: `${parsed.pathname}${parsed.search}`,
        method: req.method,
        headers,
        body: req.body,
        headersTimeout: this.options.requestTimeoutMs,
        bodyTimeout: this.options.requestTimeoutMs,
        signal,
      });
    } catch (error) {
      if (signal?.aborted) throw this.timeoutError(req, url, error);
      if (error instanceof ManifestMergeError) throw error;
      const failure = this.networkError(req, url, error);
      if (isTransientNetworkError(error)) throw new Transient(failure, `${req.method} failed: ${reasonOf(error)}`);
      throw failure;
    }
    this.options.logger.debug(`${req.method} ${redactUrl(url)} → ${data.statusCode}`);
    return { status: data.statusCode, headers: data.headers, body: data.body, url, method: req.method, signal };
  }

  private dispatcherFor(registry: string, url: URL): Dispatcher {
    // Registries the user calls insecure (and loopback ones) are spoken to the way docker does:
    // TLS without certificate verification, when we own the connection pool.
    if (!this.ownAgent || url.protocol !== 'https:' || url.host !== registryApiHost(registry) || !this.mayUsePlainHttp(registry)) return this.dispatcher;
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

  /** Reads a body whole, refusing more than `limit` bytes; network failures while reading are transient. */
  async readBody(req: Pick<HttpRequest, 'what' | 'method'>, response: HttpResponse, limit: number, tooLarge: () => ManifestMergeError): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > limit) {
          response.body.destroy();
          throw tooLarge();
        }
        chunks.push(chunk);
      }
    } catch (error) {
      if (error instanceof ManifestMergeError) throw error;
      if (response.signal?.aborted) throw this.timeoutError(req, response.url, error);
      const failure = this.networkError(req, response.url, error, 'reading the response failed');
      if (isTransientNetworkError(error)) throw new Transient(failure, `reading the response failed: ${reasonOf(error)}`);
      throw failure;
    }
    return Buffer.concat(chunks, total);
  }

  private async readErrors(response: HttpResponse): Promise<RegistryErrorDetail[]> {
    if (response.method === 'HEAD') {
      await discard(response);
      return [];
    }
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        chunks.push(chunk);
        total += chunk.length;
        if (total >= ERROR_BODY_LIMIT) {
          response.body.destroy();
          break;
        }
      }
    } catch {
      // the status is what matters; a broken error body only loses the details
    }
    return parseRegistryErrors(Buffer.concat(chunks).toString('utf8'));
  }

  statusError(
    req: Pick<HttpRequest, 'what' | 'method' | 'registry'> & { scopes?: Scope[] },
    url: string,
    status: number,
    errors: RegistryErrorDetail[],
    insufficientScope = false,
  ): HttpError {
    const codes = errors.map((e) => e.code);
    let head: string;
    let hint: string | undefined;
    let code = errorCodeForStatus(status);
    const registry = req.registry;
    // 401 insufficient_scope to a token obtained with credentials: they work, but lack a permission
    const source = status === 401 && insufficientScope ? this.auth.credentialSource?.(registry) : undefined;
    if (status === 404) {
      head = `${req.what} not found`;
      const reading = req.method === 'GET' || req.method === 'HEAD';
      if (reading && (/^Blob /.test(req.what) || codes.includes('BLOB_UNKNOWN'))) hint = 'The image lists a blob that its repository does not have; push the image again';
      else if (reading) hint = 'Check the reference (registry, repository, tag or digest), and that the job that builds the image pushed it before this step';
      else hint = 'The registry does not create this repository on push; create it first, or check its name';
    } else if (source !== undefined) {
      code = 'DENIED';
      const push = (req.scopes ?? []).some((s) => s.actions.includes('push'));
      const wanted = (req.scopes ?? []).map((s) => `${s.actions.join(',')} on ${s.repository}`).join(', ');
      head = `${req.what}: ${registry} denied access: the credentials from ${source} do not grant ${wanted || 'what this request needs'} (insufficient_scope)`;
      hint =
        `Check that they may ${push ? 'push to' : 'pull from'} these repositories (credentials were looked for in: ${this.options.credentials.describeLookup(registry)})` +
        (push ? '; for ghcr.io with GITHUB_TOKEN, give the job `permissions: packages: write`' : '');
    } else if (status === 401) {
      head = `${req.what}: ${registry} refused the request as unauthenticated`;
      hint =
        `Credentials for ${registry} were looked for in: ${this.options.credentials.describeLookup(registry)}. ` +
        `Log in with docker/login-action before this step (or pass the username and password inputs); ` +
        `if you did, the credentials may be wrong or expired, or the repository may not exist`;
    } else if (status === 403) {
      head = `${req.what}: ${registry} denied access`;
      const action = req.method === 'GET' || req.method === 'HEAD' ? 'pull' : 'push';
      hint =
        `The credentials used (looked for in: ${this.options.credentials.describeLookup(registry)}) may lack ${action} permission on this repository` +
        (action === 'push' ? ' (for ghcr.io with GITHUB_TOKEN, give the job `permissions: packages: write`)' : '');
    } else if (status === 429) {
      head = `${req.what}: ${registry} is rate limiting requests`;
      hint = 'Retry later; for Docker Hub, logging in raises the pull limit';
    } else {
      head = `${req.what}: unexpected response`;
      if (status >= 500) hint = 'The registry kept failing with a server error after retries with backoff; check its status and re-run the job';
    }
    if (codes.length > 0) head += ` (${codes.join(', ')})`;
    const details = errors.map((e) => (e.message ? `${e.code}: ${e.message}` : e.code)).join('; ');
    const message = `${head}: ${req.method} ${redactUrl(url)} returned ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd() + (details ? `: ${details}` : '');
    return new HttpError(code, message, { method: req.method, url: redactUrl(url) }, status, errors, hint ? { hint } : {});
  }

  networkError(req: Pick<HttpRequest, 'what' | 'method'>, url: string, cause: unknown, doing = 'the request failed'): NetworkError {
    const code = errorCode(cause);
    const hint =
      code === 'ENOTFOUND'
        ? 'Check the registry host name'
        : code && /CERT|SSL|TLS|SELF_SIGNED/i.test(code)
          ? 'The registry presented a TLS certificate that is not trusted; if it is a private registry on plain HTTP or with a private CA, list it as insecure'
          : 'Connection failures are retried with backoff; this one persisted. Check the network path to the registry (proxy, firewall, VPN) and the registry\'s status, then re-run the job';
    return new NetworkError(`${req.what}: ${req.method} ${redactUrl(url)}: ${doing}: ${reasonOf(cause)}`, { method: req.method, url: redactUrl(url) }, { cause, hint });
  }

  private timeoutError(req: Pick<HttpRequest, 'what' | 'method'>, url: string, cause: unknown): TimeoutError {
    return new TimeoutError(`${req.what}: ${req.method} ${redactUrl(url)} did not finish within the time budget`, { cause, hint: TIME_BUDGET_HINT });
  }
}
