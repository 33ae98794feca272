// require-attestations through runMerge on the in-memory registry (no referrers API: fallback
// tags): where each kind is found (the source index's attestation manifests, referrers, cosign's
// .sig/.att tags), what is reported, and that a missing kind fails the merge before any write,
// naming every image and what it lacks.
import { beforeEach, describe, expect, it } from '@jest/globals';
import { runMerge } from '../../src/engine/merge.js';
import type { MergeRequest } from '../../src/engine/model.js';
import { MissingAttestationsError, renderError } from '../../src/base/errors.js';
import { createMemoryLogger } from '../../src/base/logger.js';
import { CLI_WORDS } from '../../src/cli/wording.js';
import { type Descriptor, MediaType } from '../../src/oci/manifest.js';
import { type RepositoryRef, parseReference } from '../../src/oci/reference.js';
import { type SeedBuildx, MemoryRegistry, addBuildxImage, addImage } from '../support/memory-registry.js';
import { caught } from '../support/caught.js';

const REG = 'reg.example';
const app: RepositoryRef = { registry: REG, repository: 'acme/app' };
const PROVENANCE = 'https://slsa.dev/provenance/v0.2';
const SIG = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const EMPTY = 'application/vnd.oci.empty.v1+json';

const request = (sources: string[], extra: Partial<MergeRequest> = {}): MergeRequest => ({
  sources: sources.map((s) => parseReference(`${REG}/acme/app:${s}`)),
  tags: [parseReference(`${REG}/acme/app:latest`)],
  attestations: 'keep',
  format: 'auto',
  push: true,
  ...extra,
});

let registry: MemoryRegistry;
let amd64: SeedBuildx;
let arm64: SeedBuildx;

beforeEach(() => {
  registry = new MemoryRegistry();
  amd64 = addBuildxImage(registry, app, 'amd64', { platform: { os: 'linux', architecture: 'amd64' }, seed: 'amd64' });
  arm64 = addBuildxImage(registry, app, 'arm64', { platform: { os: 'linux', architecture: 'arm64' }, seed: 'arm64' });
});

/** What buildx pushes with `provenance: false`: an index holding the image alone. */
function addPlainLeg(tag: string, architecture: string) {
  const platform = { os: 'linux', architecture };
  const image = addImage(registry, app, { platform, seed: tag });
  const index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [{ ...image.descriptor, platform }] };
  registry.addManifest(app, JSON.stringify(index), MediaType.OciIndex, tag);
  return image;
}

/** An artifact referring to `subject`, listed in the subject's fallback tag (as cosign and oras push them on a registry without the API). */
function addReferrer(subject: Descriptor, artifactType: string, options: { annotations?: Record<string, string>; payload?: string } = {}) {
  const config = registry.addBlob(app, Buffer.from('{}'), EMPTY);
  const layer = registry.addBlob(app, Buffer.from(options.payload ?? `${artifactType} of ${subject.digest}`), artifactType);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    artifactType,
    config,
    layers: [{ ...layer, ...(options.annotations ? { annotations: options.annotations } : {}) }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    ...(options.annotations ? { annotations: options.annotations } : {}),
  };
  const descriptor = registry.addManifest(app, JSON.stringify(manifest), MediaType.OciManifest);
  const tag = subject.digest.replace(':', '-');
  const existing = (registry.read(app, tag)?.json as { manifests: unknown[] } | undefined)?.manifests ?? [];
  registry.addManifest(
    app,
    JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [...existing, { ...descriptor, artifactType }] }),
    MediaType.OciIndex,
    tag,
  );
  return descriptor;
}

/** What `cosign sign` (v2, tag mode) pushes: a simple-signing manifest under `sha256-<hex>.sig`, no subject. */
function addCosignTag(subject: Descriptor, suffix: 'sig' | 'att', predicateType?: string) {
  const config = registry.addBlob(app, Buffer.from(`{"seed":"${suffix}"}`), MediaType.OciConfig);
  const layerType = suffix === 'sig' ? 'application/vnd.dev.cosign.simplesigning.v1+json' : 'application/vnd.dsse.envelope.v1+json';
  const layer = registry.addBlob(app, Buffer.from(`{"critical":{"image":{"docker-manifest-digest":"${subject.digest}"}}}`), layerType);
  const annotations = suffix === 'sig' ? { 'dev.cosignproject.cosign/signature': 'MEUCIQ' } : { predicateType: predicateType! };
  const manifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [{ ...layer, annotations }] };
  return registry.addManifest(app, JSON.stringify(manifest), MediaType.OciManifest, `${subject.digest.replace(':', '-')}.${suffix}`);
}

const tagReads = () =>
  registry.requests.filter((r) => r.kind === 'GET manifest' && /\.(sig|att)$/.test(r.reference)).map((r) => r.reference);

describe('require-attestations: provenance', () => {
  it("is found in each image's attestation manifest; the report says where, and the index is pushed", async () => {
    const logger = createMemoryLogger();
    const result = await runMerge(request(['amd64', 'arm64'], { requireAttestations: ['provenance'] }), registry, logger);
    expect(result.pushed).toBe(true);
    expect(result.attestationGate).toEqual({
      required: ['provenance'],
      images: [amd64, arm64].map((seed, i) => ({
        digest: seed.image.descriptor.digest,
        platform: i === 0 ? 'linux/amd64' : 'linux/arm64',
        source: `${REG}/acme/app:${i === 0 ? 'amd64' : 'arm64'}`,
        found: [{ kind: 'provenance', via: 'index', digest: seed.attestation.digest, type: PROVENANCE }],
        missing: [],
      })),
    });
    expect(logger.lines).toContain(
      `info: linux/amd64 ${amd64.image.descriptor.digest} from ${REG}/acme/app:amd64: found provenance (attestation manifest ${amd64.attestation.digest}, ${PROVENANCE})`,
    );
    // found in the index: no cosign tag is read
    expect(tagReads()).toEqual([]);
  });

  it('a leg built with provenance: false fails the merge before anything is written, naming its platform, image and what it lacks', async () => {
    const plain = addPlainLeg('arm64-plain', 'arm64');
    const error = await caught(
      runMerge(request(['amd64', 'arm64-plain'], { requireAttestations: ['provenance'] }), registry, createMemoryLogger()),
    );
    expect(error).toBeInstanceOf(MissingAttestationsError);
    expect(renderError(error, CLI_WORDS)).toBe(
      `Required attestations (provenance) are missing, so nothing was pushed: linux/arm64 ${plain.descriptor.digest} from ${REG}/acme/app:arm64-plain has no provenance. ` +
        'Rebuild with provenance (docker/build-push-action `provenance: mode=max`); or drop the kind from --require-attestations. Only presence is checked, not signatures',
    );
    expect(registry.writes()).toEqual([]);
    // provenance may be in a cosign .att tag: looked for there, for the leg without it only
    expect(tagReads()).toEqual([`${plain.descriptor.digest.replace(':', '-')}.att`]);
  });

  it('one message names every image and everything each lacks', async () => {
    const a = addPlainLeg('amd64-plain', 'amd64');
    const b = addPlainLeg('arm64-plain', 'arm64');
    addReferrer(b.descriptor, SIG);
    const error = await caught(
      runMerge(
        request(['amd64-plain', 'arm64-plain'], { requireAttestations: ['provenance', 'signature', 'sbom'] }),
        registry,
        createMemoryLogger(),
      ),
    );
    const message = renderError(error, CLI_WORDS);
    expect(message).toContain(`linux/amd64 ${a.descriptor.digest} from ${REG}/acme/app:amd64-plain has no provenance, sbom, signature;`);
    expect(message).toContain(`linux/arm64 ${b.descriptor.digest} from ${REG}/acme/app:arm64-plain has no provenance, sbom.`);
    expect(message).toContain(
      'Rebuild with provenance (docker/build-push-action `provenance: mode=max`), or rebuild with an SBOM (`sbom: true`) or attach one, or sign the images (cosign sign) before the merge; or drop the kind from --require-attestations',
    );
    expect(registry.writes()).toEqual([]);
  });

  it('push: false runs the check too: a dry run fails the same way, and one that passes reports what it found', async () => {
    addPlainLeg('arm64-plain', 'arm64');
    await expect(
      runMerge(request(['amd64', 'arm64-plain'], { push: false, requireAttestations: ['provenance'] }), registry, createMemoryLogger()),
    ).rejects.toThrow(MissingAttestationsError);
    const result = await runMerge(
      request(['amd64', 'arm64'], { push: false, requireAttestations: ['provenance'] }),
      registry,
      createMemoryLogger(),
    );
    expect(result.pushed).toBe(false);
    expect(result.attestationGate?.images.map((i) => i.missing)).toEqual([[], []]);
    expect(registry.writes()).toEqual([]);
  });

  it('attestations: strip leaves the index without them, so they do not count; attestations: referrers pushes them, so they do', async () => {
    await expect(
      runMerge(request(['amd64'], { attestations: 'strip', requireAttestations: ['provenance'] }), registry, createMemoryLogger()),
    ).rejects.toThrow(`linux/amd64 ${amd64.image.descriptor.digest} from ${REG}/acme/app:amd64 has no provenance`);
    const result = await runMerge(
      request(['amd64'], { attestations: 'referrers', requireAttestations: ['provenance'] }),
      registry,
      createMemoryLogger(),
    );
    expect(result.attestationGate?.images[0].found).toEqual([
      { kind: 'provenance', via: 'index', digest: amd64.attestation.digest, type: PROVENANCE },
    ]);
  });

  it('an SBOM required and only provenance built: sbom missing', async () => {
    await expect(
      runMerge(request(['amd64'], { requireAttestations: ['provenance', 'sbom'] }), registry, createMemoryLogger()),
    ).rejects.toThrow(`linux/amd64 ${amd64.image.descriptor.digest} from ${REG}/acme/app:amd64 has no sbom`);
  });

  it('append: the images the index keeps are checked too', async () => {
    const plain = addPlainLeg('arm64-plain', 'arm64');
    await runMerge(request(['arm64-plain']), registry, createMemoryLogger());
    const writes = registry.writes().length;
    await expect(
      runMerge(request(['amd64'], { append: true, requireAttestations: ['provenance'] }), registry, createMemoryLogger()),
    ).rejects.toThrow(`linux/arm64 ${plain.descriptor.digest} from ${REG}/acme/app:latest has no provenance`);
    expect(registry.writes().length).toBe(writes);
  });

  it('nothing required: no check, no report, no extra request', async () => {
    const result = await runMerge(request(['amd64', 'arm64'], { requireAttestations: [] }), registry, createMemoryLogger());
    expect(result.attestationGate).toBeUndefined();
    expect(registry.stats().byKind).toEqual({ 'GET manifest': 2, 'PUT manifest': 1, 'HEAD manifest': 1 });
  });
});

describe('require-attestations: signature and SBOM among the referrers and cosign tags', () => {
  it('a cosign signature referrer satisfies signature; its .sig tag is then not read', async () => {
    const sig = addReferrer(amd64.image.descriptor, SIG);
    const result = await runMerge(request(['amd64'], { requireAttestations: ['signature'] }), registry, createMemoryLogger());
    expect(result.attestationGate?.images[0].found).toEqual([{ kind: 'signature', via: 'referrer', digest: sig.digest, type: SIG }]);
    expect(tagReads()).toEqual([]);
  });

  it("a cosign .sig tag satisfies signature, a .att tag's provenance predicate provenance", async () => {
    const plain = addPlainLeg('amd64-plain', 'amd64');
    const sig = addCosignTag(plain.descriptor, 'sig');
    const att = addCosignTag(plain.descriptor, 'att', 'https://slsa.dev/provenance/v1');
    const result = await runMerge(
      request(['amd64-plain'], { requireAttestations: ['provenance', 'signature'] }),
      registry,
      createMemoryLogger(),
    );
    const tag = plain.descriptor.digest.replace(':', '-');
    expect(result.attestationGate?.images[0]).toMatchObject({
      found: [
        { kind: 'signature', via: 'tag', digest: sig.digest, type: 'application/vnd.dev.cosign.simplesigning.v1+json', tag: `${tag}.sig` },
        { kind: 'provenance', via: 'tag', digest: att.digest, type: 'https://slsa.dev/provenance/v1', tag: `${tag}.att` },
      ],
      missing: [],
    });
  });

  it('a Sigstore bundle referrer: of `cosign sign`, a signature; of an SPDX predicate, an SBOM', async () => {
    const signed = addReferrer(amd64.image.descriptor, BUNDLE, {
      annotations: {
        'dev.sigstore.bundle.content': 'dsse-envelope',
        'dev.sigstore.bundle.predicateType': 'https://sigstore.dev/cosign/sign/v1',
      },
    });
    const sbom = addReferrer(amd64.image.descriptor, BUNDLE, {
      annotations: {
        'dev.sigstore.bundle.content': 'dsse-envelope',
        'dev.sigstore.bundle.predicateType': 'https://spdx.dev/Document/v2.3',
      },
    });
    const result = await runMerge(request(['amd64'], { requireAttestations: ['sbom', 'signature'] }), registry, createMemoryLogger());
    expect(result.attestationGate?.images[0].found).toEqual([
      { kind: 'signature', via: 'referrer', digest: signed.digest, type: BUNDLE },
      { kind: 'sbom', via: 'referrer', digest: sbom.digest, type: 'https://spdx.dev/Document/v2.3' },
    ]);
  });

  it("a signature of the image's SBOM is not a signature of the image", async () => {
    const sbom = addReferrer(amd64.image.descriptor, 'application/spdx+json');
    addReferrer(sbom, SIG);
    const error = await caught(
      runMerge(request(['amd64'], { requireAttestations: ['sbom', 'signature'] }), registry, createMemoryLogger()),
    );
    expect(renderError(error, CLI_WORDS)).toContain(
      `linux/amd64 ${amd64.image.descriptor.digest} from ${REG}/acme/app:amd64 has no signature.`,
    );
  });

  it('an index under a .sig tag is not counted, with a warning', async () => {
    const other = registry.read(app, 'arm64')!;
    const bytes = JSON.stringify(other.json);
    registry.addManifest(app, bytes, MediaType.OciIndex, `${amd64.image.descriptor.digest.replace(':', '-')}.sig`);
    const logger = createMemoryLogger();
    await expect(runMerge(request(['amd64'], { requireAttestations: ['signature'] }), registry, logger)).rejects.toThrow(
      MissingAttestationsError,
    );
    expect(logger.lines).toContain(
      `warning: ${REG}/acme/app:${amd64.image.descriptor.digest.replace(':', '-')}.sig is an index, not the image manifest cosign writes there; it was not counted`,
    );
  });

  it('registry text in the log is escaped', async () => {
    const hostile = `${BUNDLE};x=\u001b[31m::error::owned`;
    addReferrer(amd64.image.descriptor, hostile, { annotations: { 'dev.sigstore.bundle.content': 'message-signature' } });
    const logger = createMemoryLogger();
    await runMerge(request(['amd64'], { requireAttestations: ['signature'] }), registry, logger);
    const line = logger.lines.find((l) => l.includes('found signature'))!;
    expect(line).not.toContain('\u001b');
    expect(line).toContain(';x=::error::owned)');
  });
});
