// inspect and inspect --check over the in-memory registry: what is read, what is reported, and
// that nothing a registry serves can drive the reader's terminal.
import { describe, expect, it } from '@jest/globals';
import { PlatformError } from '../../src/base/errors.js';
import { checkReference, inspectReference, inspectReferrers, renderInspection } from '../../src/engine/inspect.js';
import { silentLogger } from '../../src/base/logger.js';
import { MediaType } from '../../src/oci/manifest.js';
import { parseReference } from '../../src/oci/reference.js';
import { MemoryRegistry, addBuildxImage, addImage } from '../support/memory-registry.js';

const repo = { registry: 'reg.example', repository: 'acme/app' };

describe('inspectReference', () => {
  it('an index: one GET, entries with platforms and attestations', async () => {
    const registry = new MemoryRegistry();
    const buildx = addBuildxImage(registry, repo, 'v1', { platform: { os: 'linux', architecture: 'arm64' }, seed: 'i' });
    const inspection = await inspectReference(parseReference('reg.example/acme/app:v1'), registry);
    expect(registry.stats().byKind).toEqual({ 'GET manifest': 1 });
    expect(inspection.entries.map((e) => [e.platform, e.describes])).toEqual([
      ['linux/arm64', undefined],
      ['unknown/unknown', buildx.image.descriptor.digest],
    ]);
    expect(renderInspection(inspection)).toContain(`  - attestation → ${buildx.image.descriptor.digest} (linux/arm64)`);
  });

  it('a bare image: its platform from the config; an artifact config is no platform, not an error', async () => {
    const registry = new MemoryRegistry();
    addImage(registry, repo, {
      platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.2113' },
      seed: 'w',
      tag: 'win',
    });
    addImage(registry, repo, { platform: { kind: 'artifact' }, seed: 'a', tag: 'artifact' });
    expect((await inspectReference(parseReference('reg.example/acme/app:win'), registry)).entries[0].platform).toBe(
      'windows/amd64:10.0.20348.2113',
    );
    expect((await inspectReference(parseReference('reg.example/acme/app:artifact'), registry)).entries[0].platform).toBeUndefined();
  });

  it('#2: refuses a descriptor platform that is not a platform, naming the source', async () => {
    const registry = new MemoryRegistry();
    const image = addImage(registry, repo, { platform: { os: 'linux', architecture: 'amd64' }, seed: 'p' });
    registry.addManifest(
      repo,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        manifests: [{ ...image.descriptor, platform: { os: 'linux', architecture: 'amd64\n::error::x' } }],
      }),
      MediaType.OciIndex,
      'bad',
    );
    await expect(inspectReference(parseReference('reg.example/acme/app:bad'), registry)).rejects.toThrow(PlatformError);
    await expect(inspectReference(parseReference('reg.example/acme/app:bad'), registry)).rejects.toThrow(
      `reg.example/acme/app:bad > ${image.descriptor.digest}: the registry served a platform whose architecture is "amd64\\n::error::x"`,
    );
  });
});

describe('renderInspection', () => {
  it('#2: strips terminal escape sequences and keeps each annotation on its own line', async () => {
    const registry = new MemoryRegistry();
    const image = addImage(registry, repo, { platform: { os: 'linux', architecture: 'amd64' }, seed: 'r' });
    const index = {
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      annotations: { 'org.opencontainers.image.title': 'app\u001b]0;owned\u0007\u001b[31m red\nsecond line\r' },
      manifests: [{ ...image.descriptor, artifactType: 'application/x\u001b[2Jclear', platform: undefined }],
    };
    registry.addManifest(repo, JSON.stringify(index), MediaType.OciIndex, 'esc');
    const text = renderInspection(await inspectReference(parseReference('reg.example/acme/app:esc'), registry));
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/); // eslint-disable-line no-control-regex
    expect(text).toContain('    org.opencontainers.image.title=app red\\nsecond line\\n');
    expect(text).toContain('  - artifact application/xclear');
  });
});

describe('checkReference', () => {
  it('lists a missing child manifest and a missing blob; complete only when nothing is', async () => {
    const registry = new MemoryRegistry();
    const one = addBuildxImage(registry, repo, 'one', { platform: { os: 'linux', architecture: 'amd64' }, seed: 'c1' });
    const ok = await checkReference(
      await inspectReference(parseReference('reg.example/acme/app:one'), registry),
      repo,
      registry,
      silentLogger,
    );
    expect(ok).toEqual({ missing: [], unchecked: [], complete: true });
    registry.repository(repo).blobs.delete(one.image.layers[1].digest);
    registry.repository(repo).manifests.delete(one.attestation.digest);
    const broken = await checkReference(
      await inspectReference(parseReference('reg.example/acme/app:one'), registry),
      repo,
      registry,
      silentLogger,
    );
    expect(broken.complete).toBe(false);
    expect(broken.missing).toEqual([
      { kind: 'manifest', digest: one.attestation.digest, neededBy: 'reg.example/acme/app:one' },
      { kind: 'blob', digest: one.image.layers[1].digest, neededBy: one.image.descriptor.digest },
    ]);
  });
});

describe('inspect --referrers (fallback tags on the memory registry, which has no referrers API)', () => {
  const SIG = 'application/vnd.dev.cosign.artifact.sig.v1+json';
  const tagOf = (digest: string) => digest.replace(':', '-');
  /** An artifact referring to `subject`, listed in the subject's fallback tag (as cosign and oras push them). */
  function addReferrer(
    registry: MemoryRegistry,
    subject: { mediaType: string; digest: string; size: number },
    payload: string,
    listedSubject = subject.digest,
  ) {
    const config = registry.addBlob(repo, Buffer.from('{}'), 'application/vnd.oci.empty.v1+json');
    const layer = registry.addBlob(repo, Buffer.from(payload), SIG);
    const manifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType: SIG, config, layers: [layer], subject };
    const descriptor = registry.addManifest(repo, JSON.stringify(manifest), MediaType.OciManifest);
    const existing = (registry.read(repo, tagOf(listedSubject))?.json as { manifests: unknown[] } | undefined)?.manifests ?? [];
    registry.addManifest(
      repo,
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [...existing, { ...descriptor, artifactType: SIG }] }),
      MediaType.OciIndex,
      tagOf(listedSubject),
    );
    return { descriptor, layer };
  }

  it('lists the referrers of REF and of each child, recursively; --check checks they and their blobs exist', async () => {
    const registry = new MemoryRegistry();
    const buildx = addBuildxImage(registry, repo, 'v1', { platform: { os: 'linux', architecture: 'arm64' }, seed: 'r' });
    const signature = addReferrer(registry, buildx.image.descriptor, 'sig of image');
    const signatureOfSignature = addReferrer(registry, signature.descriptor, 'sig of sig');
    const inspection = await inspectReference(parseReference('reg.example/acme/app:v1'), registry);
    inspection.referrers = await inspectReferrers(inspection, repo, registry);
    expect(inspection.referrers).toEqual([
      { subject: buildx.index.digest, via: 'tag', referrers: [] },
      {
        subject: buildx.image.descriptor.digest,
        via: 'tag',
        referrers: [
          {
            ...signature.descriptor,
            artifactType: SIG,
            referrers: [{ ...signatureOfSignature.descriptor, artifactType: SIG, referrers: [] }],
          },
        ],
      },
      { subject: buildx.attestation.digest, via: 'tag', referrers: [] },
    ]);
    const text = renderInspection(inspection);
    expect(text).toContain(
      `  referrers (fallback tags sha256-<hex>):\n    of ${buildx.image.descriptor.digest}:\n      - ${SIG}\n          ${signature.descriptor.digest}`,
    );
    expect(text).toContain(`          - ${SIG}\n              ${signatureOfSignature.descriptor.digest}`);

    const fine = await checkReference(inspection, repo, registry, silentLogger, 8, inspection.referrers);
    expect(fine).toEqual({ missing: [], unchecked: [], complete: true });

    // a referrer's blob gone, and a listed referrer gone: both reported
    registry.repository(repo).blobs.delete(signatureOfSignature.layer.digest);
    registry.repository(repo).manifests.delete(signature.descriptor.digest);
    const broken = await checkReference(inspection, repo, registry, silentLogger, 8, inspection.referrers);
    expect(broken.complete).toBe(false);
    expect(broken.missing).toEqual(
      expect.arrayContaining([
        { kind: 'manifest', digest: signature.descriptor.digest, neededBy: `referrers of ${buildx.image.descriptor.digest}` },
        { kind: 'blob', digest: signatureOfSignature.layer.digest, neededBy: signatureOfSignature.descriptor.digest },
      ]),
    );
  });

  it('--check reports a listed referrer whose subject is another manifest (a fallback tag is a plain tag anyone can write)', async () => {
    const registry = new MemoryRegistry();
    const buildx = addBuildxImage(registry, repo, 'v1', { platform: { os: 'linux', architecture: 'arm64' }, seed: 's' });
    const stray = addReferrer(registry, buildx.attestation, 'refers to the attestation', buildx.image.descriptor.digest);
    const inspection = await inspectReference(parseReference('reg.example/acme/app:v1'), registry);
    inspection.referrers = await inspectReferrers(inspection, repo, registry);
    const check = await checkReference(inspection, repo, registry, silentLogger, 8, inspection.referrers);
    expect(check.complete).toBe(false);
    expect(check.unchecked).toEqual([
      {
        kind: 'referrer',
        digest: stray.descriptor.digest,
        neededBy: `referrers of ${buildx.image.descriptor.digest}`,
        reason: `its subject is ${buildx.attestation.digest}`,
      },
    ]);
  });
});
