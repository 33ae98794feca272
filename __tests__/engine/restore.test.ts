// Several tags move together (issue 20, item 5): a tag refused after other tags of the same merge
// had moved (immutable tags on ECR, Harbor, Artifactory) puts those back, and the error says what
// was put back and what could not be. Against the in-memory registry.
import { beforeEach, describe, expect, it } from '@jest/globals';
import { runMerge } from '../../src/engine/merge.js';
import { TagsRestoredError, isHttpError } from '../../src/base/errors.js';
import { createMemoryLogger } from '../../src/base/logger.js';
import { MediaType } from '../../src/oci/manifest.js';
import { type RepositoryRef } from '../../src/oci/reference.js';
import { renderActionError } from '../../src/action/wording.js';
import { MemoryRegistry, addBuildxImage } from '../support/memory-registry.js';
import { caught } from '../support/caught.js';
import { noWait, request } from '../support/merge-requests.js';

const REG = 'reg.example';
const OTHER = 'other.example';
const app: RepositoryRef = { registry: REG, repository: 'acme/app' };
const mirror: RepositoryRef = { registry: REG, repository: 'acme/mirror' };
const immutable: RepositoryRef = { registry: OTHER, repository: 'acme/app' };

const SOURCES = [`${REG}/acme/app:amd64`, `${REG}/acme/app:arm64`];

let registry: MemoryRegistry;
/** an index each pre-existing tag points at before the merge */
let old: (repository: RepositoryRef, tag: string, seed: string) => string;

beforeEach(() => {
  registry = new MemoryRegistry();
  addBuildxImage(registry, app, 'amd64', { platform: { os: 'linux', architecture: 'amd64' }, seed: 'amd64' });
  addBuildxImage(registry, app, 'arm64', { platform: { os: 'linux', architecture: 'arm64' }, seed: 'arm64' });
  old = (repository, tag, seed) =>
    registry.addManifest(
      repository,
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [], annotations: { seed } }),
      MediaType.OciIndex,
      tag,
    ).digest;
});

describe('a tag refused after the index was accepted', () => {
  it("puts target 1's tag back at its previous digest when target 2 refuses its tag (immutable), and says so", async () => {
    const before = old(mirror, 'latest', 'mirror');
    const kept = old(immutable, 'latest', 'immutable');
    registry.makeTagsImmutable(immutable);
    const logger = createMemoryLogger();
    const error = await caught(runMerge(request(SOURCES, [`${REG}/acme/mirror:latest`, `${OTHER}/acme/app:latest`]), registry, logger));
    expect(error).toBeInstanceOf(TagsRestoredError);
    const restored = error as TagsRestoredError;
    // the registry's refusal is what went wrong, and what the error is about
    expect(isHttpError(restored.cause)).toBe(true);
    expect(restored.code).toBe('HTTP');
    expect(restored.facts).toMatchObject({ registry: OTHER, repository: 'acme/app', reference: 'latest', status: 400 });
    expect(registry.read(mirror, 'latest')?.digest).toBe(before);
    expect(registry.read(immutable, 'latest')?.digest).toBe(kept);
    expect(restored.tags).toEqual([{ tag: `${REG}/acme/mirror:latest`, previous: before, outcome: 'restored' }]);
    expect(restored.message).toContain(`tags that had already moved were put back: ${REG}/acme/mirror:latest (back at ${before})`);
    expect(renderActionError(error)).toMatch(/^PUT other.example\/acme\/app:latest: the tag already exists and cannot be overwritten/);
    expect(logger.lines).toContain(`info: Put ${REG}/acme/mirror:latest back at ${before}`);
  });

  it('deletes a tag that did not exist before, where the registry deletes tags', async () => {
    old(immutable, 'latest', 'immutable');
    registry.makeTagsImmutable(immutable);
    const error = (await caught(
      runMerge(request(SOURCES, [`${REG}/acme/mirror:v1`, `${OTHER}/acme/app:latest`]), registry, createMemoryLogger()),
    )) as TagsRestoredError;
    expect(error).toBeInstanceOf(TagsRestoredError);
    expect(registry.read(mirror, 'v1')).toBeUndefined();
    expect(registry.requests.filter((r) => r.kind === 'DELETE manifest')).toEqual([
      { kind: 'DELETE manifest', repository: `${REG}/acme/mirror`, reference: 'v1' },
    ]);
    expect(error.tags).toEqual([{ tag: `${REG}/acme/mirror:v1`, outcome: 'deleted' }]);
    expect(error.message).toContain(`${REG}/acme/mirror:v1 (deleted: it did not exist before)`);
  });

  it('lists a new tag the registry will not delete as not put back, with the digest it holds and what to do', async () => {
    old(immutable, 'latest', 'immutable');
    registry.makeTagsImmutable(immutable);
    registry.refuseTagDelete(REG);
    const error = (await caught(
      runMerge(request(SOURCES, [`${REG}/acme/mirror:v1`, `${OTHER}/acme/app:latest`]), registry, createMemoryLogger()),
    )) as TagsRestoredError;
    const index = registry.read(mirror, 'v1')!.digest;
    expect(error.tags).toEqual([
      { tag: `${REG}/acme/mirror:v1`, outcome: 'failed', current: index, reason: expect.stringContaining('405') },
    ]);
    expect(error.message).toContain(
      `could not be put back: ${REG}/acme/mirror:v1 (it did not exist before and now holds ${index}; deleting it failed:`,
    );
    expect(renderActionError(error)).toMatch(/by hand/);
  });

  it('two tags in one repository: the second refused puts the first back (one target is no exception)', async () => {
    const before = old(immutable, 'latest', 'latest');
    registry.makeTagsImmutable(immutable);
    const error = (await caught(
      runMerge(request(SOURCES, [`${OTHER}/acme/app:v2`, `${OTHER}/acme/app:latest`]), registry, createMemoryLogger()),
    )) as TagsRestoredError;
    expect(error).toBeInstanceOf(TagsRestoredError);
    expect(registry.read(immutable, 'latest')?.digest).toBe(before);
    expect(registry.read(immutable, 'v2')).toBeUndefined();
  });

  it('a refusal before any tag moved is the refusal itself, with nothing put back', async () => {
    const before = old(mirror, 'latest', 'mirror');
    registry.onRequest = (r) => {
      if (r.kind === 'PUT manifest' && r.repository === `${REG}/acme/mirror` && r.reference === 'latest') throw new Error('injected');
    };
    await expect(runMerge(request(SOURCES, [`${REG}/acme/mirror:latest`]), registry, createMemoryLogger())).rejects.toThrow(/^injected$/);
    expect(registry.read(mirror, 'latest')?.digest).toBe(before);
    expect(registry.count('DELETE manifest')).toBe(0);
  });
});

describe('what the previous digests cost', () => {
  it('one HEAD per tag, asked before anything is written (beside the transfer, not after it)', async () => {
    await runMerge(request(SOURCES, [`${REG}/acme/mirror:latest`, `${OTHER}/acme/app:latest`]), registry, createMemoryLogger());
    const tagHeads = registry.requests
      .map((r, i) => ({ ...r, i }))
      .filter((r) => r.kind === 'HEAD manifest' && !r.reference.startsWith('sha256:'));
    // 2 before writing, 2 read-backs
    expect(tagHeads).toHaveLength(4);
    const firstWrite = registry.requests.findIndex((r) => registry.writes().includes(r));
    expect(tagHeads.filter((r) => r.i < firstWrite)).toHaveLength(2);
  });

  it('a single tag asks nothing more: its refused PUT moves no tag', async () => {
    await runMerge(request(SOURCES, [`${REG}/acme/app:latest`]), registry, createMemoryLogger());
    expect(registry.stats().byKind).toEqual({ 'GET manifest': 2, 'PUT manifest': 1, 'HEAD manifest': 1 });
  });

  it('a dry run reads no tag', async () => {
    await runMerge(
      request(SOURCES, [`${REG}/acme/mirror:latest`, `${OTHER}/acme/app:latest`], { push: false }),
      registry,
      createMemoryLogger(),
    );
    expect(registry.requests.filter((r) => r.kind === 'HEAD manifest' && !r.reference.startsWith('sha256:'))).toEqual([]);
  });
});

describe('append', () => {
  it('with a second tag refused: the first is put back at the index it held, and no append race is reported', async () => {
    await runMerge(request([`${REG}/acme/app:amd64`], [`${REG}/acme/app:latest`]), registry, createMemoryLogger());
    const before = registry.read(app, 'latest')!.digest;
    old(immutable, 'latest', 'immutable');
    registry.makeTagsImmutable(immutable);
    const error = (await caught(
      runMerge(
        request([`${REG}/acme/app:arm64`], [`${REG}/acme/app:latest`, `${OTHER}/acme/app:latest`], { append: true }),
        registry,
        createMemoryLogger(),
        noWait,
      ),
    )) as TagsRestoredError;
    expect(error).toBeInstanceOf(TagsRestoredError);
    expect(registry.read(app, 'latest')?.digest).toBe(before);
    expect(error.tags).toEqual([{ tag: `${REG}/acme/app:latest`, previous: before, outcome: 'restored' }]);
  });
});
