import { describe, expect, it } from '@jest/globals';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getInputs } from '../../src/request/inputs.js';
import { parseLayoutSource } from '../../src/sources/layout-reference.js';
import { normaliseMemberName } from '../../src/sources/tar.js';

const HEX = 'a'.repeat(64);

describe('oci-layout:// sources', () => {
  it('reads PATH, PATH:TAG and PATH@DIGEST', () => {
    expect(parseLayoutSource('oci-layout://out/amd64.tar', 'x')).toEqual({ registry: 'oci-layout:/', repository: 'out/amd64.tar' });
    expect(parseLayoutSource('oci-layout:///tmp/dir:v1.2', 'x')).toEqual({ registry: 'oci-layout:/', repository: '/tmp/dir', tag: 'v1.2' });
    expect(parseLayoutSource(`oci-layout://./dir@sha256:${HEX}`, 'x')).toEqual({ registry: 'oci-layout:/', repository: './dir', digest: `sha256:${HEX}` });
    expect(() => parseLayoutSource('oci-layout://dir@sha256:abc', '`sources`')).toThrow('`sources`: "oci-layout://dir@sha256:abc" ends in "@sha256:abc", which is not a sha256 digest');
    expect(() => parseLayoutSource('oci-layout://', 'x')).toThrow('names no path');
  });

  it('tar member names that leave the archive are refused', () => {
    expect(normaliseMemberName('./blobs//sha256/x')).toBe('blobs/sha256/x');
    for (const bad of ['../x', 'blobs/../../x', '/etc/passwd', 'C:\\x']) expect(normaliseMemberName(bad)).toBeUndefined();
  });
});

describe('inputs digests-dir and image', () => {
  const inputs = (values: Record<string, string>) => getInputs((name) => values[name] ?? '');

  it('turn each file name into image@sha256:<name>, sorted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mm-digests-'));
    await writeFile(join(dir, 'b'.repeat(64)), '');
    await writeFile(join(dir, HEX), '');
    const { request } = inputs({ 'digests-dir': dir, image: 'ghcr.io/acme/app', tags: 'ghcr.io/acme/app:1' });
    expect(request.sources.map((s) => s.digest)).toEqual([`sha256:${HEX}`, `sha256:${'b'.repeat(64)}`]);
    expect(request.sources[0]).toMatchObject({ registry: 'ghcr.io', repository: 'acme/app' });
  });

  it('refuse a file that is not 64 hex characters, naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mm-digests-'));
    await writeFile(join(dir, HEX), '');
    await writeFile(join(dir, 'sha256:abc'), '');
    expect(() => inputs({ 'digests-dir': dir, image: 'ghcr.io/acme/app', tags: 'ghcr.io/acme/app:1' })).toThrow('Input `digests-dir`: a file name is not a digest (64 lower-case hex characters): "sha256:abc"');
  });

  it('refuse an image with a tag, or none at all', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mm-digests-'));
    await writeFile(join(dir, HEX), '');
    expect(() => inputs({ 'digests-dir': dir, image: 'ghcr.io/acme/app:1', tags: 'ghcr.io/acme/app:1' })).toThrow('has a tag or digest');
    expect(() => inputs({ 'digests-dir': dir, tags: 'ghcr.io/acme/app:1' })).toThrow('Input `digests-dir` is set but Input `image` is empty');
  });
});

describe('input spec', () => {
  const inputs = (values: Record<string, string>) => getInputs((name) => values[name] ?? '');

  it('validates every image before anything runs, naming position and field', () => {
    const spec = 'images:\n  - {tags: [r.io/a:1], sources: [r.io/a:x]}\n  - {tags: [r.io/b:1], sources: [r.io/b:x], platforms: linux/amd64}\n  - {tags: [r.io/c:1], sources: [r.io/c:x], platforms: "linux/"}';
    expect(() => inputs({ spec })).toThrow(/Input `spec` images\[2\]\.platforms/);
    expect(() => inputs({ spec: 'images:\n  - {tags: [r.io/a:1], source: [r.io/a:x]}' })).toThrow('Input `spec` images[0]: unknown field "source"');
    expect(() => inputs({ spec: 'images:\n  - {tags: [r.io/a:1]}' })).toThrow('Input `spec` images[0].sources is empty');
    expect(() => inputs({ spec: 'images: [', tags: '' })).toThrow(/not valid YAML or JSON/);
  });

  it('lets an image override the step inputs; the others keep them', () => {
    const spec = JSON.stringify({ images: [{ tags: ['r.io/a:1'], sources: ['r.io/a:x'] }, { tags: ['r.io/b:1'], sources: ['r.io/b:x'], attestations: 'keep', annotations: { 'org.opencontainers.image.description': 'B' } }] });
    const { images } = inputs({ spec, attestations: 'strip', annotations: 'org.opencontainers.image.description=step' });
    expect(images!.map((i) => i.request.attestations)).toEqual(['strip', 'keep']);
    expect(images!.map((i) => i.request.annotations?.index['org.opencontainers.image.description'])).toEqual(['step', 'B']);
  });

  it('refuses sources or tags next to a spec', () => {
    expect(() => inputs({ spec: 'images: []', tags: 'r.io/a:1' })).toThrow('Input `spec` is set, and so is `tags`');
  });
});

describe('github-annotations', () => {
  const env = { serverUrl: 'https://github.com', repository: 'acme/app', sha: 'f'.repeat(40) };
  const request = (tags: string, extra: Record<string, string> = {}) => getInputs((name) => ({ sources: 'r.io/a:x', tags, ...extra })[name] ?? '');

  it('auto: adds source and revision for ghcr.io targets only; user annotations win', async () => {
    const { withGithubAnnotations } = await import('../../src/action/github-context.js');
    const ghcr = request('ghcr.io/acme/app:1', { annotations: 'org.opencontainers.image.source=https://example.com/mine' });
    const index = withGithubAnnotations(ghcr.request, ghcr.githubAnnotations, env).annotations!.index;
    expect({ ...index }).toEqual({ 'org.opencontainers.image.source': 'https://example.com/mine', 'org.opencontainers.image.revision': 'f'.repeat(40) });
    const other = request('r.io/acme/app:1');
    expect(withGithubAnnotations(other.request, other.githubAnnotations, env)).toBe(other.request);
    const forced = request('r.io/acme/app:1', { 'github-annotations': 'true' });
    expect({ ...withGithubAnnotations(forced.request, forced.githubAnnotations, env).annotations!.index }).toEqual({ 'org.opencontainers.image.source': 'https://github.com/acme/app', 'org.opencontainers.image.revision': 'f'.repeat(40) });
    const off = request('ghcr.io/acme/app:1', { 'github-annotations': 'false' });
    expect(withGithubAnnotations(off.request, off.githubAnnotations, env)).toBe(off.request);
  });

  it('the same commit gives the same index digest', async () => {
    const { withGithubAnnotations } = await import('../../src/action/github-context.js');
    const { planMerge } = await import('../../src/engine/plan.js');
    const digest = () => {
      const { request: r, githubAnnotations } = request('ghcr.io/acme/app:1');
      const annotated = withGithubAnnotations(r, githubAnnotations, env);
      const source = { input: 'x', repository: { registry: 'r.io', repository: 'a' }, digest: 'sha256:' + 'a'.repeat(64), mediaType: 'application/vnd.oci.image.index.v1+json', entries: [{ kind: 'image' as const, descriptor: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:' + 'b'.repeat(64), size: 10, platform: { os: 'linux', architecture: 'amd64' } }, platform: { os: 'linux', architecture: 'amd64' } }] };
      return planMerge([source], { attestations: 'keep', format: 'auto', annotations: annotated.annotations }).digest;
    };
    expect(digest()).toBe(digest());
  });
});

describe('connections for a spec', () => {
  it('8 per image in flight, at most 10 images at once: a single merge keeps the default 8', async () => {
    const { connectionsFor } = await import('../../src/engine/images.js');
    expect([1, 2, 3, 10, 20].map((n) => connectionsFor(n))).toEqual([8, 16, 24, 80, 80]);
  });
});
