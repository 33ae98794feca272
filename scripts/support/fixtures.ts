// Test images shaped like real CI output, pushed with a tiny client of our own (plain
// fetch; deliberately NOT the product's src/registry client, so tests never verify the
// client with itself). Content is deterministic per `seed` and distinct across seeds.
import { createHash, createPrivateKey, generateKeyPairSync, createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { gzipSync, createGzip } from 'node:zlib';
import { Readable, Transform } from 'node:stream';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream/promises';
import type { RegistryEndpoint } from './registry.js';

export const MT = {
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  DockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  InToto: 'application/vnd.in-toto+json',
} as const;

/** Every manifest type, as `Accept` for reads. */
export const ACCEPT_ALL = [MT.OciIndex, MT.DockerManifestList, MT.OciManifest, MT.DockerManifest, MT.DockerSchema1Signed].join(', ');

export const PREDICATE_SLSA_PROVENANCE_V02 = 'https://slsa.dev/provenance/v0.2';
export const PREDICATE_SPDX = 'https://spdx.dev/Document';

/** Same field names as the OCI image-spec platform object (kept separate from src/ on purpose). */
export interface FixturePlatform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface FixtureDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: FixturePlatform;
  artifactType?: string;
}

/** Platforms seen in the wild, written as CI produces them (not normalised). */
export const PLATFORMS = {
  linuxAmd64: { os: 'linux', architecture: 'amd64' },
  linuxArm64: { os: 'linux', architecture: 'arm64' },
  linuxArm64v8: { os: 'linux', architecture: 'arm64', variant: 'v8' },
  linuxArmV7: { os: 'linux', architecture: 'arm', variant: 'v7' },
  linuxArmV6: { os: 'linux', architecture: 'arm', variant: 'v6' },
  linuxPpc64le: { os: 'linux', architecture: 'ppc64le' },
  linuxS390x: { os: 'linux', architecture: 's390x' },
  windowsAmd64Ltsc2022: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.2113' },
  windowsAmd64Ltsc2019: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.5122' },
} as const satisfies Record<string, FixturePlatform>;

/** `linux/arm/v7`, `windows/amd64:10.0.20348.2113`, or a platform object; NOT normalised (arm64/v8 stays v8). */
export type PlatformInput = string | FixturePlatform;

export function toPlatform(input: PlatformInput): FixturePlatform {
  if (typeof input !== 'string') {
    const copy: FixturePlatform = { os: input.os, architecture: input.architecture };
    if (input.variant) copy.variant = input.variant;
    if (input['os.version']) copy['os.version'] = input['os.version'];
    if (input['os.features']?.length) copy['os.features'] = [...input['os.features']];
    return copy;
  }
  const colon = input.indexOf(':');
  const main = colon < 0 ? input : input.slice(0, colon);
  const [os, architecture, variant] = main.split('/');
  if (!os || !architecture) throw new Error(`fixture platform ${JSON.stringify(input)}: expected os/arch[/variant][:os.version]`);
  const platform: FixturePlatform = { os, architecture };
  if (variant) platform.variant = variant;
  if (colon >= 0) platform['os.version'] = input.slice(colon + 1);
  return platform;
}

export function platformString(p: FixturePlatform): string {
  const base = [p.os, p.architecture, p.variant].filter(Boolean).join('/');
  return p['os.version'] ? `${base}:${p['os.version']}` : base;
}

export const sha256 = (bytes: Uint8Array | string) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

// ---------------------------------------------------------------------------------------
// A tiny registry client: Basic and Bearer (token realm) auth, monolithic blob uploads.
// ---------------------------------------------------------------------------------------

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

export function parseChallenge(header: string): Challenge {
  const space = header.indexOf(' ');
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const params: Record<string, string> = {};
  const re = /([a-zA-Z_]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (const m of (space < 0 ? '' : header.slice(space + 1)).matchAll(re)) params[m[1].toLowerCase()] = m[2] ?? m[3] ?? '';
  return { scheme, params };
}

const tokenCache = new Map<string, { token: string; expires: number }>();

function basicHeader(credentials: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

async function fetchToken(registry: RegistryEndpoint, challenge: Challenge, repository: string | undefined, wantPush: boolean): Promise<string> {
  const realm = challenge.params.realm;
  if (!realm) throw new Error(`fixtures: Bearer challenge without realm from ${registry.url}`);
  const scopes = new Set<string>();
  if (challenge.params.scope) for (const s of challenge.params.scope.split(' ')) scopes.add(s);
  if (repository) scopes.add(`repository:${repository}:${wantPush ? 'pull,push' : 'pull'}`);
  const key = `${registry.url}|${registry.credentials?.username ?? ''}|${[...scopes].sort().join(' ')}`;
  const cached = tokenCache.get(key);
  if (cached && cached.expires > Date.now()) return cached.token;
  const url = new URL(realm);
  if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
  for (const scope of scopes) url.searchParams.append('scope', scope);
  const headers: Record<string, string> = {};
  if (registry.credentials) headers.authorization = basicHeader(registry.credentials);
  const response = await fetch(url, { headers });
  const text = await response.text();
  if (!response.ok) throw new Error(`fixtures: token request ${url} answered ${response.status}: ${text}`);
  const body = JSON.parse(text) as { token?: string; access_token?: string; expires_in?: number };
  const token = body.token ?? body.access_token;
  if (!token) throw new Error(`fixtures: token response without token: ${text}`);
  tokenCache.set(key, { token, expires: Date.now() + Math.max(10, (body.expires_in ?? 60) - 10) * 1000 });
  return token;
}

export interface FixtureRequest {
  method?: string;
  /** path under the registry (`/v2/...`) or an absolute URL (an upload Location) */
  path: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** repository for token scopes */
  repository?: string;
  /** ask for push as well as pull */
  push?: boolean;
}

/**
 * One request with auth handled like a docker client: try with a cached Authorization,
 * on 401 answer the challenge (Basic with the endpoint's credentials, or a Bearer token
 * from the realm) and retry once.
 */
export async function registryRequest(registry: RegistryEndpoint, request: FixtureRequest): Promise<Response> {
  const url = /^https?:\/\//.test(request.path) ? new URL(request.path) : new URL(request.path, registry.url);
  const key = authKey(registry, request.repository, request.push ?? false);
  const send = (authorization: string | undefined) =>
    fetch(url, {
      method: request.method ?? 'GET',
      headers: { ...(request.headers ?? {}), ...(authorization ? { authorization } : {}) },
      body: request.body,
      redirect: 'follow',
    });
  let response = await send(lastAuthorization.get(key));
  if (response.status !== 401) return response;
  const header = response.headers.get('www-authenticate');
  await response.arrayBuffer();
  if (!header) return response;
  const challenge = parseChallenge(header);
  let authorization: string;
  if (challenge.scheme === 'basic') {
    if (!registry.credentials) throw new Error(`fixtures: ${registry.url} asks for Basic auth but the endpoint has no credentials`);
    authorization = basicHeader(registry.credentials);
  } else if (challenge.scheme === 'bearer') {
    authorization = `Bearer ${await fetchToken(registry, challenge, request.repository, request.push ?? false)}`;
  } else {
    throw new Error(`fixtures: unsupported auth scheme in ${header}`);
  }
  lastAuthorization.set(key, authorization);
  response = await send(authorization);
  return response;
}

const lastAuthorization = new Map<string, string>();
const authKey = (registry: RegistryEndpoint, repository: string | undefined, push: boolean) => `${registry.url}|${repository ?? ''}|${push ? 'push' : 'pull'}`;

async function expectStatus(response: Response, ok: number[], what: string): Promise<Response> {
  if (ok.includes(response.status)) return response;
  const text = await response.text().catch(() => '');
  throw new Error(`fixtures: ${what} answered ${response.status}: ${text.slice(0, 500)}`);
}

export interface PushedBlob extends FixtureDescriptor {
  bytes: Buffer;
}

/** Opens a blob upload session in `repository`; returns its Location (possibly relative). */
async function startUpload(registry: RegistryEndpoint, repository: string): Promise<string> {
  const start = await expectStatus(
    await registryRequest(registry, { method: 'POST', path: `/v2/${repository}/blobs/uploads/`, repository, push: true }),
    [202],
    `POST ${repository} blob upload`,
  );
  await start.arrayBuffer();
  const location = start.headers.get('location');
  if (!location) throw new Error(`fixtures: upload start for ${repository} gave no Location`);
  return location;
}

/** Uploads a blob (POST then monolithic PUT) unless the registry already has it in `repository`. */
export async function pushBlob(registry: RegistryEndpoint, repository: string, bytes: Uint8Array, mediaType = 'application/octet-stream'): Promise<PushedBlob> {
  const digest = sha256(bytes);
  const head = await registryRequest(registry, { method: 'HEAD', path: `/v2/${repository}/blobs/${digest}`, repository, push: true });
  await head.arrayBuffer();
  if (head.status !== 200) {
    const put = new URL(await startUpload(registry, repository), registry.url);
    put.searchParams.set('digest', digest);
    const done = await expectStatus(
      await registryRequest(registry, {
        method: 'PUT',
        path: put.toString(),
        repository,
        push: true,
        headers: { 'content-type': 'application/octet-stream' },
        body: bytes,
      }),
      [201],
      `PUT ${repository} blob ${digest}`,
    );
    await done.arrayBuffer();
  }
  return { mediaType, digest, size: bytes.length, bytes: Buffer.from(bytes) };
}

export interface PushedManifest {
  repository: string;
  tag?: string;
  digest: string;
  size: number;
  mediaType: string;
  manifestBytes: Buffer;
  /** `host/repository@digest` */
  reference: string;
  /** a descriptor for this manifest (platform set for images) */
  descriptor: FixtureDescriptor;
}

/** PUTs manifest bytes exactly as given, under `tag` (or by digest when no tag). */
export async function putManifest(
  registry: RegistryEndpoint,
  repository: string,
  reference: string | undefined,
  bytes: Uint8Array,
  mediaType: string,
): Promise<PushedManifest> {
  const digest = sha256(bytes);
  const ref = reference ?? digest;
  const response = await expectStatus(
    await registryRequest(registry, {
      method: 'PUT',
      path: `/v2/${repository}/manifests/${ref}`,
      repository,
      push: true,
      headers: { 'content-type': mediaType },
      body: bytes,
    }),
    [201],
    `PUT ${repository} manifest ${ref}`,
  );
  await response.arrayBuffer();
  const answered = response.headers.get('docker-content-digest') ?? undefined;
  // A signed schema 1 manifest's digest is over its payload without signatures: take the registry's word.
  const isSchema1 = mediaType === MT.DockerSchema1Signed;
  if (answered && answered !== digest && !isSchema1) {
    throw new Error(`fixtures: registry says ${repository}:${ref} has digest ${answered}, we computed ${digest}`);
  }
  const finalDigest = isSchema1 && answered ? answered : digest;
  return {
    repository,
    tag: reference && !reference.includes(':') ? reference : undefined,
    digest: finalDigest,
    size: bytes.length,
    mediaType,
    manifestBytes: Buffer.from(bytes),
    reference: `${registry.host}/${repository}@${finalDigest}`,
    descriptor: { mediaType, digest: finalDigest, size: bytes.length },
  };
}

export interface FetchedFixtureManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
  /** what the registry said in Docker-Content-Digest */
  headerDigest?: string;
}

/** GETs a manifest by tag or digest with every Accept type. Throws on non-200. */
export async function getManifest(registry: RegistryEndpoint, repository: string, reference: string, accept = ACCEPT_ALL): Promise<FetchedFixtureManifest> {
  const response = await expectStatus(
    await registryRequest(registry, { path: `/v2/${repository}/manifests/${reference}`, repository, headers: { accept } }),
    [200],
    `GET ${repository} manifest ${reference}`,
  );
  const bytes = Buffer.from(await response.arrayBuffer());
  return {
    bytes,
    mediaType: (response.headers.get('content-type') ?? '').split(';')[0].trim(),
    digest: sha256(bytes),
    headerDigest: response.headers.get('docker-content-digest') ?? undefined,
  };
}

/** True when `repository` has the manifest (HEAD). */
export async function hasManifest(registry: RegistryEndpoint, repository: string, reference: string): Promise<boolean> {
  const response = await registryRequest(registry, { method: 'HEAD', path: `/v2/${repository}/manifests/${reference}`, repository, headers: { accept: ACCEPT_ALL } });
  await response.arrayBuffer();
  return response.status === 200;
}

/** True when `repository` has the blob (HEAD). */
export async function hasBlob(registry: RegistryEndpoint, repository: string, digest: string): Promise<boolean> {
  const response = await registryRequest(registry, { method: 'HEAD', path: `/v2/${repository}/blobs/${digest}`, repository });
  await response.arrayBuffer();
  return response.status === 200;
}

/** GETs a blob's bytes. */
export async function getBlob(registry: RegistryEndpoint, repository: string, digest: string): Promise<Buffer> {
  const response = await expectStatus(await registryRequest(registry, { path: `/v2/${repository}/blobs/${digest}`, repository }), [200], `GET ${repository} blob ${digest}`);
  return Buffer.from(await response.arrayBuffer());
}

/** Deletes a blob from a repository (the registry needs `deleteEnabled`), making images that use it broken. */
export async function deleteBlob(registry: RegistryEndpoint, repository: string, digest: string): Promise<void> {
  const response = await expectStatus(
    await registryRequest(registry, { method: 'DELETE', path: `/v2/${repository}/blobs/${digest}`, repository, push: true }),
    [202],
    `DELETE ${repository} blob ${digest} (is the registry started with deleteEnabled?)`,
  );
  await response.arrayBuffer();
}

/** Deletes a manifest by digest (the registry needs `deleteEnabled`); its tags go with it. */
export async function deleteManifest(registry: RegistryEndpoint, repository: string, digest: string): Promise<void> {
  const response = await expectStatus(
    await registryRequest(registry, { method: 'DELETE', path: `/v2/${repository}/manifests/${digest}`, repository, push: true }),
    [202],
    `DELETE ${repository} manifest ${digest}`,
  );
  await response.arrayBuffer();
}

/** Tags in a repository (empty when the repository does not exist). */
export async function listTags(registry: RegistryEndpoint, repository: string): Promise<string[]> {
  const response = await registryRequest(registry, { path: `/v2/${repository}/tags/list`, repository });
  if (response.status === 404) {
    await response.arrayBuffer();
    return [];
  }
  await expectStatus(response, [200], `GET ${repository} tags`);
  const body = (await response.json()) as { tags?: string[] | null };
  return body.tags ?? [];
}

// ---------------------------------------------------------------------------------------
// Deterministic content
// ---------------------------------------------------------------------------------------

/** `length` pseudo-random bytes determined by `seed` (SHA-256 in counter mode). */
export function seededBytes(seed: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  let offset = 0;
  for (let counter = 0; offset < length; counter++) {
    const block = createHash('sha256').update(`${seed}\0${counter}`).digest();
    offset += block.copy(out, offset);
  }
  return out;
}

function tarHeader(name: string, size: number): Buffer {
  const header = Buffer.alloc(512);
  const field = (value: string, at: number, length: number) => header.write(value.slice(0, length), at, length, 'ascii');
  const octal = (value: number, at: number, length: number) => field(`${value.toString(8).padStart(length - 1, '0')}\0`, at, length);
  field(name, 0, 100);
  octal(0o644, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  octal(size, 124, 12);
  octal(1700000000, 136, 12); // fixed mtime: reproducible
  header.fill(' ', 148, 156); // checksum placeholder
  field('0', 156, 1);
  field('ustar\0', 257, 6);
  field('00', 263, 2);
  let sum = 0;
  for (const byte of header) sum += byte;
  field(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return header;
}

/** A valid tar holding one file of `size` seeded bytes. */
export function seededTar(seed: string, fileName: string, size: number): Buffer {
  const data = seededBytes(seed, size);
  const pad = Buffer.alloc((512 - (size % 512)) % 512);
  return Buffer.concat([tarHeader(fileName, size), data, pad, Buffer.alloc(1024)]);
}

export interface LayerBlob extends PushedBlob {
  /** sha256 of the uncompressed tar (rootfs.diff_ids) */
  diffId: string;
}

/** A gzip'd tar layer with seeded content: deterministic per (seed, index, size). */
export function makeLayer(seed: string, index: number, size: number, mediaType: string): Omit<LayerBlob, 'bytes'> & { bytes: Buffer } {
  const tar = seededTar(`${seed}/layer/${index}`, `fixture/${seed.replace(/[^a-zA-Z0-9._-]/g, '_')}/layer-${index}.bin`, size);
  const gz = gzipSync(tar, { level: 1 });
  return { mediaType, digest: sha256(gz), size: gz.length, bytes: gz, diffId: sha256(tar) };
}

// ---------------------------------------------------------------------------------------
// Image builders
// ---------------------------------------------------------------------------------------

export interface ImageOptions {
  platform: PlatformInput;
  /** number of layers (default 2) */
  layers?: number;
  /** bytes of content per layer before compression (default 2048) */
  layerSize?: number;
  /** distinguishes content: same seed + options → same digests */
  seed: string;
  /** override the config media type (e.g. an artifact) */
  configMediaType?: string;
  /** foreign (non-distributable) layers referenced by URL and NOT pushed, like Windows base layers */
  foreignLayers?: number;
  /** manifest annotations (OCI only) */
  annotations?: Record<string, string>;
  /** leave `mediaType` out of the manifest (OCI allows it; only its shape says what it is) */
  omitMediaType?: boolean;
}

export interface PushedImage extends PushedManifest {
  platform: FixturePlatform;
  config: PushedBlob & { json: Record<string, unknown> };
  /** pushed layers, in manifest order (foreign layers excluded) */
  layers: LayerBlob[];
  /** every layer descriptor in the manifest (foreign ones included) */
  layerDescriptors: FixtureDescriptor[];
  manifest: Record<string, unknown>;
}

function imageConfig(platform: FixturePlatform, seed: string, diffIds: string[]): Record<string, unknown> {
  const config: Record<string, unknown> = {
    architecture: platform.architecture,
    os: platform.os,
  };
  if (platform['os.version']) config['os.version'] = platform['os.version'];
  if (platform['os.features']?.length) config['os.features'] = platform['os.features'];
  if (platform.variant) config.variant = platform.variant;
  config.created = '2024-01-01T00:00:00Z';
  config.config = {
    Env: platform.os === 'windows' ? [] : ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
    Cmd: platform.os === 'windows' ? ['cmd.exe'] : ['/bin/sh'],
    Labels: { 'org.opencontainers.image.source': 'https://example.invalid/manifest-merge-fixtures', 'fixture.seed': seed },
  };
  config.rootfs = { type: 'layers', diff_ids: diffIds };
  config.history = diffIds.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `fixture ${seed} layer ${i}` }));
  return config;
}

async function pushImage(
  registry: RegistryEndpoint,
  repository: string,
  tag: string | undefined,
  options: ImageOptions,
  kind: 'oci' | 'docker',
): Promise<PushedImage> {
  const platform = toPlatform(options.platform);
  const layerCount = options.layers ?? 2;
  const layerSize = options.layerSize ?? 2048;
  const layerType = kind === 'oci' ? MT.OciLayerGzip : MT.DockerLayerGzip;
  const layers = Array.from({ length: layerCount }, (_, i) => makeLayer(`${options.seed}|${platformString(platform)}`, i, layerSize, layerType));
  await Promise.all(layers.map((layer) => pushBlob(registry, repository, layer.bytes, layer.mediaType)));
  const image = await putImage(registry, repository, tag, { ...options, platform }, kind, layers);
  return { ...image, layers };
}

/** Pushes the config and the manifest of an image whose layers are already in `repository`. */
async function putImage(
  registry: RegistryEndpoint,
  repository: string,
  tag: string | undefined,
  options: ImageOptions & { platform: FixturePlatform },
  kind: 'oci' | 'docker',
  layers: Array<FixtureDescriptor & { diffId: string }>,
): Promise<Omit<PushedImage, 'layers'>> {
  const platform = options.platform;
  const foreign: FixtureDescriptor[] = Array.from({ length: options.foreignLayers ?? 0 }, (_, i) => {
    const digest = sha256(`foreign|${options.seed}|${i}`);
    return {
      mediaType: kind === 'oci' ? MT.OciLayerNondistributableGzip : MT.DockerForeignLayerGzip,
      digest,
      size: 100_000_000 + i,
      urls: [`https://mcr.microsoft.com/v2/windows/servercore/blobs/${digest}`],
    };
  });
  // diff_ids for foreign layers are made up (they are never pulled in tests).
  const diffIds = [...foreign.map((f) => sha256(`diff|${f.digest}`)), ...layers.map((l) => l.diffId)];
  const configJson = imageConfig(platform, options.seed, diffIds);
  const configBytes = Buffer.from(JSON.stringify(configJson));
  const configMediaType = options.configMediaType ?? (kind === 'oci' ? MT.OciConfig : MT.DockerConfig);
  const config = await pushBlob(registry, repository, configBytes, configMediaType);

  const layerDescriptors: FixtureDescriptor[] = [...foreign, ...layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size }))];
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: kind === 'oci' ? MT.OciManifest : MT.DockerManifest,
    config: { mediaType: configMediaType, digest: config.digest, size: config.size },
    layers: layerDescriptors,
  };
  if (options.annotations && kind === 'oci') manifest.annotations = options.annotations;
  const mediaType = manifest.mediaType as string;
  if (options.omitMediaType && kind === 'oci') delete manifest.mediaType;
  const bytes = Buffer.from(JSON.stringify(manifest));
  const pushed = await putManifest(registry, repository, tag, bytes, mediaType);
  return {
    ...pushed,
    descriptor: { ...pushed.descriptor, platform },
    platform,
    config: { ...config, json: configJson },
    layerDescriptors,
    manifest,
  };
}

export interface StreamedLayer extends FixtureDescriptor {
  diffId: string;
}

export interface PushedLargeImage extends Omit<PushedImage, 'layers'> {
  layers: StreamedLayer[];
}

/**
 * Streams one seeded tar of `size` bytes through gzip (level 0 unless asked) straight into a chunked
 * upload (POST, one streaming PATCH, PUT ?digest=), never holding it in memory: for
 * benchmarks with large layers (1 GiB and up). Deterministic per (seed, size).
 */
export async function pushLargeBlob(
  registry: RegistryEndpoint,
  repository: string,
  seed: string,
  size: number,
  mediaType: string = MT.OciLayerGzip,
  options: { gzipLevel?: number } = {},
): Promise<StreamedLayer> {
  const location = await startUpload(registry, repository);
  const authorization = lastAuthorization.get(authKey(registry, repository, true));

  const tarHash = createHash('sha256');
  const gzHash = createHash('sha256');
  let gzSize = 0;
  const block = 1024 * 1024;
  const base = seededBytes(`${seed}/large/base`, block);
  async function* tar(): AsyncGenerator<Buffer> {
    const emit = (chunk: Buffer) => {
      tarHash.update(chunk);
      return chunk;
    };
    yield emit(tarHeader(`fixture/${seed.replace(/[^a-zA-Z0-9._-]/g, '_')}/large.bin`, size));
    for (let offset = 0, i = 0; offset < size; offset += block, i++) {
      const chunk = Buffer.allocUnsafe(Math.min(block, size - offset));
      base.copy(chunk);
      // every MiB differs: no long-range repetition for gzip or dedup to exploit
      createHash('sha256').update(`${seed}\0${i}`).digest().copy(chunk, 0, 0, Math.min(32, chunk.length));
      yield emit(chunk);
    }
    yield emit(Buffer.alloc((512 - (size % 512)) % 512 + 1024));
  }
  // level 0 (stored blocks) by default: still a valid gzip, and not CPU-bound on random data
  const gzip = createGzip({ level: options.gzipLevel ?? 0, chunkSize: 256 * 1024 });
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      gzHash.update(chunk);
      gzSize += chunk.length;
      callback(null, chunk);
    },
  });
  // node:http rather than fetch: a streamed request body with real backpressure (flat memory).
  const target = new URL(location, registry.url);
  const patch = (target.protocol === 'https:' ? httpsRequest : httpRequest)(target, {
    method: 'PATCH',
    headers: { 'content-type': 'application/octet-stream', ...(authorization ? { authorization } : {}) },
  });
  const answered = new Promise<IncomingMessage>((resolve, reject) => {
    patch.once('response', resolve);
    patch.once('error', reject);
  });
  await pipeline(Readable.from(tar()), gzip, hashing, patch);
  const patched = await answered;
  const patchBody = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    patched.on('data', (c: Buffer) => chunks.push(c));
    patched.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    patched.once('error', reject);
  });
  if (patched.statusCode !== 202) throw new Error(`fixtures: PATCH ${repository} blob upload answered ${patched.statusCode}: ${patchBody.slice(0, 500)}`);
  const nextLocation = patched.headers.location;
  const digest = `sha256:${gzHash.digest('hex')}`;
  const put = new URL(nextLocation ?? location, registry.url);
  put.searchParams.set('digest', digest);
  const done = await expectStatus(
    await registryRequest(registry, { method: 'PUT', path: put.toString(), repository, push: true }),
    [201],
    `PUT ${repository} blob ${digest}`,
  );
  await done.arrayBuffer();
  return { mediaType, digest, size: gzSize, diffId: `sha256:${tarHash.digest('hex')}` };
}

/** An image with one large streamed layer (see pushLargeBlob), OCI or Docker media types. */
export async function pushLargeImage(
  registry: RegistryEndpoint,
  repository: string,
  tag: string | undefined,
  options: { platform: PlatformInput; seed: string; layerBytes: number; kind?: 'oci' | 'docker'; gzipLevel?: number },
): Promise<PushedLargeImage> {
  const kind = options.kind ?? 'oci';
  const platform = toPlatform(options.platform);
  const layer = await pushLargeBlob(registry, repository, `${options.seed}|${platformString(platform)}`, options.layerBytes, kind === 'oci' ? MT.OciLayerGzip : MT.DockerLayerGzip, {
    gzipLevel: options.gzipLevel,
  });
  const image = await putImage(registry, repository, tag, { platform, seed: options.seed }, kind, [layer]);
  return { ...image, layers: [layer] };
}

/** An OCI image manifest (what buildx pushes with `provenance=false`, oci-mediatypes=true). */
export function pushOciImage(registry: RegistryEndpoint, repository: string, tag: string | undefined, options: ImageOptions): Promise<PushedImage> {
  return pushImage(registry, repository, tag, options, 'oci');
}

/** A Docker schema 2 image manifest (what `docker push` of a classic build gives). */
export function pushDockerImage(registry: RegistryEndpoint, repository: string, tag: string | undefined, options: ImageOptions): Promise<PushedImage> {
  return pushImage(registry, repository, tag, options, 'docker');
}

export interface IndexOptions {
  manifests: FixtureDescriptor[];
  /** default OCI index */
  mediaType?: typeof MT.OciIndex | typeof MT.DockerManifestList;
  annotations?: Record<string, string>;
  /** JSON indentation (buildx writes compact JSON; some tools pretty-print) */
  indent?: number;
}

export interface PushedIndex extends PushedManifest {
  index: Record<string, unknown>;
}

/** Any index or manifest list, children assumed already pushed. */
export async function pushIndex(registry: RegistryEndpoint, repository: string, tag: string | undefined, options: IndexOptions): Promise<PushedIndex> {
  const mediaType = options.mediaType ?? MT.OciIndex;
  const index: Record<string, unknown> = { schemaVersion: 2, mediaType, manifests: options.manifests };
  if (options.annotations) index.annotations = options.annotations;
  const bytes = Buffer.from(JSON.stringify(index, null, options.indent));
  const pushed = await putManifest(registry, repository, tag, bytes, mediaType);
  return { ...pushed, index };
}

export interface BuildxOptions {
  platform: PlatformInput;
  seed: string;
  layers?: number;
  layerSize?: number;
  /** attestation predicates (default provenance only, as buildx >= 0.10 with provenance=mode=min) */
  attestations?: Array<'provenance' | 'sbom'>;
  /** the attestation manifest names its image in `subject` (BuildKit 0.32 and later; see pushBuildkitSubjectImage) */
  subject?: boolean;
}

export interface PushedBuildxImage extends PushedIndex {
  /** the index digest (same as `digest`) */
  indexDigest: string;
  imageDigest: string;
  attestationDigest: string;
  image: PushedImage;
  attestation: PushedManifest & { layers: PushedBlob[]; config: PushedBlob };
}

function provenancePredicate(subject: string, imageHex: string, platform: FixturePlatform, seed: string): Record<string, unknown> {
  return {
    _type: 'https://in-toto.io/Statement/v0.1',
    predicateType: PREDICATE_SLSA_PROVENANCE_V02,
    subject: [{ name: subject, digest: { sha256: imageHex } }],
    predicate: {
      builder: { id: '' },
      buildType: 'https://mobyproject.org/buildkit@v1',
      materials: [],
      invocation: {
        configSource: { entryPoint: 'Dockerfile' },
        parameters: { frontend: 'dockerfile.v0', locals: [{ name: 'context' }, { name: 'dockerfile' }] },
        environment: { platform: platformString(platform) },
      },
      metadata: { buildInvocationID: sha256(`invocation|${seed}`).slice(7, 33), completeness: { parameters: false, environment: true, materials: false }, reproducible: false },
    },
  };
}

function sbomPredicate(subject: string, imageHex: string, seed: string): Record<string, unknown> {
  return {
    _type: 'https://in-toto.io/Statement/v0.1',
    predicateType: PREDICATE_SPDX,
    subject: [{ name: subject, digest: { sha256: imageHex } }],
    predicate: { spdxVersion: 'SPDX-2.3', dataLicense: 'CC0-1.0', SPDXID: 'SPDXRef-DOCUMENT', name: `sbom-${seed}`, packages: [] },
  };
}

/**
 * Exactly what buildx >= 0.10 pushes for a single-platform build with default provenance:
 * an OCI index with the image manifest (descriptor with platform) and an attestation
 * manifest (platform unknown/unknown, `vnd.docker.reference.*` annotations).
 */
export async function pushBuildxImage(registry: RegistryEndpoint, repository: string, tag: string | undefined, options: BuildxOptions): Promise<PushedBuildxImage> {
  const platform = toPlatform(options.platform);
  const image = await pushOciImage(registry, repository, undefined, { platform, seed: options.seed, layers: options.layers ?? 2, layerSize: options.layerSize });
  const imageHex = image.digest.slice('sha256:'.length);
  const subject = `pkg:docker/${repository}@${tag ?? 'latest'}?platform=${encodeURIComponent(platformString(platform))}`;
  const kinds = options.attestations ?? ['provenance'];
  const statements = kinds.map((k) => ({
    kind: k,
    bytes: Buffer.from(JSON.stringify(k === 'sbom' ? sbomPredicate(subject, imageHex, options.seed) : provenancePredicate(subject, imageHex, platform, options.seed))),
  }));
  const layers = await Promise.all(statements.map((s) => pushBlob(registry, repository, s.bytes, MT.InToto)));
  const attestationConfig = Buffer.from(
    JSON.stringify({ architecture: 'unknown', os: 'unknown', config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } }),
  );
  const config = await pushBlob(registry, repository, attestationConfig, MT.OciConfig);
  const attestationManifest = {
    schemaVersion: 2,
    mediaType: MT.OciManifest,
    config: { mediaType: MT.OciConfig, digest: config.digest, size: config.size },
    layers: layers.map((l, i) => ({
      mediaType: MT.InToto,
      digest: l.digest,
      size: l.size,
      annotations: { 'in-toto.io/predicate-type': statements[i].kind === 'sbom' ? PREDICATE_SPDX : PREDICATE_SLSA_PROVENANCE_V02 },
    })),
    ...(options.subject ? { subject: { mediaType: MT.OciManifest, digest: image.digest, size: image.size } } : {}),
  };
  const attestation = await putManifest(registry, repository, undefined, Buffer.from(JSON.stringify(attestationManifest)), MT.OciManifest);
  const attestationDescriptor: FixtureDescriptor = {
    mediaType: MT.OciManifest,
    digest: attestation.digest,
    size: attestation.size,
    annotations: { 'vnd.docker.reference.digest': image.digest, 'vnd.docker.reference.type': 'attestation-manifest' },
    platform: { architecture: 'unknown', os: 'unknown' },
  };
  const imageDescriptor: FixtureDescriptor = { mediaType: MT.OciManifest, digest: image.digest, size: image.size, platform };
  const index = await pushIndex(registry, repository, tag, { manifests: [imageDescriptor, attestationDescriptor] });
  return {
    ...index,
    indexDigest: index.digest,
    imageDigest: image.digest,
    attestationDigest: attestation.digest,
    image,
    attestation: { ...attestation, descriptor: attestationDescriptor, layers, config },
  };
}

/**
 * What BuildKit 0.32 and later push for a single-platform build: as pushBuildxImage, but the
 * attestation manifest also names its image in `subject` (OCI 1.1 referrer), which registries
 * like GitLab check: the image must be in the repository before the attestation.
 */
export function pushBuildkitSubjectImage(registry: RegistryEndpoint, repository: string, tag: string | undefined, options: Omit<BuildxOptions, 'subject'>): Promise<PushedBuildxImage> {
  return pushBuildxImage(registry, repository, tag, { ...options, subject: true });
}

// ---------------------------------------------------------------------------------------
// Docker schema 1 (signed with a libtrust-style JWS, as old docker clients pushed it)
// ---------------------------------------------------------------------------------------

let schema1Key: { privateKey: KeyObject; jwk: Record<string, string> } | undefined;

/** The libtrust key id: SHA-256 of the SPKI DER, first 240 bits, base32 in 12 groups of 4. */
export function libtrustKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const hash = createHash('sha256').update(der).digest().subarray(0, 30);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of hash) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.match(/.{1,4}/g)?.join(':') ?? out;
}

function getSchema1Key(): { privateKey: KeyObject; jwk: Record<string, string> } {
  if (!schema1Key) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const publicKey = createPublicKey(privateKey);
    const exported = publicKey.export({ format: 'jwk' }) as { crv: string; kty: string; x: string; y: string };
    schema1Key = {
      privateKey: createPrivateKey(privateKey.export({ format: 'pem', type: 'pkcs8' })),
      jwk: { crv: exported.crv, kid: libtrustKeyId(publicKey), kty: exported.kty, x: exported.x, y: exported.y },
    };
  }
  return schema1Key;
}

/** Signs a schema 1 manifest (pretty JSON, 3-space indent like docker) the way libtrust does: JWS in a `signatures` key. */
export function signSchema1(manifest: Record<string, unknown>): Buffer {
  const { privateKey, jwk } = getSchema1Key();
  const formatted = Buffer.from(JSON.stringify(manifest, null, 3));
  // Payload = formatted JSON up to (not including) the final `\n}`; the tail is re-attached on verify.
  const closing = formatted.lastIndexOf('}');
  const formatLength = formatted.subarray(0, closing).toString('utf8').trimEnd().length;
  const formatTail = formatted.subarray(formatLength);
  const protectedHeader = Buffer.from(
    JSON.stringify({ formatLength, formatTail: formatTail.toString('base64url'), time: '2024-01-01T00:00:00Z' }),
  ).toString('base64url');
  const signingInput = `${protectedHeader}.${formatted.toString('base64url')}`;
  const signature = cryptoSign('sha256', Buffer.from(signingInput), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  const signatures = [{ header: { jwk, alg: 'ES256' }, signature, protected: protectedHeader }];
  const signaturesJson = JSON.stringify(signatures, null, 3).split('\n').join('\n   ');
  return Buffer.concat([formatted.subarray(0, formatLength), Buffer.from(`,\n   "signatures": ${signaturesJson}\n}`)]);
}

/**
 * The canonical payload of a signed schema 1 manifest (the JSON without `signatures`, as
 * the first signature's protected header describes it): its sha256 is the manifest digest.
 * distribution re-signs schema 1 manifests on every GET, so compare payloads, not bytes.
 */
export function schema1Payload(bytes: Uint8Array): Buffer {
  const content = Buffer.from(bytes);
  const parsed = JSON.parse(content.toString('utf8')) as { signatures?: Array<{ protected?: string }> };
  const protectedHeader = parsed.signatures?.[0]?.protected;
  if (!protectedHeader) throw new Error('fixtures: not a signed schema 1 manifest (no signatures[0].protected)');
  const header = JSON.parse(Buffer.from(protectedHeader, 'base64url').toString('utf8')) as { formatLength: number; formatTail: string };
  return Buffer.concat([content.subarray(0, header.formatLength), Buffer.from(header.formatTail, 'base64url')]);
}

export interface PushedSchema1 extends PushedManifest {
  layers: LayerBlob[];
}

/**
 * A signed Docker schema 1 manifest. distribution 2.8 accepts it only when started with
 * `startRegistry({ schema1: true })` (compatibility.schema1.enabled). Its digest is the
 * registry's (over the canonical payload without signatures, see schema1Payload), from
 * Docker-Content-Digest. The registry replaces the signature with its own on every GET.
 */
export async function pushSchema1(
  registry: RegistryEndpoint,
  repository: string,
  tag: string,
  options: { platform: PlatformInput; seed: string; layers?: number; layerSize?: number },
): Promise<PushedSchema1> {
  const platform = toPlatform(options.platform);
  const layers = Array.from({ length: options.layers ?? 1 }, (_, i) => makeLayer(`${options.seed}|schema1|${platformString(platform)}`, i, options.layerSize ?? 2048, MT.DockerLayerGzip));
  await Promise.all(layers.map((l) => pushBlob(registry, repository, l.bytes, l.mediaType)));
  // schema 1 lists layers top-most first, with one v1Compatibility history entry per layer.
  const ids = layers.map((l) => createHash('sha256').update(`v1id|${l.digest}`).digest('hex'));
  const history = layers.map((_, i) => {
    const v1: Record<string, unknown> = { id: ids[i], created: '2024-01-01T00:00:00Z', container_config: { Cmd: [`fixture ${options.seed} ${i}`] } };
    if (i > 0) v1.parent = ids[i - 1];
    if (i === layers.length - 1) {
      v1.architecture = platform.architecture;
      v1.os = platform.os;
      if (platform.variant) v1.variant = platform.variant;
    }
    return { v1Compatibility: JSON.stringify(v1) };
  });
  const manifest = {
    schemaVersion: 1,
    name: repository,
    tag,
    architecture: platform.architecture,
    fsLayers: [...layers].reverse().map((l) => ({ blobSum: l.digest })),
    history: history.reverse(),
  };
  const bytes = signSchema1(manifest);
  const pushed = await putManifest(registry, repository, tag, bytes, MT.DockerSchema1Signed);
  return { ...pushed, tag, layers };
}

// ---------------------------------------------------------------------------------------
// Ready-made cases
// ---------------------------------------------------------------------------------------

export interface SeedCase {
  amd64: PushedBuildxImage;
  arm64: PushedBuildxImage;
  /** `host/acme/github-runner-amd64:focal`, `host/acme/github-runner-arm64:focal` */
  sources: [string, string];
}

/**
 * The seed note's case: two single-platform buildx pushes in different repositories,
 * `acme/github-runner-amd64:focal` (linux/amd64) and `acme/github-runner-arm64:focal`
 * (linux/arm64), each an index with an attestation manifest.
 */
export async function seedCase(registry: RegistryEndpoint, options: { layers?: number; layerSize?: number } = {}): Promise<SeedCase> {
  const [amd64, arm64] = await Promise.all([
    pushBuildxImage(registry, 'acme/github-runner-amd64', 'focal', { platform: 'linux/amd64', seed: 'github-runner-amd64', layers: options.layers ?? 3, layerSize: options.layerSize }),
    pushBuildxImage(registry, 'acme/github-runner-arm64', 'focal', { platform: 'linux/arm64', seed: 'github-runner-arm64', layers: options.layers ?? 3, layerSize: options.layerSize }),
  ]);
  return { amd64, arm64, sources: [`${registry.host}/acme/github-runner-amd64:focal`, `${registry.host}/acme/github-runner-arm64:focal`] };
}

export interface VarietyCase {
  buildxAmd64: PushedBuildxImage;
  ociArm64v8: PushedImage;
  dockerArmV7: PushedImage;
  dockerArmV6: PushedImage;
  windowsLtsc2022: PushedImage;
  /** `host/repo:tag` of each, in the order above */
  sources: string[];
}

/**
 * One image of every shape CI produces, each under its own tag in `repository`:
 * buildx index (amd64), bare OCI manifest (arm64/v8), Docker schema 2 (arm/v7 and arm/v6),
 * Windows (amd64, os.version 10.0.20348.2113, one foreign base layer).
 */
export async function seedVariety(registry: RegistryEndpoint, repository = 'acme/variety', seed = 'variety'): Promise<VarietyCase> {
  const [buildxAmd64, ociArm64v8, dockerArmV7, dockerArmV6, windowsLtsc2022] = await Promise.all([
    pushBuildxImage(registry, repository, 'buildx-amd64', { platform: PLATFORMS.linuxAmd64, seed: `${seed}-amd64` }),
    pushOciImage(registry, repository, 'oci-arm64v8', { platform: PLATFORMS.linuxArm64v8, seed: `${seed}-arm64v8` }),
    pushDockerImage(registry, repository, 'docker-armv7', { platform: PLATFORMS.linuxArmV7, seed: `${seed}-armv7` }),
    pushDockerImage(registry, repository, 'docker-armv6', { platform: PLATFORMS.linuxArmV6, seed: `${seed}-armv6` }),
    pushDockerImage(registry, repository, 'windows-ltsc2022', { platform: PLATFORMS.windowsAmd64Ltsc2022, seed: `${seed}-windows`, foreignLayers: 1 }),
  ]);
  const tags = ['buildx-amd64', 'oci-arm64v8', 'docker-armv7', 'docker-armv6', 'windows-ltsc2022'];
  return { buildxAmd64, ociArm64v8, dockerArmV7, dockerArmV6, windowsLtsc2022, sources: tags.map((t) => `${registry.host}/${repository}:${t}`) };
}
