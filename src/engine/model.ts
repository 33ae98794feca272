// The engine's model: what a merge is asked (MergeRequest and its modes), what it decides (the
// plan's entries and per-target work) and what it reports (MergeResult, TargetReport). Types
// only, at the bottom of engine/, so every step (resolve, plan, transfer, referrers, summary)
// and the layers above (request/, action/, cli/) share them without importing each other.
import type { AttestationKind } from '../oci/attestation-kinds.js';
import type { Descriptor, ImageIndex } from '../oci/manifest.js';
import type { Platform } from '../oci/platform.js';
import type { ImageReference, RepositoryRef } from '../oci/reference.js';
import type { RequestStats } from '../registry/client-types.js';

/** `referrers`: out of the index, each pushed as an OCI referrer (`subject`) of the image it describes. */
export type AttestationMode = 'keep' | 'strip' | 'referrers';

/** An attestation whose image is not in its source index: dropped, or kept linked to nothing. */
export type DanglingMode = 'drop' | 'keep';

export type OutputFormat = 'auto' | 'oci' | 'docker';

export type EntryKind = 'image' | 'attestation' | 'other';

/** One manifest a source contributes: an image, an attestation of an image, or another artifact. */
export interface SourceEntry {
  kind: EntryKind;
  /** descriptor as the source index had it (for a bare manifest: built from the manifest, platform from its config) */
  descriptor: Descriptor;
  /** normalised platform, for images */
  platform?: Platform;
  /** for attestations: the digest of the image they describe (vnd.docker.reference.digest) */
  subject?: string;
  /** for images that share their platform with another: what tells compression variants apart (variants.ts) */
  layers?: LayerFacts;
}

/** The layer compression of an image: gzip, zstd (zstd:chunked is zstd with containers' chunked annotations), or neither or mixed. */
export type Compression = 'gzip' | 'zstd' | 'zstd:chunked' | 'other';

/** Of an image manifest: its config (the same for images that differ only in layer compression), its layers' compression. */
export interface LayerFacts {
  config: string;
  layerCount: number;
  compression: Compression;
}

/** A source as given: a reference, and the platform its one image is to be listed under (`platform=` / `{ref, platform}`). */
export interface SourceReference extends ImageReference {
  platform?: Platform;
}

/** A source as resolved from the registry. */
export interface ResolvedSource {
  /** the reference as the user wrote it (for messages) */
  input: string;
  repository: RepositoryRef;
  /** digest and media type of what the reference pointed at */
  digest: string;
  mediaType: string;
  entries: SourceEntry[];
  /** set for the index an `append` merges into: its entries lose to the sources' ones */
  isBase?: boolean;
  /** for the index an `append` merges into: its own annotations, kept unless `annotations` sets the same key */
  annotations?: Record<string, string>;
  /** for the index an `append` merges into: its artifactType, kept unless `artifact-type` is given */
  artifactType?: string;
}

export interface DescriptorAnnotation {
  /** applies to images of this platform only (and not attestations); undefined: every image */
  platform?: Platform;
  key: string;
  value: string;
}

export interface Annotations {
  index: Record<string, string>;
  descriptors: DescriptorAnnotation[];
}

/** An attestation whose `vnd.docker.reference.digest` names no image of its own source index. */
export interface DanglingAttestation {
  entry: PlannedEntry;
  /** the digest it names (undefined: it names none) */
  missing?: string;
  kept: boolean;
}

/** An entry of the index to push, and where its bytes live now. */
export interface PlannedEntry {
  kind: EntryKind;
  descriptor: Descriptor;
  source: RepositoryRef;
  sourceInput: string;
  platform?: string;
  subject?: string;
}

export interface MergePlan {
  mediaType: string;
  index: ImageIndex;
  /** exact bytes to PUT; `digest` is their sha256 */
  bytes: Buffer;
  digest: string;
  entries: PlannedEntry[];
  /** entries dropped by `attestations: strip` (or whose image was replaced on append) */
  dropped: PlannedEntry[];
  /** attestations whose image is not in their source index (each one is warned about) */
  dangling: DanglingAttestation[];
  /** `attestations: referrers`: attestations taken out of the index, each to be pushed as a referrer of its image (`subject`) */
  attestationReferrers: PlannedEntry[];
  /** formatted platforms of the images, in index order */
  platforms: string[];
  /** why the format was chosen, for the report */
  formatReason: string;
}

export interface BlobTransferPlan {
  descriptor: Descriptor;
  from: RepositoryRef;
  /** mount within one registry; copy (stream) across registries */
  method: 'mount' | 'copy';
}

export interface TargetPlan {
  repository: RepositoryRef;
  tags: string[];
  /** children whose bytes live elsewhere; those already in this repository need nothing */
  manifests: PlannedEntry[];
}

export interface MergeRequest {
  sources: SourceReference[];
  /** targets: tags only (a digest cannot be a target) */
  tags: ImageReference[];
  platforms?: Platform[];
  /** take only these platforms of the sources (with their attestations); `platforms` then checks the result */
  selectPlatforms?: Platform[];
  attestations: AttestationMode;
  format: OutputFormat;
  push: boolean;
  append?: boolean;
  annotations?: Annotations;
  /** the index's `artifactType` (OCI index only) */
  artifactType?: string;
  /** parallel requests (default DEFAULT_CONCURRENCY, base/concurrency.ts) */
  concurrency?: number;
  /** copy the children's referrers (signatures, SBOMs) into targets in other repositories (default copy) */
  referrers?: ReferrersMode;
  /** an attestation whose image is not in its source index: dropped (default) or kept, linked to nothing; a warning either way */
  danglingAttestations?: DanglingMode;
  /** after the tags are read back, remove the tags of the sources given by tag (engine/cleanup.ts) */
  cleanupSources?: boolean;
  /** every image must have each of these kinds of attestation before anything is written (engine/gate.ts) */
  requireAttestations?: AttestationKind[];
  /** a keyless signature of the index (`recursive`: of every child too) in every target, before any tag (engine/sign/) */
  sign?: SignMode;
  /** SLSA v1 build provenance of the index, signed keyless, in every target (and GitHub's attestations API), before any tag */
  attest?: boolean;
}

/** `sign: true` signs the index; `recursive`, every manifest it lists too (as `cosign sign --recursive`). */
export type SignMode = 'index' | 'recursive';

/** Where keyless signing gets its identity and which Sigstore it uses (the surfaces read the environment). */
export interface SigningSettings {
  /** an OIDC token given as is (SIGSTORE_ID_TOKEN, cosign's convention) */
  idToken?: string;
  /** the Actions runtime's token request (ACTIONS_ID_TOKEN_REQUEST_URL + ACTIONS_ID_TOKEN_REQUEST_TOKEN); asked with audience `sigstore` */
  actions?: { requestUrl: string; requestToken: string };
  /** Sigstore's endpoints; unset: GitHub's instance (Fulcio + TSA), as GitHub's attest action uses for private repositories */
  fulcioUrl?: string;
  tsaUrl?: string;
  rekorUrl?: string;
  /** GITHUB_SERVER_URL (provenance URIs), GITHUB_API_URL and the workflow's token (the attestations API, `attestations: write`) */
  github?: { serverUrl?: string; apiUrl?: string; token?: string };
}

/** What was signed and attested in one target repository. */
export interface SignedTarget {
  repository: string;
  /** each signed manifest (the index first) and the referrer holding its signature */
  signatures: Array<{ subject: string; referrer: string }>;
  /** the referrer holding the provenance bundle */
  attestation?: string;
}

export interface SigningReport {
  /** the certificate's identity (a workflow's https://github.com/OWNER/REPO/PATH@REF) and OIDC issuer */
  identity: string;
  issuer: string;
  fulcioUrl: string;
  tsaUrl: string;
  /** `github`: GitHub's Sigstore (Fulcio + TSA); `custom`: the one `fulcio-url` and `tsa-url` name */
  instance: 'github' | 'custom';
  /** the Rekor v2 every bundle has an entry in (`rekor-url`); unset: none */
  rekorUrl?: string;
  /** the bundles carry a Rekor entry (`rekor-url`); else their proof of time is the TSA's alone */
  tlog?: boolean;
  /** the certificate carries no signed certificate timestamp (the Fulcio logs to no CT log): verifiers skip that check */
  noSct?: boolean;
  targets: SignedTarget[];
  /** ids of the attestation in GitHub's attestations API (one per target repository stored there) */
  githubAttestations?: string[];
}

export interface TargetReport {
  repository: string;
  tags: string[];
  blobs: { mounted: number; copied: number; existing: number };
  manifestsPushed: number;
  manifestsExisting: number;
  /** referrers of the children brought into this repository (none when it is their own) */
  referrers: TargetReferrers;
  /** what would be or was done, one line each (for dry runs and the log) */
  actions: string[];
}

export interface MergeResult {
  digest: string;
  mediaType: string;
  /** the index JSON exactly as pushed */
  manifest: string;
  platforms: string[];
  /** every tag as `registry/repository:tag@digest` */
  images: string[];
  plan: MergePlan;
  sources: ResolvedSource[];
  targets: TargetReport[];
  pushed: boolean;
  requests: RequestStats;
  /** append: how many times the merge was pushed before the tag held it (1 unless another job appended at the same time) */
  attempts?: number;
  /** `cleanupSources`: the source tags removed (or, in a dry run, to remove) and those left in place */
  cleanup?: CleanupReport;
  /** `sign` / `attest`: what was signed and attested, per target */
  signing?: SigningReport;
  /** `requireAttestations`: what was found for each image (the merge fails before writing when any lacks a kind) */
  attestationGate?: AttestationGateReport;
}

/** Where a piece of evidence was found: an attestation manifest of the source index, a referrer, a cosign `.sig`/`.att` tag. */
export type EvidenceSource = 'index' | 'referrer' | 'tag';

/** One manifest that shows an image has a kind of attestation (present; not verified). */
export interface AttestationEvidence {
  kind: AttestationKind;
  via: EvidenceSource;
  /** the manifest's digest */
  digest: string;
  /** what showed it: a predicate type, or an artifact or layer media type (registry text: escape it) */
  type: string;
  /** for `tag`: the tag it was read under */
  tag?: string;
}

/** The attestations of one image of the index, for the kinds required. */
export interface ImageAttestations {
  digest: string;
  platform?: string;
  /** the source as given */
  source: string;
  found: AttestationEvidence[];
  missing: AttestationKind[];
}

export interface AttestationGateReport {
  required: AttestationKind[];
  images: ImageAttestations[];
}

/** How a source tag was (or would be) removed. */
export type CleanupMethod =
  /** DELETE /v2/<name>/manifests/<tag> (OCI 1.1, optional) */
  | 'delete-tag'
  /** a tiny manifest of this run's own pushed over the tag, then deleted by digest (as regctl untags) */
  | 'untag'
  /** GHCR: the package version (the source manifest, no child of the index) deleted through GitHub's API */
  | 'package-version'
  /** GHCR: a tiny manifest over the tag, then its package version deleted (the source manifest stays) */
  | 'package-untag'
  /** Docker Hub: its API's tag deletion */
  | 'hub-tag';

export interface CleanedTag {
  /** registry/repository:tag */
  tag: string;
  /** what the tag held (the source's digest) */
  digest: string;
  method?: CleanupMethod;
  /** for a tag left in place: why (said in its warning) */
  reason?: string;
}

export interface CleanupReport {
  /** removed (or, with push: false, to be removed) */
  removed: CleanedTag[];
  /** left in place, each with a warning */
  left: CleanedTag[];
  /** source tags that are not for cleanup: given by digest, layouts, tags that are also targets */
  skipped: CleanedTag[];
}

export type ReferrersMode = 'copy' | 'skip';

/** What the referrers phase did in one target repository. */
export interface TargetReferrers {
  /** referrers whose manifest this run put into the repository */
  copied: number;
  /** referrers the repository had already */
  existing: number;
  /** `api` when the registry lists them itself, `tag` when the fallback tags hold them */
  via?: 'api' | 'tag';
  /** of those (copied or existing), buildx attestations taken out of the index (`attestations: referrers`) */
  attestations?: number;
  /** listed in the source (referrers API or fallback tag) but their manifest is gone (deleted since): left out, warned */
  stale?: number;
}

export interface ImageRequest {
  /** `images[0]` … for messages */
  position: string;
  request: MergeRequest;
  warnings: string[];
}
/** Credentials given explicitly (action inputs username/password, CLI --username/--password-stdin), for one registry. */
export interface ExplicitCredentials {
  registry: string;
  username: string;
  password: string;
}

/** How the registry client is built (engine/client-setup.ts); the same for both entries. */
export interface ClientSettings {
  /** registries (host[:port]) that may be reached over plain HTTP; loopback ones always may */
  insecureRegistries: string[];
  credentials?: ExplicitCredentials;
  /** the one time budget for every wait: registry, token service, credential helper */
  timeoutMs: number;
  /** parallel connections per registry (default 64; a spec's images share one client, so it may get more) */
  connectionsPerOrigin?: number;
  /** the workflow's token for GitHub's packages API (`cleanup-sources` on ghcr.io) and attestations API (`attest`) */
  githubToken?: string;
  /** `fulcio-url`, `tsa-url`, `rekor-url` (or `signing-config`'s): the Sigstore `sign` and `attest` use (unset: GitHub's instance) */
  sigstore?: { fulcioUrl?: string; tsaUrl?: string; rekorUrl?: string };
}
