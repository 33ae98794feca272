// Tokens already fetched, per registry and scope set, until shortly before they expire: a token
// covering what a request needs is handed out again instead of asking the token service, and one
// the registry refused is never handed out again.
import { type ScopeSet, coversScopes } from './scope.js';

/** A cached token is dropped this long before it expires, so a request never races the expiry. */
const EXPIRY_MARGIN_MS = 10_000;

export interface CachedToken {
  scopes: ScopeSet;
  /** the Authorization header value: `Bearer <token>` */
  header: string;
  /** when it stops being handed out (epoch ms): its expiry, less the margin */
  expiresAt: number;
}

export class TokenCache {
  private readonly byRegistry = new Map<string, CachedToken[]>();

  constructor(private readonly now: () => number) {}

  /**
   * Keeps `header` for `scopes` until it expires at `expiresAt`, less a margin (a quarter of
   * `lifetimeMs` for short-lived tokens).
   */
  add(registry: string, scopes: ScopeSet, header: string, expiresAt: number, lifetimeMs: number): void {
    this.tokens(registry).push({ scopes, header, expiresAt: expiresAt - Math.min(EXPIRY_MARGIN_MS, lifetimeMs / 4) });
  }

  /** An unexpired token covering `wanted`, if any (expired ones are dropped on the way). */
  find(registry: string, wanted: ScopeSet): CachedToken | undefined {
    const now = this.now();
    const tokens = this.tokens(registry).filter((t) => t.expiresAt > now);
    this.byRegistry.set(registry, tokens);
    return tokens.find((t) => coversScopes(t.scopes, wanted));
  }

  /** The registry refused this very header (expired, revoked, or short of a scope): never hand it out again. */
  drop(registry: string, header: string): void {
    this.byRegistry.set(
      registry,
      this.tokens(registry).filter((t) => t.header !== header),
    );
  }

  /** The registry rejected a token for `scopes`: no cached token covering them is any good, whatever our records say. */
  dropCovering(registry: string, scopes: ScopeSet): void {
    this.byRegistry.set(
      registry,
      this.tokens(registry).filter((t) => !coversScopes(t.scopes, scopes)),
    );
  }

  private tokens(registry: string): CachedToken[] {
    let tokens = this.byRegistry.get(registry);
    if (!tokens) {
      tokens = [];
      this.byRegistry.set(registry, tokens);
    }
    return tokens;
  }
}
