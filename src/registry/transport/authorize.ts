// The auth layer: sends a registry request with the Authorization the authorizer (auth/authenticator.ts) has
// cached, answers a 401 challenge through it and retries once (one more time, with a wider token,
// on insufficient_scope), and follows redirects, dropping Authorization on another origin.
// The first request to a registry goes alone (the "pioneer"): the others wait until it holds an
// Authorization, so a challenge is learnt once per registry, not once per parallel request.
import { HttpError, TransientError } from '../../base/errors.js';
import type { Logger } from '../../base/logger.js';
import type { SchemeLayer } from './scheme.js';
import { readErrors, redactUrl, wireFailure, type StatusErrors } from './status.js';
import { discard } from './body.js';
import { headerValue, type CredentialLookup, type HttpRequest, type HttpResponse, type Scope } from './http.js';

/** The part of RegistryAuth (auth/authenticator.ts) the transport uses. */
export interface Authorizer {
  declareScopes(registry: string, scopes: Scope[]): void;
  cachedAuthorization(registry: string, scopes: Scope[]): string | undefined;
  /** `sentAuthorization`: the header the refused request carried (so a rejected token is never reused) */
  authorize(registry: string, wwwAuthenticate: string, scopes: Scope[], sentAuthorization?: string): Promise<string | undefined>;
  /** where the credentials answering `registry`'s challenges came from; undefined while anonymous */
  credentialSource?(registry: string): string | undefined;
}

const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

interface PioneerState {
  /** a first request got an answer: the auth challenge (if any) is known */
  ready: boolean;
  /** the first request in flight; others wait for it */
  pioneer?: Promise<void>;
  /** lets the waiters go as soon as the pioneer holds an Authorization (before its retry is answered) */
  release?: () => void;
  /** no credentials are configured for this registry: nothing to queue behind the pioneer for */
  anonymous?: Promise<boolean>;
}

export interface AuthLayerOptions {
  scheme: SchemeLayer;
  authorizer: Authorizer;
  credentials: CredentialLookup;
  errors: StatusErrors;
  logger: Logger;
  userAgent: string;
  /** a signal aborting at the deadline, fresh for each request */
  signal: () => AbortSignal | undefined;
}

export class AuthLayer {
  private readonly states = new Map<string, PioneerState>();

  constructor(private readonly options: AuthLayerOptions) {}

  /**
   * One logical request: waits for the registry's first request if one is in flight, then sends
   * with auth and redirects. Resolves with any status the layer could not act on itself (the
   * status layer judges it); throws for a 401 it could not answer.
   */
  async request(req: HttpRequest): Promise<HttpResponse> {
    const state = this.state(req.registry);
    while (!state.ready && state.pioneer) {
      // Without credentials there is no token to wait for: go now. A registry that wants one anyway
      // answers each request 401 and the authenticator fetches a single anonymous token for them all.
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
      const final = error instanceof TransientError ? error.final : error;
      if (final instanceof HttpError) state.ready = true;
      throw error;
    } finally {
      state.pioneer = undefined;
      state.release = undefined;
      release();
    }
  }

  private async send(req: HttpRequest): Promise<HttpResponse> {
    const { scheme, authorizer } = this.options;
    const signal = this.options.signal();
    const replayable = req.body === undefined || typeof req.body === 'string' || Buffer.isBuffer(req.body);
    let url = /^https?:\/\//i.test(req.target) ? req.target : `${scheme.origin(req.registry)}${req.target}`;
    let authorization = scheme.isRegistryOrigin(req.registry, url) ? authorizer.cachedAuthorization(req.registry, req.scopes) : undefined;
    let authorized = 0;
    let redirects = 0;
    let insufficientScopeRetried = false;
    for (;;) {
      const response = await this.hop(req, url, authorization, signal);
      url = response.url;
      const status = response.status;

      if (status === 401 && scheme.isRegistryOrigin(req.registry, url)) {
        const challenge = joinChallenges(response.headers['www-authenticate']);
        const errors = await readErrors(response);
        const insufficient =
          /insufficient_scope/i.test(challenge ?? '') || errors.some((e) => /insufficient_scope/i.test(`${e.code} ${e.message ?? ''}`));
        const mayAuthorize = challenge !== undefined && (authorized === 0 || (insufficient && !insufficientScopeRetried));
        if (mayAuthorize) {
          // insufficient_scope is answered by one wider token per request, however it came about
          if (insufficient) insufficientScopeRetried = true;
          authorized++;
          const value = await authorizer.authorize(req.registry, challenge, req.scopes, authorization);
          if (value !== undefined && value !== authorization) {
            authorization = value;
            // the registry's auth is known now: requests waiting for the first one may go with it
            this.state(req.registry).release?.();
            if (replayable) continue;
            // a streamed body is spent: the whole sequence starts again, now with the new token
            throw new TransientError(
              this.options.errors.statusError(req, url, status, errors, insufficient),
              'the registry asked for authentication during a streamed upload',
            );
          }
        }
        throw this.options.errors.statusError(req, url, status, errors, insufficient);
      }

      if (req.followRedirects && REDIRECT_STATUS.has(status)) {
        const location = headerValue(response.headers, 'location');
        if (location && redirects < MAX_REDIRECTS) {
          redirects++;
          await discard(response.body);
          const next = new URL(location, url).href;
          if (!scheme.isRegistryOrigin(req.registry, next)) authorization = undefined;
          this.options.logger.debug(`${req.what}: following redirect to ${redactUrl(next)}`);
          url = next;
          continue;
        }
      }
      return response;
    }
  }

  /** One HTTP exchange through the scheme layer; the wire's failures named (and marked transient) here. */
  private async hop(
    req: HttpRequest,
    url: string,
    authorization: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<HttpResponse> {
    const headers: Record<string, string> = { 'user-agent': this.options.userAgent, ...req.headers };
    if (authorization !== undefined) headers.authorization = authorization;
    try {
      const response = await this.options.scheme.exchange({
        registry: req.registry,
        url,
        method: req.method,
        headers,
        body: req.body,
        signal,
        kind: req.kind,
      });
      this.options.logger.debug(`${req.method} ${redactUrl(response.url)} → ${response.status}`);
      return { ...response, method: req.method, signal };
    } catch (error) {
      throw wireFailure(req, url, error, signal);
    }
  }

  state(registry: string): PioneerState {
    let state = this.states.get(registry);
    if (!state) {
      state = { ready: false };
      this.states.set(registry, state);
    }
    return state;
  }
}

/** Every challenge the registry sent, as one header value (auth/challenge.ts parses several and picks). */
function joinChallenges(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const value = (Array.isArray(header) ? header : [header])
    .map((v) => v.trim())
    .filter(Boolean)
    .join(', ');
  return value || undefined;
}
