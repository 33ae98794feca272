// Registry personalities for tests: how the registries users push to differ from distribution,
// emulated in front of the real `docker-registry` through the fault proxy's personality hooks.
// Each quirk comes from that registry's issue tracker or documentation; the README's
// compatibility table says which ones are tested this way ("emulated quirk in CI").
//
// Also here: a stand-in for Docker Hub's blob CDN (records what each request carried, serves the
// blob from the registry behind it), and an undici dispatcher that maps host names to loopback
// ports, so a test can speak to `registry-1.docker.io` without leaving the machine.
import { createServer, request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Agent } from 'undici';
import { type FaultProxy, type FaultRule, type Personality, type ProxyExchange, type QuirkAnswer, startFaultProxy } from './fault-proxy.js';

function errors(code: string, message: string): string {
  return JSON.stringify({ errors: [{ code, message, detail: null }] });
}

function query(exchange: ProxyExchange): URLSearchParams {
  return new URL(exchange.path, 'http://proxy').searchParams;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** `/v2/<repository>/…` → the repository. */
function repositoryOf(path: string): string {
  return /^\/v2\/(.+?)\/(?:manifests|blobs|tags|referrers)\//.exec(path.split('?')[0])?.[1] ?? '';
}

/** ECR: a mount of a blob no manifest in the source repository references is answered 202, an upload session. Emulated for every mount. */
export function ecrMountIgnored(): Personality {
  return {
    request(exchange) {
      if (exchange.kind !== 'POST mount') return undefined;
      return { path: exchange.path.split('?')[0] };
    },
  };
}

/** Artifactory: mounts are refused (405 Method Not Allowed by default; some versions say 404). */
export function mountRefused(status = 405): Personality {
  return {
    request(exchange) {
      if (exchange.kind !== 'POST mount') return undefined;
      return { status, body: errors('UNSUPPORTED', 'cross-repository blob mount is not supported') };
    },
  };
}

/** Quay: a mount without `from` is rejected (400), where distribution opens an upload session. */
export function mountNeedsFrom(): Personality {
  return {
    request(exchange) {
      if (exchange.kind !== 'POST mount' || query(exchange).get('from')) return undefined;
      return { status: 400, body: errors('BLOB_UPLOAD_INVALID', 'mount requires the from parameter') };
    },
  };
}

/** Harbor: a mount from a project it does not find is answered 401 (with a challenge), not 202. */
export function mountFromMissingProjectUnauthorized(missingProjects: string[]): Personality {
  return {
    request(exchange) {
      if (exchange.kind !== 'POST mount') return undefined;
      const from = query(exchange).get('from') ?? '';
      if (!missingProjects.includes(from.split('/')[0])) return undefined;
      return {
        status: 401,
        headers: { 'www-authenticate': 'Basic realm="harbor"' },
        body: errors('UNAUTHORIZED', 'unauthorized to access repository'),
      };
    },
  };
}

/** GitLab: a manifest whose `subject` is not in the repository yet is refused with MANIFEST_BLOB_UNKNOWN. */
export function subjectMustExist(): Personality {
  return {
    readsBody: (kind) => kind === 'PUT manifest',
    async request(exchange) {
      if (exchange.kind !== 'PUT manifest' || !exchange.body) return undefined;
      let subject: string | undefined;
      try {
        subject = (JSON.parse(exchange.body.toString('utf8')) as { subject?: { digest?: string } }).subject?.digest;
      } catch {
        return undefined;
      }
      if (!subject) return undefined;
      const authorization = header(exchange.headers, 'authorization');
      const response = await fetch(`${exchange.target}/v2/${repositoryOf(exchange.path)}/manifests/${subject}`, {
        method: 'HEAD',
        headers: {
          accept:
            'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json',
          ...(authorization ? { authorization } : {}),
        },
      });
      if (response.status === 200) return undefined;
      return { status: 400, body: errors('MANIFEST_BLOB_UNKNOWN', `blob unknown to registry: subject ${subject} not found`) };
    },
  };
}

/** Proxies and older registries: no Docker-Content-Digest on manifest responses. */
export function noDigestHeader(): Personality {
  return {
    responseHeaders(exchange, _status, headers) {
      if (!exchange.kind.endsWith(' manifest')) return headers;
      const { 'docker-content-digest': _dropped, ...rest } = headers;
      return rest;
    },
  };
}

/** Proxies and older registries: HEAD on a manifest is 405 Method Not Allowed. */
export function noManifestHead(): Personality {
  return {
    request: (exchange) => (exchange.kind === 'HEAD manifest' ? { status: 405 } : undefined),
  };
}

/** Proxies and older registries: manifests served as `application/json` or `text/plain`. */
export function manifestContentType(type: 'application/json' | 'text/plain'): Personality {
  return {
    responseHeaders(exchange, status, headers) {
      if (status !== 200 || (exchange.kind !== 'GET manifest' && exchange.kind !== 'HEAD manifest')) return headers;
      return { ...headers, 'content-type': type };
    },
  };
}

/** Huawei SWR, older Gitea: an OCI image index is refused with MANIFEST_INVALID. */
export function ociIndexRefused(): Personality {
  return {
    request(exchange) {
      if (exchange.kind !== 'PUT manifest' || header(exchange.headers, 'content-type') !== 'application/vnd.oci.image.index.v1+json')
        return undefined;
      return { status: 400, body: errors('MANIFEST_INVALID', 'manifest invalid: unsupported manifest media type') };
    },
  };
}

/**
 * Immutable tags: a PUT under a tag that already exists is refused, as ECR does for a repository
 * with IMMUTABLE tags (400 TAG_INVALID, its ImageTagAlreadyExistsException) and Harbor for a tag an
 * immutability rule covers (412 PRECONDITION); a manifest by digest is still taken. `repositories`
 * limits it to those (default: all).
 */
export function immutableTags(options: { repositories?: string[]; status?: number } = {}): Personality {
  return {
    async request(exchange) {
      if (exchange.kind !== 'PUT manifest') return undefined;
      const repository = repositoryOf(exchange.path);
      const reference = exchange.path.split('?')[0].split('/manifests/')[1] ?? '';
      if (reference.includes(':') || (options.repositories && !options.repositories.includes(repository))) return undefined;
      const authorization = header(exchange.headers, 'authorization');
      const response = await fetch(`${exchange.target}/v2/${repository}/manifests/${reference}`, {
        method: 'HEAD',
        headers: {
          accept:
            'application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
          ...(authorization ? { authorization } : {}),
        },
      });
      if (response.status !== 200) return undefined;
      const status = options.status ?? 400;
      return status === 412
        ? { status, body: errors('PRECONDITION', `Failed to process request due to '${repository}:${reference}' configured as immutable.`) }
        : {
            status,
            body: errors(
              'TAG_INVALID',
              `The image tag '${reference}' already exists in the '${repository}' repository and cannot be overwritten because the repository is immutable.`,
            ),
          };
    },
  };
}

/** A front end that refuses request bodies over `limit` bytes (413), as proxies in front of registries do. */
export function bodyLimit(limit: number): Personality {
  return {
    request(exchange) {
      if (exchange.kind !== 'PUT upload' || Number(header(exchange.headers, 'content-length') ?? 0) <= limit) return undefined;
      // as nginx says it (client_max_body_size): an HTML page, no registry error codes
      return {
        status: 413,
        headers: { 'content-type': 'text/html' },
        body: '<html><head><title>413 Request Entity Too Large</title></head><body><center><h1>413 Request Entity Too Large</h1></center></body></html>',
      };
    },
  };
}

/**
 * A registry that announces `OCI-Chunk-Min-Length` on upload sessions and holds chunks to it: a
 * PATCH shorter than that ends the upload (it must be the last), so a PATCH after a short one is
 * refused with 416.
 */
export function chunkMinLength(minimum: number): Personality {
  const ended = new Set<string>();
  return {
    request(exchange) {
      if (exchange.kind !== 'PATCH upload') return undefined;
      const session = exchange.path.split('?')[0];
      if (ended.has(session))
        return { status: 416, body: errors('BLOB_UPLOAD_INVALID', `a chunk after one shorter than ${minimum} bytes`) };
      if (Number(header(exchange.headers, 'content-length') ?? 0) < minimum) ended.add(session);
      return undefined;
    },
    responseHeaders(exchange, status, headers) {
      if (status !== 202 || (exchange.kind !== 'POST upload' && exchange.kind !== 'POST mount')) return headers;
      return { ...headers, 'oci-chunk-min-length': String(minimum) };
    },
  };
}

/** One request the CDN stand-in got. */
export interface CdnRequest {
  method: string;
  path: string;
  /** the Authorization header it carried: must be undefined */
  authorization?: string;
  status: number;
}

export interface BlobCdn {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  requests: CdnRequest[];
  /** a signed URL on `publicOrigin` for the registry path, fetched upstream with `authorization` */
  sign(publicOrigin: string, registryPath: string, authorization: string | undefined): string;
  stop(): Promise<void>;
}

/**
 * Docker Hub's blob storage stand-in: blob GETs are redirected here with a signed URL (`sig`, like
 * object storage); it serves the blob from the registry with the credentials the registry saw,
 * so the client needs none and must send none.
 */
export async function startBlobCdn(registryUrl: string): Promise<BlobCdn> {
  const signed = new Map<string, { path: string; authorization?: string }>();
  const requests: CdnRequest[] = [];
  const sockets = new Set<Socket>();
  const upstream = new URL(registryUrl);
  const server = createServer((req, res) => {
    const entry: CdnRequest = { method: req.method ?? 'GET', path: req.url ?? '/', authorization: req.headers.authorization, status: 0 };
    requests.push(entry);
    const sig = new URL(req.url ?? '/', 'http://cdn').searchParams.get('sig') ?? '';
    const target = signed.get(sig);
    if (!target) {
      entry.status = 403;
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end('signature does not match');
      return;
    }
    const headers: OutgoingHttpHeaders = target.authorization ? { authorization: target.authorization } : {};
    const forward = httpRequest(
      { hostname: upstream.hostname, port: upstream.port, method: req.method, path: target.path, headers },
      (response) => {
        entry.status = response.statusCode ?? 502;
        const out: OutgoingHttpHeaders = {};
        for (const name of ['content-length', 'content-type', 'etag'])
          if (response.headers[name] !== undefined) out[name] = response.headers[name];
        res.writeHead(response.statusCode ?? 502, out);
        pipeline(response, res).catch(() => undefined);
      },
    );
    forward.once('error', () => {
      entry.status = 502;
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    forward.end();
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    sign(publicOrigin, registryPath, authorization) {
      const sig = randomBytes(12).toString('hex');
      signed.set(sig, { path: registryPath, authorization });
      const digest = registryPath.split('/').pop() ?? '';
      const hex = digest.replace(/^sha256:/, '');
      return `${publicOrigin}/registry-v2/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data?verify=1&sig=${sig}`;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

export interface DockerHubOptions {
  /** the token realm clients are sent to (on another host, as `https://auth.docker.io/token`) */
  realm: string;
  cdn: BlobCdn;
  /** the CDN's public origin (as `https://production.cloudflare.docker.com`) */
  cdnOrigin: string;
}

/**
 * Docker Hub: the token realm is on another host, and authorized blob GETs are redirected to a
 * CDN on another host (which must get no credentials). A mount needs `pull` on the source even
 * for a public one: distribution's token auth, behind, already checks that.
 */
export function dockerHub(options: DockerHubOptions): Personality {
  return {
    request(exchange): QuirkAnswer | undefined {
      if (exchange.kind !== 'GET blob') return undefined;
      const authorization = header(exchange.headers, 'authorization');
      // unauthenticated: the registry's own 401 challenge
      if (!authorization) return undefined;
      return { status: 307, headers: { location: options.cdn.sign(options.cdnOrigin, exchange.path, authorization) } };
    },
    responseHeaders(_exchange, _status, headers) {
      const challenge = headers['www-authenticate'];
      if (typeof challenge !== 'string') return headers;
      return { ...headers, 'www-authenticate': challenge.replace(/realm="[^"]*"/, `realm="${options.realm}"`) };
    },
  };
}

/** Layers personalities: the first that answers a request wins; response headers pass through each. */
export function combine(...personalities: Personality[]): Personality {
  return {
    readsBody: (kind) => personalities.some((p) => p.readsBody?.(kind)),
    async request(exchange) {
      for (const p of personalities) {
        const answer = await p.request?.(exchange);
        if (answer) return answer;
      }
      return undefined;
    },
    responseHeaders(exchange, status, headers) {
      return personalities.reduce((h, p) => (p.responseHeaders ? p.responseHeaders(exchange, status, h) : h), headers);
    },
  };
}

export interface StartQuirksProxyOptions {
  /** the real registry's origin */
  target: string;
  personalities: Personality[];
  /** fault rules on top (e.g. a delay that makes an ordering bug show every time) */
  rules?: FaultRule[];
  publicOrigin?: string;
}

/** The fault proxy with a registry personality, in front of a real registry. */
export function startQuirksProxy(options: StartQuirksProxyOptions): Promise<FaultProxy> {
  return startFaultProxy({
    target: options.target,
    personality: combine(...options.personalities),
    rules: options.rules,
    publicOrigin: options.publicOrigin,
  });
}

/**
 * An undici dispatcher that connects `hostname` to `127.0.0.1:ports[hostname]`, and other hosts
 * as they are (plain TCP; every https:// attempt is refused, as a host without TLS would): tests reach `registry-1.docker.io`,
 * its token realm and its CDN on loopback. Test-only: the client takes it through its
 * `dispatcher` option.
 */
export function loopbackDispatcher(ports: Record<string, number>): Agent {
  return new Agent({
    connect: (options, callback) => {
      const mapped = ports[options.hostname];
      if (options.protocol === 'https:') {
        const refused = Object.assign(
          new Error(`connect ECONNREFUSED ${options.hostname}:${options.port || (options.protocol === 'https:' ? 443 : 80)}`),
          { code: 'ECONNREFUSED' },
        );
        queueMicrotask(() => callback(refused, null));
        return;
      }
      // other hosts (the local registries of the same test) as they are
      const socket =
        mapped === undefined
          ? netConnect({ host: options.hostname, port: Number(options.port) || 80 })
          : netConnect({ host: '127.0.0.1', port: mapped });
      const fail = (error: Error) => callback(error, null);
      socket.once('error', fail);
      socket.once('connect', () => {
        socket.off('error', fail);
        callback(null, socket);
      });
    },
  });
}
