// cleanup-sources against the in-memory registry: which source tags are candidates, the method
// chosen per registry and what happens when a registry refuses, and that nothing the index needs
// is ever deleted. A failure is a warning and a tag left, never a failed merge.
import { beforeEach, describe, expect, it } from '@jest/globals';
import { HttpError } from '../../src/base/errors.js';
import { createMemoryLogger } from '../../src/base/logger.js';
import { UNTAG_ANNOTATION, cleanupCandidates, untagManifest } from '../../src/engine/cleanup.js';
import { runMerge } from '../../src/engine/merge.js';
import type { MergeRequest, ResolvedSource } from '../../src/engine/model.js';
import { buildMetadata, renderReport, renderSummaryMarkdown } from '../../src/engine/summary.js';
import { type RepositoryRef, parseReference } from '../../src/oci/reference.js';
import type { HostedApis, PackageVersion } from '../../src/registry/client-types.js';
import { LAYOUT_REGISTRY } from '../../src/sources/layout-reference.js';
import { MemoryRegistry, addBuildxImage, addImage } from '../support/memory-registry.js';

const REG = 'reg.example';
const app: RepositoryRef = { registry: REG, repository: 'acme/app' };
const amd = { os: 'linux', architecture: 'amd64' };
const arm = { os: 'linux', architecture: 'arm64' };

const request = (sources: string[], tags: string[], extra: Partial<MergeRequest> = {}): MergeRequest => ({
  sources: sources.map((s) => parseReference(s)),
  tags: tags.map((t) => parseReference(t)),
  attestations: 'keep',
  format: 'auto',
  push: true,
  cleanupSources: true,
  ...extra,
});

const httpError = (status: number, code: string) =>
  new HttpError('HTTP', `HTTP ${status} ${code}`, { method: 'DELETE', url: 'memory://x' }, status, [{ code }], { registry: REG });

let registry: MemoryRegistry;

beforeEach(() => {
  registry = new MemoryRegistry();
});

describe('which source tags are for cleanup', () => {
  const resolved = (digest: string, entries = 1): ResolvedSource =>
    ({ input: '', repository: app, digest, mediaType: '', entries: Array.from({ length: entries }, () => ({})) }) as ResolvedSource;

  it('never a digest, a layout, a target tag or a source with nothing in the index; each tag once', () => {
    const sources = [
      `${REG}/acme/app:amd64`,
      `${REG}/acme/app@sha256:${'1'.repeat(64)}`,
      `${REG}/acme/app:latest`,
      `${REG}/acme/app:arm64`,
      `${REG}/acme/app:amd64`,
    ].map((s) => parseReference(s));
    sources.push({ registry: LAYOUT_REGISTRY, repository: '/tmp/layout', digest: `sha256:${'2'.repeat(64)}` });
    const { candidates, skipped } = cleanupCandidates({ sources, tags: [parseReference(`${REG}/acme/app:latest`)] }, [
      resolved('sha256:a'),
      resolved('sha256:b'),
      resolved('sha256:c'),
      resolved('sha256:d', 0),
      resolved('sha256:a'),
      resolved('sha256:e'),
    ]);
    expect(candidates.map((c) => c.label)).toEqual([`${REG}/acme/app:amd64`]);
    expect(skipped.map((s) => s.reason)).toEqual([
      'given by digest',
      'also a target tag',
      'none of its manifests is in the index',
      'an OCI layout',
    ]);
  });
});

describe('the manifest an untag pushes over the tag', () => {
  it('is an OCI image of the empty config, naming the tag, and another digest for another tag or moment', () => {
    const one = untagManifest(app, 'amd64', '2024-01-01T00:00:00.000Z');
    const json = JSON.parse(one.bytes.toString('utf8')) as { config: { mediaType: string }; annotations: Record<string, string> };
    expect(json.config.mediaType).toBe('application/vnd.oci.empty.v1+json');
    expect(json.annotations[UNTAG_ANNOTATION]).toBe(`${REG}/acme/app:amd64`);
    expect(untagManifest(app, 'arm64', '2024-01-01T00:00:00.000Z').digest).not.toBe(one.digest);
    expect(untagManifest(app, 'amd64', '2024-01-01T00:00:00.001Z').digest).not.toBe(one.digest);
  });
});

describe('on a registry', () => {
  function seed() {
    const a = addImage(registry, app, { platform: amd, seed: 'amd64', tag: 'amd64' });
    const b = addImage(registry, app, { platform: arm, seed: 'arm64', tag: 'arm64' });
    return { a, b, request: request([`${REG}/acme/app:amd64`, `${REG}/acme/app:arm64`], [`${REG}/acme/app:latest`]) };
  }

  it('deletes the tags by name once the index is read back; the children stay', async () => {
    const { a, b, request: req } = seed();
    const result = await runMerge(req, registry, createMemoryLogger());
    expect(result.cleanup?.removed.map((t) => t.method)).toEqual(['delete-tag', 'delete-tag']);
    expect(registry.read(app, 'amd64')).toBeUndefined();
    expect(registry.read(app, a.descriptor.digest)).toBeDefined();
    expect(registry.read(app, b.descriptor.digest)).toBeDefined();
    expect(registry.read(app, 'latest')?.digest).toBe(result.digest);
    // nothing is deleted before the last read-back of the index
    const kinds = registry.requests.map((r) => `${r.kind} ${r.reference}`);
    expect(kinds.indexOf('DELETE manifest amd64')).toBeGreaterThan(kinds.lastIndexOf('HEAD manifest latest'));
  });

  it("refused by name (400): regctl's untag, whose own manifest is then deleted by digest", async () => {
    const { a, request: req } = seed();
    registry.onRequest = (r) => {
      if (r.kind === 'DELETE manifest' && !r.reference.includes(':')) throw httpError(400, 'DIGEST_INVALID');
    };
    const result = await runMerge(req, registry, createMemoryLogger());
    expect(result.cleanup?.removed.map((t) => t.method)).toEqual(['untag', 'untag']);
    expect(registry.read(app, 'amd64')).toBeUndefined();
    expect(registry.read(app, a.descriptor.digest)).toBeDefined();
    const deleted = registry.requests.filter((r) => r.kind === 'DELETE manifest' && r.reference.includes(':')).map((r) => r.reference);
    expect(deleted).toHaveLength(2);
    expect(deleted).not.toContain(a.descriptor.digest);
    for (const digest of deleted) expect(registry.read(app, digest)).toBeUndefined();
  });

  it('an untag whose delete is refused puts the tag back, warns, and the merge succeeds', async () => {
    const { a, request: req } = seed();
    registry.onRequest = (r) => {
      if (r.kind === 'DELETE manifest') throw r.reference.includes(':') ? httpError(403, 'DENIED') : httpError(400, 'DIGEST_INVALID');
    };
    const logger = createMemoryLogger();
    const result = await runMerge(req, registry, logger);
    expect(result.cleanup?.removed).toEqual([]);
    expect(result.cleanup?.left.map((t) => t.reason)).toEqual([expect.stringContaining('put back'), expect.stringContaining('put back')]);
    expect(registry.read(app, 'amd64')?.digest).toBe(a.descriptor.digest);
    expect(logger.lines.filter((l) => l.startsWith('warning: cleanup-sources: left'))).toHaveLength(2);
  });

  it('a registry that deletes nothing (405): each tag left with a warning, nothing pushed over it', async () => {
    const { a, request: req } = seed();
    registry.onRequest = (r) => {
      if (r.kind === 'DELETE manifest') throw httpError(405, 'UNSUPPORTED');
    };
    const result = await runMerge(req, registry, createMemoryLogger());
    expect(result.cleanup?.left.map((t) => t.reason)).toEqual([expect.stringContaining('HTTP 405'), expect.stringContaining('HTTP 405')]);
    expect(registry.read(app, 'amd64')?.digest).toBe(a.descriptor.digest);
    expect(registry.requests.filter((r) => r.kind === 'PUT manifest' && r.reference === 'amd64')).toEqual([]);
    expect(buildMetadata(result).cleanup).toMatchObject({ removed: 0, left: 2, skipped: 0 });
  });

  it('a tag another job moved since the merge read it is left alone', async () => {
    const { request: req } = seed();
    const other = addImage(registry, app, { platform: amd, seed: 'other' });
    registry.onRequest = (r) => {
      if (r.kind === 'PUT manifest' && r.reference === 'latest') registry.repository(app).tags.set('amd64', other.descriptor.digest);
    };
    const result = await runMerge(req, registry, createMemoryLogger());
    expect(result.cleanup?.left.map((t) => t.tag)).toEqual([`${REG}/acme/app:amd64`]);
    expect(result.cleanup?.left[0].reason).toContain('moved');
    expect(registry.read(app, 'amd64')?.digest).toBe(other.descriptor.digest);
  });

  it('a dry run plans the removals and sends no write', async () => {
    const { request: req } = seed();
    const logger = createMemoryLogger();
    const result = await runMerge({ ...req, push: false }, registry, logger);
    expect(result.cleanup?.removed.map((t) => t.tag)).toEqual([`${REG}/acme/app:amd64`, `${REG}/acme/app:arm64`]);
    expect(registry.writes()).toEqual([]);
    expect(renderReport(result)).toContain(`Would remove source tag ${REG}/acme/app:amd64`);
    expect(renderSummaryMarkdown(result)).toContain('would be removed');
  });

  it('without cleanup-sources nothing is asked about the sources after the read-back', async () => {
    const { request: req } = seed();
    const result = await runMerge({ ...req, cleanupSources: false }, registry, createMemoryLogger());
    expect(result.cleanup).toBeUndefined();
    expect(registry.read(app, 'amd64')).toBeDefined();
  });
});

describe('on ghcr.io and Docker Hub, through their APIs', () => {
  const ghcrApp: RepositoryRef = { registry: 'ghcr.io', repository: 'acme/app' };

  /** A packages API over the memory registry: a version per manifest, its tags those pointing at it. */
  function hosted(): HostedApis & { deletedVersions: string[]; hubDeleted: string[] } {
    const deletedVersions: string[] = [];
    const hubDeleted: string[] = [];
    const ids = new Map<string, number>();
    const find = (repository: RepositoryRef, digest: string): PackageVersion | undefined => {
      const repo = registry.repository(repository);
      if (!repo.manifests.has(digest)) return undefined;
      if (!ids.has(digest)) ids.set(digest, ids.size + 1);
      return { id: ids.get(digest)!, digest, tags: [...repo.tags].filter(([, d]) => d === digest).map(([t]) => t) };
    };
    return {
      deletedVersions,
      hubDeleted,
      ghcr: {
        findVersion: async (repository, digest) => find(repository, digest),
        deleteVersion: async (repository, version) => {
          deletedVersions.push(version.digest);
          await registry.deleteManifest(repository, version.digest);
        },
      },
      hub: {
        deleteTag: async (repository, tag) => {
          hubDeleted.push(tag);
          registry.repository(repository).tags.delete(tag);
        },
      },
    };
  }

  function withApis(apis: HostedApis | undefined) {
    (registry as unknown as { hostedApis: () => HostedApis | undefined }).hostedApis = () => apis;
  }

  it('a single-manifest source (a child of the index) is untagged, never its version deleted', async () => {
    const a = addImage(registry, ghcrApp, { platform: amd, seed: 'amd64', tag: 'amd64' });
    addImage(registry, ghcrApp, { platform: arm, seed: 'arm64', tag: 'arm64' });
    const apis = hosted();
    withApis(apis);
    const result = await runMerge(
      request(['ghcr.io/acme/app:amd64', 'ghcr.io/acme/app:arm64'], ['ghcr.io/acme/app:latest']),
      registry,
      createMemoryLogger(),
    );
    expect(result.cleanup?.removed.map((t) => t.method)).toEqual(['package-untag', 'package-untag']);
    expect(apis.deletedVersions).toHaveLength(2);
    expect(apis.deletedVersions).not.toContain(a.descriptor.digest);
    expect(registry.read(ghcrApp, a.descriptor.digest)).toBeDefined();
    expect(registry.read(ghcrApp, 'amd64')).toBeUndefined();
  });

  it('a buildx source index (no child of the index) loses its version; a dry run says so and deletes nothing', async () => {
    const amd64 = addBuildxImage(registry, ghcrApp, 'amd64', { platform: amd, seed: 'amd64' });
    const apis = hosted();
    withApis(apis);
    const req = request(['ghcr.io/acme/app:amd64'], ['ghcr.io/acme/app:latest']);
    const planned = await runMerge({ ...req, push: false }, registry, createMemoryLogger());
    expect(planned.cleanup?.removed.map((t) => t.method)).toEqual(['package-version']);
    expect(apis.deletedVersions).toEqual([]);
    const result = await runMerge(req, registry, createMemoryLogger());
    expect(result.cleanup?.removed.map((t) => t.method)).toEqual(['package-version']);
    expect(apis.deletedVersions).toEqual([amd64.index.digest]);
    expect(registry.read(ghcrApp, amd64.image.descriptor.digest)).toBeDefined();
  });

  it('ghcr.io without a token: a warning naming the tag and the input, the tag left', async () => {
    addImage(registry, ghcrApp, { platform: amd, seed: 'amd64', tag: 'amd64' });
    withApis({ hub: hosted().hub });
    const logger = createMemoryLogger();
    const result = await runMerge(request(['ghcr.io/acme/app:amd64'], ['ghcr.io/acme/app:latest']), registry, logger);
    expect(result.cleanup?.left[0].reason).toContain('github-token');
    expect(logger.lines.some((l) => l.startsWith('warning:') && l.includes('ghcr.io/acme/app:amd64'))).toBe(true);
    expect(registry.read(ghcrApp, 'amd64')).toBeDefined();
  });

  it("Docker Hub: the tag deleted through Hub's API; an API failure is a warning", async () => {
    const hubApp: RepositoryRef = { registry: 'docker.io', repository: 'acme/app' };
    addImage(registry, hubApp, { platform: amd, seed: 'amd64', tag: 'amd64' });
    addImage(registry, hubApp, { platform: arm, seed: 'arm64', tag: 'arm64' });
    const apis = hosted();
    withApis({
      hub: {
        deleteTag: async (repository, tag) => {
          if (tag === 'arm64') throw httpError(401, 'UNAUTHORIZED');
          return apis.hub.deleteTag(repository, tag);
        },
      },
    });
    const result = await runMerge(
      request(['docker.io/acme/app:amd64', 'docker.io/acme/app:arm64'], ['docker.io/acme/app:latest']),
      registry,
      createMemoryLogger(),
    );
    expect(result.cleanup?.removed.map((t) => t.method)).toEqual(['hub-tag']);
    expect(result.cleanup?.left.map((t) => t.tag)).toEqual(['docker.io/acme/app:arm64']);
    expect(apis.hubDeleted).toEqual(['amd64']);
  });
});

describe('the report', () => {
  it('escapes registry text in the job summary and counts in the metadata', async () => {
    addImage(registry, app, { platform: amd, seed: 'amd64', tag: 'amd64' });
    registry.onRequest = (r) => {
      if (r.kind === 'DELETE manifest') throw new HttpError('HTTP', 'x', { method: 'DELETE', url: 'memory://x' }, 405, [{ code: '<b>|`' }]);
    };
    const result = await runMerge(request([`${REG}/acme/app:amd64`], [`${REG}/acme/app:latest`]), registry, createMemoryLogger());
    const markdown = renderSummaryMarkdown(result);
    expect(markdown).toContain('| Source tag | Digest | Cleanup |');
    expect(markdown).toContain('&lt;b&gt;\\|\\`');
    expect(markdown).not.toContain('<b>');
    expect(buildMetadata(result).cleanup?.tags.left).toHaveLength(1);
  });
});
