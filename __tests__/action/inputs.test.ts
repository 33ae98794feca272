// The action's inputs: each the field of its name, through the one builder (request/build.ts),
// every error naming the input.
import { describe, expect, it } from '@jest/globals';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getInputs } from '../../src/action/inputs.js';
import { BASE_INPUTS as base, getter } from '../support/inputs.js';
import { useTempDir } from '../support/temp-dir.js';

const HEX = 'a'.repeat(64);
const root = useTempDir('mm-inputs-');

describe('getInputs (the action)', () => {
  it('reads a full set of inputs with defaults', () => {
    const {
      images: [{ request }],
      client,
      summary,
      warnings,
    } = getInputs(getter(base));
    expect(request.sources.map((s) => s.tag)).toEqual(['amd64', 'arm64']);
    expect(request.tags[0]).toEqual({ registry: 'ghcr.io', repository: 'acme/app', tag: 'latest' });
    expect(request).toMatchObject({ attestations: 'keep', format: 'auto', push: true, append: false, platforms: undefined });
    expect(client).toEqual({ insecureRegistries: [], timeoutMs: 600000 });
    expect(summary).toBe(true);
    expect(warnings).toEqual([]);
  });

  it.each([
    [{ ...base, sources: '\n# nothing\n' }, /Input `sources` is empty/],
    [{ ...base, tags: '' }, /Input `tags` is empty/],
    [{ ...base, sources: 'ghcr.io/Acme/app:1' }, /`sources`: Invalid image reference "ghcr.io\/Acme\/app:1".*lower case/],
    [{ ...base, tags: `ghcr.io/acme/app@sha256:${'a'.repeat(64)}` }, /is a digest reference, which cannot be a target/],
    [{ ...base, attestations: 'drop' }, /Input `attestations` is "drop".*keep, strip/],
    [{ ...base, format: 'v2' }, /Input `format` is "v2".*auto, oci, docker/],
    [{ ...base, push: 'yes' }, /Input `push` is "yes".*true or false/],
    [{ ...base, platforms: 'linux/amd64,linux' }, /`platforms`: Malformed platform "linux"/],
    [{ ...base, platforms: 'linux/arm64,linux/arm64/v8' }, /lists linux\/arm64 twice/],
    [{ ...base, timeout: 'soon' }, /`timeout` is "soon", not a duration/],
    [{ ...base, timeout: '0' }, /Input `timeout` is "0", which leaves no time at all/],
    [{ ...base, timeout: '99999999h' }, /Input `timeout` is "99999999h", over the limit of 24h/],
    [{ ...base, username: 'bob' }, /Input `password` is empty while `username` is set/],
    [{ ...base, registry: 'not a host' }, /Input `registry`: "not a host" is not a registry host/],
  ])('rejects %j', (values, message) => {
    expect(() => getInputs(getter(values))).toThrow(message);
  });

  it('gives explicit credentials to the first tag’s registry unless `registry` says otherwise', () => {
    expect(getInputs(getter({ ...base, username: 'bob', password: 's3cret' })).client.credentials).toEqual({
      registry: 'ghcr.io',
      username: 'bob',
      password: 's3cret',
    });
    expect(getInputs(getter({ ...base, username: 'bob', password: 'x', registry: 'https://docker.io' })).client.credentials?.registry).toBe(
      'docker.io',
    );
  });

  it('reads insecure registries and the time budget into the client settings', () => {
    const { client } = getInputs(getter({ ...base, 'insecure-registries': 'http://reg.lan:5000/, other.lan', timeout: '90s' }));
    expect(client).toEqual({ insecureRegistries: ['reg.lan:5000', 'other.lan'], timeoutMs: 90000 });
  });
});

describe('inputs digests-dir and image', () => {
  const inputs = (values: Record<string, string>) => getInputs(getter(values));

  it('turn each file name into image@sha256:<name>, sorted', async () => {
    const dir = await mkdtemp(join(root(), 'mm-digests-'));
    await writeFile(join(dir, 'b'.repeat(64)), '');
    await writeFile(join(dir, HEX), '');
    const {
      images: [{ request }],
    } = inputs({ 'digests-dir': dir, image: 'ghcr.io/acme/app', tags: 'ghcr.io/acme/app:1' });
    expect(request.sources.map((s) => s.digest)).toEqual([`sha256:${HEX}`, `sha256:${'b'.repeat(64)}`]);
    expect(request.sources[0]).toMatchObject({ registry: 'ghcr.io', repository: 'acme/app' });
  });

  it('refuse a file that is not 64 hex characters, naming it', async () => {
    const dir = await mkdtemp(join(root(), 'mm-digests-'));
    await writeFile(join(dir, HEX), '');
    await writeFile(join(dir, 'sha256:abc'), '');
    expect(() => inputs({ 'digests-dir': dir, image: 'ghcr.io/acme/app', tags: 'ghcr.io/acme/app:1' })).toThrow(
      'Input `digests-dir`: a file name is not a digest (64 lower-case hex characters): "sha256:abc"',
    );
  });

  it('refuse an image with a tag, or none at all', async () => {
    const dir = await mkdtemp(join(root(), 'mm-digests-'));
    await writeFile(join(dir, HEX), '');
    expect(() => inputs({ 'digests-dir': dir, image: 'ghcr.io/acme/app:1', tags: 'ghcr.io/acme/app:1' })).toThrow('has a tag or digest');
    expect(() => inputs({ 'digests-dir': dir, tags: 'ghcr.io/acme/app:1' })).toThrow(
      'Input `digests-dir` is set but Input `image` is empty',
    );
  });
});
