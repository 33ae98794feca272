// The shapes that travel through the transport's layers. A registry request names what it is
// about (for messages and facts) and which statuses its caller handles; everything else about
// HTTP (scheme, auth, retries, errors, counting) is the layers' business.
import type { Readable } from 'node:stream';
import type { ErrorFacts } from '../../base/errors.js';

/** Actions a token must grant on one repository. */
export interface Scope {
  repository: string;
  actions: Array<'pull' | 'push' | 'delete'>;
}

export interface RetryOptions {
  /** attempts including the first (default 5) */
  maxAttempts?: number;
  /** first backoff (default 200 ms); doubles each attempt, with full jitter */
  baseDelayMs?: number;
  /** cap on one backoff (default 10 s) */
  maxDelayMs?: number;
}

/** Counters for metadata and benchmarks. `byKind` keys look like "GET manifest", "HEAD blob", "POST mount", "PUT manifest", "GET token". */
export interface RequestStats {
  requests: number;
  byKind: Record<string, number>;
  retries: number;
}

/**
 * What the transport asks of the credential provider (client-types.ts CredentialProvider): whether
 * a registry has credentials at all (requests to an anonymous registry need not wait for the
 * first one's token), and where they were looked for (for "401: … looked in …" messages).
 */
export interface CredentialLookup {
  credentialsFor(registry: string): Promise<unknown>;
  describeLookup(registry: string): string;
}

export type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

/** A response body as the wire hands it over: a stream, which `dump` drains so the connection is reused. */
export type ResponseBody = Readable & { dump?(options?: { limit?: number }): Promise<void> };

export type Headers = Record<string, string | string[] | undefined>;

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
  /** repository and reference the request is about, carried into the facts of its errors */
  facts?: Pick<ErrorFacts, 'repository' | 'reference'>;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  body: ResponseBody;
  /** final URL (after redirects and the scheme choice) */
  url: string;
  method: Method;
  /** aborts at the deadline; also covers reading the body */
  signal?: AbortSignal;
}

/** One HTTP exchange as the innermost layers see it: an absolute URL, nothing left to decide. */
export interface Exchange {
  url: string;
  method: Method;
  headers: Record<string, string>;
  body?: Buffer | string | Readable;
  signal?: AbortSignal;
  /** stats key */
  kind: string;
  /** TLS without certificate verification (loopback or listed-insecure hosts only) */
  insecureTls?: boolean;
  /** an HTTPS attempt that may fall back to HTTP: a failure is not an exchange worth counting */
  probe?: boolean;
}

export interface WireResponse {
  status: number;
  headers: Headers;
  body: ResponseBody;
}

export type Send = (exchange: Exchange) => Promise<WireResponse>;

export function headerValue(headers: Headers, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}
