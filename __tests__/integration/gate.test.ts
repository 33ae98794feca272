// require-attestations on every real registry implementation: buildx-shaped sources with
// provenance and SBOM attestations pass; a leg built with `provenance: false` fails the step
// naming its platform and `provenance`, and nothing is pushed; a cosign `.sig` tag and a Sigstore
// bundle referrer (listed by the referrers API, or the fallback tag where there is none) each
// satisfy `signature`.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { hasManifest } from '../../scripts/support/fixtures/client.js';
import {
  type PushedBuildxImage,
  type PushedPlainBuildxImage,
  pushBuildxImage,
  pushBuildxImageWithoutAttestations,
} from '../../scripts/support/fixtures/buildx.js';
import {
  SIGNATURE_MT,
  pushCosignAttestationTag,
  pushCosignSignatureTag,
  pushSigstoreSignatureBundle,
} from '../../scripts/support/fixtures/signatures.js';
import { PREDICATE_SLSA_PROVENANCE_V02, PREDICATE_SPDX } from '../../scripts/support/fixtures/media.js';
import {
  type RegistryCapabilities,
  type RegistryImplementation,
  type RunningRegistry,
  startRegistry,
} from '../../scripts/support/registry.js';
import { buildMetadata } from '../../src/engine/summary.js';
import { merge, mergeFailure } from './harness.js';
import { IMPLEMENTATION_ROWS } from './implementations.js';

const REPO = 'acme/gate';

describe.each(IMPLEMENTATION_ROWS)('require-attestations on %s', (implementation: RegistryImplementation, can: RegistryCapabilities) => {
  let registry: RunningRegistry;
  let amd64: PushedBuildxImage;
  let arm64: PushedBuildxImage;
  let plain: PushedPlainBuildxImage;
  const source = (tag: string) => `${registry.host}/${REPO}:${tag}`;

  beforeAll(async () => {
    registry = await startRegistry({ implementation, name: `gate-${implementation}` });
    [amd64, arm64, plain] = await Promise.all([
      pushBuildxImage(registry, REPO, 'amd64', { platform: 'linux/amd64', seed: 'gate-amd64', attestations: ['provenance', 'sbom'] }),
      pushBuildxImage(registry, REPO, 'arm64', { platform: 'linux/arm64', seed: 'gate-arm64', attestations: ['provenance', 'sbom'] }),
      pushBuildxImageWithoutAttestations(registry, REPO, 'arm64-plain', { platform: 'linux/arm64', seed: 'gate-arm64-plain' }),
    ]);
  });

  afterAll(async () => {
    await registry?.stop();
  });

  it('buildx provenance and SBOM attestations satisfy provenance,sbom: pushed, and metadata says where each was found', async () => {
    const target = `${registry.host}/${REPO}:all-attested`;
    const { result } = await merge({
      sources: [source('amd64'), source('arm64')].join('\n'),
      tags: target,
      'require-attestations': 'provenance,sbom',
    });
    expect(result.pushed).toBe(true);
    expect(await hasManifest(registry, REPO, result.digest)).toBe(true);
    expect(buildMetadata(result).requiredAttestations).toEqual({
      required: ['provenance', 'sbom'],
      images: [amd64, arm64].map((seed, i) => ({
        digest: seed.imageDigest,
        platform: i === 0 ? 'linux/amd64' : 'linux/arm64',
        source: source(i === 0 ? 'amd64' : 'arm64'),
        found: [
          { kind: 'provenance', via: 'index', digest: seed.attestationDigest, type: PREDICATE_SLSA_PROVENANCE_V02 },
          { kind: 'sbom', via: 'index', digest: seed.attestationDigest, type: PREDICATE_SPDX },
        ],
        missing: [],
      })),
    });
  });

  it('a leg built with provenance: false fails the step naming its platform and provenance; the target tag is not pushed', async () => {
    const { message, logs } = await mergeFailure({
      sources: [source('amd64'), source('arm64-plain')].join('\n'),
      tags: `${registry.host}/${REPO}:refused`,
      'require-attestations': 'provenance',
    });
    expect(message).toBe(
      `Required attestations (provenance) are missing, so nothing was pushed: linux/arm64 ${plain.imageDigest} from ${source('arm64-plain')} has no provenance. ` +
        'Rebuild with provenance (docker/build-push-action `provenance: mode=max`); or drop the kind from input `require-attestations`. Only presence is checked, not signatures',
    );
    expect(logs.some((l) => l.includes(`linux/amd64 ${amd64.imageDigest}`) && l.includes('found provenance'))).toBe(true);
    expect(await hasManifest(registry, REPO, 'refused')).toBe(false);
  });

  it('push: false checks too: the dry run fails the same way', async () => {
    const { error } = await mergeFailure({
      sources: source('arm64-plain'),
      tags: `${registry.host}/${REPO}:dry`,
      'require-attestations': 'provenance',
      push: 'false',
    });
    expect(error.message).toContain(`linux/arm64 ${plain.imageDigest} from ${source('arm64-plain')} has no provenance`);
  });

  it("a cosign .sig tag satisfies signature, a cosign .att tag's provenance predicate provenance", async () => {
    const leg = await pushBuildxImageWithoutAttestations(registry, REPO, 'amd64-cosign', { platform: 'linux/amd64', seed: 'gate-cosign' });
    const sig = await pushCosignSignatureTag(registry, REPO, leg.imageDigest);
    const att = await pushCosignAttestationTag(registry, REPO, leg.imageDigest, ['https://slsa.dev/provenance/v1']);
    const { result } = await merge({
      sources: source('amd64-cosign'),
      tags: `${registry.host}/${REPO}:cosign`,
      'require-attestations': 'signature,provenance',
    });
    const tag = leg.imageDigest.replace(':', '-');
    expect(result.attestationGate?.images[0]).toMatchObject({
      missing: [],
      // the .sig tag is read first: the tags are read in the order of the kinds they may show
      found: [
        { kind: 'signature', via: 'tag', digest: sig.digest, type: SIGNATURE_MT.SimpleSigning, tag: `${tag}.sig` },
        { kind: 'provenance', via: 'tag', digest: att.digest, type: 'https://slsa.dev/provenance/v1', tag: `${tag}.att` },
      ],
    });
    expect(await hasManifest(registry, REPO, 'cosign')).toBe(true);
  });

  it(`a Sigstore bundle referrer satisfies signature (${can.referrers ? 'referrers API' : 'fallback tag'})`, async () => {
    const leg = await pushBuildxImageWithoutAttestations(registry, REPO, 'arm64-bundle', { platform: 'linux/arm64', seed: 'gate-bundle' });
    const bundle = await pushSigstoreSignatureBundle(registry, REPO, leg.image.descriptor, { fallbackTag: !can.referrers });
    const { result } = await merge({
      sources: source('arm64-bundle'),
      tags: `${registry.host}/${REPO}:bundle`,
      'require-attestations': 'signature',
    });
    expect(result.attestationGate?.images[0]).toMatchObject({
      missing: [],
      found: [{ kind: 'signature', via: 'referrer', digest: bundle.digest, type: SIGNATURE_MT.SigstoreBundle }],
    });
    expect(await hasManifest(registry, REPO, 'bundle')).toBe(true);
  });
});
