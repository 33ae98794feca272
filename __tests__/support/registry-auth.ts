// A RegistryAuth whose token requests go through a real transport over undici's MockAgent, and a
// token service at https://auth.example.com that tests program and whose requests they read back.
// Call useTokenService() at the top of a test file; the state below is fresh for each test.
import { afterEach, beforeEach } from '@jest/globals';
import { MockAgent } from 'undici';
import { createMemoryLogger } from '../../src/base/logger.js';
import { RegistryAuth } from '../../src/registry/auth/authenticator.js';
import { Transport } from '../../src/registry/transport/compose.js';
import type { CredentialProvider, Credentials, Scope } from '../../src/registry/client-types.js';

export const REALM = 'https://auth.example.com/token';
export const AUTH_ORIGIN = 'https://auth.example.com';
export const PASSWORD = 'p4ss-w0rd-s3cret';
export const BASIC_B64 = Buffer.from(`alice:${PASSWORD}`).toString('base64');

export function bearer(scope?: string, extra = ''): string {
  return `Bearer realm="${REALM}",service="registry.example.com"${scope ? `,scope="${scope}"` : ''}${extra}`;
}

export function provider(credentials: Credentials | undefined): CredentialProvider & { calls: number } {
  return {
    calls: 0,
    async credentialsFor() {
      this.calls++;
      return credentials;
    },
    describeLookup: (registry) => `inputs username/password, /home/u/.docker/config.json (auths["${registry}"])`,
  };
}

export const basicCreds: Credentials = {
  kind: 'basic',
  username: 'alice',
  password: PASSWORD,
  source: 'config.json auths["registry.example.com"]',
};

export interface Captured {
  path: string;
  method: string;
  headers: Record<string, string>;
  body: string;
}

export function headersOf(opts: { headers?: unknown }): Record<string, string> {
  const result: Record<string, string> = {};
  const h = opts.headers;
  if (h && typeof h === 'object') {
    for (const [k, v] of Object.entries(h as Record<string, unknown>)) result[k.toLowerCase()] = String(v);
  }
  return result;
}

export function queryOf(path: string): URLSearchParams {
  return new URL(path, AUTH_ORIGIN).searchParams;
}

export let agent: MockAgent;
export let captured: Captured[];
export let secrets: string[];
/** the transport of the last auth made: its stats are the token requests sent */
export let transport: Transport | undefined;
export let logger: ReturnType<typeof createMemoryLogger>;
export let clock: number;

/** Registers the hooks: a fresh MockAgent, records and clock before each test, the agent closed after. */
export function useTokenService(): void {
  beforeEach(() => {
    agent = new MockAgent();
    agent.disableNetConnect();
    captured = [];
    secrets = [];
    transport = undefined;
    logger = createMemoryLogger();
    clock = Date.parse('2025-01-01T00:00:00Z');
  });

  afterEach(async () => {
    await agent.close();
  });
}

/** Sets the clock the authenticator reads (token lifetimes). */
export function setClock(ms: number): void {
  clock = ms;
}

/** Every HTTP exchange the auth's transport made, by kind (tests use one kind at a time). */
export function requests(): string[] {
  return Object.entries(transport?.stats().byKind ?? {}).flatMap(([kind, n]) => Array<string>(n).fill(kind));
}

/** A RegistryAuth whose token requests go through a real transport over the MockAgent. */
export function authWith(credentials: CredentialProvider, insecureRegistries: string[] = [], maxAttempts = 3): RegistryAuth {
  transport = new Transport({
    createAuth: (tokens) =>
      new RegistryAuth({ credentials, tokens, logger, onSecret: (s) => secrets.push(s), insecureRegistries, now: () => clock }),
    credentials,
    logger,
    insecureRegistries,
    dispatcher: agent,
    connectionsPerOrigin: 8,
    retry: { maxAttempts, baseDelayMs: 1, maxDelayMs: 5 },
    requestTimeoutMs: 60_000,
    userAgent: 'manifest-merge-test',
  });
  return transport.auth as RegistryAuth;
}

export function makeAuth(
  credentials: Credentials | undefined,
  extra: { insecureRegistries?: string[] } = {},
): { auth: RegistryAuth; creds: CredentialProvider & { calls: number } } {
  const creds = provider(credentials);
  return { auth: authWith(creds, extra.insecureRegistries ?? []), creds };
}

/** Token endpoint answering `reply` for `times` requests, recording each request. */
export function tokenEndpoint(
  reply: { status?: number; json?: unknown; raw?: string; headers?: Record<string, string> },
  options: { method?: string; origin?: string; path?: string; times?: number; delay?: number } = {},
): void {
  const scope = agent
    .get(options.origin ?? AUTH_ORIGIN)
    .intercept({ path: (p) => p.split('?')[0] === (options.path ?? '/token'), method: options.method ?? 'GET' })
    .reply((opts) => {
      captured.push({
        path: opts.path,
        method: opts.method,
        headers: headersOf(opts),
        body: typeof opts.body === 'string' ? opts.body : '',
      });
      return {
        statusCode: reply.status ?? 200,
        data: reply.raw ?? JSON.stringify(reply.json ?? {}),
        responseOptions: { headers: { 'content-type': reply.raw ? 'text/html' : 'application/json', ...reply.headers } },
      };
    });
  if (options.times) scope.times(options.times);
  if (options.delay) scope.delay(options.delay);
}

export const pull = (repository: string): Scope => ({ repository, actions: ['pull'] });
export const pullPush = (repository: string): Scope => ({ repository, actions: ['pull', 'push'] });
