// The error catalogue, pure part: every input a user can get wrong gives one message that names
// the input, quotes the bad value and says what to write instead. Each is an expected error, so
// the action and the CLI print it alone, without a stack trace. (Registry-side entries are in
// integration/errors.test.ts and integration/faults.test.ts.)
import { describe, expect, it } from '@jest/globals';
import { runMerge } from '../src/engine.js';
import { InputError, isExpectedError } from '../src/errors.js';
import { getInputs } from '../src/inputs.js';
import { silentLogger } from '../src/logger.js';
import type { RegistryClient } from '../src/registry/types.js';

const base = { sources: 'ghcr.io/acme/app:amd64\nghcr.io/acme/app:arm64', tags: 'ghcr.io/acme/app:latest' };
const REFERENCE_HINT = 'Expected [registry[:port]/]repository[:tag][@sha256:digest], e.g. ghcr.io/acme/app:1.0 or ghcr.io/acme/app@sha256:…';
const PLATFORM_HINT = 'Write it as os/arch or os/arch/variant, e.g. linux/amd64 or linux/arm/v7 (windows may add :os.version, e.g. windows/amd64:10.0.20348.2113)';
const DIGEST = `sha256:${'a'.repeat(64)}`;

function inputError(values: Record<string, string>): Error {
  try {
    getInputs((name) => values[name] ?? '');
  } catch (error) {
    return error as Error;
  }
  throw new Error(`expected ${JSON.stringify(values)} to be refused`);
}

describe('input errors: one message naming the input, the bad value and the fix', () => {
  it.each([
    ['empty `sources`', { ...base, sources: '\n  \n' }, 'Input `sources` is empty. List the per-platform images to merge, one per line (tags or repo@sha256:… digests)'],
    ['`sources` of comments only', { ...base, sources: '# amd64 comes later\n' }, 'Input `sources` is empty. List the per-platform images to merge, one per line (tags or repo@sha256:… digests)'],
    ['empty `tags`', { ...base, tags: '' }, 'Input `tags` is empty. List the tags to push the index to, one per line (e.g. ghcr.io/acme/app:latest)'],
    [
      'an upper-case repository in `sources`',
      { ...base, sources: 'ghcr.io/Acme/app:1' },
      `\`sources\`: Invalid image reference "ghcr.io/Acme/app:1": repository name "Acme/app" must be lower case. ${REFERENCE_HINT}`,
    ],
    [
      'a URL in `sources`',
      { ...base, sources: 'ghcr.io/acme/app:1\nhttps://ghcr.io/acme/app:2' },
      `\`sources\`: Invalid image reference "https://ghcr.io/acme/app:2": leave out the scheme (http:// or https://); write host/repository. ${REFERENCE_HINT}`,
    ],
    ['white space in a tag', { ...base, tags: 'ghcr.io/acme/app:bad tag' }, `\`tags\`: Invalid image reference "ghcr.io/acme/app:bad tag": it contains white space. ${REFERENCE_HINT}`],
    [
      'an empty tag',
      { ...base, tags: 'ghcr.io/acme/app:' },
      `\`tags\`: Invalid image reference "ghcr.io/acme/app:": nothing follows ":"; a tag is 1 to 128 letters, digits, "_", "." or "-" and does not start with "." or "-". ${REFERENCE_HINT}`,
    ],
    [
      'a digest as a target',
      { ...base, tags: `ghcr.io/acme/app:latest\nghcr.io/acme/app@${DIGEST}` },
      `\`tags\`: "ghcr.io/acme/app@${DIGEST}" is a digest reference, which cannot be a target. Targets are tags (e.g. ghcr.io/acme/app:latest); digests belong in \`sources\``,
    ],
    ['an unknown `attestations` value', { ...base, attestations: 'drop' }, 'Input `attestations` is "drop". Use one of: keep, strip'],
    ['an unknown `format` value', { ...base, format: 'v2' }, 'Input `format` is "v2". Use one of: auto, oci, docker'],
    ['a platform without an architecture', { ...base, platforms: 'linux/amd64,linux' }, `\`platforms\`: Malformed platform "linux": it needs at least an os and an architecture. ${PLATFORM_HINT}`],
    ['a platform of four parts', { ...base, platforms: 'linux/amd64/v3/x' }, `\`platforms\`: Malformed platform "linux/amd64/v3/x": it has more than three "/"-separated parts. ${PLATFORM_HINT}`],
    ['the same platform twice', { ...base, platforms: 'linux/arm64,linux/arm64/v8' }, '`platforms` lists linux/arm64 twice ("linux/arm64" and "linux/arm64/v8"). List each platform once'],
    ['the same platform under an alias', { ...base, platforms: 'linux/aarch64, linux/arm64' }, '`platforms` lists linux/arm64 twice ("linux/aarch64" and "linux/arm64"). List each platform once'],
    ['a timeout that is not a duration', { ...base, timeout: 'soon' }, 'Input `timeout` is "soon", not a duration. Write seconds (600) or a duration like 10m, 90s, 1h30m'],
  ])('%s', (_label, values, message) => {
    const error = inputError(values);
    expect(error).toBeInstanceOf(InputError);
    expect(isExpectedError(error)).toBe(true);
    expect(error.message).toBe(message);
  });
});

describe('the engine refuses an empty request too (the CLI and library callers reach it without getInputs)', () => {
  const untouched = new Proxy({} as RegistryClient, {
    get: (_target, name) => {
      throw new Error(`the client was used (${String(name)}) for a request that should have been refused first`);
    },
  });
  const request = { sources: [], tags: [], attestations: 'keep' as const, format: 'auto' as const, push: true };

  it('without sources', async () => {
    await expect(runMerge({ ...request, tags: [{ registry: 'ghcr.io', repository: 'acme/app', tag: 'latest' }] }, untouched, silentLogger)).rejects.toThrow(
      new InputError('`sources` is empty', { hint: 'List at least one image to merge' }),
    );
  });

  it('without tags', async () => {
    await expect(runMerge({ ...request, sources: [{ registry: 'ghcr.io', repository: 'acme/app', tag: 'amd64' }] }, untouched, silentLogger)).rejects.toThrow(
      '`tags` is empty. List at least one tag to push the index to',
    );
  });
});
