// The kinds of attestation the shapes in the wild hold, as buildx, cosign (2 and 3), Notation,
// oras and syft push them; and look-alikes that hold none. Written out here, not built with the
// module's own constants, so a changed constant fails a row.
import { describe, expect, it } from '@jest/globals';
import { attestationKinds, predicateKind } from '../../src/oci/attestation-kinds.js';
import type { Descriptor, ImageManifest } from '../../src/oci/manifest.js';

const d = (mediaType: string, annotations?: Record<string, string>, n = '1'): Descriptor => ({
  mediaType,
  digest: `sha256:${n.repeat(64)}`,
  size: 100,
  ...(annotations ? { annotations } : {}),
});

const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const EMPTY = 'application/vnd.oci.empty.v1+json';
const manifest = (config: string, layers: Descriptor[], extra: Partial<ImageManifest> = {}): ImageManifest => ({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: d(config, undefined, 'c'),
  layers,
  ...extra,
});

const inToto = (predicateType?: string) =>
  d('application/vnd.in-toto+json', predicateType ? { 'in-toto.io/predicate-type': predicateType } : undefined);
const dsse = (predicateType: string) => d('application/vnd.dsse.envelope.v1+json', { predicateType });
const simpleSigning = d('application/vnd.dev.cosign.simplesigning.v1+json', {
  'dev.cosignproject.cosign/signature': 'MEUCIQ…',
  'dev.sigstore.cosign/certificate': '-----BEGIN CERTIFICATE-----…',
});
const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const bundle = (annotations: Record<string, string>) =>
  manifest(EMPTY, [d(BUNDLE, annotations)], {
    artifactType: BUNDLE,
    annotations,
    subject: d('application/vnd.oci.image.manifest.v1+json'),
  });
const artifact = (artifactType: string) =>
  manifest(EMPTY, [d(artifactType)], { artifactType, subject: d('application/vnd.oci.image.manifest.v1+json') });

describe('attestationKinds', () => {
  it.each<[string, ImageManifest, Descriptor | undefined, Array<[string, string]>]>([
    [
      'buildx attestation manifest: provenance v0.2 and SPDX',
      manifest(OCI_CONFIG, [inToto('https://slsa.dev/provenance/v0.2'), inToto('https://spdx.dev/Document')]),
      undefined,
      [
        ['provenance', 'https://slsa.dev/provenance/v0.2'],
        ['sbom', 'https://spdx.dev/Document'],
      ],
    ],
    [
      'buildx attestation manifest: SLSA provenance v1 (buildx 0.2x, provenance: mode=max version=v1)',
      manifest(OCI_CONFIG, [inToto('https://slsa.dev/provenance/v1')]),
      undefined,
      [['provenance', 'https://slsa.dev/provenance/v1']],
    ],
    ['buildx attestation manifest whose layer names no predicate type', manifest(OCI_CONFIG, [inToto()]), undefined, []],
    [
      'buildx attestation manifest with an unknown predicate (a vulnerability scan)',
      manifest(OCI_CONFIG, [inToto('https://cosign.sigstore.dev/attestation/vuln/v1')]),
      undefined,
      [],
    ],
    [
      'cosign .sig tag: simple-signing layer',
      manifest(OCI_CONFIG, [simpleSigning]),
      undefined,
      [['signature', 'application/vnd.dev.cosign.simplesigning.v1+json']],
    ],
    [
      'cosign .att tag: DSSE layers, SLSA provenance and CycloneDX',
      manifest(OCI_CONFIG, [dsse('https://slsa.dev/provenance/v0.2'), dsse('https://cyclonedx.org/bom')]),
      undefined,
      [
        ['provenance', 'https://slsa.dev/provenance/v0.2'],
        ['sbom', 'https://cyclonedx.org/bom'],
      ],
    ],
    [
      'cosign .att tag: a vulnerability scan only',
      manifest(OCI_CONFIG, [dsse('https://cosign.sigstore.dev/attestation/vuln/v1')]),
      undefined,
      [],
    ],
    [
      'cosign 2 signature as a referrer (OCI 1.1 mode)',
      manifest('application/vnd.dev.cosign.artifact.sig.v1+json', [simpleSigning], {
        subject: d('application/vnd.oci.image.manifest.v1+json'),
      }),
      undefined,
      [
        ['signature', 'application/vnd.dev.cosign.artifact.sig.v1+json'],
        ['signature', 'application/vnd.dev.cosign.simplesigning.v1+json'],
      ],
    ],
    [
      'cosign 3 bundle of `cosign sign`',
      bundle({
        'dev.sigstore.bundle.content': 'dsse-envelope',
        'dev.sigstore.bundle.predicateType': 'https://sigstore.dev/cosign/sign/v1',
      }),
      undefined,
      [['signature', BUNDLE]],
    ],
    [
      'Sigstore bundle holding a message signature, no predicate',
      bundle({ 'dev.sigstore.bundle.content': 'message-signature' }),
      undefined,
      [['signature', BUNDLE]],
    ],
    [
      'Sigstore bundle of SLSA provenance v1 (cosign attest, actions/attest-build-provenance)',
      bundle({ 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': 'https://slsa.dev/provenance/v1' }),
      undefined,
      [['provenance', 'https://slsa.dev/provenance/v1']],
    ],
    [
      'Sigstore bundle of an SPDX 2.3 document (actions/attest-sbom)',
      bundle({ 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': 'https://spdx.dev/Document/v2.3' }),
      undefined,
      [['sbom', 'https://spdx.dev/Document/v2.3']],
    ],
    [
      'Sigstore bundle of another predicate',
      bundle({
        'dev.sigstore.bundle.content': 'dsse-envelope',
        'dev.sigstore.bundle.predicateType': 'https://in-toto.io/attestation/vulns/v0.1',
      }),
      undefined,
      [],
    ],
    [
      'Sigstore bundle whose predicate only its listing carries',
      manifest(EMPTY, [d(BUNDLE)], { artifactType: BUNDLE }),
      {
        ...d('application/vnd.oci.image.manifest.v1+json'),
        artifactType: BUNDLE,
        annotations: { 'dev.sigstore.bundle.predicateType': 'https://slsa.dev/provenance/v1' },
      },
      [['provenance', 'https://slsa.dev/provenance/v1']],
    ],
    ['SPDX JSON artifact (oras attach)', artifact('application/spdx+json'), undefined, [['sbom', 'application/spdx+json']]],
    ['CycloneDX JSON artifact', artifact('application/vnd.cyclonedx+json'), undefined, [['sbom', 'application/vnd.cyclonedx+json']]],
    ['Syft JSON artifact', artifact('application/vnd.syft+json'), undefined, [['sbom', 'application/vnd.syft+json']]],
    [
      'SBOM artifact of oras 1.0 (the artifactType in the config media type)',
      manifest('application/spdx+json', [d('application/spdx+json')]),
      undefined,
      [['sbom', 'application/spdx+json']],
    ],
    [
      'Notation signature',
      artifact('application/vnd.cncf.notary.signature'),
      undefined,
      [['signature', 'application/vnd.cncf.notary.signature']],
    ],
    [
      'a Helm chart',
      manifest('application/vnd.cncf.helm.config.v1+json', [d('application/vnd.cncf.helm.chart.content.v1.tar+gzip')]),
      undefined,
      [],
    ],
    ['a container image', manifest(OCI_CONFIG, [d('application/vnd.oci.image.layer.v1.tar+gzip')]), undefined, []],
    [
      'an in-toto layer whose predicate names provenance v0.1 (not accepted)',
      manifest(OCI_CONFIG, [inToto('https://slsa.dev/provenance/v0.1')]),
      undefined,
      [],
    ],
  ])('%s', (_, m, listed, expected) => {
    expect(attestationKinds(m, listed).map((e) => [e.kind, e.type])).toEqual(expected);
  });
});

describe('predicateKind', () => {
  it.each([
    ['https://slsa.dev/provenance/v0.2', 'provenance'],
    ['https://slsa.dev/provenance/v1', 'provenance'],
    ['https://slsa.dev/provenance/v1.1', 'provenance'],
    ['https://spdx.dev/Document', 'sbom'],
    ['https://spdx.dev/Document/v2.3', 'sbom'],
    ['https://cyclonedx.org/bom', 'sbom'],
    ['https://cyclonedx.org/bom/v1.5', 'sbom'],
    ['https://slsa.dev/provenance/v0.1', undefined],
    ['https://slsa.dev/provenance/v1.evil', undefined],
    ['http://slsa.dev/provenance/v1', undefined],
    ['https://slsa.dev/provenance/v1/../../x', undefined],
    ['https://spdx.dev/Documents', undefined],
    ['https://example.com/https://spdx.dev/Document', undefined],
    ['https://sigstore.dev/cosign/sign/v1', undefined],
    ['', undefined],
  ])('%s: %s', (type, kind) => {
    expect(predicateKind(type)).toBe(kind);
  });
});
