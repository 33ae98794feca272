// The error catalogue, pure part: every input a user can get wrong gives one message that names
// the input, quotes the bad value and says what to write instead. Each is an expected error, so
// the action and the CLI print it alone, without a stack trace. (Registry-side entries are in
// integration/errors.test.ts and integration/faults.test.ts.)
import { describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMerge } from '../../src/engine/merge.js';
import { InputError, isExpectedError, isUsageOrInput } from '../../src/base/errors.js';
import { parseMergeCommand } from '../../src/cli/flags.js';
import { getInputs } from '../../src/action/inputs.js';
import { silentLogger } from '../../src/base/logger.js';
import { createDockerCredentialProvider } from '../../src/registry/credentials/lookup.js';
import { StatusErrors, timeoutError } from '../../src/registry/transport/status.js';
import type { RegistryClient } from '../../src/registry/client-types.js';
import { ACTION_EXPLICIT_CREDENTIALS, renderActionError } from '../../src/action/wording.js';
import { CLI_EXPLICIT_CREDENTIALS, renderCliError } from '../../src/cli/wording.js';
import { thrown } from '../support/caught.js';
import { BASE_INPUTS as base, getter } from '../support/inputs.js';

type Surface = 'action' | 'cli';

const REFERENCE_HINT =
  'Expected [registry[:port]/]repository[:tag][@sha256:digest], e.g. ghcr.io/acme/app:1.0 or ghcr.io/acme/app@sha256:…';
const PLATFORM_HINT =
  'Write it as os/arch or os/arch/variant, e.g. linux/amd64 or linux/arm/v7 (windows may add :os.version, e.g. windows/amd64:10.0.20348.2113)';
const DIGEST = `sha256:${'a'.repeat(64)}`;

const inputError = (values: Record<string, string>): Error => thrown(() => getInputs(getter(values)));

describe('input errors: one message naming the input, the bad value and the fix', () => {
  it.each([
    [
      'empty `sources`',
      { ...base, sources: '\n  \n' },
      'Input `sources` is empty. List the per-platform images to merge, one per line (tags, repo@sha256:… digests or oci-layout://PATH), or give metadata-files, or digests-dir and image',
    ],
    [
      '`sources` of comments only',
      { ...base, sources: '# amd64 comes later\n' },
      'Input `sources` is empty. List the per-platform images to merge, one per line (tags, repo@sha256:… digests or oci-layout://PATH), or give metadata-files, or digests-dir and image',
    ],
    [
      'empty `tags`',
      { ...base, tags: '' },
      'Input `tags` is empty. List the tags to push the index to, one per line (e.g. ghcr.io/acme/app:latest)',
    ],
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
    [
      'white space in a tag',
      { ...base, tags: 'ghcr.io/acme/app:bad tag' },
      `\`tags\`: Invalid image reference "ghcr.io/acme/app:bad tag": it contains white space. ${REFERENCE_HINT}`,
    ],
    [
      'an empty tag',
      { ...base, tags: 'ghcr.io/acme/app:' },
      `\`tags\`: Invalid image reference "ghcr.io/acme/app:": nothing follows ":"; a tag is 1 to 128 letters, digits, "_", "." or "-" and does not start with "." or "-". ${REFERENCE_HINT}`,
    ],
    [
      'a digest as a target',
      { ...base, tags: `ghcr.io/acme/app:latest\nghcr.io/acme/app@${DIGEST}` },
      `\`tags\`: "ghcr.io/acme/app@${DIGEST}" is a digest reference, which cannot be a target. Targets are tags (e.g. ghcr.io/acme/app:latest); digests belong in input \`sources\``,
    ],
    [
      'an unknown `attestations` value',
      { ...base, attestations: 'drop' },
      'Input `attestations` is "drop". Use one of: keep, strip, referrers',
    ],
    ['an unknown `format` value', { ...base, format: 'v2' }, 'Input `format` is "v2". Use one of: auto, oci, docker'],
    [
      'a platform without an architecture',
      { ...base, platforms: 'linux/amd64,linux' },
      `\`platforms\`: Malformed platform "linux": it needs at least an os and an architecture. ${PLATFORM_HINT}`,
    ],
    [
      'a platform of four parts',
      { ...base, platforms: 'linux/amd64/v3/x' },
      `\`platforms\`: Malformed platform "linux/amd64/v3/x": it has more than three "/"-separated parts. ${PLATFORM_HINT}`,
    ],
    [
      'the same platform twice',
      { ...base, platforms: 'linux/arm64,linux/arm64/v8' },
      '`platforms` lists linux/arm64 twice ("linux/arm64" and "linux/arm64/v8"). List each platform once',
    ],
    [
      'the same platform under an alias',
      { ...base, platforms: 'linux/aarch64, linux/arm64' },
      '`platforms` lists linux/arm64 twice ("linux/aarch64" and "linux/arm64"). List each platform once',
    ],
    [
      'a timeout that is not a duration',
      { ...base, timeout: 'soon' },
      'Input `timeout` is "soon", not a duration. Write seconds (600) or a duration like 10m, 90s, 1h30m',
    ],
  ])('%s', (_label, values, message) => {
    const error = inputError(values);
    expect(error).toBeInstanceOf(InputError);
    expect(isExpectedError(error)).toBe(true);
    expect(renderActionError(error)).toBe(message);
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
    await expect(
      runMerge({ ...request, tags: [{ registry: 'ghcr.io', repository: 'acme/app', tag: 'latest' }] }, untouched, silentLogger),
    ).rejects.toThrow(new InputError('`sources` is empty', { hint: 'List at least one image to merge' }));
  });

  it('without tags', async () => {
    await expect(
      runMerge({ ...request, sources: [{ registry: 'ghcr.io', repository: 'acme/app', tag: 'amd64' }] }, untouched, silentLogger),
    ).rejects.toThrow('`tags` is empty. List at least one tag to push the index to');
  });
});

const flagError = (args: string[]): Error => thrown(() => parseMergeCommand(args, () => 'pw'));

describe('the same mistakes on the command line: the message names the flag (exit 2)', () => {
  const sources = ['ghcr.io/acme/app:amd64'];
  it.each([
    [
      'an unknown --attestations value',
      ['-t', 'ghcr.io/acme/app:1', '--attestations', 'drop', ...sources],
      '--attestations is "drop". Use one of: keep, strip, referrers',
    ],
    [
      'an unknown --format value',
      ['-t', 'ghcr.io/acme/app:1', '--format', 'v2', ...sources],
      '--format is "v2". Use one of: auto, oci, docker',
    ],
    [
      'a --timeout that is not a duration',
      ['-t', 'ghcr.io/acme/app:1', '--timeout', 'soon', ...sources],
      '--timeout is "soon", not a duration. Write seconds (600) or a duration like 10m, 90s, 1h30m',
    ],
    [
      'a --timeout of zero',
      ['-t', 'ghcr.io/acme/app:1', '--timeout', '0', ...sources],
      '--timeout is "0", which leaves no time at all. Give a budget above zero, e.g. 10m (the default)',
    ],
    [
      'a --timeout no timer can hold',
      ['-t', 'ghcr.io/acme/app:1', '--timeout', '99999999h', ...sources],
      '--timeout is "99999999h", over the limit of 24h. Give at most 24h (the default is 10m)',
    ],
    [
      'the same platform twice',
      ['-t', 'ghcr.io/acme/app:1', '-p', 'linux/aarch64, linux/arm64', ...sources],
      '--platforms lists linux/arm64 twice ("linux/aarch64" and "linux/arm64"). List each platform once',
    ],
    [
      'a digest as a target',
      ['-t', `ghcr.io/acme/app@${DIGEST}`, ...sources],
      `--tag: "ghcr.io/acme/app@${DIGEST}" is a digest reference, which cannot be a target. Targets are tags (e.g. ghcr.io/acme/app:latest); digests belong in the SOURCE arguments`,
    ],
    [
      'an upper-case repository in a SOURCE',
      ['-t', 'ghcr.io/acme/app:1', 'ghcr.io/Acme/app:1'],
      `SOURCE: Invalid image reference "ghcr.io/Acme/app:1": repository name "Acme/app" must be lower case. ${REFERENCE_HINT}`,
    ],
  ])('%s', (_label, args, message) => {
    const error = flagError(args);
    expect(isUsageOrInput(error)).toBe(true);
    expect(renderCliError(error)).toBe(message);
  });
});

// Registry and credential failures, rendered for each surface: the facts are the same, the advice
// speaks of inputs and docker/login-action in the action, of flags and `docker login` in the CLI.
describe('advice per surface', () => {
  const root = mkdtempSync(join(tmpdir(), 'mm-catalogue-'));
  const configDir = join(root, 'docker');
  mkdirSync(configDir);
  writeFileSync(join(configDir, 'config.json'), JSON.stringify({ credHelpers: { 'quay.io': 'not-installed' } }));
  const config = join(configDir, 'config.json');
  const explicitSource: Record<Surface, string> = { action: ACTION_EXPLICIT_CREDENTIALS, cli: CLI_EXPLICIT_CREDENTIALS };
  const provider = (surface: Surface) =>
    createDockerCredentialProvider({
      configDir,
      env: { PATH: root },
      explicit: { registry: 'ghcr.io', username: 'ci', password: 'pw' },
      explicitSource: explicitSource[surface],
    });
  const statusError = (surface: Surface, method: string, status: number, code: string, message: string) =>
    new StatusErrors({ credentials: provider(surface), credentialSource: () => undefined }).statusError(
      { what: 'Manifest ghcr.io/acme/app:1', method: method as 'GET', registry: 'ghcr.io' },
      'https://ghcr.io/v2/acme/app/manifests/1',
      status,
      [{ code, message }],
    );
  const helperFailure = async (surface: Surface): Promise<unknown> =>
    provider(surface)
      .credentialsFor('quay.io')
      .catch((e: unknown) => e);

  const cases: Array<[string, (surface: Surface) => unknown | Promise<unknown>, string, string]> = [
    [
      'unauthorized (401)',
      (surface) => statusError(surface, 'GET', 401, 'UNAUTHORIZED', 'authentication required'),
      `Manifest ghcr.io/acme/app:1: ghcr.io refused the request as unauthenticated (UNAUTHORIZED): GET https://ghcr.io/v2/acme/app/manifests/1 returned 401 Unauthorized: UNAUTHORIZED: authentication required. Credentials for ghcr.io were looked for in: inputs username/password, ${config} (no credHelpers entry for ghcr.io, no auths entry for ghcr.io). Log in with docker/login-action before this step (or pass the username and password inputs); if you did, the credentials may be wrong or expired, or the repository may not exist`,
      `Manifest ghcr.io/acme/app:1: ghcr.io refused the request as unauthenticated (UNAUTHORIZED): GET https://ghcr.io/v2/acme/app/manifests/1 returned 401 Unauthorized: UNAUTHORIZED: authentication required. Credentials for ghcr.io were looked for in: --username/--password-stdin, ${config} (no credHelpers entry for ghcr.io, no auths entry for ghcr.io). Run \`docker login\` for that registry first (or pass --username with --password-stdin); if you did, the credentials may be wrong or expired, or the repository may not exist`,
    ],
    [
      'denied (403 on a push)',
      (surface) => statusError(surface, 'PUT', 403, 'DENIED', 'requested access to the resource is denied'),
      `Manifest ghcr.io/acme/app:1: ghcr.io denied access (DENIED): PUT https://ghcr.io/v2/acme/app/manifests/1 returned 403 Forbidden: DENIED: requested access to the resource is denied. The credentials used (looked for in: inputs username/password, ${config} (no credHelpers entry for ghcr.io, no auths entry for ghcr.io)) may lack push permission on this repository (for ghcr.io with GITHUB_TOKEN, give the job \`permissions: packages: write\`)`,
      `Manifest ghcr.io/acme/app:1: ghcr.io denied access (DENIED): PUT https://ghcr.io/v2/acme/app/manifests/1 returned 403 Forbidden: DENIED: requested access to the resource is denied. The credentials used (looked for in: --username/--password-stdin, ${config} (no credHelpers entry for ghcr.io, no auths entry for ghcr.io)) may lack push permission on this repository (for ghcr.io with GITHUB_TOKEN, give the job \`permissions: packages: write\`)`,
    ],
    [
      'not found (404)',
      (surface) => statusError(surface, 'GET', 404, 'MANIFEST_UNKNOWN', 'manifest unknown'),
      'Manifest ghcr.io/acme/app:1 not found (MANIFEST_UNKNOWN): GET https://ghcr.io/v2/acme/app/manifests/1 returned 404 Not Found: MANIFEST_UNKNOWN: manifest unknown. Check the reference (registry, repository, tag or digest), and that the job that builds the image pushed it before this step',
      'Manifest ghcr.io/acme/app:1 not found (MANIFEST_UNKNOWN): GET https://ghcr.io/v2/acme/app/manifests/1 returned 404 Not Found: MANIFEST_UNKNOWN: manifest unknown. Check the reference (registry, repository, tag or digest), and that the job that builds the image pushed it before this step',
    ],
    [
      'the token service timed out',
      () =>
        timeoutError(
          { what: 'Token for ghcr.io', method: 'GET', registry: 'ghcr.io' },
          'https://ghcr.io/token?scope=repository%3Aacme%2Fapp%3Apull',
          new Error('aborted'),
          'token service',
        ),
      "Token for ghcr.io: GET https://ghcr.io/token?scope=repository%3Aacme%2Fapp%3Apull timed out: no answer from the token service within the time budget. The step must finish within its time budget (input `timeout`; default 10m). Check the registry's status page and retry later, or raise the budget",
      "Token for ghcr.io: GET https://ghcr.io/token?scope=repository%3Aacme%2Fapp%3Apull timed out: no answer from the token service within the time budget. The step must finish within its time budget (--timeout; default 10m). Check the registry's status page and retry later, or raise the budget",
    ],
    [
      'a credential helper that is not installed',
      helperFailure,
      `Could not run credential helper docker-credential-not-installed for quay.io (configured by credHelpers["quay.io"] in ${config}): spawn docker-credential-not-installed ENOENT. Install docker-credential-not-installed on the PATH, or remove it from ${config}, or use the username and password inputs`,
      `Could not run credential helper docker-credential-not-installed for quay.io (configured by credHelpers["quay.io"] in ${config}): spawn docker-credential-not-installed ENOENT. Install docker-credential-not-installed on the PATH, or remove it from ${config}, or use --username with --password-stdin`,
    ],
  ];

  it.each(cases)('%s', async (_label, make, action, cli) => {
    const [forAction, forCli] = await Promise.all([make('action'), make('cli')]);
    expect(isExpectedError(forAction)).toBe(true);
    expect(renderActionError(forAction)).toBe(action);
    expect(renderCliError(forCli)).toBe(cli);
    // no advice of one surface leaks into the other
    expect(renderCliError(forCli)).not.toMatch(/inputs?\b|docker\/login-action/);
    expect(renderActionError(forAction)).not.toMatch(/--[a-z]|docker login`/);
  });
});
