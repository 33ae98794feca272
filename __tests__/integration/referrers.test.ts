// Referrers travel with the images (issue 12): artifacts pushed with `subject` as cosign and oras
// push them (a signature, an SBOM, a signature of the SBOM), found in the source through the
// referrers API or the fallback tag, and copied into other repositories and registries, where the
// API lists them or the fallback tag holds them, merged with what was there. Verified with
// skopeo (manifests by digest, the fallback tag) and with plain HTTP against the referrers API.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MT, sha256 } from '../../scripts/support/fixtures/media.js';
import { deleteManifest, hasBlob, hasManifest, pushBlob, putManifest, type PushedManifest } from '../../scripts/support/fixtures/client.js';
import { pushBuildkitSubjectImage, pushBuildxImage, type PushedBuildxImage } from '../../scripts/support/fixtures/buildx.js';
import { checkReference, inspectReference, inspectReferrers } from '../../src/engine/inspect.js';
import { silentLogger } from '../../src/base/logger.js';
import { buildMetadata, renderReport } from '../../src/engine/summary.js';
import { parseReference } from '../../src/oci/reference.js';
import { createClient } from '../../src/engine/client-setup.js';
import { type RegistryEndpoint, type RunningRegistry, IMPLEMENTATIONS, startRegistry } from '../../scripts/support/registry.js';
import { skopeoInspectRaw } from '../../scripts/support/skopeo.js';
import { emptyDockerConfig, merge } from './harness.js';
import { runCli } from './processes.js';

const SIG = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const SPDX = 'application/spdx+json';
const EMPTY = 'application/vnd.oci.empty.v1+json';

interface Listing {
  manifests: Array<{ digest: string; artifactType?: string; mediaType: string; size: number }>;
}

const fallbackTag = (digest: string) => digest.replace(':', '-');

/** GET /v2/<repo>/referrers/<digest> with plain HTTP: undefined when the registry answers 404. */
async function apiListing(registry: RegistryEndpoint, repository: string, digest: string): Promise<Listing | undefined> {
  const response = await fetch(`${registry.url}/v2/${repository}/referrers/${digest}`);
  if (response.status === 404) {
    await response.arrayBuffer();
    return undefined;
  }
  expect(response.status).toBe(200);
  return (await response.json()) as Listing;
}

/** The fallback tag's index, read with skopeo; undefined when there is none. */
async function tagListing(registry: RegistryEndpoint, repository: string, digest: string): Promise<Listing | undefined> {
  if (!(await hasManifest(registry, repository, fallbackTag(digest)))) return undefined;
  return JSON.parse(
    (await skopeoInspectRaw(`${registry.host}/${repository}:${fallbackTag(digest)}`, { tlsVerify: false })).toString('utf8'),
  ) as Listing;
}

/**
 * An artifact whose `subject` is `subject`, as cosign 2 / oras push it: an OCI image manifest with
 * `artifactType`, the empty config and one layer; on a registry without the API the pusher also
 * merges it into the fallback tag (as oras and cosign do).
 */
async function pushReferrer(
  registry: RunningRegistry,
  repository: string,
  subject: PushedManifest['descriptor'],
  artifactType: string,
  payload: string,
): Promise<PushedManifest> {
  const config = await pushBlob(registry, repository, Buffer.from('{}'), EMPTY);
  const layer = await pushBlob(registry, repository, Buffer.from(payload), artifactType);
  const manifest = {
    schemaVersion: 2,
    mediaType: MT.OciManifest,
    artifactType,
    config: { mediaType: EMPTY, digest: config.digest, size: config.size },
    layers: [{ mediaType: artifactType, digest: layer.digest, size: layer.size }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
  };
  const pushed = await putManifest(registry, repository, undefined, Buffer.from(JSON.stringify(manifest)), MT.OciManifest);
  if (!registry.capabilities.referrers) {
    const existing = (await tagListing(registry, repository, subject.digest))?.manifests ?? [];
    const index = {
      schemaVersion: 2,
      mediaType: MT.OciIndex,
      manifests: [...existing, { mediaType: MT.OciManifest, digest: pushed.digest, size: pushed.size, artifactType }],
    };
    await putManifest(registry, repository, fallbackTag(subject.digest), Buffer.from(JSON.stringify(index)), MT.OciIndex);
  }
  return pushed;
}

/** Two buildx images in `repository`, with a signature of the amd64 image, an SBOM of the arm64 one, and a signature of that SBOM. */
async function sourceWithReferrers(registry: RunningRegistry, repository: string, seed: string) {
  const [amd64, arm64] = await Promise.all([
    pushBuildxImage(registry, repository, 'amd64', { platform: 'linux/amd64', seed: `${seed}-amd64` }),
    pushBuildxImage(registry, repository, 'arm64', { platform: 'linux/arm64', seed: `${seed}-arm64` }),
  ]);
  const signature = await pushReferrer(
    registry,
    repository,
    amd64.image.descriptor,
    SIG,
    `{"critical":{"image":{"docker-manifest-digest":"${amd64.imageDigest}"}},"seed":"${seed}"}`,
  );
  const sbom = await pushReferrer(registry, repository, arm64.image.descriptor, SPDX, `{"spdxVersion":"SPDX-2.3","name":"${seed}"}`);
  const sbomSignature = await pushReferrer(
    registry,
    repository,
    sbom.descriptor,
    SIG,
    `{"critical":{"image":{"docker-manifest-digest":"${sbom.digest}"}},"seed":"${seed}-sbom"}`,
  );
  return { amd64, arm64, signature, sbom, sbomSignature };
}
type Source = Awaited<ReturnType<typeof sourceWithReferrers>>;

/** Each referrer's manifest (by digest, with skopeo) and blobs are in `repository`. */
async function expectCopied(registry: RegistryEndpoint, repository: string, referrers: PushedManifest[]): Promise<void> {
  for (const r of referrers) {
    const bytes = await skopeoInspectRaw(`${registry.host}/${repository}@${r.digest}`, { tlsVerify: false });
    expect(sha256(bytes)).toBe(r.digest);
    const manifest = JSON.parse(bytes.toString('utf8')) as { config: { digest: string }; layers: Array<{ digest: string }> };
    for (const blob of [manifest.config, ...manifest.layers]) expect(await hasBlob(registry, repository, blob.digest)).toBe(true);
  }
}

const sources = (host: string, repository: string) => [`${host}/${repository}:amd64`, `${host}/${repository}:arm64`].join('\n');

// Each twice: on the registries written elsewhere (distribution 2.8 without the API, ggcr with it,
// from scripts/support/referrers-registry), and on olareg without and with its API.
describe.each([
  ['distribution-2.8', 'ggcr-referrers'],
  ['olareg-no-referrers', 'olareg'],
] as const)('referrers: a source without the API (%s, fallback tags); %s has it', (plainImplementation, apiImplementation) => {
  let plain: RunningRegistry;
  let withApi: RunningRegistry;
  let src: Source;
  let other: PushedManifest;

  beforeAll(async () => {
    [plain, withApi] = await Promise.all([
      startRegistry({ implementation: plainImplementation, name: `referrers-plain-${plainImplementation}` }),
      startRegistry({ implementation: apiImplementation, name: `referrers-api-${apiImplementation}` }),
    ]);
    expect([IMPLEMENTATIONS[plainImplementation].referrers, IMPLEMENTATIONS[apiImplementation].referrers]).toEqual([false, true]);
    src = await sourceWithReferrers(plain, 'acme/build', 'plain');
    // someone else's signature of the amd64 image, already in the target repository's fallback tag
    await pushBuildxImage(plain, 'acme/app', 'old', { platform: 'linux/amd64', seed: 'plain-amd64' });
    other = await pushReferrer(plain, 'acme/app', src.amd64.image.descriptor, SIG, '{"someone":"else"}');
  });
  afterAll(async () => {
    await Promise.all([plain?.stop(), withApi?.stop()]);
  });

  it('cross-repository: every referrer (recursively) with its blobs, in fallback tags merged with the entries already there', async () => {
    const { result, logs } = await merge({ sources: sources(plain.host, 'acme/build'), tags: `${plain.host}/acme/app:v1` });
    expect(result.targets[0].referrers).toEqual({ copied: 3, existing: 0, via: 'tag' });
    await expectCopied(plain, 'acme/app', [src.signature, src.sbom, src.sbomSignature]);
    const amd64Tag = await tagListing(plain, 'acme/app', src.amd64.imageDigest);
    // someone else's entry is kept, first, and ours is added
    expect(amd64Tag!.manifests.map((m) => m.digest)).toEqual([other.digest, src.signature.digest]);
    expect(amd64Tag!.manifests[1].artifactType).toBe(SIG);
    expect((await tagListing(plain, 'acme/app', src.arm64.imageDigest))!.manifests.map((m) => [m.digest, m.artifactType])).toEqual([
      [src.sbom.digest, SPDX],
    ]);
    expect((await tagListing(plain, 'acme/app', src.sbom.digest))!.manifests.map((m) => m.digest)).toEqual([src.sbomSignature.digest]);
    expect(logs).toContain(`info: ${plain.host}/acme/app: 3 referrer(s) copied (listed in fallback tags sha256-<hex>)`);

    // a second merge adds nothing to the tags (no duplicate entries)
    const again = await merge({ sources: sources(plain.host, 'acme/build'), tags: `${plain.host}/acme/app:v1` });
    expect((await tagListing(plain, 'acme/app', src.amd64.imageDigest))!.manifests.map((m) => m.digest)).toEqual([
      other.digest,
      src.signature.digest,
    ]);
    expect(again.result.requests.byKind['PUT manifest']).toBe((result.requests.byKind['PUT manifest'] ?? 0) - 3);

    // requests added per referrer copied, against the same merge with referrers: skip
    const skipped = await merge({ sources: sources(plain.host, 'acme/build'), tags: `${plain.host}/acme/skip:v1`, referrers: 'skip' });
    const copied = await merge({ sources: sources(plain.host, 'acme/build'), tags: `${plain.host}/acme/fresh:v1` });
    expect(skipped.result.targets[0].referrers.copied).toBe(0);
    expect(skipped.result.requests.byKind['GET referrers']).toBeUndefined();
    expect(await hasManifest(plain, 'acme/skip', src.signature.digest)).toBe(false);
    const added = copied.result.requests.requests - skipped.result.requests.requests;
    process.stdout.write(
      `referrers on ${plainImplementation}: ${added} requests added for 3 referrers copied within one registry (fallback tags; skip: ${skipped.result.requests.requests}, copy: ${copied.result.requests.requests}) ${JSON.stringify(copied.result.requests.byKind)}\n`,
    );
  });

  it('what the look-up costs a merge with nothing to copy: one API probe for the registry, one fallback-tag read per child', async () => {
    await Promise.all([
      pushBuildxImage(plain, 'acme/bare', 'amd64', { platform: 'linux/amd64', seed: 'bare-amd64' }),
      pushBuildxImage(plain, 'acme/bare', 'arm64', { platform: 'linux/arm64', seed: 'bare-arm64' }),
    ]);
    const bare = `${plain.host}/acme/bare:amd64\n${plain.host}/acme/bare:arm64`;
    const copy = await merge({ sources: bare, tags: `${plain.host}/acme/bare-copy:v1` });
    const skip = await merge({ sources: bare, tags: `${plain.host}/acme/bare-skip:v1`, referrers: 'skip' });
    expect(copy.result.targets[0].referrers.copied).toBe(0);
    // 4 children (2 images, 2 attestations): the registry is asked once whether it has the API
    expect(copy.result.requests.byKind['GET referrers']).toBe(1);
    expect((copy.result.requests.byKind['GET manifest'] ?? 0) - (skip.result.requests.byKind['GET manifest'] ?? 0)).toBe(4);
    expect(copy.result.requests.requests - skip.result.requests.requests).toBe(1 + 4);
  });

  it('same repository: nothing to copy, and no more requests than with referrers: skip', async () => {
    const copy = await merge({ sources: sources(plain.host, 'acme/build'), tags: `${plain.host}/acme/build:v1` });
    const skip = await merge({ sources: sources(plain.host, 'acme/build'), tags: `${plain.host}/acme/build:v2`, referrers: 'skip' });
    expect(copy.result.targets[0].referrers).toEqual({ copied: 0, existing: 0 });
    expect(copy.result.requests.byKind['GET referrers']).toBeUndefined();
    expect(copy.result.requests.requests).toBe(skip.result.requests.requests);
  });

  it('cross-registry into a registry with the API: pushed, and the API lists them', async () => {
    const { result } = await merge({ sources: sources(plain.host, 'acme/build'), tags: `${withApi.host}/acme/app:v1` });
    expect(result.targets[0].referrers).toEqual({ copied: 3, existing: 0, via: 'api' });
    await expectCopied(withApi, 'acme/app', [src.signature, src.sbom, src.sbomSignature]);
    expect((await apiListing(withApi, 'acme/app', src.amd64.imageDigest))!.manifests.map((m) => m.digest)).toEqual([src.signature.digest]);
    expect((await apiListing(withApi, 'acme/app', src.arm64.imageDigest))!.manifests.map((m) => m.digest)).toEqual([src.sbom.digest]);
    expect((await apiListing(withApi, 'acme/app', src.sbom.digest))!.manifests.map((m) => m.digest)).toEqual([src.sbomSignature.digest]);
    // the API registry holds no fallback tags: they are for registries without it
    expect(await hasManifest(withApi, 'acme/app', fallbackTag(src.amd64.imageDigest))).toBe(false);
  });
});

describe.each([
  ['ggcr-referrers', 'distribution-2.8'],
  ['olareg', 'olareg-no-referrers'],
] as const)('referrers: a source with the API (%s); %s has none', (apiImplementation, plainImplementation) => {
  let withApi: RunningRegistry;
  let plain: RunningRegistry;
  let src: Source;

  beforeAll(async () => {
    [withApi, plain] = await Promise.all([
      startRegistry({ implementation: apiImplementation, name: `referrers-api-src-${apiImplementation}` }),
      startRegistry({ implementation: plainImplementation, name: `referrers-plain-dst-${plainImplementation}` }),
    ]);
    src = await sourceWithReferrers(withApi, 'acme/build', 'api');
    // the API finds them: the source has no fallback tag at all
    expect(await hasManifest(withApi, 'acme/build', fallbackTag(src.amd64.imageDigest))).toBe(false);
  });
  afterAll(async () => {
    await Promise.all([withApi?.stop(), plain?.stop()]);
  });

  it('cross-registry into a registry without the API: fallback tags created', async () => {
    const { result } = await merge({ sources: sources(withApi.host, 'acme/build'), tags: `${plain.host}/acme/app:v1` });
    expect(result.targets[0].referrers).toEqual({ copied: 3, existing: 0, via: 'tag' });
    await expectCopied(plain, 'acme/app', [src.signature, src.sbom, src.sbomSignature]);
    expect((await tagListing(plain, 'acme/app', src.amd64.imageDigest))!.manifests.map((m) => m.digest)).toEqual([src.signature.digest]);
    expect((await tagListing(plain, 'acme/app', src.sbom.digest))!.manifests.map((m) => m.digest)).toEqual([src.sbomSignature.digest]);
  });

  it('cross-repository on the API registry: the API lists them in the target repository', async () => {
    const { result } = await merge({ sources: sources(withApi.host, 'acme/build'), tags: `${withApi.host}/acme/app:v1` });
    expect(result.targets[0].referrers).toEqual({ copied: 3, existing: 0, via: 'api' });
    expect((await apiListing(withApi, 'acme/app', src.arm64.imageDigest))!.manifests.map((m) => m.digest)).toEqual([src.sbom.digest]);
    expect((await apiListing(withApi, 'acme/app', src.sbom.digest))!.manifests.map((m) => m.digest)).toEqual([src.sbomSignature.digest]);
  });

  it('images without referrers (olareg lists none as "manifests": null): merged with nothing to copy, and the CLI\'s inspect --referrers lists none', async () => {
    const [amd64] = await Promise.all([
      pushBuildxImage(withApi, 'acme/bare', 'amd64', { platform: 'linux/amd64', seed: `bare-${apiImplementation}-amd64` }),
      pushBuildxImage(withApi, 'acme/bare', 'arm64', { platform: 'linux/arm64', seed: `bare-${apiImplementation}-arm64` }),
    ]);
    const raw = await fetch(`${withApi.url}/v2/acme/bare/referrers/${amd64.imageDigest}`);
    expect(raw.status).toBe(200);
    expect(((await raw.json()) as { manifests: unknown }).manifests).toEqual(withApi.capabilities.referrersEmptyIsNull ? null : []);
    const target = `${withApi.host}/acme/bare-out:v1`;
    const { result } = await merge({ sources: sources(withApi.host, 'acme/bare'), tags: target });
    expect(result.targets[0].referrers).toMatchObject({ copied: 0, existing: 0 });
    expect(result.requests.byKind['GET referrers']).toBeGreaterThanOrEqual(4);
    const home = await emptyDockerConfig();
    const run = await runCli(['inspect', '--referrers', '--json', target], { home });
    expect(run.stderr.toString()).toBe('');
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout.toString()) as { referrers: Array<{ subject: string; via: string; referrers: unknown[] }> };
    // the index and its four children (two images, two attestations): every listing read, each empty
    expect(out.referrers.map((r) => [r.via, r.referrers])).toEqual(Array.from({ length: 5 }, () => ['api', []]));
  });
});

// Issue 20: a retention policy deletes a referrer's manifest and leaves its fallback tag entry
// behind. Merging must not fail on it: the entry is left out, warned (escaped) and counted.
describe.each(['distribution-2.8', 'olareg-no-referrers'] as const)(
  'referrers: a stale fallback tag entry (%s, delete enabled)',
  (implementation) => {
    let registry: RunningRegistry;
    let src: Source;
    let stale: PushedManifest;

    beforeAll(async () => {
      registry = await startRegistry({ implementation, name: `referrers-stale-${implementation}`, deleteEnabled: true });
      expect(IMPLEMENTATIONS[implementation].referrers).toBe(false);
      src = await sourceWithReferrers(registry, 'acme/build', `stale-${implementation}`);
      stale = await pushReferrer(registry, 'acme/build', src.amd64.image.descriptor, SIG, '{"deleted":"by retention"}');
      // the fallback tag now lists both signatures; its entry for the deleted one says what it was
      // in words a terminal or the workflow log would act on: they must reach the log escaped
      const listing = (await tagListing(registry, 'acme/build', src.amd64.imageDigest))!;
      expect(listing.manifests.map((m) => m.digest)).toEqual([src.signature.digest, stale.digest]);
      listing.manifests[1].artifactType = `${SIG}\u001b[31m\n::warning::forged`;
      await putManifest(
        registry,
        'acme/build',
        fallbackTag(src.amd64.imageDigest),
        Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.OciIndex, ...listing })),
        MT.OciIndex,
      );
      await deleteManifest(registry, 'acme/build', stale.digest);
      expect(await hasManifest(registry, 'acme/build', stale.digest)).toBe(false);
    });
    afterAll(async () => {
      await registry?.stop();
    });

    it('merging into another repository succeeds: the rest copied, the stale entry warned (escaped), left out and counted', async () => {
      const { result, logs } = await merge({ sources: sources(registry.host, 'acme/build'), tags: `${registry.host}/acme/app:v1` });
      expect(result.targets[0].referrers).toEqual({ copied: 3, existing: 0, via: 'tag', stale: 1 });
      await expectCopied(registry, 'acme/app', [src.signature, src.sbom, src.sbomSignature]);
      expect(await hasManifest(registry, 'acme/app', stale.digest)).toBe(false);
      expect((await tagListing(registry, 'acme/app', src.amd64.imageDigest))!.manifests.map((m) => m.digest)).toEqual([
        src.signature.digest,
      ]);
      const warnings = logs.filter((l) => l.startsWith('warning:'));
      expect(warnings).toEqual([
        `warning: Referrers of ${registry.host}/acme/build@${src.amd64.imageDigest}: ${stale.digest} (${SIG}\\n::warning::forged) is listed by tag ${fallbackTag(src.amd64.imageDigest)} but the registry has no such manifest (deleted since?); it was left out`,
      ]);
      expect(logs.join('\n')).not.toContain('\u001b');
      expect(logs.some((l) => /^::/m.test(l))).toBe(false);
      expect(buildMetadata(result).targets[0].referrers.stale).toBe(1);
      expect(renderReport(result)).toContain('referrers copied 3 (fallback tags), stale left out 1');
    });
  },
);

/** The referrers the target lists for `digest`: through the API where it has one, else the fallback tag. */
async function listingOf(registry: RunningRegistry, repository: string, digest: string): Promise<Listing['manifests']> {
  return (
    (registry.capabilities.referrers ? await apiListing(registry, repository, digest) : await tagListing(registry, repository, digest))
      ?.manifests ?? []
  );
}

/**
 * `attestations: referrers` leaves an index of images only (read with skopeo) and every image
 * has its attestation as a referrer in `repository`, with all its blobs; returns the referrers.
 */
async function expectAttestationsAsReferrers(
  registry: RunningRegistry,
  repository: string,
  tag: string,
  images: PushedBuildxImage[],
  unchanged: PushedBuildxImage[],
): Promise<string[]> {
  const index = JSON.parse((await skopeoInspectRaw(`${registry.host}/${repository}:${tag}`, { tlsVerify: false })).toString('utf8')) as {
    manifests: Array<{ digest: string; platform?: { os: string } }>;
  };
  expect(index.manifests.map((m) => m.digest).sort()).toEqual(images.map((i) => i.imageDigest).sort());
  expect(index.manifests.every((m) => m.platform && m.platform.os !== 'unknown')).toBe(true);
  const referrers: string[] = [];
  for (const image of images) {
    const listed = await listingOf(registry, repository, image.imageDigest);
    expect(listed).toHaveLength(1);
    const [entry] = listed;
    const bytes = await skopeoInspectRaw(`${registry.host}/${repository}@${entry.digest}`, { tlsVerify: false });
    expect(sha256(bytes)).toBe(entry.digest);
    const manifest = JSON.parse(bytes.toString('utf8')) as {
      subject?: { digest: string };
      config: { digest: string; mediaType: string };
      layers: Array<{ digest: string }>;
      artifactType?: string;
    };
    expect(manifest.subject?.digest).toBe(image.imageDigest);
    // no artifactType (as built): listed under the config's media type, as OCI 1.1 says
    expect(manifest.artifactType).toBeUndefined();
    expect(entry.artifactType).toBe(manifest.config.mediaType);
    for (const blob of [manifest.config, ...manifest.layers]) expect(await hasBlob(registry, repository, blob.digest)).toBe(true);
    // the original without subject gets a new digest; BuildKit 0.32's (with subject) is unchanged
    if (unchanged.includes(image)) expect(entry.digest).toBe(image.attestationDigest);
    else expect(entry.digest).not.toBe(image.attestationDigest);
    referrers.push(entry.digest);
  }
  return referrers;
}

describe.each([
  ['distribution-2.8', 'fallback tags', 'ggcr-referrers'],
  ['ggcr-referrers', 'referrers API', 'distribution-2.8'],
  ['olareg-no-referrers', 'fallback tags', 'olareg'],
  ['olareg', 'referrers API', 'distribution-2.8'],
] as const)('attestations: referrers on %s (%s; the other registry: %s)', (implementation, _how, otherImplementation) => {
  let registry: RunningRegistry;
  let other: RunningRegistry;
  let old: PushedBuildxImage;
  let modern: PushedBuildxImage;
  const attSources = () => [`${registry.host}/acme/att:amd64`, `${registry.host}/acme/att:arm64`].join('\n');

  beforeAll(async () => {
    [registry, other] = await Promise.all([
      startRegistry({ implementation, name: `att-${implementation}` }),
      startRegistry({ implementation: otherImplementation, name: `att-other-${implementation}` }),
    ]);
    // amd64 built before BuildKit 0.32 (no subject), arm64 after (subject)
    [old, modern] = await Promise.all([
      pushBuildxImage(registry, 'acme/att', 'amd64', { platform: 'linux/amd64', seed: `att-${implementation}-amd64` }),
      pushBuildkitSubjectImage(registry, 'acme/att', 'arm64', { platform: 'linux/arm64', seed: `att-${implementation}-arm64` }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([registry?.stop(), other?.stop()]);
  });

  it('same repository: images only in the index; each attestation a referrer of its image; one warning for the one given a subject', async () => {
    const { result, logs } = await merge({ sources: attSources(), tags: `${registry.host}/acme/att:v1`, attestations: 'referrers' });
    const referrers = await expectAttestationsAsReferrers(registry, 'acme/att', 'v1', [old, modern], [modern]);
    expect(referrers[1]).toBe(modern.attestationDigest);
    const warnings = logs.filter((l) => l.startsWith('warning:'));
    expect(warnings).toEqual([
      `warning: 1 attestation manifest(s) had no subject (built before BuildKit 0.32): pushed as referrers with subject added, which changes their digest: ${old.attestationDigest} -> ${referrers[0]} (linux/amd64)`,
    ]);
    expect(result.targets[0].referrers).toMatchObject({ attestations: 2, via: registry.capabilities.referrers ? 'api' : 'tag' });
    expect(result.plan.attestationReferrers).toHaveLength(2);
    const strip = await merge({ sources: attSources(), tags: `${registry.host}/acme/att:v0`, attestations: 'strip' });
    process.stdout.write(
      `attestations: referrers on ${implementation}, same repository: ${result.requests.requests - strip.result.requests.requests} requests added for 2 attestations (strip: ${strip.result.requests.requests}) ${JSON.stringify(result.requests.byKind)}\n`,
    );
  });

  it('another repository and another registry: the same, with the blobs brought in', async () => {
    const { result } = await merge({
      sources: attSources(),
      tags: [`${registry.host}/acme/att-out:v1`, `${other.host}/acme/att-out:v1`].join('\n'),
      attestations: 'referrers',
    });
    for (const target of result.targets) expect(target.referrers).toMatchObject({ copied: 2, attestations: 2 });
    await expectAttestationsAsReferrers(registry, 'acme/att-out', 'v1', [old, modern], [modern]);
    await expectAttestationsAsReferrers(other, 'acme/att-out', 'v1', [old, modern], [modern]);
  });

  it("inspect --referrers lists each image's attestation, by API or fallback tag, and --check finds it and its blobs present", async () => {
    const client = createClient(
      { insecureRegistries: [], timeoutMs: 60_000 },
      { logger: silentLogger, configDir: await emptyDockerConfig() },
    );
    try {
      const reference = parseReference(`${registry.host}/acme/att:v1`);
      const inspection = await inspectReference(reference, client);
      inspection.referrers = await inspectReferrers(inspection, reference, client);
      const byImage = new Map(inspection.referrers.map((r) => [r.subject, r]));
      expect(byImage.get(modern.imageDigest)!.referrers.map((r) => r.digest)).toEqual([modern.attestationDigest]);
      expect(byImage.get(modern.imageDigest)!.via).toBe(registry.capabilities.referrers ? 'api' : 'tag');
      expect(byImage.get(old.imageDigest)!.referrers).toHaveLength(1);
      expect(byImage.get(old.imageDigest)!.referrers[0].artifactType).toBe(MT.OciConfig);
      expect(await checkReference(inspection, reference, client, silentLogger, 8, inspection.referrers)).toEqual({
        missing: [],
        unchecked: [],
        complete: true,
      });
    } finally {
      await client.close();
    }
  });

  it('the CLI: merge --attestations referrers, then inspect --referrers --check --json lists them and exits 0', async () => {
    const home = await emptyDockerConfig();
    const merged = await runCli(
      [
        'merge',
        '--attestations',
        'referrers',
        '-t',
        `${registry.host}/acme/att-cli:v1`,
        `${registry.host}/acme/att:amd64`,
        `${registry.host}/acme/att:arm64`,
      ],
      { home },
    );
    expect(merged.stderr).toContain('1 attestation manifest(s) had no subject');
    expect(merged.code).toBe(0);
    const run = await runCli(['inspect', '--referrers', '--check', '--json', `${registry.host}/acme/att-cli:v1`], { home });
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout.toString()) as {
      entries: unknown[];
      referrers: Array<{
        subject: string;
        via: string;
        referrers: Array<{ digest: string; artifactType: string; size: number; referrers: unknown[] }>;
      }>;
      missing: unknown[];
      unchecked: unknown[];
    };
    expect(out.entries).toHaveLength(2);
    const modernListing = out.referrers.find((r) => r.subject === modern.imageDigest)!;
    expect(modernListing.via).toBe(registry.capabilities.referrers ? 'api' : 'tag');
    expect(modernListing.referrers).toEqual([
      {
        mediaType: MT.OciManifest,
        digest: modern.attestationDigest,
        size: modern.attestation.size,
        artifactType: MT.OciConfig,
        referrers: [],
      },
    ]);
    expect(out.referrers.find((r) => r.subject === old.imageDigest)!.referrers).toHaveLength(1);
    expect(out).toMatchObject({ missing: [], unchecked: [] });
    const text = await runCli(['inspect', '--referrers', `${registry.host}/acme/att-cli:v1`], { home });
    expect(text.stdout.toString()).toContain(
      `    of ${modern.imageDigest}:\n      - ${MT.OciConfig}\n          ${modern.attestationDigest}`,
    );
  });
});

export type { PushedBuildxImage };
