// The registry client's contract, as the engine sees it. Implemented by client.ts
// (HTTP), auth/ (challenges and tokens) and credentials/ (where secrets come from).
// Types only, and nothing from the modules that implement them: every resource may import it.
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Logger } from '../base/logger.js';
import type { Descriptor } from '../oci/manifest.js';
import type { RepositoryRef } from '../oci/reference.js';
import type { RequestStats, RetryOptions, Scope } from './transport/http.js';
import type { ApiExchange, TokenResponse } from './transport/compose.js';

// the transport's own shapes, named here too: the engine speaks of them through the client
export type { RequestStats, RetryOptions, Scope } from './transport/http.js';

/** A manifest as the registry served it: the exact bytes, never re-serialised. */
export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  /** sha256 of `bytes`, verified against what was asked for */
  digest: string;
  size: number;
}

export interface ManifestHead {
  digest: string;
  mediaType: string;
  size: number;
}

/** Result of bringing one blob into a target repository. */
export type BlobTransfer = 'exists' | 'mounted' | 'copied';

/** Credentials for one registry, and where they were found (for error messages, never the secret). */
export type Credentials =
  | { kind: 'basic'; username: string; password: string; source: string }
  /** OAuth2 refresh token (config.json `identitytoken`, or a helper answering username `<token>`) */
  | { kind: 'identity-token'; username?: string; token: string; source: string }
  /** A bearer token used as is (config.json `registrytoken`) */
  | { kind: 'registry-token'; token: string; source: string };

export interface CredentialProvider {
  /** Credentials for `registry` (as in ImageReference.registry), or undefined for anonymous. */
  credentialsFor(registry: string): Promise<Credentials | undefined>;
  /** Human-readable list of places looked at for `registry`, for "401: … looked in …" messages. */
  describeLookup(registry: string): string;
}

export interface RegistryClientOptions {
  credentials: CredentialProvider;
  /** registries (host[:port]) allowed over plain HTTP; loopback registries always may fall back */
  insecureRegistries?: string[];
  logger?: Logger;
  /** max parallel connections per origin (default DEFAULT_CONCURRENCY, 32) */
  connectionsPerOrigin?: number;
  /** streamed copies of blobs over 1 MiB in flight at once (default STREAM_CONCURRENCY, 8) */
  streams?: number;
  retry?: RetryOptions;
  /** per-request timeout for headers and idle body (default 60 s) */
  requestTimeoutMs?: number;
  /** absolute deadline (epoch ms) for every request and retry; past it a TimeoutError is thrown */
  deadline?: number;
  /** called with every secret and token as soon as it is known (the action passes core.setSecret) */
  onSecret?: (secret: string) => void;
  userAgent?: string;
  /** undici dispatcher to use instead of the client's own Agent (tests pass a MockAgent) */
  dispatcher?: Dispatcher;
  /** the hosted services' web APIs (tag removal on ghcr.io and Docker Hub): where they are, and GitHub's token */
  hostedApis?: HostedApiSettings;
}

/** Where the hosted services' web APIs are (tests point them at local servers), and the token GitHub's takes. */
export interface HostedApiSettings {
  /** the workflow's token (`packages: write`); without it, GHCR's versions cannot be deleted */
  githubToken?: string;
  /** default https://api.github.com (a workflow's GITHUB_API_URL on GitHub Enterprise Server) */
  githubApiUrl?: string;
  /** default https://hub.docker.com */
  hubApiUrl?: string;
}

/** A version of a GHCR package: one manifest (`digest`), with the tags that point at it. */
export interface PackageVersion {
  id: number;
  digest: string;
  tags: string[];
}

/** GitHub's packages API for ghcr.io (registry/hosted/ghcr.ts). */
export interface PackagesApi {
  /** the version whose manifest is `digest`, or undefined when the package lists none */
  findVersion(repository: RepositoryRef, digest: string): Promise<PackageVersion | undefined>;
  /** deletes the version: its manifest and every tag it has */
  deleteVersion(repository: RepositoryRef, version: PackageVersion): Promise<void>;
}

/** Docker Hub's API (registry/hosted/hub.ts): removes a tag, never the manifest. */
export interface TagsApi {
  deleteTag(repository: RepositoryRef, tag: string): Promise<void>;
}

/**
 * The transport's `apiRequest` for web services outside the registry API (Sigstore's Fulcio and
 * timestamp authority, the Actions OIDC token endpoint, GitHub's attestations API): retried,
 * counted under the exchange's `kind`, cut off at the run's deadline.
 */
export interface ServiceSender {
  send(exchange: ApiExchange): Promise<TokenResponse>;
  /** whether `host` may be spoken to over plain HTTP (loopback, or listed insecure) */
  plainHttpAllowed(host: string): boolean;
}

/** The web APIs of the hosted registries whose registry API removes no tag. */
export interface HostedApis {
  /** undefined without a GitHub token */
  ghcr?: PackagesApi;
  hub: TagsApi;
  /** other web services, through the same transport (signing: registry/sigstore/) */
  services?: ServiceSender;
}

/** `api`: the registry serves the referrers API and listed these; `none`: it has no API (404): use the fallback tag. */
export type ReferrersListing = { api: true; descriptors: Descriptor[] } | { api: false };

export interface RegistryClient {
  /**
   * Declares, before the work starts, every repository a registry will be asked about and with
   * which actions, so that one token request covers them all (fewest round trips).
   */
  declareScopes(registry: string, scopes: Scope[]): void;
  /**
   * GET a manifest by tag or digest, with every manifest Accept type. Verifies the sha256 of the
   * bytes against the digest asked for, or against Docker-Content-Digest for a tag; refuses a body
   * over 4 MiB before reading it (Content-Length) or while reading it. 404 → HttpError NOT_FOUND
   * whose message names the image.
   */
  fetchManifest(repository: RepositoryRef, reference: string): Promise<FetchedManifest>;
  /** HEAD a manifest; undefined when the registry answers 404. */
  headManifest(repository: RepositoryRef, reference: string): Promise<ManifestHead | undefined>;
  /** PUT manifest bytes under a tag or digest; returns the digest the registry reports (or computes it). */
  putManifest(repository: RepositoryRef, reference: string, manifest: { bytes: Buffer; mediaType: string }): Promise<string>;
  /**
   * DELETE a manifest by digest, or a tag (untags it, where the registry allows: OCI distribution
   * 1.1 makes it optional). A 404 (nothing there) is an HttpError NOT_FOUND.
   */
  deleteManifest(repository: RepositoryRef, reference: string): Promise<void>;
  /** HEAD a blob: does it exist in this repository? */
  hasBlob(repository: RepositoryRef, digest: string): Promise<boolean>;
  /** GET a small blob (e.g. an image config) whole, verifying its digest and size; refuses over maxBytes (default 4 MiB). */
  fetchBlob(repository: RepositoryRef, descriptor: Descriptor, maxBytes?: number): Promise<Buffer>;
  /**
   * Cross-repository mount within one registry (POST /v2/<to>/blobs/uploads/?mount=<digest>&from=<from>).
   * 201 → 'mounted'. When the registry declines (202 with an upload location) the blob is streamed
   * from `from` into that same upload session → 'copied'.
   */
  mountBlob(to: RepositoryRef, from: RepositoryRef, descriptor: Descriptor): Promise<BlobTransfer>;
  /**
   * Streams a blob from one repository to another, on any registries: GET → POST upload → PUT ?digest=
   * (or chunked PATCH when the registry requires it), hashing on the way, never buffering the blob whole.
   */
  copyBlob(from: RepositoryRef, to: RepositoryRef, descriptor: Descriptor): Promise<BlobTransfer>;
  /**
   * Uploads a blob whose bytes are read once for several targets (small blobs): POST upload in
   * parallel with `bytes()`, then PUT ?digest= (or chunked PATCH when the registry requires it),
   * verifying the bytes on the way. `from` is where the bytes came from, for messages.
   * `bytes` may also give a stream (a blob on local disk, e.g. in an OCI layout): it is verified
   * as it flows and never held whole.
   */
  uploadBlob(
    from: RepositoryRef,
    to: RepositoryRef,
    descriptor: Descriptor,
    bytes: () => Promise<Buffer | Readable>,
  ): Promise<BlobTransfer>;
  /**
   * The OCI 1.1 referrers API: the referrers of `digest` in `repository` (`api: true`), or
   * `api: false` when the registry answers 404 (no API: the fallback tag `sha256-<hex>` holds
   * them, read with fetchManifest). Absent on clients that have no registry behind them (an OCI
   * layout): the fallback tag is all there is.
   */
  listReferrers?(repository: RepositoryRef, digest: string, artifactType?: string): Promise<ReferrersListing>;
  /** The hosted registries' own web APIs (GHCR's packages, Docker Hub's tags); absent on clients without a network behind them. */
  hostedApis?(): HostedApis | undefined;
  stats(): RequestStats;
  close(): Promise<void>;
}
