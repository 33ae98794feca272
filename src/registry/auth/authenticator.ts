// Answering a registry's 401 the way the docker CLI does: parse the WWW-Authenticate challenge,
// then answer Basic with the user's credentials, or get a Bearer token from the challenge's realm
// (token.ts) covering every scope the run declared, in one request. A registry token from
// config.json is sent as is; an insufficient_scope challenge gets a wider token; a token the
// registry refused is never handed out again (token-cache.ts keeps them per registry and scope
// set until they expire), and concurrent requests for the same token share one token request.
import { CredentialsError } from '../../base/errors.js';
import type { Logger } from '../../base/logger.js';
import { InsecurePolicy } from '../../oci/hosts.js';
import { registerSecret } from '../../base/redact.js';
import type { TokenTransport } from '../transport/compose.js';
import type { CredentialProvider, Credentials, Scope } from '../client-types.js';
import { type AuthChallenge, parseWwwAuthenticate } from './challenge.js';
import { type ScopeSet, formatScopeSet, parseScopeParam, scopeSetFrom, unionScopeSets } from './scope.js';
import { TokenCache } from './token-cache.js';
import { TokenService, parseRealm, tokenRefusedError, type TokenRequest } from './token.js';

export { TOKEN_CLIENT_ID } from './token.js';

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

interface RegistryState {
  declared: ScopeSet;
  /** `Basic …` once the registry asked for Basic and credentials were found */
  basic?: string;
  /** `Bearer <registrytoken>`, used for every request */
  staticBearer?: string;
  /** where the credentials answering this registry's challenges came from */
  credentialSource?: string;
  /** a failed credential lookup was reported (once) */
  lookupFailureReported?: boolean;
}

export class RegistryAuth {
  private readonly options: RegistryAuthOptions;
  private readonly states = new Map<string, RegistryState>();
  private readonly inFlight = new Map<string, Promise<string | undefined>>();
  private readonly cache: TokenCache;
  private readonly tokenService: TokenService;

  constructor(options: RegistryAuthOptions) {
    this.options = options;
    const now = options.now ?? Date.now;
    this.cache = new TokenCache(now);
    this.tokenService = new TokenService({
      tokens: options.tokens,
      policy: new InsecurePolicy(options.insecureRegistries),
      logger: options.logger,
      secret: (value) => this.secret(value),
      now,
    });
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
    return this.cache.find(registry, scopeSetFrom(scopes))?.header;
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
          this.options.logger.warning(
            `${registry} asks for Basic authentication, which the identity token from ${credentials.source} cannot answer`,
          );
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
      this.options.logger.warning(
        `The credentials for ${registry} from ${credentials.source} lack a username or password; asking for an anonymous token`,
      );
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
      this.cache.drop(registry, sentAuthorization);
      const newer = this.cache.find(registry, needed);
      if (newer) return newer.header;
    } else if (challenge.params.error) {
      // the request carried a token and the registry rejected it (insufficient_scope, invalid_token):
      // a cached token covering the same scopes is no good, whatever our records say
      this.cache.dropCovering(registry, needed);
    } else {
      // the request went out anonymously; a concurrent call may have fetched a token meanwhile
      const cached = this.cache.find(registry, needed);
      if (cached) return cached.header;
    }

    const scopeStrings = formatScopeSet(wanted);
    const key = JSON.stringify([registry, realm.href, service ?? '', credentials?.source ?? '', scopeStrings]);
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const flight = this.fetchAndCache({ registry, realm, service, scopes: scopeStrings, credentials }, wanted, needed).finally(() => {
      this.inFlight.delete(key);
    });
    this.inFlight.set(key, flight);
    return flight;
  }

  private async fetchAndCache(request: TokenRequest, wanted: ScopeSet, needed: ScopeSet): Promise<string | undefined> {
    let scopeSet = wanted;
    let attempt = await this.tokenService.fetch(request);
    const neededStrings = formatScopeSet(needed);
    if (!attempt.ok && neededStrings.join(' ') !== request.scopes.join(' ')) {
      // some token services refuse the whole request when one declared repository is off limits:
      // ask again for just what this request needs
      this.options.logger.debug(
        `auth: token service refused ${request.scopes.length} scopes for ${request.registry}; asking for this request's scopes only`,
      );
      scopeSet = needed;
      attempt = await this.tokenService.fetch({ ...request, scopes: neededStrings });
    }
    if (!attempt.ok) {
      if (!request.credentials) {
        this.options.logger.debug(`auth: ${request.registry} refused an anonymous token (HTTP ${attempt.status})`);
        return undefined;
      }
      throw tokenRefusedError(request, attempt, (registry) => this.options.credentials.describeLookup(registry));
    }
    const header = `Bearer ${attempt.token}`;
    this.cache.add(request.registry, scopeSet, header, attempt.expiresAt, attempt.lifetimeMs);
    return header;
  }

  private state(registry: string): RegistryState {
    let state = this.states.get(registry);
    if (!state) {
      state = { declared: new Map() };
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
