// Local stand-ins for the hosted services' web APIs that `cleanup-sources` calls, each over a
// real registry (the one the test maps ghcr.io or docker.io to), implementing the documented
// endpoints only:
//
// - GitHub's packages API: GET /{orgs|users}/{owner}/packages/container/{package}/versions
//   (paged: per_page, page; newest first; each version `id`, `name` = digest,
//   `metadata.container.tags`) and DELETE …/versions/{id}, Bearer token. A version is a manifest
//   the registry has under a tag (plus any the test registers); deleting one deletes the manifest
//   by digest in the registry, every tag with it, as GHCR does.
// - Docker Hub's API: POST /v2/users/login {username, password} → {token}, and
//   DELETE /v2/repositories/{namespace}/{repository}/tags/{tag}/ with that token: the tag goes,
//   the manifest stays (DELETE of the tag in a registry that deletes tags, distribution v3).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { RegistryEndpoint } from './registry.js';
import { hasManifest, getManifest, listTags, registryRequest } from './fixtures/client.js';

export interface RecordedRequest {
  method: string;
  path: string;
  authorization?: string;
  status: number;
}

export interface HostedApiServer {
  url: string;
  requests: RecordedRequest[];
  stop(): Promise<void>;
}

export interface FakeGithubPackages extends HostedApiServer {
  /** digests whose version was deleted, in order */
  deleted: string[];
  /** digests listed as versions besides the tagged ones (untagged versions) */
  untagged: Set<string>;
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const bytes = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(bytes) });
  res.end(bytes);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function stopper(server: Server): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
}

/**
 * GitHub's packages API over `registry`. `owners` says which owners are organisations and which
 * users (an owner not listed answers 404 on both). `token` is the only one accepted.
 */
export async function startFakeGithubPackages(options: {
  registry: RegistryEndpoint;
  token: string;
  owners: Record<string, 'orgs' | 'users'>;
}): Promise<FakeGithubPackages> {
  const requests: RecordedRequest[] = [];
  const deleted: string[] = [];
  const untagged = new Set<string>();
  const ids = new Map<string, number>();
  const digestsById = new Map<number, string>();
  let nextId = 1000;
  const idOf = (digest: string) => {
    let id = ids.get(digest);
    if (id === undefined) {
      id = nextId++;
      ids.set(digest, id);
      digestsById.set(id, digest);
    }
    return id;
  };

  async function versions(repository: string): Promise<Array<{ id: number; name: string; metadata: { container: { tags: string[] } } }>> {
    const byDigest = new Map<string, string[]>();
    for (const tag of await listTags(options.registry, repository)) {
      const { digest } = await getManifest(options.registry, repository, tag);
      byDigest.set(digest, [...(byDigest.get(digest) ?? []), tag]);
    }
    for (const digest of untagged)
      if (!byDigest.has(digest) && (await hasManifest(options.registry, repository, digest))) byDigest.set(digest, []);
    // newest first: the highest id first (a digest seen later gets a higher id)
    return [...byDigest]
      .map(([digest, tags]) => ({ id: idOf(digest), name: digest, metadata: { container: { tags } } }))
      .sort((a, b) => b.id - a.id);
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const record = (status: number) =>
      requests.push({ method: req.method ?? '', path: url.pathname + url.search, authorization: req.headers.authorization, status });
    void (async () => {
      const match = /^\/(orgs|users)\/([^/]+)\/packages\/container\/([^/]+)\/versions(?:\/(\d+))?$/.exec(url.pathname);
      if (req.headers.authorization !== `Bearer ${options.token}`) {
        record(401);
        return json(res, 401, { message: 'Bad credentials' });
      }
      if (!match || options.owners[decodeURIComponent(match[2])] !== match[1]) {
        record(404);
        return json(res, 404, { message: 'Not Found' });
      }
      const repository = `${decodeURIComponent(match[2])}/${decodeURIComponent(match[3])}`;
      if (req.method === 'GET' && !match[4]) {
        const all = await versions(repository);
        const perPage = Number(url.searchParams.get('per_page') ?? 30);
        const page = Number(url.searchParams.get('page') ?? 1);
        record(200);
        return json(res, 200, all.slice((page - 1) * perPage, page * perPage));
      }
      if (req.method === 'DELETE' && match[4]) {
        const digest = digestsById.get(Number(match[4]));
        if (!digest || !(await hasManifest(options.registry, repository, digest))) {
          record(404);
          return json(res, 404, { message: 'Package version not found' });
        }
        const response = await registryRequest(options.registry, {
          method: 'DELETE',
          path: `/v2/${repository}/manifests/${digest}`,
          repository,
          push: true,
        });
        await response.arrayBuffer();
        if (response.status !== 202) {
          record(500);
          return json(res, 500, { message: `backing registry answered ${response.status}` });
        }
        deleted.push(digest);
        untagged.delete(digest);
        record(204);
        res.writeHead(204).end();
        return;
      }
      record(405);
      json(res, 405, { message: 'Method not allowed' });
    })().catch((error: unknown) => {
      record(500);
      json(res, 500, { message: String(error) });
    });
  });
  const url = await listen(server);
  return { url, requests, deleted, untagged, stop: stopper(server) };
}

export interface FakeDockerHub extends HostedApiServer {
  /** tags deleted, as namespace/repository:tag */
  deleted: string[];
}

/** Docker Hub's API over `registry` (one that deletes tags: distribution v3 with deletes enabled). */
export async function startFakeDockerHub(options: { registry: RegistryEndpoint; users: Record<string, string> }): Promise<FakeDockerHub> {
  const requests: RecordedRequest[] = [];
  const deleted: string[] = [];
  const tokens = new Set<string>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const record = (status: number) =>
      requests.push({ method: req.method ?? '', path: url.pathname, authorization: req.headers.authorization, status });
    void (async () => {
      if (req.method === 'POST' && url.pathname === '/v2/users/login') {
        let body: { username?: string; password?: string } = {};
        try {
          body = JSON.parse(await readBody(req)) as typeof body;
        } catch {
          // refused below
        }
        if (!body.username || options.users[body.username] !== body.password) {
          record(401);
          return json(res, 401, { detail: 'Incorrect authentication credentials.' });
        }
        const token = `hubjwt-${randomBytes(12).toString('hex')}`;
        tokens.add(token);
        record(200);
        return json(res, 200, { token });
      }
      const match = /^\/v2\/repositories\/([^/]+)\/([^/]+)\/tags\/([^/]+)\/$/.exec(url.pathname);
      if (req.method === 'DELETE' && match) {
        const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        if (!bearer || !tokens.has(bearer)) {
          record(401);
          return json(res, 401, { detail: 'Authentication credentials were not provided.' });
        }
        const repository = `${decodeURIComponent(match[1])}/${decodeURIComponent(match[2])}`;
        const tag = decodeURIComponent(match[3]);
        const response = await registryRequest(options.registry, {
          method: 'DELETE',
          path: `/v2/${repository}/manifests/${tag}`,
          repository,
          push: true,
        });
        await response.arrayBuffer();
        if (response.status === 404) {
          record(404);
          return json(res, 404, { message: 'tag not found' });
        }
        if (response.status !== 202) {
          record(500);
          return json(res, 500, { message: `backing registry answered ${response.status}` });
        }
        deleted.push(`${repository}:${tag}`);
        record(204);
        res.writeHead(204).end();
        return;
      }
      record(404);
      json(res, 404, { message: 'object not found' });
    })().catch((error: unknown) => {
      record(500);
      json(res, 500, { message: String(error) });
    });
  });
  const url = await listen(server);
  return { url, requests, deleted, stop: stopper(server) };
}
