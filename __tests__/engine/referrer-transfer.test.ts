// The referrers phase: attestations taken out of the index as referrers of their images, and the
// children's referrers copied into targets through the transfer's own bringIn, then made findable
// (referrers API or fallback tag). Through runMerge where the merge decides what is copied, and
// through copyReferrers directly for what it writes and in which order.
import { beforeEach, describe, expect, it } from '@jest/globals';
import { VerifyError } from '../../src/base/errors.js';
import { createMemoryLogger } from '../../src/base/logger.js';
import { CachingClient } from '../../src/engine/caching-client.js';
import { runMerge } from '../../src/engine/merge.js';
import { ReferrerFinder } from '../../src/engine/referrer-finder.js';
import { attestationAsReferrer, copyReferrers } from '../../src/engine/referrer-transfer.js';
import type { EngineRun } from '../../src/engine/run.js';
import { type Descriptor, type ImageManifest, MediaType } from '../../src/oci/manifest.js';
import { type RepositoryRef } from '../../src/oci/reference.js';
import type { FetchedManifest, RegistryClient } from '../../src/registry/client-types.js';
import type { ReferrersListing } from '../../src/registry/referrers.js';
import { type SeedBuildx, MemoryRegistry, addBuildxImage, addImage } from '../support/memory-registry.js';
import { type Index, request } from '../support/merge-requests.js';

const REG = 'reg.example';
const OTHER = 'other.example';
const build: RepositoryRef = { registry: REG, repository: 'acme/build' };
const app: RepositoryRef = { registry: REG, repository: 'acme/app' };

let registry: MemoryRegistry;
let amd64: SeedBuildx;
let arm64: SeedBuildx;

beforeEach(() => {
  registry = new MemoryRegistry();
  amd64 = addBuildxImage(registry, app, 'amd64', { platform: { os: 'linux', architecture: 'amd64' }, seed: 'amd64' });
  arm64 = addBuildxImage(registry, app, 'arm64', { platform: { os: 'linux', architecture: 'arm64' }, seed: 'arm64' });
});

const indexAt = (repository: RepositoryRef, tag: string) => registry.read(repository, tag)?.json as unknown as Index | undefined;

describe('attestations: referrers', () => {
  const fallback = (digest: string) => digest.replace(':', '-');
  const listed = (repository: RepositoryRef, subject: string) =>
    (registry.read(repository, fallback(subject))?.json as { manifests?: Array<{ digest: string; artifactType?: string }> } | undefined)
      ?.manifests ?? [];

  it("same repository: an index of images only; each attestation, given a subject (one warning naming the digests), is in its image's fallback tag", async () => {
    const logger = createMemoryLogger();
    const result = await runMerge(
      request([`${REG}/acme/app:amd64`, `${REG}/acme/app:arm64`], [`${REG}/acme/app:v1`], { attestations: 'referrers' }),
      registry,
      logger,
    );
    expect(indexAt(app, 'v1')?.manifests.map((m) => m.digest)).toEqual([amd64.image.descriptor.digest, arm64.image.descriptor.digest]);
    for (const seed of [amd64, arm64]) {
      const entries = listed(app, seed.image.descriptor.digest);
      expect(entries).toHaveLength(1);
      expect(entries[0].digest).not.toBe(seed.attestation.digest);
      // listed under its config's media type: it has no artifactType, and keeps none (OCI 1.1 referrers rule)
      expect(entries[0].artifactType).toBe(MediaType.OciConfig);
      const pushed = registry.read(app, entries[0].digest)!.json as {
        subject: { digest: string };
        artifactType?: string;
        layers: unknown[];
      };
      expect(pushed.subject.digest).toBe(seed.image.descriptor.digest);
      expect(pushed.artifactType).toBeUndefined();
      // everything else as it was: the original plus subject
      const original = registry.read(app, seed.attestation.digest)!.json;
      expect({ ...pushed, subject: undefined }).toEqual({ ...original, subject: undefined });
    }
    const warnings = logger.lines.filter((l) => l.startsWith('warning:'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`2 attestation manifest(s) had no subject`);
    expect(warnings[0]).toContain(`${amd64.attestation.digest} -> ${listed(app, amd64.image.descriptor.digest)[0].digest} (linux/amd64)`);
    expect(result.targets[0].referrers).toEqual({ copied: 2, existing: 0, via: 'tag', attestations: 2 });
  });

  it('another registry: images, then the attestations with their blobs, then the fallback tags; an attestation with subject already is pushed unchanged', async () => {
    // BuildKit 0.32 style: the attestation names its image in subject
    const image = addImage(registry, build, { platform: { os: 'linux', architecture: 'amd64' }, seed: 'bk-amd64' });
    const statement = registry.addBlob(
      build,
      Buffer.from('{"_type":"https://in-toto.io/Statement/v0.1","seed":"bk"}'),
      'application/vnd.in-toto+json',
    );
    const config = registry.addBlob(build, Buffer.from('{"architecture":"unknown","os":"unknown"}'), MediaType.OciConfig);
    const withSubject = { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [statement], subject: image.descriptor };
    const attestation = registry.addManifest(build, JSON.stringify(withSubject), MediaType.OciManifest);
    registry.addManifest(
      build,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        manifests: [
          { ...image.descriptor, platform: { os: 'linux', architecture: 'amd64' } },
          {
            ...attestation,
            platform: { architecture: 'unknown', os: 'unknown' },
            annotations: { 'vnd.docker.reference.digest': image.descriptor.digest, 'vnd.docker.reference.type': 'attestation-manifest' },
          },
        ],
      }),
      MediaType.OciIndex,
      'new',
    );
    const logger = createMemoryLogger();
    const dest: RepositoryRef = { registry: OTHER, repository: 'acme/dest' };
    const result = await runMerge(
      request([`${REG}/acme/build:new`, `${REG}/acme/app:arm64`], [`${OTHER}/acme/dest:v1`], { attestations: 'referrers' }),
      registry,
      logger,
    );
    expect(indexAt(dest, 'v1')?.manifests.map((m) => m.digest)).toEqual([image.descriptor.digest, arm64.image.descriptor.digest]);
    expect(listed(dest, image.descriptor.digest).map((e) => e.digest)).toEqual([attestation.digest]);
    const arm64Referrer = listed(dest, arm64.image.descriptor.digest)[0].digest;
    expect(arm64Referrer).not.toBe(arm64.attestation.digest);
    // every blob of each referrer is in the target
    for (const digest of [attestation.digest, arm64Referrer]) {
      const m = registry.read(dest, digest)!.json as { config: { digest: string }; layers: Array<{ digest: string }> };
      for (const b of [m.config, ...m.layers]) expect(registry.repository(dest).blobs.has(b.digest)).toBe(true);
    }
    // a referrer after its image: the image's PUT comes first
    const puts = registry
      .writes()
      .filter((w) => w.kind === 'PUT manifest' && w.repository === `${OTHER}/acme/dest`)
      .map((w) => w.reference);
    expect(puts.indexOf(arm64.image.descriptor.digest)).toBeLessThan(puts.indexOf(arm64Referrer));
    expect(puts.indexOf(arm64Referrer)).toBeLessThan(puts.indexOf(fallback(arm64.image.descriptor.digest)));
    expect(logger.lines.filter((l) => l.startsWith('warning:'))).toEqual([
      expect.stringContaining(`1 attestation manifest(s) had no subject`),
    ]);
    expect(result.targets[0].referrers).toMatchObject({ copied: 2, via: 'tag', attestations: 2 });
  });

  it('an attestation whose subject names another manifest is left out, with a warning', async () => {
    const bad = {
      ...(registry.read(app, amd64.attestation.digest)!.json as Record<string, unknown>),
      subject: { mediaType: MediaType.OciManifest, digest: arm64.image.descriptor.digest, size: arm64.image.descriptor.size },
    };
    const attestation = registry.addManifest(app, JSON.stringify(bad), MediaType.OciManifest);
    registry.addManifest(
      app,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        manifests: [
          { ...amd64.image.descriptor, platform: { os: 'linux', architecture: 'amd64' } },
          {
            ...attestation,
            platform: { architecture: 'unknown', os: 'unknown' },
            annotations: {
              'vnd.docker.reference.digest': amd64.image.descriptor.digest,
              'vnd.docker.reference.type': 'attestation-manifest',
            },
          },
        ],
      }),
      MediaType.OciIndex,
      'bad',
    );
    const logger = createMemoryLogger();
    await runMerge(request([`${REG}/acme/app:bad`], [`${REG}/acme/app:v2`], { attestations: 'referrers' }), registry, logger);
    expect(listed(app, amd64.image.descriptor.digest)).toEqual([]);
    expect(logger.lines).toContain(
      `warning: Attestation ${attestation.digest} in ${REG}/acme/app:bad cannot be a referrer of image ${amd64.image.descriptor.digest} (linux/amd64): its subject is ${arm64.image.descriptor.digest}, not the image it describes; it was left out`,
    );
  });
});

describe('referrers: copy', () => {
  it('a fallback tag entry whose subject is another manifest is left out, with a warning; the rest is copied', async () => {
    const config = registry.addBlob(app, Buffer.from('{}'), 'application/vnd.oci.empty.v1+json');
    const add = (payload: string, subject: { mediaType: string; digest: string; size: number }) => {
      const layer = registry.addBlob(app, Buffer.from(payload), 'application/vnd.dev.cosign.artifact.sig.v1+json');
      return registry.addManifest(
        app,
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.OciManifest,
          artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
          config,
          layers: [layer],
          subject,
        }),
        MediaType.OciManifest,
      );
    };
    const good = add('good', amd64.image.descriptor);
    const stray = add('stray', arm64.image.descriptor);
    const tag = amd64.image.descriptor.digest.replace(':', '-');
    registry.addManifest(
      app,
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [good, stray] }),
      MediaType.OciIndex,
      tag,
    );
    const logger = createMemoryLogger();
    const result = await runMerge(request([`${REG}/acme/app:amd64`], [`${REG}/acme/out:v1`]), registry, logger);
    const out: RepositoryRef = { registry: REG, repository: 'acme/out' };
    expect(result.targets[0].referrers).toEqual({ copied: 1, existing: 0, via: 'tag' });
    expect((registry.read(out, tag)?.json as { manifests: Array<{ digest: string }> }).manifests.map((m) => m.digest)).toEqual([
      good.digest,
    ]);
    expect(registry.read(out, stray.digest)).toBeUndefined();
    expect(logger.lines).toContain(
      `warning: Referrers of ${REG}/acme/app@${amd64.image.descriptor.digest}: ${stray.digest} is listed but its subject is ${arm64.image.descriptor.digest}; it was left out`,
    );
  });
});

describe('referrers: copy, a stale listing (issue 20)', () => {
  const sigOf = (payload: string, subject: Descriptor) => {
    const config = registry.addBlob(app, Buffer.from('{}'), 'application/vnd.oci.empty.v1+json');
    const layer = registry.addBlob(app, Buffer.from(payload), 'application/vnd.dev.cosign.artifact.sig.v1+json');
    return registry.addManifest(
      app,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
        config,
        layers: [layer],
        subject,
      }),
      MediaType.OciManifest,
    );
  };

  it('a fallback tag entry whose manifest was deleted since: the merge succeeds without it, warns naming it, and counts it as stale', async () => {
    const good = sigOf('good', amd64.image.descriptor);
    const gone = sigOf('gone', amd64.image.descriptor);
    const tag = amd64.image.descriptor.digest.replace(':', '-');
    registry.addManifest(
      app,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        manifests: [good, { ...gone, artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json' }],
      }),
      MediaType.OciIndex,
      tag,
    );
    registry.removeManifest(app, gone.digest);
    const logger = createMemoryLogger();
    const result = await runMerge(request([`${REG}/acme/app:amd64`, `${REG}/acme/app:arm64`], [`${REG}/acme/out:v1`]), registry, logger);
    const out: RepositoryRef = { registry: REG, repository: 'acme/out' };
    expect(result.targets[0].referrers).toEqual({ copied: 1, existing: 0, via: 'tag', stale: 1 });
    expect((registry.read(out, tag)?.json as { manifests: Array<{ digest: string }> }).manifests.map((m) => m.digest)).toEqual([
      good.digest,
    ]);
    expect(registry.read(out, 'v1')).toBeDefined();
    expect(logger.lines).toContain(
      `warning: Referrers of ${REG}/acme/app@${amd64.image.descriptor.digest}: ${gone.digest} (application/vnd.dev.cosign.artifact.sig.v1+json) is listed by tag ${tag} but the registry has no such manifest (deleted since?); it was left out`,
    );
    expect(result.targets[0].actions).toContain(
      `leave out stale referrer ${gone.digest} of ${amd64.image.descriptor.digest} in ${REG}/acme/app (listed by tag ${tag}, manifest not found)`,
    );
  });

  it("a dry run says so too; a target in the referrers' own repository copies nothing and counts nothing", async () => {
    const gone = sigOf('gone', amd64.image.descriptor);
    const tag = amd64.image.descriptor.digest.replace(':', '-');
    registry.addManifest(
      app,
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [gone] }),
      MediaType.OciIndex,
      tag,
    );
    registry.removeManifest(app, gone.digest);
    const dry = await runMerge(request([`${REG}/acme/app:amd64`], [`${REG}/acme/out:v1`], { push: false }), registry, createMemoryLogger());
    expect(dry.targets[0].referrers).toEqual({ copied: 0, existing: 0, stale: 1 });
    const home = await runMerge(request([`${REG}/acme/app:amd64`], [`${REG}/acme/app:v1`]), registry, createMemoryLogger());
    expect(home.targets[0].referrers).toEqual({ copied: 0, existing: 0 });
  });
});

describe('copyReferrers', () => {
  const runOn = (client: RegistryClient): EngineRun => ({
    client: new CachingClient(client),
    logger: createMemoryLogger(),
    concurrency: 4,
  });
  const fallback = (digest: string) => digest.replace(':', '-');
  const listedIn = (repository: RepositoryRef, subject: string) =>
    ((registry.read(repository, fallback(subject))?.json as { manifests?: Array<{ digest: string }> } | undefined)?.manifests ?? []).map(
      (m) => m.digest,
    );

  /** A signature of `subject` in `repository`, listed in the subject's fallback tag there. */
  function sign(repository: RepositoryRef, subject: Descriptor, payload: string): Descriptor {
    const config = registry.addBlob(repository, Buffer.from('{}'), 'application/vnd.oci.empty.v1+json');
    const layer = registry.addBlob(repository, Buffer.from(payload), 'application/vnd.dev.cosign.artifact.sig.v1+json');
    const manifest = registry.addManifest(
      repository,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
        config,
        layers: [layer],
        subject,
      }),
      MediaType.OciManifest,
    );
    const listed = (registry.read(repository, fallback(subject.digest))?.json as { manifests?: Descriptor[] } | undefined)?.manifests ?? [];
    registry.addManifest(
      repository,
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [...listed, manifest] }),
      MediaType.OciIndex,
      fallback(subject.digest),
    );
    return manifest;
  }

  it('across registries: copies each blob once, puts a referrer after its subject, then writes the fallback tags', async () => {
    const sig = sign(app, amd64.image.descriptor, 'sig');
    const sigOfSig = sign(app, sig, 'countersig');
    const run = runOn(registry);
    const found = await new ReferrerFinder(run).of(app, amd64.image.descriptor.digest);
    expect(found.map((r) => [r.fetched.digest, r.depth])).toEqual([
      [sig.digest, 1],
      [sigOfSig.digest, 2],
    ]);
    const dest: RepositoryRef = { registry: OTHER, repository: 'acme/dest' };
    const before = registry.requests.length;
    // deepest first on purpose: the order comes from the subjects, not from the list
    const report = await copyReferrers(run, dest, [...found].reverse());
    expect(report).toEqual({ copied: 2, existing: 0, via: 'tag' });
    const requests = registry.requests.slice(before);
    // the empty config both share is copied once: 3 blobs, each GET + POST + PUT
    expect(requests.filter((r) => r.kind === 'GET blob')).toHaveLength(3);
    expect(requests.filter((r) => r.kind === 'PUT upload')).toHaveLength(3);
    const puts = requests.filter((r) => r.kind === 'PUT manifest').map((r) => r.reference);
    expect(puts.slice(0, 2)).toEqual([sig.digest, sigOfSig.digest]);
    expect(puts.slice(2).sort()).toEqual([fallback(amd64.image.descriptor.digest), fallback(sig.digest)].sort());
    expect(listedIn(dest, amd64.image.descriptor.digest)).toEqual([sig.digest]);
    expect(listedIn(dest, sig.digest)).toEqual([sigOfSig.digest]);
  });

  it('within one registry: blobs are mounted, nothing is streamed', async () => {
    sign(app, amd64.image.descriptor, 'sig');
    const run = runOn(registry);
    const found = await new ReferrerFinder(run).of(app, amd64.image.descriptor.digest);
    const before = registry.requests.length;
    await copyReferrers(run, { registry: REG, repository: 'acme/mirror' }, found);
    const kinds = registry.requests.slice(before).map((r) => r.kind);
    expect(kinds.filter((k) => k === 'POST mount')).toHaveLength(2);
    expect(kinds.filter((k) => k === 'GET blob' || k === 'POST upload')).toEqual([]);
  });

  it('a second copy in the same run writes nothing and counts them as existing', async () => {
    sign(app, amd64.image.descriptor, 'sig');
    const run = runOn(registry);
    const found = await new ReferrerFinder(run).of(app, amd64.image.descriptor.digest);
    const dest: RepositoryRef = { registry: OTHER, repository: 'acme/dest' };
    await copyReferrers(run, dest, found);
    const writes = registry.writes().length;
    expect(await copyReferrers(run, dest, found)).toEqual({ copied: 0, existing: 1, via: 'tag' });
    expect(registry.writes()).toHaveLength(writes);
  });

  it('referrers already in the target repository are not copied; an unchanged attestation at home is existing', async () => {
    sign(app, amd64.image.descriptor, 'sig');
    const run = runOn(registry);
    const found = await new ReferrerFinder(run).of(app, amd64.image.descriptor.digest);
    expect(await copyReferrers(run, app, found)).toEqual({ copied: 0, existing: 0 });
    const fetched = await registry.fetchManifest(app, amd64.attestation.digest);
    const image = JSON.parse(fetched.bytes.toString('utf8')) as ImageManifest;
    const atHome = {
      subject: amd64.image.descriptor.digest,
      source: app,
      descriptor: amd64.attestation,
      fetched,
      image,
      depth: 1,
      attestation: { original: fetched.digest },
    };
    const before = registry.requests.length;
    const report = await copyReferrers(run, app, [atHome]);
    expect(report).toMatchObject({ copied: 0, existing: 1, attestations: 1 });
    expect(registry.requests.slice(before).filter((r) => r.kind === 'PUT manifest' && r.reference === fetched.digest)).toEqual([]);
  });

  it('a registry whose referrers API does not list what was pushed fails the run (VerifyError)', async () => {
    sign(app, amd64.image.descriptor, 'sig');
    const found = await new ReferrerFinder(runOn(registry)).of(app, amd64.image.descriptor.digest);
    expect(found).toHaveLength(1);
    // the same store, answering for the referrers API: it lists nothing
    const api = Object.create(registry) as MemoryRegistry;
    Object.defineProperty(api, 'listReferrers', { value: async (): Promise<ReferrersListing> => ({ api: true, descriptors: [] }) });
    const error = await copyReferrers(runOn(api), { registry: OTHER, repository: 'acme/dest' }, found).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerifyError);
    expect((error as VerifyError).summary).toBe(
      `Referrers of ${OTHER}/acme/dest@${amd64.image.descriptor.digest}: the registry's referrers API does not list ${found[0].fetched.digest}, pushed by this run`,
    );
    expect(registry.read({ registry: OTHER, repository: 'acme/dest' }, fallback(amd64.image.descriptor.digest))).toBeUndefined();
  });
});

describe('attestationAsReferrer', () => {
  const image: Descriptor = { mediaType: MediaType.OciManifest, digest: `sha256:${'a'.repeat(64)}`, size: 100 };
  const manifest = (extra: Record<string, unknown> = {}) => ({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: `sha256:${'c'.repeat(64)}`, size: 2 },
    layers: [],
    ...extra,
  });
  const fetchedOf = (json: unknown, mediaType: string = MediaType.OciManifest): FetchedManifest => {
    const bytes = Buffer.from(JSON.stringify(json));
    return { bytes, mediaType, digest: `sha256:${'0'.repeat(64)}`, size: bytes.length };
  };

  it('adds `subject` right after `layers`, everything else unchanged: a new digest', () => {
    const original = manifest({ annotations: { a: 'b' } });
    const out = attestationAsReferrer(fetchedOf(original), original as unknown as ImageManifest, image);
    if ('refused' in out) throw new Error(out.refused);
    expect(out.subjectAdded).toBe(true);
    expect(Object.keys(JSON.parse(out.fetched.bytes.toString('utf8')) as object)).toEqual([
      'schemaVersion',
      'mediaType',
      'config',
      'layers',
      'subject',
      'annotations',
    ]);
    expect(out.image.subject).toEqual(image);
    expect(out.fetched.digest).not.toBe(`sha256:${'0'.repeat(64)}`);
  });

  it('uses one that names the image already as is, and refuses one naming another manifest or a Docker manifest', () => {
    const named = manifest({ subject: image });
    const same = attestationAsReferrer(fetchedOf(named), named as unknown as ImageManifest, image);
    expect(same).toMatchObject({ subjectAdded: false, fetched: { digest: `sha256:${'0'.repeat(64)}` } });
    const other = manifest({ subject: { ...image, digest: `sha256:${'b'.repeat(64)}` } });
    expect(attestationAsReferrer(fetchedOf(other), other as unknown as ImageManifest, image)).toEqual({
      refused: `its subject is sha256:${'b'.repeat(64)}, not the image it describes`,
    });
    const docker = manifest({ mediaType: MediaType.DockerManifest });
    expect(attestationAsReferrer(fetchedOf(docker, MediaType.DockerManifest), docker as unknown as ImageManifest, image)).toEqual({
      refused: `it is ${MediaType.DockerManifest}, which cannot carry a subject`,
    });
  });
});
