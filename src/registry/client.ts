// The registry client: a thin facade over the resources (manifests.ts, blobs.ts, uploads.ts)
// and the transport (transport/: scheme, auth, retry and deadline, status errors, stats), with
// the token side in auth/. It implements the RegistryClient contract of client-types.ts.
import { Readable } from 'node:stream';
import { DEFAULT_CONCURRENCY, Limiter, STREAM_CONCURRENCY } from '../base/concurrency.js';
import { isDenied, isHttpError } from '../base/errors.js';
import { silentLogger } from '../base/logger.js';
import type { Descriptor } from '../oci/manifest.js';
import { formatRepository, sameRepository, type RepositoryRef } from '../oci/reference.js';
import { RegistryAuth } from './auth/authenticator.js';
import { Blobs, type BlobSource, type MountResult } from './blobs.js';
import { Manifests } from './manifests.js';
import { Referrers, type ReferrersListing } from './referrers.js';
import { pull, pullPush } from './endpoint.js';
import { Transport } from './transport/compose.js';
import { Uploads, type Opened } from './uploads.js';
import { GhcrPackages } from './hosted/ghcr.js';
import { HubTags } from './hosted/hub.js';
import type {
  BlobTransfer,
  FetchedManifest,
  HostedApis,
  ManifestHead,
  RegistryClient,
  RegistryClientOptions,
  RequestStats,
  Scope,
} from './client-types.js';

export { MAX_CHUNK_BYTES, UPLOAD_CHUNK_BYTES } from './uploads.js';
export { MAX_BLOB_FETCH_BYTES } from './blobs.js';

export function createRegistryClient(options: RegistryClientOptions): RegistryClient {
  const logger = options.logger ?? silentLogger;
  const insecureRegistries = options.insecureRegistries ?? [];
  const transport = new Transport({
    createAuth: (tokens) =>
      new RegistryAuth({ credentials: options.credentials, tokens, logger, onSecret: options.onSecret, insecureRegistries }),
    credentials: options.credentials,
    logger,
    insecureRegistries,
    dispatcher: options.dispatcher,
    connectionsPerOrigin: options.connectionsPerOrigin ?? DEFAULT_CONCURRENCY,
    retry: {
      maxAttempts: Math.max(1, options.retry?.maxAttempts ?? 5),
      baseDelayMs: options.retry?.baseDelayMs ?? 200,
      maxDelayMs: options.retry?.maxDelayMs ?? 10_000,
    },
    requestTimeoutMs: options.requestTimeoutMs ?? 60_000,
    deadline: options.deadline,
    userAgent: options.userAgent ?? 'manifest-merge',
  });
  const sender = { send: transport.apiRequest.bind(transport), plainHttpAllowed: (host: string) => transport.policy.allowsPlainHttp(host) };
  const settings = options.hostedApis ?? {};
  if (settings.githubToken) options.onSecret?.(settings.githubToken);
  const hosted: HostedApis = {
    ...(settings.githubToken ? { ghcr: new GhcrPackages(sender, settings.githubToken, settings.githubApiUrl) } : {}),
    hub: new HubTags(sender, options.credentials, options.onSecret ?? (() => undefined), settings.hubApiUrl),
    services: sender,
  };
  return new Client(transport, logger, hosted, new Limiter(options.streams ?? STREAM_CONCURRENCY));
}

/**
 * Copies of blobs larger than this hold one of the client's stream slots (STREAM_CONCURRENCY) while
 * they move bytes; smaller ones, like mounts and manifests, are control requests that only the
 * connection pool bounds.
 */
export const STREAMED_BLOB_BYTES = 1024 * 1024;

/**
 * Statuses by which a registry refuses a cross-repository mount without it meaning the target is
 * out of reach: the blob is streamed instead (and a target that is out of reach says so then).
 */
const MOUNT_REFUSED = new Set([400, 401, 404, 405, 501]);

class Client implements RegistryClient {
  /** registries that answered a mount with 405 (mounts not supported): streamed from then on */
  private readonly noMount = new Set<string>();
  private readonly manifests: Manifests;
  private readonly blobs: Blobs;
  private readonly uploads: Uploads;
  private readonly referrers: Referrers;

  constructor(
    private readonly http: Transport,
    private readonly logger: typeof silentLogger,
    private readonly hosted: HostedApis,
    private readonly streams: Limiter,
  ) {
    this.manifests = new Manifests(http, logger);
    this.blobs = new Blobs(http);
    this.uploads = new Uploads(http, this.blobs, logger);
    this.referrers = new Referrers(http);
  }

  listReferrers(repository: RepositoryRef, digest: string, artifactType?: string): Promise<ReferrersListing> {
    return this.referrers.list(repository, digest, artifactType);
  }

  hostedApis(): HostedApis {
    return this.hosted;
  }

  declareScopes(registry: string, scopes: Scope[]): void {
    this.http.auth.declareScopes(registry, scopes);
  }

  stats(): RequestStats {
    return this.http.stats();
  }

  close(): Promise<void> {
    return this.http.close();
  }

  fetchManifest(repository: RepositoryRef, reference: string): Promise<FetchedManifest> {
    return this.manifests.fetch(repository, reference);
  }

  headManifest(repository: RepositoryRef, reference: string): Promise<ManifestHead | undefined> {
    return this.manifests.head(repository, reference);
  }

  putManifest(repository: RepositoryRef, reference: string, manifest: { bytes: Buffer; mediaType: string }): Promise<string> {
    return this.manifests.put(repository, reference, manifest);
  }

  deleteManifest(repository: RepositoryRef, reference: string): Promise<void> {
    return this.manifests.delete(repository, reference);
  }

  hasBlob(repository: RepositoryRef, digest: string): Promise<boolean> {
    return this.blobs.has(repository, digest);
  }

  fetchBlob(repository: RepositoryRef, descriptor: Descriptor, maxBytes?: number): Promise<Buffer> {
    return this.blobs.fetch(repository, descriptor, maxBytes);
  }

  async mountBlob(to: RepositoryRef, from: RepositoryRef, descriptor: Descriptor): Promise<BlobTransfer> {
    if (to.registry !== from.registry) return this.copyBlob(from, to, descriptor);
    const what = `Blob ${descriptor.digest} (mount from ${formatRepository(from)} into ${formatRepository(to)})`;
    // one token for both repositories
    const scopes = [pullPush(to), pull(from)];
    if (this.noMount.has(to.registry)) return this.copyBlob(from, to, descriptor);
    const outcome = await this.http.retrying(what, async (): Promise<BlobTransfer | 'refused'> => {
      let mount: MountResult;
      try {
        mount = await this.blobs.mount(to, from, descriptor, what);
      } catch (error) {
        // a denial (403, or insufficient_scope with credentials) is about permissions: said as it is
        if (!isHttpError(error) || !MOUNT_REFUSED.has(error.status) || isDenied(error)) throw error;
        // Artifactory refuses mounts (405), Harbor answers 401 for a source project it does not
        // find, others 404: the blob can still be streamed. 405 holds for the whole registry.
        if (error.status === 405) this.noMount.add(to.registry);
        this.logger.debug(`${what}: the registry refused the mount (HTTP ${error.status}); streaming the blob instead`);
        return 'refused';
      }
      if (mount.mounted) return 'mounted';
      // The registry declined the mount and opened an upload session instead (ECR does for a blob
      // no manifest of the source references). A registry with one blob store for every repository
      // (go-containerregistry's) declines although it holds the blob: ask, while the source opens,
      // and close the session unused when the blob is there.
      const session = this.uploads.session(to.registry, mount.response, what);
      const [present, opened] = await Promise.allSettled([
        this.blobs.has(to, descriptor.digest),
        this.blobs.open(from, descriptor, scopes),
      ]);
      if (present.status === 'fulfilled' && present.value) {
        if (opened.status === 'fulfilled') opened.value.response.body.destroy();
        await this.uploads.cancel(session, scopes);
        this.logger.debug(`${what}: the registry declined the mount but has the blob; nothing to copy`);
        return 'exists';
      }
      if (opened.status === 'rejected') {
        await this.uploads.cancel(session, scopes);
        throw opened.reason;
      }
      const source: BlobSource = opened.value;
      this.logger.debug(`${what}: the registry declined the mount; streaming the blob instead`);
      await this.streamed(descriptor, () =>
        this.uploads.upload(to, descriptor, scopes, { source, session }, () => this.openBoth(from, to, descriptor, scopes, scopes, what)),
      );
      return 'copied';
    });
    return outcome === 'refused' ? this.copyBlob(from, to, descriptor) : outcome;
  }

  async copyBlob(from: RepositoryRef, to: RepositoryRef, descriptor: Descriptor): Promise<BlobTransfer> {
    if (sameRepository(from, to)) return 'exists';
    const what = `Blob ${descriptor.digest} (copy from ${formatRepository(from)} to ${formatRepository(to)})`;
    const sameRegistry = from.registry === to.registry;
    const sourceScopes = sameRegistry ? [pullPush(to), pull(from)] : [pull(from)];
    const targetScopes = sameRegistry ? sourceScopes : [pullPush(to)];
    const open = (): Promise<Opened> => this.openBoth(from, to, descriptor, sourceScopes, targetScopes, what);
    return this.streamed(descriptor, () =>
      this.http.retrying(what, async (): Promise<BlobTransfer> => {
        await this.uploads.upload(to, descriptor, targetScopes, await open(), open);
        return 'copied';
      }),
    );
  }

  async uploadBlob(
    from: RepositoryRef,
    to: RepositoryRef,
    descriptor: Descriptor,
    bytes: () => Promise<Buffer | Readable>,
  ): Promise<BlobTransfer> {
    const what = `Blob ${descriptor.digest} (copy from ${formatRepository(from)} to ${formatRepository(to)})`;
    const scopes = [pullPush(to)];
    const open = async (): Promise<Opened> => {
      const [data, session] = await Promise.allSettled([bytes(), this.uploads.start(to, scopes, what)]);
      if (data.status === 'fulfilled' && session.status === 'fulfilled')
        return { source: this.blobs.fromMemory(from, descriptor, data.value), session: session.value };
      if (session.status === 'fulfilled') await this.uploads.cancel(session.value, scopes);
      if (data.status === 'fulfilled' && data.value instanceof Readable) data.value.destroy(); // a file left open otherwise
      throw data.status === 'rejected' ? data.reason : (session as PromiseRejectedResult).reason;
    };
    return this.streamed(descriptor, () =>
      this.http.retrying(what, async (): Promise<BlobTransfer> => {
        await this.uploads.upload(to, descriptor, scopes, await open(), open);
        return 'copied';
      }),
    );
  }

  /** `copy` in one of the stream slots when the blob is large enough to stream; at once otherwise. */
  private streamed<T>(descriptor: Descriptor, copy: () => Promise<T>): Promise<T> {
    return descriptor.size > STREAMED_BLOB_BYTES ? this.streams.run(copy) : copy();
  }

  /** Opens the source stream and the upload session in parallel (one round trip); cleans up the other if one fails. */
  private async openBoth(
    from: RepositoryRef,
    to: RepositoryRef,
    descriptor: Descriptor,
    sourceScopes: Scope[],
    targetScopes: Scope[],
    what: string,
  ): Promise<Opened> {
    const [source, session] = await Promise.allSettled([
      this.blobs.open(from, descriptor, sourceScopes),
      this.uploads.start(to, targetScopes, what),
    ]);
    if (source.status === 'fulfilled' && session.status === 'fulfilled') return { source: source.value, session: session.value };
    if (source.status === 'fulfilled') source.value.response.body.destroy();
    if (session.status === 'fulfilled') await this.uploads.cancel(session.value, targetScopes);
    throw source.status === 'rejected' ? source.reason : (session as PromiseRejectedResult).reason;
  }
}
