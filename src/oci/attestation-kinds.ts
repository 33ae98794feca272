// What kind of attestation a manifest is: provenance, an SBOM or a signature, told from what it
// says about itself (never verified: presence, not trust). The shapes read, as the tools push them:
//
// - buildx/BuildKit attestation manifests (in the index, or as referrers): in-toto layers, each
//   with an `in-toto.io/predicate-type` annotation;
// - cosign attestations (`sha256-<hex>.att` tags, or referrers): DSSE envelope layers with a
//   `predicateType` annotation;
// - cosign signatures (`sha256-<hex>.sig` tags, or referrers with artifactType
//   application/vnd.dev.cosign.artifact.sig.v1+json): simple-signing layers; Notation signatures;
// - Sigstore bundles (cosign 3): artifactType application/vnd.dev.sigstore.bundle.v0.3+json, the
//   predicate in `dev.sigstore.bundle.predicateType` (a message signature, or cosign's own
//   sign predicate, is a signature);
// - SBOM artifacts (oras attach, syft): by artifactType (SPDX, CycloneDX, Syft JSON).
//
// Pure: the manifests are read by engine/gate.ts.
import type { Descriptor, ImageManifest } from './manifest.js';

export const ATTESTATION_KINDS = ['provenance', 'sbom', 'signature'] as const;
export type AttestationKind = (typeof ATTESTATION_KINDS)[number];

/** One piece of evidence a manifest holds: the kind, and what showed it (a predicate type, or an artifact or layer media type). */
export interface KindEvidence {
  kind: AttestationKind;
  type: string;
}

export const AttestationMediaType = {
  InToto: 'application/vnd.in-toto+json',
  DsseEnvelope: 'application/vnd.dsse.envelope.v1+json',
  CosignSimpleSigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
  CosignSignature: 'application/vnd.dev.cosign.artifact.sig.v1+json',
  NotarySignature: 'application/vnd.cncf.notary.signature',
} as const;

export const AttestationAnnotation = {
  /** on a buildx attestation manifest's in-toto layers */
  InTotoPredicateType: 'in-toto.io/predicate-type',
  /** on a cosign attestation's DSSE layers */
  CosignPredicateType: 'predicateType',
  /** on a Sigstore bundle referrer (manifest and layer) */
  BundlePredicateType: 'dev.sigstore.bundle.predicateType',
  /** `message-signature` or `dsse-envelope` */
  BundleContent: 'dev.sigstore.bundle.content',
} as const;

/** The predicate cosign 3 gives the bundle of a plain `cosign sign`: a signature, not an attestation. */
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';

const PROVENANCE = /^https:\/\/slsa\.dev\/provenance\/v(?:0\.2|1(?:\.\d+)?)$/;
const SBOM = [/^https:\/\/spdx\.dev\/Document(?:\/v\d+(?:\.\d+)*)?$/, /^https:\/\/cyclonedx\.org\/bom(?:\/v\d+(?:\.\d+)*)?$/];

/** SBOM artifacts pushed as referrers, by their artifactType. */
export const SBOM_ARTIFACT_TYPES: readonly string[] = [
  'application/spdx+json',
  'text/spdx',
  'text/spdx+json',
  'application/vnd.cyclonedx+json',
  'application/vnd.cyclonedx+xml',
  'application/vnd.cyclonedx',
  'application/vnd.syft+json',
];

const SIGSTORE_BUNDLE = /^application\/vnd\.dev\.sigstore\.bundle(?:\.v[\d.]+)?\+json(?:;.*)?$/;

/** The kind an in-toto predicate type is: SLSA provenance v0.2 or v1, an SPDX or CycloneDX document; else none. */
export function predicateKind(predicateType: string): 'provenance' | 'sbom' | undefined {
  if (PROVENANCE.test(predicateType)) return 'provenance';
  if (SBOM.some((r) => r.test(predicateType))) return 'sbom';
  return undefined;
}

function byPredicate(predicateType: string | undefined): KindEvidence[] {
  const kind = predicateType === undefined ? undefined : predicateKind(predicateType);
  return kind ? [{ kind, type: predicateType! }] : [];
}

/**
 * The kinds of attestation `manifest` holds, each with what showed it (one per kind and type).
 * `listed`: the descriptor it was listed under (a referrers listing), whose artifactType and
 * annotations stand in for the manifest's own where it has none.
 */
export function attestationKinds(manifest: ImageManifest, listed?: Descriptor): KindEvidence[] {
  const artifactType = manifest.artifactType ?? listed?.artifactType ?? manifest.config?.mediaType ?? '';
  const annotations = { ...listed?.annotations, ...manifest.annotations };
  const found: KindEvidence[] = [];

  if (SIGSTORE_BUNDLE.test(artifactType)) {
    const layer = (manifest.layers ?? []).find((l) => l.annotations?.[AttestationAnnotation.BundlePredicateType] !== undefined);
    const predicate =
      annotations[AttestationAnnotation.BundlePredicateType] ?? layer?.annotations?.[AttestationAnnotation.BundlePredicateType];
    const content = annotations[AttestationAnnotation.BundleContent];
    if (predicate === undefined || predicate === COSIGN_SIGN_PREDICATE || content === 'message-signature')
      found.push({ kind: 'signature', type: artifactType });
    else found.push(...byPredicate(predicate));
  }
  if (artifactType === AttestationMediaType.CosignSignature || artifactType === AttestationMediaType.NotarySignature)
    found.push({ kind: 'signature', type: artifactType });
  if (SBOM_ARTIFACT_TYPES.includes(artifactType)) found.push({ kind: 'sbom', type: artifactType });

  for (const layer of manifest.layers ?? []) {
    if (layer.mediaType === AttestationMediaType.CosignSimpleSigning) found.push({ kind: 'signature', type: layer.mediaType });
    else if (layer.mediaType === AttestationMediaType.DsseEnvelope)
      found.push(...byPredicate(layer.annotations?.[AttestationAnnotation.CosignPredicateType]));
    else if (layer.mediaType === AttestationMediaType.InToto)
      found.push(...byPredicate(layer.annotations?.[AttestationAnnotation.InTotoPredicateType]));
  }
  return [...new Map(found.map((e) => [`${e.kind} ${e.type}`, e])).values()];
}
