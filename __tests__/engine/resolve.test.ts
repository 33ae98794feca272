// The one resolver: reads held to their descriptors, one nested-index depth limit for merge and
// inspect --check alike, platforms held to the user-input grammar.
import { describe, expect, it } from '@jest/globals';
import { InvalidManifestError, PlatformError, UnsupportedMediaTypeError } from '../../src/base/errors.js';
import { checkReference, inspectReference } from '../../src/engine/inspect.js';
import { silentLogger } from '../../src/base/logger.js';
import { type Descriptor, MediaType } from '../../src/oci/manifest.js';
import { parseReference } from '../../src/oci/reference.js';
import { MAX_NESTED_INDEX_DEPTH, readManifest, resolveSource } from '../../src/engine/resolve.js';
import { MemoryRegistry, addBuildxImage, addImage } from '../support/memory-registry.js';

const repo = { registry: 'reg.example', repository: 'acme/app' };

/** `depth` indexes around a buildx index: depth 0 is the buildx index itself. */
function nested(registry: MemoryRegistry, depth: number): { top: string; innermost: Descriptor } {
  const buildx = addBuildxImage(registry, repo, 'leaf', { platform: { os: 'linux', architecture: 'amd64' }, seed: 'leaf' });
  let child = buildx.index;
  const chain: Descriptor[] = [];
  for (let i = 0; i < depth; i++) {
    chain.push(child);
    child = registry.addManifest(
      repo,
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [child] }),
      MediaType.OciIndex,
    );
  }
  registry.repository(repo).tags.set(`depth${depth}`, child.digest);
  return { top: `reg.example/acme/app:depth${depth}`, innermost: chain[0] ?? buildx.index };
}

describe('readManifest', () => {
  it('refuses bytes of another size than the descriptor says (#5), naming both', async () => {
    const registry = new MemoryRegistry();
    const image = addImage(registry, repo, { platform: { os: 'linux', architecture: 'amd64' }, seed: 'x' });
    const error = await readManifest(registry, repo, image.descriptor.digest, 'src > child', { ...image.descriptor, size: 5 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidManifestError);
    expect((error as InvalidManifestError).summary).toBe(
      `src > child: the index lists this manifest as 5 bytes, but the registry served ${image.descriptor.size} bytes (digest ${image.descriptor.digest})`,
    );
    await expect(readManifest(registry, repo, image.descriptor.digest, 'src > child', image.descriptor)).resolves.toMatchObject({
      parsed: { kind: 'image' },
    });
  });

  it('refuses an index where the descriptor says image (and the reverse)', async () => {
    const registry = new MemoryRegistry();
    const buildx = addBuildxImage(registry, repo, 't', { platform: { os: 'linux', architecture: 'amd64' }, seed: 'k' });
    await expect(
      readManifest(registry, repo, buildx.index.digest, 'l', { ...buildx.index, mediaType: MediaType.OciManifest }),
    ).rejects.toThrow(
      /lists this manifest as application\/vnd\.oci\.image\.manifest\.v1\+json, but the registry served application\/vnd\.oci\.image\.index\.v1\+json/,
    );
    await expect(
      readManifest(registry, repo, buildx.image.descriptor.digest, 'l', { ...buildx.image.descriptor, mediaType: MediaType.OciIndex }),
    ).rejects.toThrow(InvalidManifestError);
  });
});

describe(`one depth limit (${MAX_NESTED_INDEX_DEPTH}) for merge and inspect --check`, () => {
  it.each([0, 1, MAX_NESTED_INDEX_DEPTH])('%i levels: merge flattens it, --check checks all of it', async (depth) => {
    const registry = new MemoryRegistry();
    const { top } = nested(registry, depth);
    const source = await resolveSource({ client: registry, concurrency: 4 }, parseReference(top));
    expect(source.entries.map((e) => e.kind)).toEqual(['image', 'attestation']);
    const check = await checkReference(await inspectReference(parseReference(top), registry), repo, registry, silentLogger);
    expect(check).toEqual({ missing: [], unchecked: [], complete: true });
  });

  it(`${MAX_NESTED_INDEX_DEPTH + 1} levels: merge refuses it, and --check says what it did not check (#7)`, async () => {
    const registry = new MemoryRegistry();
    const { top, innermost } = nested(registry, MAX_NESTED_INDEX_DEPTH + 1);
    await expect(resolveSource({ client: registry, concurrency: 4 }, parseReference(top))).rejects.toThrow(UnsupportedMediaTypeError);
    await expect(resolveSource({ client: registry, concurrency: 4 }, parseReference(top))).rejects.toThrow(
      /indexes nested more than 4 deep/,
    );
    const check = await checkReference(await inspectReference(parseReference(top), registry), repo, registry, silentLogger);
    expect(check.complete).toBe(false);
    expect(check.missing).toEqual([]);
    expect(check.unchecked).toEqual([
      { kind: 'index', digest: innermost.digest, neededBy: expect.stringMatching(/^sha256:/), reason: 'nested more than 4 indexes deep' },
    ]);
  });
});

describe('platforms a registry serves', () => {
  it('an image without a platform in its index gets it from its config, checked', async () => {
    const registry = new MemoryRegistry();
    const bad = addImage(registry, repo, { platform: { os: 'linux', architecture: 'arm', variant: 'v7\u001b[2J' }, seed: 'e' });
    registry.addManifest(
      repo,
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [bad.descriptor] }),
      MediaType.OciIndex,
      'np',
    );
    const error = await resolveSource({ client: registry, concurrency: 4 }, parseReference('reg.example/acme/app:np')).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PlatformError);
    expect((error as Error).message).toContain(
      `reg.example/acme/app:np > ${bad.descriptor.digest} (config blob): the registry served a platform whose variant is "v7"`,
    );
    expect((error as Error).message).not.toContain('\u001b');
  });
});
