// The transport: small layers, each wrapping the next (go-containerregistry's
// pkg/v1/remote/transport is the model). A registry request goes
//
//   retry + deadline (retry.ts: around an operation, i.e. a request and the reading of its body,
//     or a whole streamed copy)
//   -> status to typed error (status.ts)
//   -> auth (authorize.ts: pioneer, 401 challenge, one retry, redirects)
//   -> scheme (scheme.ts: HTTPS, or plain HTTP where the insecure policy allows)
//   -> stats (stats.ts: every exchange counted)
//   -> wire (wire.ts: undici, the only runtime import of it)
//
// Token requests (auth/token.ts asks through `tokenRequest`) take the same retry, deadline, scheme
// policy and stats, so every wait obeys the one deadline and every exchange is counted.
import type { Dispatcher } from 'undici';
import { HttpError, ManifestMergeError, TransientError, errorCodeForStatus } from '../../base/errors.js';
import type { Logger } from '../../base/logger.js';
import { InsecurePolicy } from '../../oci/hosts.js';
import { AuthLayer, type Authorizer } from './authorize.js';
import { Retrier, RETRYABLE_STATUS, parseRetryAfter } from './retry.js';
import { SchemeLayer } from './scheme.js';
import { counted, RequestCounter } from './stats.js';
import { ERROR_BODY_LIMIT, StatusErrors, parseRegistryErrors, readLimited, redactUrl, wireFailure } from './status.js';
import {
  headerValue,
  type CredentialLookup,
  type Headers,
  type HttpRequest,
  type HttpResponse,
  type RequestStats,
  type RetryOptions,
} from './http.js';
import { Wire } from './wire.js';
import { discard, readBounded } from './body.js';

export type { Authorizer } from './authorize.js';
export type { HttpRequest, HttpResponse, Method } from './http.js';
export { headerValue } from './http.js';
export { discard } from './body.js';
export { redactUrl, parseRegistryErrors, isTransientNetworkError, networkError } from './status.js';
export { parseRetryAfter } from './retry.js';

/** One token exchange (distribution token spec): GET with Basic auth, or an OAuth2 POST. */
export interface TokenExchange {
  registry: string;
  method: 'GET' | 'POST';
  url: URL;
  headers: Record<string, string>;
  body?: string;
  /** for messages: "Token for ghcr.io" */
  what: string;
  /** a success body over this many bytes is not read: `bytes` is undefined */
  maxBytes: number;
  /** credentials go to this realm: it may be plain HTTP only where the insecure policy allows it for the registry */
  plainHttpAllowed: boolean;
}

export interface TokenResponse {
  status: number;
  headers: Headers;
  /** the body, or undefined when over `maxBytes` */
  bytes: Buffer | undefined;
  /** the URL, for messages (no query: it may name an account) */
  url: string;
}

/**
 * A request to a hosted service's own web API (GitHub's packages API, Docker Hub's): like a token
 * exchange, outside the registry API and its auth layer, but any method, counted under `kind`.
 */
export interface ApiExchange extends Omit<TokenExchange, 'method'> {
  method: 'GET' | 'POST' | 'DELETE';
  /** stats key, e.g. "GET packages API" */
  kind: string;
  /** the service, for messages and the timeout's `wait` (e.g. "GitHub packages API") */
  service: string;
}

/** What auth/token.ts needs from the transport: token exchanges through the same inner layers. */
export interface TokenTransport {
  tokenRequest(exchange: TokenExchange): Promise<TokenResponse>;
}

export interface TransportOptions {
  /** builds the authorizer; its token requests go through `tokens` */
  createAuth: (tokens: TokenTransport) => Authorizer;
  credentials: CredentialLookup;
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

export class Transport implements TokenTransport {
  readonly auth: Authorizer;
  readonly policy: InsecurePolicy;
  private readonly wire: Wire;
  private readonly counter = new RequestCounter();
  private readonly retrier: Retrier;
  private readonly scheme: SchemeLayer;
  private readonly errors: StatusErrors;
  private readonly authLayer: AuthLayer;

  constructor(private readonly options: TransportOptions) {
    this.policy = new InsecurePolicy(options.insecureRegistries);
    this.wire = new Wire({
      dispatcher: options.dispatcher,
      connectionsPerOrigin: options.connectionsPerOrigin,
      requestTimeoutMs: options.requestTimeoutMs,
    });
    this.retrier = new Retrier({ retry: options.retry, deadline: options.deadline, logger: options.logger, counter: this.counter });
    this.scheme = new SchemeLayer(counted(this.wire.send, this.counter), this.policy, options.logger);
    this.auth = options.createAuth(this);
    this.errors = new StatusErrors({
      credentials: options.credentials,
      credentialSource: (registry) => this.auth.credentialSource?.(registry),
    });
    this.authLayer = new AuthLayer({
      scheme: this.scheme,
      authorizer: this.auth,
      credentials: options.credentials,
      errors: this.errors,
      logger: options.logger,
      userAgent: options.userAgent,
      signal: () => this.retrier.signal(),
    });
  }

  stats(): RequestStats {
    return this.counter.stats();
  }

  close(): Promise<void> {
    return this.wire.close();
  }

  /** `https://host`, or `http://host` once the registry was found to speak only that. */
  origin(registry: string): string {
    return this.scheme.origin(registry);
  }

  /** Runs an operation with retries of its transient failures, within the deadline. */
  retrying<T>(what: string, attempt: (attemptNumber: number) => Promise<T>): Promise<T> {
    return this.retrier.run(what, attempt);
  }

  /**
   * One registry request: auth, scheme, and the status check. Resolves only with a status in
   * `req.expect`; throws a typed error otherwise (a TransientError when worth retrying).
   */
  async request(req: HttpRequest): Promise<HttpResponse> {
    this.retrier.checkDeadline(req.what);
    return this.errors.check(req, await this.authLayer.request(req));
  }

  /** Reads a body whole, refusing more than `limit` bytes; failures while reading are named (transient ones retried). */
  async readBody(
    req: Pick<HttpRequest, 'what' | 'method' | 'registry' | 'facts'>,
    response: HttpResponse,
    limit: number,
    tooLarge: () => ManifestMergeError,
  ): Promise<Buffer> {
    const read = await readBounded(response.body, limit);
    if (read.error !== undefined) throw wireFailure(req, response.url, read.error, response.signal, 'reading the response failed');
    if (read.overLimit) throw tooLarge();
    return read.bytes;
  }

  /** A failure while streaming a response body (a blob being copied), named like one of readBody's. */
  bodyFailure(
    req: Pick<HttpRequest, 'what' | 'method' | 'registry' | 'facts'>,
    response: HttpResponse,
    error: unknown,
    doing: string,
  ): ManifestMergeError {
    return wireFailure(req, response.url, error, response.signal, doing);
  }

  /**
   * A token exchange, retried like any registry request (408, 429, 5xx, transient network errors;
   * Retry-After), counted ("GET token", "POST token"), and cut off at the deadline with a
   * TimeoutError whose `wait` is 'token service'. Every other status is returned for auth/token.ts to judge.
   */
  tokenRequest(exchange: TokenExchange): Promise<TokenResponse> {
    return this.serviceRequest({ ...exchange, kind: `${exchange.method} token`, service: 'token service' }, 'the token response');
  }

  /**
   * A hosted service's web API (registry/hosted/): retried, counted under `exchange.kind` and cut off
   * at the deadline like a token exchange; every status but the retried ones is returned to judge.
   */
  apiRequest(exchange: ApiExchange): Promise<TokenResponse> {
    return this.serviceRequest(exchange);
  }

  private serviceRequest(exchange: ApiExchange, responseName = `the ${exchange.service} response`): Promise<TokenResponse> {
    const shown = redactUrl(`${exchange.url.origin}${exchange.url.pathname}`);
    const described = { what: exchange.what, method: exchange.method, registry: exchange.registry };
    const service = exchange.service;
    return this.retrier.run(
      exchange.what,
      async () => {
        const signal = this.retrier.signal();
        let response: Awaited<ReturnType<SchemeLayer['sendTo']>>;
        try {
          response = await this.scheme.sendTo(
            {
              url: exchange.url.href,
              method: exchange.method,
              headers: { 'user-agent': this.options.userAgent, ...exchange.headers },
              body: exchange.body,
              signal,
              kind: exchange.kind,
            },
            exchange.url.href,
            false,
            exchange.plainHttpAllowed,
          );
        } catch (error) {
          throw wireFailure(described, shown, error, signal, `could not reach the ${service}`, service);
        }
        const status = response.status;
        if (RETRYABLE_STATUS.has(status)) {
          const errors = parseRegistryErrors((await readLimited(response.body)).toString('utf8'));
          const said = errors.map((e) => e.message ?? e.code).join('; ');
          const final = new HttpError(
            errorCodeForStatus(status),
            `${exchange.what}: the ${service} ${exchange.method} ${shown} answered HTTP ${status}${said ? `: ${said.slice(0, 200)}` : ''}`,
            { method: exchange.method, url: shown },
            status,
            errors,
            {
              registry: exchange.registry,
              hint: `The ${service} kept failing after retries with backoff; check its status and {rerun}`,
            },
          );
          throw new TransientError(
            final,
            `${service} answered HTTP ${status}`,
            parseRetryAfter(headerValue(response.headers, 'retry-after')),
          );
        }
        const ok = status >= 200 && status <= 299;
        const limit = ok ? exchange.maxBytes : ERROR_BODY_LIMIT;
        const length = Number(headerValue(response.headers, 'content-length'));
        if (Number.isFinite(length) && length > limit) {
          await discard(response.body, 0);
          return { status, headers: response.headers, bytes: undefined, url: shown };
        }
        const read = await readBounded(response.body, limit);
        if (read.error !== undefined) throw wireFailure(described, shown, read.error, signal, `reading ${responseName} failed`, service);
        const bytes = read.overLimit ? undefined : read.bytes;
        return { status, headers: response.headers, bytes, url: shown };
      },
      service,
    );
  }
}
