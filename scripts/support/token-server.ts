// A small token server implementing the distribution token spec
// (https://distribution.github.io/distribution/spec/auth/token/ and .../oauth/) for
// tests: GET /token with optional Basic auth, POST /token with OAuth2 password and
// refresh_token grants. Signs RS256 JWTs carrying the signing certificate in the `x5c`
// header, which is what distribution 2.8 verifies against `auth.token.rootcertbundle`.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createPrivateKey, createSign, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';

const execFileAsync = promisify(execFile);

export interface TokenGrant {
  /** repository name prefix this grant covers: `acme/` covers `acme/app`; `''` or `*` covers all */
  prefix: string;
  /** e.g. `['pull']`, `['pull', 'push']`, `['*']` (all, including delete) */
  actions: string[];
}

export interface TokenUser {
  password: string;
  /** a fixed refresh token (config.json `identitytoken`) accepted by `grant_type=refresh_token` */
  refreshToken?: string;
  grants: TokenGrant[];
}

export interface StartTokenServerOptions {
  service?: string;
  issuer?: string;
  users?: Record<string, TokenUser>;
  /** repository prefixes anyone (and any user) may pull without credentials */
  anonymousPullPrefixes?: string[];
  /** token lifetime in seconds (default 300) */
  expiresIn?: number;
}

export interface ResourceAccess {
  type: string;
  name: string;
  actions: string[];
}

export type TokenGrantType = 'anonymous' | 'basic' | 'password' | 'refresh_token';

/** One request to the token server, as tests see it. */
export interface TokenRequestRecord {
  method: string;
  path: string;
  /** each requested scope string (`repository:acme/app:pull,push`), in request order */
  scopes: string[];
  service?: string;
  /** the authenticated user, or `anonymous` */
  user: string;
  grantType: TokenGrantType;
  status: number;
  /** what the issued token allows (empty when refused) */
  granted: ResourceAccess[];
  at: number;
}

export interface IssueTokenOptions {
  subject?: string;
  access: ResourceAccess[];
  /** seconds from now; negative gives an expired token (default: the server's expiresIn) */
  expiresIn?: number;
  audience?: string;
  issuer?: string;
}

export interface TokenServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `http://127.0.0.1:PORT/token`, the registry's `auth.token.realm` */
  realm: string;
  service: string;
  issuer: string;
  /** PEM certificate to use as the registry's `auth.token.rootcertbundle` */
  certPath: string;
  /** every request so far (tests may clear it with `reset()`) */
  requests: TokenRequestRecord[];
  reset(): void;
  /** replaces the user table / anonymous policy at run time */
  setPolicy(policy: { users?: Record<string, TokenUser>; anonymousPullPrefixes?: string[] }): void;
  /** mints a token directly (e.g. an expired one, or one for another audience) */
  issueToken(options: IssueTokenOptions): string;
  stop(): Promise<void>;
}

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** Parses `type:name:actions` (name may itself hold `:` only for non-repository types; actions after the last `:`). */
export function parseScope(scope: string): ResourceAccess | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last <= first) return undefined;
  const actions = scope
    .slice(last + 1)
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions };
}

/** Decodes a JWT's header and claims without verifying it (for assertions in tests). */
export function decodeJwt(token: string): {
  header: Record<string, unknown>;
  claims: Record<string, unknown> & { access?: ResourceAccess[] };
} {
  const [header, claims] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header ?? '', 'base64url').toString('utf8')) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(claims ?? '', 'base64url').toString('utf8')) as Record<string, unknown> & { access?: ResourceAccess[] },
  };
}

function prefixMatches(prefix: string, name: string): boolean {
  return prefix === '' || prefix === '*' || name === prefix || name.startsWith(prefix);
}

async function makeSigningCertificate(dir: string): Promise<{ key: KeyObject; certPem: string; certPath: string; x5c: string }> {
  const keyPath = join(dir, 'token.key');
  const certPath = join(dir, 'token.crt');
  await execFileAsync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-sha256',
    '-days',
    '2',
    '-subj',
    '/CN=manifest-merge test token issuer',
    '-keyout',
    keyPath,
    '-out',
    certPath,
  ]);
  const certPem = await readFile(certPath, 'utf8');
  const key = createPrivateKey(await readFile(keyPath, 'utf8'));
  const x5c = certPem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  return { key, certPem, certPath, x5c };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Starts the token server on a free loopback port. */
export async function startTokenServer(options: StartTokenServerOptions = {}): Promise<TokenServer> {
  const dir = await mkdtemp(join(tmpdir(), 'mm-token-'));
  const signing = await makeSigningCertificate(dir);
  const service = options.service ?? 'manifest-merge-test-registry';
  const issuer = options.issuer ?? 'manifest-merge-test-token-issuer';
  const defaultExpiresIn = options.expiresIn ?? 300;
  let users: Record<string, TokenUser> = options.users ?? {};
  let anonymousPullPrefixes: string[] = options.anonymousPullPrefixes ?? [];
  /** refresh tokens minted for offline password grants → user */
  const minted = new Map<string, string>();
  const requests: TokenRequestRecord[] = [];

  function sign(claims: Record<string, unknown>): string {
    const header = { typ: 'JWT', alg: 'RS256', x5c: [signing.x5c] };
    const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(input).sign(signing.key);
    return `${input}.${base64url(signature)}`;
  }

  function issueToken(opts: IssueTokenOptions): string {
    const now = Math.floor(Date.now() / 1000);
    const expiresIn = opts.expiresIn ?? defaultExpiresIn;
    return sign({
      iss: opts.issuer ?? issuer,
      sub: opts.subject ?? '',
      aud: opts.audience ?? service,
      exp: now + expiresIn,
      // an already-expired token must also be "not before" its expiry
      nbf: Math.min(now, now + expiresIn) - 1,
      iat: now,
      jti: randomUUID(),
      access: opts.access,
    });
  }

  function allowedActions(user: string | undefined, name: string): Set<string> {
    const allowed = new Set<string>();
    if (anonymousPullPrefixes.some((p) => prefixMatches(p, name))) allowed.add('pull');
    const entry = user ? users[user] : undefined;
    for (const grant of entry?.grants ?? []) {
      if (prefixMatches(grant.prefix, name)) for (const action of grant.actions) allowed.add(action);
    }
    return allowed;
  }

  /** The subset of each requested scope that `user` may have; scopes with nothing granted are left out. */
  function grant(user: string | undefined, scopes: string[]): ResourceAccess[] {
    const byResource = new Map<string, ResourceAccess>();
    for (const scope of scopes) {
      const requested = parseScope(scope);
      if (!requested) continue;
      const allowed = requested.type === 'repository' ? allowedActions(user, requested.name) : new Set<string>();
      const all = allowed.has('*');
      const actions = requested.actions.filter((a) => all || (a !== '*' && allowed.has(a)));
      if (actions.length === 0) continue;
      const key = `${requested.type}:${requested.name}`;
      const existing = byResource.get(key);
      if (existing) existing.actions = [...new Set([...existing.actions, ...actions])];
      else byResource.set(key, { type: requested.type, name: requested.name, actions });
    }
    return [...byResource.values()];
  }

  function checkPassword(username: string, password: string): void {
    const entry = users[username];
    if (!entry || entry.password !== password) throw new HttpError(401, 'UNAUTHORIZED', 'invalid username or password');
  }

  function basicAuth(req: IncomingMessage): { username: string; password: string } | undefined {
    const header = req.headers.authorization;
    if (!header) return undefined;
    const match = /^Basic\s+(.+)$/i.exec(header);
    if (!match) throw new HttpError(401, 'UNAUTHORIZED', 'unsupported Authorization scheme (Basic expected)');
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new HttpError(401, 'UNAUTHORIZED', 'malformed Basic credentials');
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      const buffer = chunk as Buffer;
      size += buffer.length;
      if (size > 1024 * 1024) throw new HttpError(413, 'TOO_LARGE', 'request body too large');
      chunks.push(buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  function splitScopes(values: string[]): string[] {
    // Docker sends one `scope` parameter per scope; OAuth2 clients one space-separated `scope`.
    return values
      .flatMap((v) => v.split(' '))
      .map((s) => s.trim())
      .filter(Boolean);
  }

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const bytes = Buffer.from(JSON.stringify(body));
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(bytes.length), ...headers });
    res.end(bytes);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://token.invalid');
    const record: TokenRequestRecord = {
      method: req.method ?? 'GET',
      path: url.pathname,
      scopes: [],
      user: 'anonymous',
      grantType: 'anonymous',
      status: 0,
      granted: [],
      at: Date.now(),
    };
    requests.push(record);
    try {
      if (url.pathname !== '/token') throw new HttpError(404, 'NOT_FOUND', `no such endpoint ${url.pathname}`);
      let user: string | undefined;
      let offline = false;
      let refreshToken: string | undefined;
      if (req.method === 'GET') {
        record.scopes = splitScopes(url.searchParams.getAll('scope'));
        record.service = url.searchParams.get('service') ?? undefined;
        const credentials = basicAuth(req);
        if (credentials) {
          record.user = credentials.username;
          record.grantType = 'basic';
          checkPassword(credentials.username, credentials.password);
          user = credentials.username;
          offline = url.searchParams.get('offline_token') === 'true';
        }
      } else if (req.method === 'POST') {
        const form = new URLSearchParams(await readBody(req));
        record.scopes = splitScopes(form.getAll('scope'));
        record.service = form.get('service') ?? undefined;
        const grantType = form.get('grant_type');
        if (grantType === 'password') {
          record.grantType = 'password';
          const username = form.get('username') ?? '';
          record.user = username || 'anonymous';
          checkPassword(username, form.get('password') ?? '');
          user = username;
          offline = form.get('access_type') === 'offline';
        } else if (grantType === 'refresh_token') {
          record.grantType = 'refresh_token';
          const presented = form.get('refresh_token') ?? '';
          const owner =
            minted.get(presented) ??
            Object.entries(users).find(([, u]) => u.refreshToken !== undefined && u.refreshToken === presented)?.[0];
          if (!presented || !owner) throw new HttpError(401, 'invalid_grant', 'unknown or revoked refresh token');
          record.user = owner;
          user = owner;
          refreshToken = presented;
        } else {
          throw new HttpError(
            400,
            'unsupported_grant_type',
            `grant_type ${JSON.stringify(grantType)} is not supported (password, refresh_token)`,
          );
        }
      } else {
        throw new HttpError(405, 'UNSUPPORTED', `method ${req.method} not allowed`);
      }
      if (record.service !== undefined && record.service !== service) {
        throw new HttpError(
          400,
          'invalid_request',
          `unknown service ${JSON.stringify(record.service)} (this server issues tokens for ${JSON.stringify(service)})`,
        );
      }
      const access = grant(user, record.scopes);
      record.granted = access;
      const token = issueToken({ subject: user ?? '', access });
      const body: Record<string, unknown> = {
        token,
        access_token: token,
        expires_in: defaultExpiresIn,
        issued_at: new Date().toISOString(),
      };
      if (offline && user) {
        const fresh = users[user]?.refreshToken ?? randomBytes(24).toString('base64url');
        if (!users[user]?.refreshToken) minted.set(fresh, user);
        body.refresh_token = fresh;
      } else if (refreshToken) {
        body.refresh_token = refreshToken;
      }
      if (req.method === 'POST') body.scope = access.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`).join(' ');
      record.status = 200;
      send(res, 200, body, { 'cache-control': 'no-store' });
    } catch (error) {
      const httpError = error instanceof HttpError ? error : new HttpError(500, 'INTERNAL', String(error));
      record.status = httpError.status;
      const headers: Record<string, string> =
        httpError.status === 401 ? { 'www-authenticate': 'Basic realm="manifest-merge test token server"' } : {};
      const body =
        req.method === 'POST' && httpError.status !== 404
          ? { error: httpError.code, error_description: httpError.message }
          : { errors: [{ code: httpError.code, message: httpError.message }] };
      send(res, httpError.status, body, headers);
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { errors: [{ code: 'INTERNAL', message: String(error) }] });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  server.unref();
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  let stopped: Promise<void> | undefined;

  return {
    url,
    realm: `${url}/token`,
    service,
    issuer,
    certPath: signing.certPath,
    requests,
    reset: () => {
      requests.length = 0;
    },
    setPolicy: (policy) => {
      if (policy.users) users = policy.users;
      if (policy.anonymousPullPrefixes) anonymousPullPrefixes = policy.anonymousPullPrefixes;
    },
    issueToken,
    stop: () => {
      stopped ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
