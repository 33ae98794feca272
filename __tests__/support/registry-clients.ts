// Registry clients for unit tests, and what their tests share: a client over undici's MockAgent
// (a registry at https://registry.example.com, a token service at auth.example.com, object
// storage at storage.example.net), credential providers, a manifest, and helpers to read what
// the mock was sent.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { expect } from '@jest/globals';
import { MockAgent, type Interceptable } from 'undici';
import { createMemoryLogger } from '../../src/base/logger.js';
import { MediaType } from '../../src/oci/manifest.js';
import { createRegistryClient } from '../../src/registry/client.js';
import type { CredentialProvider, Credentials, RegistryClientOptions } from '../../src/registry/client-types.js';
import type { Send } from '../../src/registry/transport/http.js';

/** No credentials for any registry. */
export const anonymous: CredentialProvider = { credentialsFor: async () => undefined, describeLookup: () => 'nowhere' };

export const REGISTRY = 'registry.example.com';
export const ORIGIN = `https://${REGISTRY}`;
export const AUTH_ORIGIN = 'https://auth.example.com';
export const STORAGE_ORIGIN = 'https://storage.example.net';
export const APP = { registry: REGISTRY, repository: 'acme/app' };
export const PASSWORD = 'hunter2-very-secret';
export const TOKEN = 'tok-ABCDEF-0123456789';

export const sha256 = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export const MANIFEST = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: `sha256:${'a'.repeat(64)}`, size: 2 },
    layers: [],
  }),
);
export const MANIFEST_DIGEST = sha256(MANIFEST);

/** Fixed credentials per registry; the lookup is described the way the action's would be. */
export function credentials(map: Record<string, Credentials> = {}): CredentialProvider {
  return {
    credentialsFor: async (registry) => map[registry],
    describeLookup: (registry) => `the username/password inputs, /home/runner/.docker/config.json (auths["${registry}"])`,
  };
}

/** What a mock reply callback is told about the request (undici's MockInterceptor.MockResponseCallbackOptions). */
export interface ReplyOptions {
  path: string;
  method: string;
  headers?: Headers | Record<string, string>;
  body?: unknown;
}
/** The data argument of a mock reply. */
export type ReplyData = NonNullable<Parameters<ReturnType<Interceptable['intercept']>['reply']>[1]>;

export function header(opts: ReplyOptions, name: string): string | undefined {
  const headers = opts.headers;
  if (!headers) return undefined;
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  return headers[name] ?? headers[name.toLowerCase()];
}

/** A reply whose data is computed asynchronously (undici supports a promise; its types do not say so). */
export function asyncData(fn: (opts: ReplyOptions) => Promise<string | Buffer>): ReplyData {
  return fn as unknown as ReplyData;
}

/** Reads a streamed request body the way a registry would; records how far it got and why it stopped. */
export async function consume(body: ReplyOptions['body']): Promise<{ bytes: Buffer; error?: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of body as Readable) chunks.push(Buffer.from(chunk as Buffer));
    return { bytes: Buffer.concat(chunks) };
  } catch (error) {
    return { bytes: Buffer.concat(chunks), error };
  }
}

/** A client over a MockAgent that refuses the network; `registry` is the mock of https://registry.example.com. */
export function mockRegistryClient(overrides: Partial<RegistryClientOptions> = {}) {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const logger = createMemoryLogger();
  const client = createRegistryClient({
    credentials: credentials(),
    dispatcher: agent,
    logger,
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
    ...overrides,
  });
  return { agent, registry: agent.get(ORIGIN), logger, client };
}

export const manifestPath = (reference: string, repository = 'acme/app'): string => `/v2/${repository}/manifests/${reference}`;
export const bearerChallenge = (scope: string, extra = ''): string =>
  `Bearer realm="${AUTH_ORIGIN}/token",service="${REGISTRY}",scope="${scope}"${extra}`;

export const basicCredentials = (): CredentialProvider =>
  credentials({ [REGISTRY]: { kind: 'basic', username: 'ci', password: PASSWORD, source: 'the username/password inputs' } });
export const BASIC_VALUE = Buffer.from(`ci:${PASSWORD}`).toString('base64');

export function expectNoSecrets(texts: string[]): void {
  for (const text of texts) {
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(BASIC_VALUE);
  }
}

/** A stub wire that answers every exchange 200 with no body (layers tested alone). */
export const ok = (): ReturnType<Send> => Promise.resolve({ status: 200, headers: {}, body: undefined as never });
