// The token protocol (distribution token spec): ask the realm a Bearer challenge named for a token
// covering some scopes — GET with Basic auth (or anonymously), or an OAuth2 refresh-token POST for
// an identity token — and read the answer: the token and its lifetime, or why the service refused.
// The exchanges themselves go through the transport's inner layers (retry, deadline, scheme
// policy, stats); which token to ask for, and when, is authenticator.ts's business.
import { CredentialsError, HttpError, type RegistryErrorDetail, errorCodeForStatus } from '../../base/errors.js';
import type { Logger } from '../../base/logger.js';
import type { InsecurePolicy } from '../../oci/hosts.js';
import type { TokenTransport } from '../transport/compose.js';
import { registryErrorsOf } from '../transport/status.js';
import { headerValue } from '../transport/http.js';
import type { Credentials } from '../client-types.js';

/** OAuth2 client id sent with refresh-token requests. */
export const TOKEN_CLIENT_ID = 'manifest-merge';
/** Token responses are small JSON documents; anything bigger is refused unread. */
const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;
/** Lifetime of a token whose response does not say (distribution token spec). */
const DEFAULT_TOKEN_LIFETIME_S = 60;

/** One token request: where, for which scopes, with which credentials (none: an anonymous token). */
export interface TokenRequest {
  registry: string;
  realm: URL;
  service?: string;
  scopes: string[];
  credentials?: Credentials;
}

/**
 * A token, or the token service's refusal (401 or 403: the credentials, or anonymous access, are
 * not good enough). `expiresAt` counts from `issued_at` when the service said when it issued it.
 */
export type TokenAttempt =
  | { ok: true; token: string; expiresAt: number; lifetimeMs: number }
  | { ok: false; status: number; errors: RegistryErrorDetail[]; request: { method: string; url: string } };

export interface TokenServiceOptions {
  /** where token requests go: the transport's retry, deadline, scheme policy and stats */
  tokens: TokenTransport;
  /** which realms may be spoken to over plain HTTP with credentials */
  policy: InsecurePolicy;
  logger: Logger;
  /** every secret met (the Basic value sent, each token in an answer) the moment it is known */
  secret: (value: string | undefined) => void;
  now: () => number;
}

/** The token services that registries' Bearer challenges name, as we speak to them. */
export class TokenService {
  constructor(private readonly options: TokenServiceOptions) {}

  async fetch(request: TokenRequest): Promise<TokenAttempt> {
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
        this.options.secret(encoded);
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
      plainHttpAllowed: this.options.policy.allowsPlainHttpRealm(registry, realm.host),
    });
    const status = response.status;
    if (status === 401 || status === 403) {
      return { ok: false, status, errors: tokenErrorsOf(response.bytes), request: shown };
    }
    if (status < 200 || status > 299) {
      const errors = tokenErrorsOf(response.bytes);
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
      throw new HttpError(
        'HTTP',
        `Registry ${registry}: token response from ${displayUrl(realm)} is over the ${MAX_TOKEN_RESPONSE_BYTES} byte limit`,
        shown,
        status,
        [],
        { registry },
      );
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
    this.options.secret(accessToken);
    this.options.secret(plainToken);
    if (typeof fields.refresh_token === 'string' && fields.refresh_token) this.options.secret(fields.refresh_token);
    if (!token) {
      throw new HttpError(
        'HTTP',
        `Registry ${registry}: token service ${displayUrl(realm)} answered without a token (no "token" or "access_token" field)`,
        shown,
        status,
        [],
        { registry },
      );
    }
    return { ok: true, token, ...this.lifetime(fields.expires_in, fields.issued_at) };
  }

  /**
   * Credentials go only to an https realm, or a plain-http one that is on loopback, listed as insecure
   * (host[:port] or host), or on the same host as a registry that is itself loopback or listed insecure
   * (a private registry whose token service runs beside it on another port).
   */
  private assertSafeRealm(registry: string, realm: URL, credentials: Credentials): void {
    if (realm.protocol === 'https:' || this.options.policy.allowsPlainHttpRealm(registry, realm.host)) return;
    throw new CredentialsError(
      `Refusing to send the credentials for ${registry} (from ${credentials.source}) to the token service ${displayUrl(realm)} over plain HTTP`,
      {
        registry,
        hint: `Serve the token realm over https, or, if this network is trusted, list ${realm.host.toLowerCase()} in {insecure}`,
      },
    );
  }

  private lifetime(expiresIn: unknown, issuedAt: unknown): { expiresAt: number; lifetimeMs: number } {
    const now = this.options.now();
    const lifetimeS = typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : DEFAULT_TOKEN_LIFETIME_S;
    const lifetimeMs = lifetimeS * 1000;
    let start = now;
    if (typeof issuedAt === 'string') {
      // issued_at makes a token handed out earlier (cached by the service) expire sooner;
      // ignored when it is in the future or already past the lifetime (clock skew)
      const issued = Date.parse(issuedAt);
      if (Number.isFinite(issued) && issued <= now && issued + lifetimeMs > now) start = issued;
    }
    return { expiresAt: start + lifetimeMs, lifetimeMs };
  }
}

/** The error a refused token request is, naming the realm, where the credentials came from and where they were looked for. */
export function tokenRefusedError(
  request: TokenRequest,
  refusal: Extract<TokenAttempt, { ok: false }>,
  describeLookup: (registry: string) => string,
): HttpError {
  const realm = displayUrl(request.realm);
  const said = refusal.errors
    .map((e) => e.message ?? e.code)
    .filter(Boolean)
    .join('; ');
  const source = request.credentials?.source ?? 'anonymous';
  return new HttpError(
    'UNAUTHORIZED',
    `Registry ${request.registry}: the token service ${realm} refused the credentials from ${source} (HTTP ${refusal.status}${said ? `: ${truncate(said, 200)}` : ''})`,
    refusal.request,
    refusal.status,
    refusal.errors,
    {
      hint: `Credentials for ${request.registry} were looked for in: ${describeLookup(request.registry)}. Check that they are current and allowed to access ${request.scopes.join(' ')}`,
    },
  );
}

/** The realm of a Bearer challenge as a URL to ask (http or https, no user info, no fragment). */
export function parseRealm(registry: string, realm: string | undefined): URL {
  const request = { method: 'GET', url: `https://${registry}/v2/` };
  if (!realm) {
    throw new HttpError(
      'UNAUTHORIZED',
      `Registry ${registry} asked for a Bearer token without saying where to get one (no realm in WWW-Authenticate)`,
      request,
      401,
    );
  }
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new HttpError(
      'UNAUTHORIZED',
      `Registry ${registry} named a token realm that is not a URL: "${truncate(realm, 200)}"`,
      request,
      401,
    );
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

/**
 * A token service's error body: the registry's `{"errors":[{code,message}]}` (registryErrorsOf),
 * Docker Hub's `{"details":"…"}`, or OAuth2's `{"error","error_description"}`.
 */
export function tokenErrorsOf(bytes: Buffer | undefined): RegistryErrorDetail[] {
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
