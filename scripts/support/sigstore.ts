// A private Sigstore on loopback for the signing tests: Sigstore's own servers, built by
// go-tools.ts, trusting an OIDC issuer served here.
//
// - the OIDC issuer (node:http, no JWT library): discovery, JWKS, and ID tokens signed RS256 with
//   node:crypto, carrying GitHub Actions' claims; it also answers the Actions runtime's token
//   request (ACTIONS_ID_TOKEN_REQUEST_URL + ACTIONS_ID_TOKEN_REQUEST_TOKEN, `&audience=`), so the
//   action's own way to a token is tested too;
// - Fulcio (`fulcio serve --ca ephemeralca`, no CT log: certificates carry no SCT), configured to
//   trust that issuer as a `github-workflow` CI provider, as the public-good instance trusts
//   https://token.actions.githubusercontent.com: the certificate's SAN is
//   https://github.com/<job_workflow_ref> and its extensions are the workflow's claims;
// - the timestamp authority (`timestamp-server serve --timestamp-signer memory`), an RFC 3161 TSA
//   with an ephemeral certificate chain: GitHub's own instance (private repositories) is Fulcio +
//   TSA, no transparency log;
// - Rekor v2 (rekor-tiles' POSIX server: the log in a directory, Ed25519 checkpoints, origin
//   127.0.0.1 as verifiers derive it from the log's URL), for the tests that give `rekor-url`;
//   the others sign without it, and verifiers are told so (`--insecure-ignore-tlog`). Rekor v1
//   (rekor-server) needs Trillian and MySQL: not here;
// - the trusted root (trusted_root.json, Sigstore's `TrustedRoot` in JSON) naming Fulcio's chain
//   and the TSA's, for `cosign --trusted-root` and @sigstore/verify;
// - a stand-in for GitHub's attestations API (`POST /repos/{owner}/{repo}/attestations`),
//   keeping each bundle that arrives for the test to assert on.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  X509Certificate,
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
  sign as signData,
  type KeyObject,
} from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGoTool } from './go-tools.js';
import { freePort, spawnTracked, stopTracked } from './registry.js';

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function json(response: ServerResponse, status: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body));
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.byteLength });
  response.end(bytes);
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** A workflow run's identity: what the claims of its token say. */
export interface WorkflowIdentity {
  repository: string;
  /** the workflow file, relative to the repository */
  workflowPath: string;
  ref: string;
  sha: string;
  eventName: string;
  repositoryId: string;
  repositoryOwnerId: string;
  runId: string;
  runAttempt: string;
  visibility: 'public' | 'private' | 'internal';
}

export const DEFAULT_WORKFLOW: WorkflowIdentity = {
  repository: 'acme/app',
  workflowPath: '.github/workflows/release.yml',
  ref: 'refs/heads/main',
  sha: 'a'.repeat(40),
  eventName: 'push',
  repositoryId: '123456',
  repositoryOwnerId: '7890',
  runId: '424242',
  runAttempt: '1',
  visibility: 'private',
};

/** GitHub Actions' ID token claims for a workflow run (those Fulcio's github-workflow templates read). */
export function githubClaims(issuer: string, audience: string, w: WorkflowIdentity = DEFAULT_WORKFLOW): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  const owner = w.repository.split('/')[0];
  const workflowRef = `${w.repository}/${w.workflowPath}@${w.ref}`;
  return {
    iss: issuer,
    aud: audience,
    sub: `repo:${w.repository}:ref:${w.ref}`,
    iat: now,
    nbf: now - 5,
    exp: now + 600,
    jti: randomBytes(8).toString('hex'),
    ref: w.ref,
    ref_type: 'branch',
    sha: w.sha,
    repository: w.repository,
    repository_id: w.repositoryId,
    repository_owner: owner,
    repository_owner_id: w.repositoryOwnerId,
    repository_visibility: w.visibility,
    run_id: w.runId,
    run_number: '7',
    run_attempt: w.runAttempt,
    actor: 'octocat',
    actor_id: '1',
    workflow: 'release',
    workflow_ref: workflowRef,
    workflow_sha: w.sha,
    job_workflow_ref: workflowRef,
    job_workflow_sha: w.sha,
    event_name: w.eventName,
    runner_environment: 'github-hosted',
  };
}

export interface OidcIssuer {
  url: string;
  /** an ID token signed by this issuer: GitHub Actions' claims, with `overrides` on top */
  mint(overrides?: Record<string, unknown>, audience?: string): string;
  /** the Actions runtime's token request: ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN for it */
  actions: { requestUrl: string; requestToken: string };
  /** token requests answered so far (the audience each asked for) */
  requests: Array<{ audience: string | null; authorized: boolean }>;
  /** what the Actions token endpoint answers: `refuse` 403s every request */
  mode: 'ok' | 'refuse';
  stop(): Promise<void>;
}

/** The OIDC issuer: discovery, JWKS, minting, and the Actions runtime's token endpoint. */
export async function startOidcIssuer(workflow: WorkflowIdentity = DEFAULT_WORKFLOW): Promise<OidcIssuer> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomBytes(8).toString('hex');
  const requestToken = randomBytes(16).toString('hex');
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  let url = '';
  const mintWith = (key: KeyObject, overrides: Record<string, unknown> = {}, audience = 'sigstore') => {
    const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }));
    const payload = b64url(JSON.stringify({ ...githubClaims(url, audience, workflow), ...overrides }));
    return `${header}.${payload}.${b64url(signData('sha256', Buffer.from(`${header}.${payload}`), key))}`;
  };
  const issuer: OidcIssuer = {
    url: '',
    mint: (overrides, audience) => mintWith(privateKey, overrides, audience),
    actions: { requestUrl: '', requestToken },
    requests: [],
    mode: 'ok',
    stop: () => close(server),
  };
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', url);
    if (path.pathname === '/.well-known/openid-configuration') {
      return json(res, 200, {
        issuer: url,
        jwks_uri: `${url}/.well-known/jwks`,
        subject_types_supported: ['public', 'pairwise'],
        response_types_supported: ['id_token'],
        claims_supported: ['sub', 'aud', 'exp', 'iat', 'iss', 'repository', 'ref', 'sha', 'job_workflow_ref'],
        id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid'],
      });
    }
    if (path.pathname === '/.well-known/jwks') return json(res, 200, { keys: [jwk] });
    if (path.pathname === '/actions/token') {
      const authorized = req.headers.authorization === `Bearer ${requestToken}`;
      issuer.requests.push({ audience: path.searchParams.get('audience'), authorized });
      if (!authorized || issuer.mode === 'refuse') return json(res, 403, { message: 'Resource not accessible by integration' });
      return json(res, 200, { value: issuer.mint({}, path.searchParams.get('audience') ?? 'sigstore') });
    }
    json(res, 404, { message: 'not found' });
  });
  url = await listen(server);
  issuer.url = url;
  issuer.actions.requestUrl = `${url}/actions/token?api-version=2.0`;
  return issuer;
}

/** A token signed by a key the issuer never published: Fulcio must refuse it. */
export function forgedToken(issuer: OidcIssuer): string {
  const real = issuer.mint().split('.');
  const other = createPrivateKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return `${real[0]}.${real[1]}.${b64url(signData('sha256', Buffer.from(`${real[0]}.${real[1]}`), other))}`;
}

export interface SigstoreServer {
  url: string;
  /** the CA (or TSA) chain, PEM, leaf first */
  chain: string[];
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitFor(title: string, url: string, child: ChildProcess, logs: () => string, timeoutMs = 60_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${title} exited (${child.exitCode ?? child.signalCode}) before answering ${url}:\n${logs()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return response;
      await response.arrayBuffer();
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${title} did not answer ${url} within ${timeoutMs} ms:\n${logs()}`);
    await sleep(50);
  }
}

function capture(child: ChildProcess): () => string {
  let text = '';
  const keep = (chunk: Buffer) => {
    text = (text + chunk.toString('utf8')).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => text;
}

/** Splits a PEM bundle into its certificates. */
export function pemCertificates(text: string): string[] {
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map((m) => `${m[0]}\n`);
}

/** Fulcio with an ephemeral CA, trusting `issuer` as GitHub Actions (CI provider github-workflow). */
export async function startFulcio(issuer: OidcIssuer, dir: string): Promise<SigstoreServer> {
  const binary = await ensureGoTool('fulcio');
  const [port, grpcPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const config = {
    OIDCIssuers: {
      [issuer.url]: { IssuerURL: issuer.url, ClientID: 'sigstore', Type: 'ci-provider', CIProvider: 'github-workflow' },
    },
    CIIssuerMetadata: {
      'github-workflow': {
        DefaultTemplateValues: { url: 'https://github.com', environment: '' },
        ExtensionTemplates: {
          'github-workflow-trigger': 'event_name',
          'github-workflow-sha': 'sha',
          'github-workflow-name': 'workflow',
          'github-workflow-repository': 'repository',
          'github-workflow-ref': 'ref',
          'build-signer-uri': '{{ .url }}/{{ .job_workflow_ref }}',
          'build-signer-digest': 'job_workflow_sha',
          'runner-environment': 'runner_environment',
          'source-repository-uri': '{{ .url }}/{{ .repository }}',
          'source-repository-digest': 'sha',
          'source-repository-ref': 'ref',
          'source-repository-identifier': 'repository_id',
          'source-repository-owner-uri': '{{ .url }}/{{ .repository_owner }}',
          'source-repository-owner-identifier': 'repository_owner_id',
          'build-config-uri': '{{ .url }}/{{ .workflow_ref }}',
          'build-config-digest': 'workflow_sha',
          'build-trigger': 'event_name',
          'run-invocation-uri': '{{ .url }}/{{ .repository }}/actions/runs/{{ .run_id }}/attempts/{{ .run_attempt }}',
          'source-repository-visibility-at-signing': 'repository_visibility',
          'deployment-environment': 'environment',
        },
        SubjectAlternativeNameTemplate: '{{ .url }}/{{ .job_workflow_ref }}',
      },
    },
  };
  const configPath = join(dir, 'fulcio.json');
  await writeFile(configPath, JSON.stringify(config));
  const child = spawnTracked(
    binary,
    [
      'serve',
      '--ca=ephemeralca',
      `--config-path=${configPath}`,
      '--ct-log-url=',
      '--host=127.0.0.1',
      `--port=${port}`,
      '--grpc-host=127.0.0.1',
      `--grpc-port=${grpcPort}`,
      `--metrics-port=${metricsPort}`,
    ],
    { cwd: dir },
  );
  const logs = capture(child);
  const url = `http://127.0.0.1:${port}`;
  const response = await waitFor('fulcio', `${url}/api/v2/trustBundle`, child, logs);
  const bundle = (await response.json()) as { chains: Array<{ certificates: string[] }> };
  return { url, chain: bundle.chains[0].certificates.flatMap(pemCertificates), stop: () => stopTracked(child) };
}

/**
 * The timestamp authority with an in-memory signer (a fresh chain each start). Its metrics server
 * listens on :2112, fixed in v2.1.3 (pkg/server/prometheus.go), and a busy port is fatal: one
 * timestamp-server per host at a time (sign.test.ts is the only suite that starts one).
 */
export async function startTsa(dir: string): Promise<SigstoreServer> {
  const binary = await ensureGoTool('timestamp-server');
  const port = await freePort();
  const child = spawnTracked(
    binary,
    ['serve', '--host=127.0.0.1', `--port=${port}`, '--timestamp-signer=memory', '--disable-ntp-monitoring', '--log-type=prod'],
    { cwd: dir },
  );
  const logs = capture(child);
  const url = `http://127.0.0.1:${port}`;
  await waitFor('timestamp-server', `${url}/ping`, child, logs);
  const chain = pemCertificates(await (await fetch(`${url}/api/v1/timestamp/certchain`)).text());
  return { url, chain, stop: () => stopTracked(child) };
}

export interface RekorServer {
  url: string;
  /** the log's Ed25519 public key, SPKI DER */
  publicKey: Buffer;
  /** the signed-note key id of origin and key: the bundle entries' logId */
  logId: Buffer;
  started: Date;
  stop(): Promise<void>;
}

/** Rekor v2 on the POSIX backend, with a fresh Ed25519 log key; checkpoints every 200 ms so an entry's proof comes quickly. */
export async function startRekor(dir: string): Promise<RekorServer> {
  const binary = await ensureGoTool('rekor-tiles');
  const [port, grpcPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const keyPath = join(dir, 'rekor-key.pem');
  await writeFile(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const storage = join(dir, 'rekor-log');
  await mkdir(storage);
  const origin = '127.0.0.1';
  const child = spawnTracked(
    binary,
    [
      'serve',
      `--signer-filepath=${keyPath}`,
      `--storage-dir=${storage}`,
      `--hostname=${origin}`,
      '--http-address=127.0.0.1',
      `--http-port=${port}`,
      '--grpc-address=127.0.0.1',
      `--grpc-port=${grpcPort}`,
      `--http-metrics-port=${metricsPort}`,
      '--checkpoint-interval=200ms',
      '--batch-max-age=20ms',
    ],
    { cwd: dir },
  );
  const logs = capture(child);
  const url = `http://127.0.0.1:${port}`;
  await waitFor('rekor-tiles', `${url}/healthz`, child, logs);
  const der = publicKey.export({ type: 'spki', format: 'der' });
  // C2SP signed-note key id: sha256(origin, "\n", 0x01 (Ed25519), the raw key)
  const logId = createHash('sha256')
    .update(Buffer.concat([Buffer.from(`${origin}\n`), Buffer.from([1]), der.subarray(-32)]))
    .digest();
  return { url, publicKey: der, logId, started: new Date(Date.now() - 60_000), stop: () => stopTracked(child) };
}

/** Sigstore's TrustedRoot (JSON) for this stack: Fulcio's chain, the TSA's, Rekor v2's key when it runs; no CT log. */
export function trustedRoot(fulcio: SigstoreServer, tsa: SigstoreServer, rekor?: RekorServer): Record<string, unknown> {
  const authority = (server: SigstoreServer, organization: string) => {
    const certs = server.chain.map((pem) => new X509Certificate(pem));
    // valid from a little before the root's notBefore: a verifier checks the signing time is in range
    const start = new Date(Math.min(...certs.map((c) => Date.parse(c.validFrom))) - 60_000).toISOString();
    return {
      subject: { organization, commonName: organization },
      uri: server.url,
      certChain: { certificates: certs.map((c) => ({ rawBytes: c.raw.toString('base64') })) },
      validFor: { start },
    };
  };
  return {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: rekor
      ? [
          {
            baseUrl: rekor.url,
            hashAlgorithm: 'SHA2_256',
            publicKey: {
              rawBytes: rekor.publicKey.toString('base64'),
              keyDetails: 'PKIX_ED25519',
              validFor: { start: rekor.started.toISOString() },
            },
            logId: { keyId: rekor.logId.toString('base64') },
          },
        ]
      : [],
    certificateAuthorities: [authority(fulcio, 'manifest-merge test fulcio')],
    ctlogs: [],
    timestampAuthorities: [authority(tsa, 'manifest-merge test tsa')],
  };
}

export interface SigstoreStack {
  issuer: OidcIssuer;
  fulcio: SigstoreServer;
  tsa: SigstoreServer;
  rekor: RekorServer;
  /** the stack's own temporary directory (removed by stop) */
  dir: string;
  trustedRoot: Record<string, unknown>;
  /** trusted_root.json on disk, for `cosign --trusted-root` */
  trustedRootPath: string;
  /** what `cosign verify --certificate-identity/--certificate-oidc-issuer` expect of the default workflow's token */
  identity: { san: string; issuer: string };
  stop(): Promise<void>;
}

/** The whole stack: issuer, Fulcio, TSA, Rekor v2 and the trusted root naming them. */
export async function startSigstore(workflow: WorkflowIdentity = DEFAULT_WORKFLOW): Promise<SigstoreStack> {
  const dir = await mkdtemp(join(tmpdir(), 'mm-sigstore-'));
  const issuer = await startOidcIssuer(workflow);
  const started: Array<{ stop(): Promise<void> }> = [];
  try {
    const [fulcio, tsa, rekor] = await Promise.all([
      startFulcio(issuer, dir).then((s) => (started.push(s), s)),
      startTsa(dir).then((s) => (started.push(s), s)),
      startRekor(dir).then((s) => (started.push(s), s)),
    ]);
    const root = trustedRoot(fulcio, tsa, rekor);
    const trustedRootPath = join(dir, 'trusted_root.json');
    await writeFile(trustedRootPath, JSON.stringify(root, null, 2));
    return {
      issuer,
      fulcio,
      tsa,
      rekor,
      dir,
      trustedRoot: root,
      trustedRootPath,
      identity: { san: `https://github.com/${workflow.repository}/${workflow.workflowPath}@${workflow.ref}`, issuer: issuer.url },
      stop: async () => {
        await Promise.all([fulcio.stop(), tsa.stop(), rekor.stop(), issuer.stop()]);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await Promise.all([...started.map((s) => s.stop()), issuer.stop()]);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** One bundle GitHub's attestations API received. */
export interface ReceivedAttestation {
  owner: string;
  repo: string;
  authorization?: string;
  body: { bundle?: Record<string, unknown> } & Record<string, unknown>;
}

export interface AttestationsApi {
  url: string;
  received: ReceivedAttestation[];
  /** answer every POST with this status instead of 201 */
  failWith?: number;
  stop(): Promise<void>;
}

/** GitHub's attestations API, the one endpoint that stores: `POST /repos/{owner}/{repo}/attestations` → 201 `{id}`. */
export async function startAttestationsApi(): Promise<AttestationsApi> {
  const api: AttestationsApi = { url: '', received: [], stop: () => close(server) };
  const server = createServer((req, res) => {
    void (async () => {
      const match = /^\/repos\/([^/]+)\/([^/]+)\/attestations$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
      const body = await readBody(req);
      if (!match || req.method !== 'POST') return json(res, 404, { message: 'Not Found' });
      if (!req.headers.authorization?.startsWith('Bearer ')) return json(res, 401, { message: 'Requires authentication' });
      if (api.failWith) return json(res, api.failWith, { message: 'Resource not accessible by integration' });
      let parsed: ReceivedAttestation['body'];
      try {
        parsed = JSON.parse(body.toString('utf8')) as ReceivedAttestation['body'];
      } catch {
        return json(res, 400, { message: 'Problems parsing JSON' });
      }
      if (typeof parsed.bundle !== 'object' || parsed.bundle === null) return json(res, 422, { message: 'bundle is missing' });
      api.received.push({
        owner: decodeURIComponent(match[1]),
        repo: decodeURIComponent(match[2]),
        authorization: req.headers.authorization,
        body: parsed,
      });
      json(res, 201, { id: api.received.length });
    })();
  });
  api.url = await listen(server);
  return api;
}
