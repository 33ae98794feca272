// Finding referrers: listed by the fallback tag (or the API), held to their own subject,
// followed recursively to a depth limit, each repository and subject asked once.
import { beforeEach, describe, expect, it } from '@jest/globals';
import { createMemoryLogger } from '../../src/base/logger.js';
import { MAX_REFERRER_DEPTH, ReferrerFinder, listIn } from '../../src/engine/referrer-finder.js';
import { type Descriptor, MediaType } from '../../src/oci/manifest.js';
import type { RepositoryRef } from '../../src/oci/reference.js';
import type { ReferrersListing } from '../../src/registry/referrers.js';
import { MemoryRegistry, addImage } from '../support/memory-registry.js';

const app: RepositoryRef = { registry: 'reg.example', repository: 'acme/app' };
const fallback = (digest: string) => digest.replace(':', '-');

let registry: MemoryRegistry;
let image: Descriptor;
let logger: ReturnType<typeof createMemoryLogger>;
let finder: ReferrerFinder;

beforeEach(() => {
  registry = new MemoryRegistry();
  image = addImage(registry, app, { platform: { os: 'linux', architecture: 'amd64' }, seed: 'img' }).descriptor;
  logger = createMemoryLogger();
  finder = new ReferrerFinder({ client: registry, concurrency: 4, logger });
});

/** A manifest naming `subject`, listed in the fallback tag of `listedUnder` (default: its subject). */
function refer(subject: Descriptor, payload: string, listedUnder = subject.digest): Descriptor {
  const config = registry.addBlob(app, Buffer.from('{}'), 'application/vnd.oci.empty.v1+json');
  const layer = registry.addBlob(app, Buffer.from(payload), 'application/vnd.example+json');
  const manifest = registry.addManifest(
    app,
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: 'application/vnd.example',
      config,
      layers: [layer],
      subject,
    }),
    MediaType.OciManifest,
  );
  const listed = (registry.read(app, fallback(listedUnder))?.json as { manifests?: Descriptor[] } | undefined)?.manifests ?? [];
  registry.addManifest(
    app,
    JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [...listed, manifest] }),
    MediaType.OciIndex,
    fallback(listedUnder),
  );
  return manifest;
}

describe('ReferrerFinder', () => {
  it('follows referrers of referrers, deepest last', async () => {
    const sbom = refer(image, 'sbom');
    const sig = refer(sbom, 'sig-of-sbom');
    const found = await finder.of(app, image.digest);
    expect(found.map((r) => ({ digest: r.fetched.digest, subject: r.subject, depth: r.depth }))).toEqual([
      { digest: sbom.digest, subject: image.digest, depth: 1 },
      { digest: sig.digest, subject: sbom.digest, depth: 2 },
    ]);
  });

  it('asks each repository and subject once, however many targets ask', async () => {
    refer(image, 'sbom');
    const [a, b] = await Promise.all([finder.of(app, image.digest), finder.of(app, image.digest)]);
    expect(a).toBe(b);
    const requests = registry.count();
    await finder.of(app, image.digest);
    expect(registry.count()).toBe(requests);
    // the fallback tags of the image and of its one referrer, and that referrer
    expect(registry.count('GET manifest')).toBe(3);
  });

  it('an entry whose subject is another manifest is left out, with a warning', async () => {
    const other = addImage(registry, app, { platform: { os: 'linux', architecture: 'arm64' }, seed: 'other' }).descriptor;
    const stray = refer(other, 'stray', image.digest);
    expect(await finder.of(app, image.digest)).toEqual([]);
    expect(logger.lines).toContain(
      `warning: Referrers of reg.example/acme/app@${image.digest}: ${stray.digest} is listed but its subject is ${other.digest}; it was left out`,
    );
  });

  it('a fallback tag entry whose manifest was deleted since (404) is left out with a warning naming it, and reported as stale', async () => {
    const sbom = refer(image, 'sbom');
    const gone = refer(image, 'deleted-by-retention');
    registry.removeManifest(app, gone.digest);
    const search = await finder.find(app, image.digest);
    expect(search.found.map((r) => r.fetched.digest)).toEqual([sbom.digest]);
    expect(search.stale).toEqual([{ subject: image.digest, source: app, descriptor: gone, via: 'tag' }]);
    expect(await finder.of(app, image.digest)).toEqual(search.found);
    expect(logger.lines).toContain(
      `warning: Referrers of reg.example/acme/app@${image.digest}: ${gone.digest} is listed by tag ${fallback(image.digest)} but the registry has no such manifest (deleted since?); it was left out`,
    );
  });

  it('a stale entry one level down (a signature of a deleted SBOM is not looked for) counts once, at its depth', async () => {
    const sbom = refer(image, 'sbom');
    const sig = refer(sbom, 'sig');
    registry.removeManifest(app, sig.digest);
    const search = await finder.find(app, image.digest);
    expect(search.found.map((r) => r.fetched.digest)).toEqual([sbom.digest]);
    expect(search.stale.map((s) => [s.subject, s.descriptor.digest])).toEqual([[sbom.digest, sig.digest]]);
  });

  it('a referrers API listing naming a manifest that is not there (404): left out with a warning, the rest found', async () => {
    const sbom = refer(image, 'sbom');
    const gone: Descriptor = {
      mediaType: MediaType.OciManifest,
      digest: `sha256:${'d'.repeat(64)}`,
      size: 321,
      artifactType: 'application/x\u001b[31mred\u001b]0;title\u0007\n::set-output name=x::y',
    };
    const api = Object.create(registry) as MemoryRegistry;
    Object.defineProperty(api, 'listReferrers', {
      value: async (_r: RepositoryRef, digest: string): Promise<ReferrersListing> => ({
        api: true,
        descriptors: digest === image.digest ? [sbom, gone] : [],
      }),
    });
    const search = await new ReferrerFinder({ client: api, concurrency: 4, logger }).find(app, image.digest);
    expect(search.found.map((r) => r.fetched.digest)).toEqual([sbom.digest]);
    expect(search.stale).toEqual([{ subject: image.digest, source: app, descriptor: gone, via: 'api' }]);
    const warning = logger.lines.find((l) => l.includes(gone.digest))!;
    expect(warning).toBe(
      `warning: Referrers of reg.example/acme/app@${image.digest}: ${gone.digest} (application/xred\\n::set-output name=x::y) is listed by the referrers API but the registry has no such manifest (deleted since?); it was left out`,
    );
    expect(warning).not.toContain('\u001b');
  });

  it('any other failure to read a listed manifest still fails the search', async () => {
    const sbom = refer(image, 'sbom');
    registry.onRequest = (r) => {
      if (r.reference === sbom.digest) throw new Error('connection reset');
    };
    await expect(finder.find(app, image.digest)).rejects.toThrow('connection reset');
  });

  it(`stops at MAX_REFERRER_DEPTH (${MAX_REFERRER_DEPTH}), and says so`, async () => {
    let subject = image;
    for (let i = 0; i <= MAX_REFERRER_DEPTH; i++) subject = refer(subject, `level-${i}`);
    const found = await finder.of(app, image.digest);
    expect(found.map((r) => r.depth)).toEqual([1, 2, 3, 4]);
    expect(logger.lines.filter((l) => l.startsWith('warning:'))).toEqual([
      expect.stringContaining(`referrers nested more than ${MAX_REFERRER_DEPTH} deep are not followed further`),
    ]);
  });
});

describe('listIn', () => {
  it('no fallback tag: no referrers', async () => {
    expect(await listIn(registry, app, image.digest, 'label')).toEqual({ api: false, descriptors: [] });
  });

  it('the referrers API, where the registry has one: the fallback tag is not read', async () => {
    refer(image, 'sbom');
    const api = Object.create(registry) as MemoryRegistry;
    Object.defineProperty(api, 'listReferrers', { value: async (): Promise<ReferrersListing> => ({ api: true, descriptors: [image] }) });
    expect(await listIn(api, app, image.digest, 'label')).toEqual({ api: true, descriptors: [image] });
    expect(registry.count('GET manifest')).toBe(0);
  });
});
