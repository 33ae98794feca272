// The CLI's entry (src/cli/main.ts) on argv alone, nothing reaching a registry: help and version
// on stdout with exit 0, the usage without a command and every usage or input mistake on stderr
// with exit 2, each message once, with the hint to run --help.
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { main } from '../../src/cli/main.js';

let stdout: string;
let stderr: string;
let listeners: unknown[];

beforeEach(() => {
  stdout = '';
  stderr = '';
  listeners = process.stdout.listeners('error');
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
});
afterEach(() => {
  jest.restoreAllMocks();
  // main() listens for EPIPE on stdout on every call; drop what it added
  for (const listener of process.stdout.listeners('error')) {
    if (!listeners.includes(listener)) process.stdout.off('error', listener as (...args: unknown[]) => void);
  }
});

const USAGE_HINT = 'Run "manifest-merge --help" for usage.\n';

describe('main: help and version (stdout, exit 0)', () => {
  it.each<[string[], RegExp]>([
    [['--help'], /^manifest-merge \S+: merge per-platform images into one multi-arch index/],
    [['-h'], /^manifest-merge \S+: merge per-platform images/],
    [['help'], /^manifest-merge \S+: merge per-platform images/],
    [['merge', '--help'], /^Usage: manifest-merge merge --tag TAG/],
    [['merge', '-h'], /^Usage: manifest-merge merge --tag TAG/],
    [['inspect', '--help'], /^Usage: manifest-merge inspect \[options\] REF/],
    [['--version'], /^dev\n$/],
    [['-V'], /^dev\n$/],
    [['version'], /^dev\n$/],
  ])('%j', async (argv, out) => {
    await expect(main(argv)).resolves.toBe(0);
    expect(stdout).toMatch(out);
    expect(stderr).toBe('');
  });

  it('the usage lists both commands and the exit codes', async () => {
    await main(['--help']);
    for (const text of ['manifest-merge merge --tag TAG', 'manifest-merge inspect', 'Exit codes: 0 done, 1 failed', '2 usage error'])
      expect(stdout).toContain(text);
  });
});

describe('main: usage and input errors (stderr, exit 2)', () => {
  it('without a command prints the usage, and exits 2', async () => {
    await expect(main([])).resolves.toBe(2);
    expect(stdout).toMatch(/^manifest-merge \S+: merge per-platform images/);
  });

  it.each<[string, string[], string]>([
    ['an unknown command', ['push', 'a/b:c'], 'manifest-merge: unknown command "push"\n'],
    ['a flag in place of a command', ['--tag', 'a/b:c'], 'manifest-merge: unknown command "--tag"\n'],
    ['an unknown flag', ['merge', '--nope', '-t', 'ghcr.io/acme/app:1', 'ghcr.io/acme/app:amd64'], "Unknown option '--nope'"],
    ['merge without a tag', ['merge', 'ghcr.io/acme/app:amd64'], 'manifest-merge: '],
    ['merge to a digest', ['merge', '-t', `ghcr.io/acme/app@sha256:${'a'.repeat(64)}`, 'ghcr.io/acme/app:amd64'], 'is a digest reference'],
    ['a bad source reference', ['merge', '-t', 'ghcr.io/acme/app:1', 'ghcr.io/Acme/app:amd64'], 'SOURCE: Invalid image reference'],
    ['a bad choice', ['merge', '-t', 'ghcr.io/acme/app:1', '--format', 'v3', 'ghcr.io/acme/app:amd64'], '--format'],
    [
      '--password-stdin without --username',
      ['merge', '-t', 'ghcr.io/acme/app:1', '--password-stdin', 'ghcr.io/acme/app:amd64'],
      '--password-stdin needs --username',
    ],
    ['inspect without a reference', ['inspect'], 'manifest-merge: '],
    ['inspect of a bad reference', ['inspect', 'ghcr.io/Acme/app:1'], 'Invalid image reference'],
  ])('%s', async (_name, argv, message) => {
    await expect(main(argv)).resolves.toBe(2);
    expect(stderr).toContain(message);
    expect(stderr.startsWith('manifest-merge: ')).toBe(true);
    expect(stderr.endsWith(USAGE_HINT)).toBe(true);
    // one message, then the hint; no stack trace
    expect(stderr.split('\n').filter(Boolean)).toHaveLength(2);
    expect(stdout).toBe('');
  });

  it('words advice for a terminal: flags, never inputs', async () => {
    await main(['merge', '-t', 'ghcr.io/acme/app:1', '--attestations', 'drop', 'ghcr.io/acme/app:amd64']);
    expect(stderr).toContain('--attestations');
    expect(stderr).not.toMatch(/input `/);
  });
});
