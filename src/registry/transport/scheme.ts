// Scheme choice: every registry is spoken to over HTTPS, except that one the insecure policy
// allows (loopback, or listed insecure) falls back to plain HTTP when its first HTTPS attempt
// fails, and is remembered as plain from then on. TLS to such hosts is not verified (as docker
// does). Credentials never travel over plain HTTP to a host the policy does not allow.
import { ManifestMergeError } from '../../base/errors.js';
import type { Logger } from '../../base/logger.js';
import { registryApiHost, type InsecurePolicy } from '../../oci/hosts.js';
import { reasonOf } from './status.js';
import type { Exchange, Send, WireResponse } from './http.js';

interface SchemeState {
  scheme?: 'https' | 'http';
  /** an HTTPS attempt in flight on a registry that may speak plain HTTP; settles once it got an answer or failed */
  probe?: Promise<void>;
  /** that attempt failed: requests made meanwhile go straight to plain HTTP */
  httpsFailed?: boolean;
}

/** An exchange with a registry: `url` may still say https:// where the registry turns out to speak http://. */
export type RegistryExchange = Exchange & { registry: string };

export class SchemeLayer {
  private readonly states = new Map<string, SchemeState>();

  constructor(
    private readonly send: Send,
    private readonly policy: InsecurePolicy,
    private readonly logger: Logger,
  ) {}

  /** `https://host` (or `http://host` once a plain-HTTP registry was found to speak only that). */
  origin(registry: string): string {
    return `${this.state(registry).scheme ?? 'https'}://${registryApiHost(registry)}`;
  }

  isRegistryOrigin(registry: string, url: string): boolean {
    try {
      return new URL(url).origin === new URL(this.origin(registry)).origin;
    } catch {
      return false;
    }
  }

  /** Sends to a registry; on the very first contact with a plain-HTTP-capable registry, HTTPS then HTTP. Resolves with the URL actually used. */
  async exchange(exchange: RegistryExchange): Promise<WireResponse & { url: string }> {
    const { registry } = exchange;
    const state = this.state(registry);
    const mayProbe = (): boolean =>
      state.scheme === undefined && this.policy.allowsPlainHttp(registry) && this.isRegistryOrigin(registry, exchange.url);
    // Requests sent in parallel (anonymous ones do not wait for the first) share one HTTPS attempt.
    if (mayProbe() && state.probe) await state.probe;
    // The registry's own API host is judged by the registry's name: `docker.io` listed insecure
    // covers registry-1.docker.io, where its API lives (credentials are not dropped there).
    const allowed = (url: string): boolean | undefined =>
      new URL(url).host.toLowerCase() === registryApiHost(registry).toLowerCase() ? this.policy.allowsPlainHttp(registry) : undefined;
    const https = `https://${registryApiHost(registry)}/`;
    if (exchange.url.startsWith(https) && (state.scheme === 'http' || (mayProbe() && state.httpsFailed))) {
      const plainUrl = `http://${exchange.url.slice('https://'.length)}`;
      const plain = await this.sendTo(exchange, plainUrl, false, allowed(plainUrl));
      state.scheme = 'http';
      return plain;
    }
    const probing = mayProbe();
    let settle = (): void => undefined;
    if (probing) state.probe = new Promise<void>((resolve) => (settle = resolve));
    try {
      const response = await this.sendTo(exchange, exchange.url, probing, allowed(exchange.url));
      if (probing || this.isRegistryOrigin(registry, exchange.url)) state.scheme ??= 'https';
      return response;
    } catch (error) {
      // the wire's own failures (refused, reset, TLS spoken to a plain server) mean "try HTTP"
      if (!probing || exchange.signal?.aborted || error instanceof ManifestMergeError) throw error;
      state.httpsFailed = true;
      settle();
      this.logger.debug(`${registry}: HTTPS failed (${reasonOf(error)}); trying plain HTTP`);
      const plainUrl = exchange.url.replace(/^https:/i, 'http:');
      const response = await this.sendTo(exchange, plainUrl, false, allowed(plainUrl));
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

  /**
   * Sends to any URL (a token realm, object storage), with the same policy for TLS and credentials.
   * `allowed`: whether this host may be spoken to without TLS checks (default: the policy for its host).
   * Failures are the wire's own, untyped: the layer above names them.
   */
  async sendTo(
    exchange: Exchange,
    url: string,
    probe = false,
    allowed = this.policy.allowsPlainHttp(new URL(url).host),
  ): Promise<WireResponse & { url: string }> {
    const parsed = new URL(url);
    const headers = { ...exchange.headers };
    // Credentials never go over plain HTTP except to hosts allowed to use it.
    if (parsed.protocol !== 'https:' && !allowed) delete headers.authorization;
    const out: Exchange = { ...exchange, url, headers, insecureTls: parsed.protocol === 'https:' && allowed, probe };
    return { ...(await this.send(out)), url };
  }

  private state(registry: string): SchemeState {
    let state = this.states.get(registry);
    if (!state) {
      state = {};
      this.states.set(registry, state);
    }
    return state;
  }
}
