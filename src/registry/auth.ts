// Registry authentication the way the docker CLI does it: parse the WWW-Authenticate
// challenge of a 401, then answer Basic with the user's credentials, or fetch a Bearer
// token from the challenge's realm (distribution token spec: GET with Basic auth, or
// OAuth2 refresh-token POST for identity tokens), covering every scope the run needs in
// one request. Tokens are cached per registry and scope set until they expire, and
// concurrent requests for the same token share one HTTP request. The token exchanges themselves
// go through the transport's inner layers (retry, deadline, scheme policy, stats).
import { CredentialsError, HttpError, type RegistryErrorDetail, errorCodeForStatus } from '../base/errors.js';
import type { Logger } from '../base/logger.js';
import { InsecurePolicy } from '../oci/hosts.js';
import { registerSecret } from '../base/redact.js';
import type { TokenTransport } from './transport/compose.js';
import { registryErrorsOf } from './transport/status.js';
import { headerValue } from './transport/http.js';
import {
  type AuthChallenge,
  type ScopeSet,
  coversScopes,
  formatScopeSet,
  parseScopeParam,
  parseWwwAuthenticate,
  scopeSetFrom,
  unionScopeSets,
} from './challenge.js';
import type { CredentialProvider, Credentials, Scope } from './client-types.js';

export interface RegistryAuthOptions {
  credentials: CredentialProvider;
  /** where token requests go: the transport's retry, deadline, scheme policy and stats */
  tokens: TokenTransport;
  logger: Logger;
  /** called with every secret (password, token, Basic header value) the moment it is known (besides registerSecret) */
  onSecret?: (s: string) => void;
  /** hosts (host[:port]) whose token realm may be plain http:// even with credentials; loopback always may */
  insecureRegistries: string[];
  /** clock, for tests (default Date.now) */
  now?: () => number;
}

/** OAuth2 client id sent with refresh-token requests. */
export const TOKEN_CLIENT_ID = 'manifest-merge';
/** Token responses are small JSON documents; anything bigger is refused unread. */
const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;
/** Lifetime of a token whose response does not say (distribution token spec). */
const DEFAULT_TOKEN_LIFETIME_S = 60;
/** A cached token is dropped this long before it expires, so a request never races the expiry. */
const EXPIRY_MARGIN_MS = 10_000;

interface CachedToken {
  scopes: ScopeSet;
  header: string;
  expiresAt: number;
}

interface RegistryState {
  declared: ScopeSet;
  /** `Basic …` once the registry asked for Basic and credentials were found */
  basic?: string;
  /** `Bearer <registrytoken>`, used for every request */
  staticBearer?: string;
  tokens: CachedToken[];
  /** where the credentials answering this registry's challenges came from */
  credentialSource?: string;
  /** a failed credential lookup was reported (once) */
  lookupFailureReported?: boolean;
}

type TokenAttempt =
  | { ok: true; token: string; expiresAt: number }
  | { ok: false; status: number; errors: RegistryErrorDetail[]; request: { method: string; url: string } };

interface TokenRequest {
  registry: string;
  realm: URL;
  service?: string;
  scopes: string[];
  credentials?: Credentials;
}

export class RegistryAuth {
  private readonly options: RegistryAuthOptions;
  private readonly states = new Map<string, RegistryState>();
  private readonly inFlight = new Map<string, Promise<string | undefined>>();
  private readonly now: () => number;
  private readonly policy: InsecurePolicy;

  constructor(options: RegistryAuthOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.policy = new InsecurePolicy(options.insecureRegistries);
  }

  /** remembers scopes to include in every token request for this registry */
  declareScopes(registry: string, scopes: Scope[]): void {
    const state = this.state(registry);
    state.declared = unionScopeSets(state.declared, scopeSetFrom(scopes));
  }

  /**
   * Authorization header value for a request needing `scopes` on `registry`, from cache (Basic once
   * the registry asked for Basic; an unexpired Bearer whose scopes cover `scopes`), or undefined when
   * nothing is known yet (the client then sends anonymously first).
   */
  cachedAuthorization(registry: string, scopes: Scope[]): string | undefined {
    const state = this.states.get(registry);
    if (!state) return undefined;
    if (state.staticBearer) return state.staticBearer;
    if (state.basic) return state.basic;
    return this.findToken(state, scopeSetFrom(scopes))?.header;
  }

  /** Where the credentials used for `registry` came from (e.g. `config.json auths["ghcr.io"]`), once a challenge was answered with them; undefined while anonymous. */
  credentialSource(registry: string): string | undefined {
    return this.states.get(registry)?.credentialSource;
  }

  /**
   * Called after a 401: answers the challenge in `wwwAuthenticate` with a header value to retry
   * with, or undefined when there is nothing to retry with (no credentials and no anonymous token).
   * `sentAuthorization` (optional) is the header the refused request carried: a cached token equal to
   * it is never handed out again, even when the challenge carries no `error=` (an expired token), and a
   * newer cached token covering the request is handed out instead of asking again.
   *
   * A credential helper that fails (a CredentialsError from the provider) is not a reason to stop a
   * read that the registry lets through anonymously: for a Bearer challenge asking only for pulls the
   * helper's failure is logged as a warning and an anonymous token is tried; if the registry refuses
   * that too, or the request needs a push, the helper's error is thrown.
   */
  async authorize(registry: string, wwwAuthenticate: string, scopes: Scope[], sentAuthorization?: string): Promise<string | undefined> {
    const challenges = parseWwwAuthenticate(wwwAuthenticate);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (!bearer && !basic) {
      const schemes = challenges.map((c) => c.scheme).join(', ') || 'none';
      this.options.logger.debug(`auth: ${registry} asked for an unsupported authentication scheme (${schemes})`);
      return undefined;
    }

    const state = this.state(registry);
    let credentials: Credentials | undefined;
    try {
      credentials = await this.options.credentials.credentialsFor(registry);
    } catch (error) {
      if (!(error instanceof CredentialsError) || !bearer || !this.mayTryAnonymously(bearer, scopes, sentAuthorization)) throw error;
      if (!state.lookupFailureReported) {
        state.lookupFailureReported = true;
        this.options.logger.warning(`${error.message}. Trying anonymous access to ${registry}, which is enough only for public images`);
      }
      const header = await this.authorizeBearer(registry, state, bearer, scopes, undefined, sentAuthorization);
      if (header === undefined) throw error;
      return header;
    }
    this.registerCredentialSecrets(credentials);
    if (credentials) state.credentialSource = credentials.source;

    if (credentials?.kind === 'registry-token') {
      // docker sends a registrytoken as is, whatever the challenge
      state.staticBearer = `Bearer ${credentials.token}`;
      this.options.logger.debug(`auth: using the registry token from ${credentials.source} for ${registry}`);
      return state.staticBearer;
    }

    if (!bearer) {
      if (credentials?.kind !== 'basic') {
        if (credentials) {
          this.options.logger.warning(`${registry} asks for Basic authentication, which the identity token from ${credentials.source} cannot answer`);
        }
        return undefined;
      }
      const encoded = Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64');
      this.secret(encoded);
      state.basic = `Basic ${encoded}`;
      this.options.logger.debug(`auth: ${registry} uses Basic authentication; credentials from ${credentials.source}`);
      return state.basic;
    }

    let tokenCredentials: Credentials | undefined = credentials;
    if (credentials?.kind === 'basic' && (credentials.username === '' || credentials.password === '')) {
      this.options.logger.warning(`The credentials for ${registry} from ${credentials.source} lack a username or password; asking for an anonymous token`);
      tokenCredentials = undefined;
    }
    return this.authorizeBearer(registry, state, bearer, scopes, tokenCredentials, sentAuthorization);
  }

  /** After a failed credential lookup: only a first answer to a pull-only request may go anonymous. */
  private mayTryAnonymously(challenge: AuthChallenge, scopes: Scope[], sentAuthorization: string | undefined): boolean {
    if (challenge.params.error || sentAuthorization) return false; // an anonymous token was tried already
    const needed = unionScopeSets(scopeSetFrom(scopes), parseScopeParam(challenge.params.scope));
    for (const actions of needed.values()) for (const action of actions) if (action !== 'pull') return false;
    return true;
  }

  private async authorizeBearer(
    registry: string,
    state: RegistryState,
    challenge: AuthChallenge,
    scopes: Scope[],
    credentials: Credentials | undefined,
    sentAuthorization: string | undefined,
  ): Promise<string | undefined> {
    const realm = parseRealm(registry, challenge.params.realm);
    const service = challenge.params.service;
    const needed = unionScopeSets(scopeSetFrom(scopes), parseScopeParam(challenge.params.scope));
    const wanted = unionScopeSets(needed, state.declared);

    if (sentAuthorization) {
      // the registry refused this very header (expired, revoked, or short of a scope): never again;
      // a token fetched meanwhile (by a concurrent request refused the same way) is the answer
      state.tokens = state.tokens.filter((t) => t.header !== sentAuthorization);
      const newer = this.findToken(state, needed);
      if (newer) return newer.header;
    } else if (challenge.params.error) {
      // the request carried a token and the registry rejected it (insufficient_scope, invalid_token):
      // a cached token covering the same scopes is no good, whatever our records say
      state.tokens = state.tokens.filter((t) => !coversScopes(t.scopes, needed));
    } else {
      // the request went out anonymously; a concurrent call may have fetched a token meanwhile
      const cached = this.findToken(state, needed);
      if (cached) return cached.header;
    }

    const scopeStrings = formatScopeSet(wanted);
    const key = JSON.stringify([registry, realm.href, service ?? '', credentials?.source ?? '', scopeStrings]);
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const flight = this.fetchAndCache(state, { registry, realm, service, scopes: scopeStrings, credentials }, wanted, needed).finally(() => {
      this.inFlight.delete(key);
    });
    this.inFlight.set(key, flight);
    return flight;
  }

  private async fetchAndCache(state: RegistryState, request: TokenRequest, wanted: ScopeSet, needed: ScopeSet): Promise<string | undefined> {
    let scopeSet = wanted;
    let attempt = await this.fetchToken(request);
    const neededStrings = formatScopeSet(needed);
    if (!attempt.ok && neededStrings.join(' ') !== request.scopes.join(' ')) {
      // some token services refuse the whole request when one declared repository is off limits:
      // ask again for just what this request needs
      this.options.logger.debug(`auth: token service refused ${request.scopes.length} scopes for ${request.registry}; asking for this request's scopes only`);
      scopeSet = needed;
      attempt = await this.fetchToken({ ...request, scopes: neededStrings });
    }
    if (!attempt.ok) {
      if (!request.credentials) {
        this.options.logger.debug(`auth: ${request.registry} refused an anonymous token (HTTP ${attempt.status})`);
        return undefined;
      }
      throw this.refusedError(request, attempt);
    }
    const header = `Bearer ${attempt.token}`;
    state.tokens.push({ scopes: scopeSet, header, expiresAt: attempt.expiresAt });
    return header;
  }

  private refusedError(request: TokenRequest, refusal: Extract<TokenAttempt, { ok: false }>): HttpError {
    const realm = displayUrl(request.realm);
    const said = refusal.errors.map((e) => e.message ?? e.code).filter(Boolean).join('; ');
    const source = request.credentials?.source ?? 'anonymous';
    return new HttpError(
      'UNAUTHORIZED',
      `Registry ${request.registry}: the token service ${realm} refused the credentials from ${source} (HTTP ${refusal.status}${said ? `: ${truncate(said, 200)}` : ''})`,
      refusal.request,
      refusal.status,
      refusal.errors,
      {
        hint: `Credentials for ${request.registry} were looked for in: ${this.options.credentials.describeLookup(request.registry)}. Check that they are current and allowed to access ${request.scopes.join(' ')}`,
      },
    );
  }

  private async fetchToken(request: TokenRequest): Promise<TokenAttempt> {
    const { registry, realm, service, scopes, credentials } = request;
    if (credentials) this.assertSafeRealm(registry, realm, credentials);

    const headers: Record<string, string> = { accept: 'application/json' };
    let method: 'GET' | 'POST';
    let url: URL;
    let body: string | undefined;
    if (credentials?.kind === 'identity-token') {
      method = 'POST';
      url = new URL(realm.href);
      const form = new URLSearchParams();
      form.set('grant_type', 'refresh_token');
      if (service !== undefined) form.set('service', service);
      form.set('client_id', TOKEN_CLIENT_ID);
      form.set('refresh_token', credentials.token);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      body = form.toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else {
      method = 'GET';
      url = new URL(realm.href);
      if (service !== undefined) url.searchParams.append('service', service);
      for (const scope of scopes) url.searchParams.append('scope', scope);
      if (credentials?.kind === 'basic') {
        url.searchParams.append('account', credentials.username);
        const encoded = Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64');
        this.secret(encoded);
        headers.authorization = `Basic ${encoded}`;
      }
    }
    const shown = { method, url: displayUrl(url, method === 'GET') };
    this.options.logger.debug(
      `auth: ${method} token for ${registry} from ${displayUrl(realm)} (${scopes.join(' ') || 'no scopes'}; ${credentials ? `credentials from ${credentials.source}` : 'anonymous'})`,
    );

    const response = await this.options.tokens.tokenRequest({
      registry,
      method,
      url,
      headers,
      body,
      what: `Registry ${registry}: token request to ${displayUrl(realm)}`,
      maxBytes: MAX_TOKEN_RESPONSE_BYTES,
      plainHttpAllowed: this.policy.allowsPlainHttpRealm(registry, realm.host),
    });
    const status = response.status;
    if (status === 401 || status === 403) {
      return { ok: false, status, errors: parseErrorBody(response.bytes), request: shown };
    }
    if (status < 200 || status > 299) {
      const errors = parseErrorBody(response.bytes);
      const said = errors.map((e) => e.message ?? e.code).join('; ');
      throw new HttpError(
        errorCodeForStatus(status),
        `Registry ${registry}: token request ${method} ${shown.url} answered HTTP ${status}${said ? `: ${truncate(said, 200)}` : ''}`,
        shown,
        status,
        errors,
        { registry },
      );
    }
    const bytes = response.bytes;
    if (!bytes) {
      throw new HttpError('HTTP', `Registry ${registry}: token response from ${displayUrl(realm)} is over the ${MAX_TOKEN_RESPONSE_BYTES} byte limit`, shown, status, [], { registry });
    }
    const contentType = headerValue(response.headers, 'content-type') ?? 'none';
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new HttpError(
        'HTTP',
        `Registry ${registry}: token service ${displayUrl(realm)} answered HTTP ${status} with a body that is not JSON (content-type ${contentType}, ${bytes.length} bytes)`,
        shown,
        status,
        [],
        { registry, hint: 'Is the realm in the WWW-Authenticate header a token service? A proxy or login page in between gives this' },
      );
    }
    const fields = isRecord(json) ? json : {};
    const accessToken = typeof fields.access_token === 'string' ? fields.access_token : '';
    const plainToken = typeof fields.token === 'string' ? fields.token : '';
    const token = accessToken || plainToken; // distribution: access_token wins when both are there
    // every token in the answer is a secret, whichever one we use
    this.secret(accessToken);
    this.secret(plainToken);
    if (typeof fields.refresh_token === 'string' && fields.refresh_token) this.secret(fields.refresh_token);
    if (!token) {
      throw new HttpError('HTTP', `Registry ${registry}: token service ${displayUrl(realm)} answered without a token (no "token" or "access_token" field)`, shown, status, [], { registry });
    }
    return { ok: true, token, expiresAt: this.expiry(fields.expires_in, fields.issued_at) };
  }

  /**
   * Credentials go only to an https realm, or a plain-http one that is on loopback, listed as insecure
   * (host[:port] or host), or on the same host as a registry that is itself loopback or listed insecure
   * (a private registry whose token service runs beside it on another port).
   */
  private assertSafeRealm(registry: string, realm: URL, credentials: Credentials): void {
    if (realm.protocol === 'https:' || this.policy.allowsPlainHttpRealm(registry, realm.host)) return;
    throw new CredentialsError(
      `Refusing to send the credentials for ${registry} (from ${credentials.source}) to the token service ${displayUrl(realm)} over plain HTTP`,
      { registry, hint: `Serve the token realm over https, or, if this network is trusted, list ${realm.host.toLowerCase()} in {insecure}` },
    );
  }

  private expiry(expiresIn: unknown, issuedAt: unknown): number {
    const now = this.now();
    const lifetimeS = typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : DEFAULT_TOKEN_LIFETIME_S;
    const lifetimeMs = lifetimeS * 1000;
    let start = now;
    if (typeof issuedAt === 'string') {
      // issued_at makes a token handed out earlier (cached by the service) expire sooner;
      // ignored when it is in the future or already past the lifetime (clock skew)
      const issued = Date.parse(issuedAt);
      if (Number.isFinite(issued) && issued <= now && issued + lifetimeMs > now) start = issued;
    }
    return start + lifetimeMs - Math.min(EXPIRY_MARGIN_MS, lifetimeMs / 4);
  }

  private findToken(state: RegistryState, wanted: ScopeSet): CachedToken | undefined {
    const now = this.now();
    state.tokens = state.tokens.filter((t) => t.expiresAt > now);
    return state.tokens.find((t) => coversScopes(t.scopes, wanted));
  }

  private state(registry: string): RegistryState {
    let state = this.states.get(registry);
    if (!state) {
      state = { declared: new Map(), tokens: [] };
      this.states.set(registry, state);
    }
    return state;
  }

  private registerCredentialSecrets(credentials: Credentials | undefined): void {
    if (!credentials) return;
    if (credentials.kind === 'basic') this.secret(credentials.password);
    else this.secret(credentials.token);
  }

  /** Every secret goes to the redaction list (errors on both surfaces) and to onSecret (the action's mask). */
  private secret(value: string | undefined): void {
    if (!value) return;
    registerSecret(value);
    this.options.onSecret?.(value);
  }
}

function parseRealm(registry: string, realm: string | undefined): URL {
  const request = { method: 'GET', url: `https://${registry}/v2/` };
  if (!realm) {
    throw new HttpError('UNAUTHORIZED', `Registry ${registry} asked for a Bearer token without saying where to get one (no realm in WWW-Authenticate)`, request, 401);
  }
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new HttpError('UNAUTHORIZED', `Registry ${registry} named a token realm that is not a URL: "${truncate(realm, 200)}"`, request, 401);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new HttpError('UNAUTHORIZED', `Registry ${registry} named a token realm that is not http(s): ${displayUrl(url)}`, request, 401);
  }
  url.username = '';
  url.password = '';
  url.hash = '';
  return url;
}

/** A URL for messages: never any user info; the query only when asked (it holds scopes, never secrets). */
function displayUrl(url: URL, withQuery = false): string {
  return `${url.protocol}//${url.host}${url.pathname}${withQuery ? url.search : ''}`;
}


function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** `{"errors":[{code,message}]}` (distribution), or `{"details":"…"}` (Docker Hub's token service). */
function parseErrorBody(bytes: Buffer | undefined): RegistryErrorDetail[] {
  if (!bytes || bytes.length === 0) return [];
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return [];
  }
  if (!isRecord(json)) return [];
  const result = registryErrorsOf(json);
  if (typeof json.details === 'string') result.push({ code: 'UNAUTHORIZED', message: json.details });
  if (typeof json.error === 'string') {
    result.push({ code: json.error, message: typeof json.error_description === 'string' ? json.error_description : undefined });
  }
  return result;
}
