// The action's entry with @actions/core mocked (actions/typescript-action's pattern): inputs in,
// outputs, job summary and setFailed out, on an in-memory registry instead of a network.
import { afterAll, afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as core from '../support/actions-core.js';
import { MemoryRegistry, addBuildxImage } from '../support/memory-registry.js';
import type { ClientSettings } from '../../src/engine/model.js';
import type { RegistryClient } from '../../src/registry/client-types.js';
import type { Logger } from '../../src/base/logger.js';

let registry: MemoryRegistry;
const createClient = jest.fn((_settings: ClientSettings) => registry as RegistryClient);
const closed = jest.fn();

const clientSetup = {
  USER_AGENT: 'test',
  createClient,
  useClient: async <T>(client: RegistryClient, _logger: Logger, work: (client: RegistryClient) => Promise<T>): Promise<T> => {
    try {
      return await work(client);
    } finally {
      closed();
    }
  },
};
jest.unstable_mockModule('@actions/core', () => core);
jest.unstable_mockModule('../../src/engine/client-setup.js', () => clientSetup);

const { run } = await import('../../src/action/main.js');

const app = { registry: 'reg.example', repository: 'acme/app' };
const SOURCES = 'reg.example/acme/app:amd64\nreg.example/acme/app:arm64';
const summaryFile = join(mkdtempSync(join(tmpdir(), 'mm-action-main-')), 'summary.md');
const savedSummary = process.env.GITHUB_STEP_SUMMARY;

beforeEach(() => {
  registry = new MemoryRegistry();
  addBuildxImage(registry, app, 'amd64', { platform: { os: 'linux', architecture: 'amd64' }, seed: 'amd64' });
  addBuildxImage(registry, app, 'arm64', { platform: { os: 'linux', architecture: 'arm64' }, seed: 'arm64' });
  createClient.mockClear();
  closed.mockClear();
  writeFileSync(summaryFile, '');
  process.env.GITHUB_STEP_SUMMARY = summaryFile;
});

afterAll(() => {
  if (savedSummary === undefined) delete process.env.GITHUB_STEP_SUMMARY;
  else process.env.GITHUB_STEP_SUMMARY = savedSummary;
});

describe('run (the action entry)', () => {
  it('merges and sets every output: digest, manifest, platforms, images, metadata, results; and the job summary', async () => {
    core.resetCore({
      sources: SOURCES,
      tags: 'reg.example/acme/app:latest\nreg.example/acme/app:1.0',
      platforms: 'linux/amd64,linux/arm64',
    });
    await run();
    expect(core.setFailed).not.toHaveBeenCalled();
    const { digest, manifest, platforms, images, metadata, results } = core.outputs;
    expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(registry.repository(app).tags.get('latest')).toBe(digest);
    expect(JSON.parse(manifest)).toMatchObject({ mediaType: 'application/vnd.oci.image.index.v1+json' });
    expect(platforms).toBe('linux/amd64,linux/arm64');
    expect(images).toBe(`reg.example/acme/app:latest@${digest}\nreg.example/acme/app:1.0@${digest}`);
    expect(JSON.parse(metadata)).toMatchObject({ digest, pushed: true, platforms: ['linux/amd64', 'linux/arm64'] });
    expect(JSON.parse(results)).toEqual([
      { tags: ['reg.example/acme/app:latest', 'reg.example/acme/app:1.0'], digest, metadata: JSON.parse(metadata) },
    ]);
    expect(core.summaries).toHaveLength(1);
    expect(core.summaries[0]).toContain(digest);
    // one client for the step, closed at the end, with the inputs' settings
    expect(createClient).toHaveBeenCalledTimes(1);
    expect(createClient.mock.calls[0][0]).toEqual({ insecureRegistries: [], timeoutMs: 600_000, connectionsPerOrigin: 64 });
    expect(closed).toHaveBeenCalledTimes(1);
  });

  it('masks the password the moment it is read, and writes no summary with summary: false', async () => {
    core.resetCore({ sources: SOURCES, tags: 'reg.example/acme/app:latest', username: 'ci', password: 's3cret', summary: 'false' });
    await run();
    expect(core.setFailed).not.toHaveBeenCalled();
    expect(core.setSecret).toHaveBeenCalledWith('s3cret');
    expect(createClient.mock.calls[0][0].credentials).toEqual({ registry: 'reg.example', username: 'ci', password: 's3cret' });
    expect(core.summaries).toEqual([]);
  });

  it('a failing merge: setFailed with the action’s wording, no outputs, no stack for an expected error', async () => {
    core.resetCore({ sources: SOURCES, tags: 'reg.example/acme/app:latest', platforms: 'linux/amd64,linux/s390x' });
    await run();
    expect(core.setFailed).toHaveBeenCalledTimes(1);
    expect(core.setFailed.mock.calls[0][0]).toMatch(/linux\/s390x/);
    expect(core.setFailed.mock.calls[0][0]).toMatch(/input `platforms`/);
    expect(core.outputs).toEqual({});
    expect(core.error).not.toHaveBeenCalled();
    expect(registry.repository(app).tags.has('latest')).toBe(false);
  });

  it('an input error fails before any client is made, naming the input', async () => {
    core.resetCore({ sources: SOURCES, tags: 'reg.example/acme/app:latest', attestations: 'drop' });
    await run();
    expect(core.setFailed).toHaveBeenCalledWith('Input `attestations` is "drop". Use one of: keep, strip, referrers');
    expect(createClient).not.toHaveBeenCalled();
  });

  it('spec: results for every image, the first image’s outputs, and the step fails naming the failed image', async () => {
    const spec = [
      'images:',
      '  - {tags: [reg.example/acme/one:1], sources: [reg.example/acme/app:amd64, reg.example/acme/app:arm64], attestations: referrers}',
      '  - {tags: [reg.example/acme/broken:1], sources: [reg.example/acme/missing:1]}',
      '  - {tags: [reg.example/acme/two:1], sources: [reg.example/acme/app:arm64]}',
    ].join('\n');
    core.resetCore({ spec, attestations: 'strip' });
    await run();
    const results = JSON.parse(core.outputs.results) as Array<{
      tags: string[];
      digest?: string;
      error?: string;
      metadata?: { attestations: unknown };
    }>;
    expect(results.map((r) => r.tags)).toEqual([['reg.example/acme/one:1'], ['reg.example/acme/broken:1'], ['reg.example/acme/two:1']]);
    expect(results[0].digest).toBe(core.outputs.digest);
    expect(results[0].digest).toBe(registry.repository({ registry: 'reg.example', repository: 'acme/one' }).tags.get('1'));
    expect(results[1]).toEqual({ tags: ['reg.example/acme/broken:1'], error: expect.stringContaining('reg.example/acme/missing') });
    expect(results[2].digest).toBe(registry.repository({ registry: 'reg.example', repository: 'acme/two' }).tags.get('1'));
    expect(core.outputs.platforms).toBe('linux/amd64,linux/arm64');
    // the summary has each merged image
    expect(core.summaries).toHaveLength(2);
    expect(core.setFailed).toHaveBeenCalledTimes(1);
    expect(core.setFailed.mock.calls[0][0]).toMatch(
      /^1 of 3 images failed \(the others completed\): Input `spec` images\[1\] \(reg\.example\/acme\/broken:1\)/,
    );
    expect(registry.repository({ registry: 'reg.example', repository: 'acme/broken' }).tags.size).toBe(0);
    // the images of a spec share one client, with connections for the images in flight (3 images: a single merge's 64 is more than 3 x 8)
    expect(createClient).toHaveBeenCalledTimes(1);
    expect(createClient.mock.calls[0][0].connectionsPerOrigin).toBe(64);
  });

  it('spec: attestations: referrers set on an image (the step default is strip)', async () => {
    const spec =
      'images:\n  - {tags: [reg.example/acme/one:1], sources: [reg.example/acme/app:amd64], attestations: referrers}\n  - {tags: [reg.example/acme/two:1], sources: [reg.example/acme/app:arm64]}';
    core.resetCore({ spec, attestations: 'strip' });
    await run();
    expect(core.setFailed).not.toHaveBeenCalled();
    const results = JSON.parse(core.outputs.results) as Array<{ metadata: { attestations: { kept: number; stripped: number } } }>;
    expect(results.map((r) => r.metadata.attestations.stripped)).toEqual([0, 1]);
    expect(results.map((r) => r.metadata.attestations.kept)).toEqual([0, 0]);
  });
});

// Issue 20 (7): the run's context was built when the bundle loaded (@actions/github's Context reads
// and parses GITHUB_EVENT_PATH whole): a malformed file printed a raw SyntaxError stack with no
// ::error::, and a 300 MiB one took 650 MiB, even with github-annotations: false.
describe('the workflow event file (GITHUB_EVENT_PATH)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mm-action-event-'));
  const malformed = join(dir, 'malformed.json');
  writeFileSync(malformed, '{"repository": {"full_name": ');
  const huge = join(dir, 'huge.json');
  writeFileSync(huge, '');
  truncateSync(huge, 300 * 1024 * 1024);
  const fifo = join(dir, 'event.fifo');
  execFileSync('mkfifo', [fifo]);
  const names = ['GITHUB_EVENT_PATH', 'GITHUB_REPOSITORY', 'GITHUB_SHA', 'GITHUB_SERVER_URL'] as const;
  const saved = Object.fromEntries(names.map((n) => [n, process.env[n]]));
  let writer: ChildProcess | undefined;
  const SHA = 'c0ffee'.padEnd(40, '0');

  /** main.js loaded afresh under `env` (what the bundle does at start), then run. */
  async function runWith(env: Partial<Record<(typeof names)[number], string>>, inputs: Record<string, string>) {
    for (const n of names) delete process.env[n];
    Object.assign(process.env, env);
    core.resetCore(inputs);
    jest.resetModules();
    jest.unstable_mockModule('@actions/core', () => core);
    jest.unstable_mockModule('../../src/engine/client-setup.js', () => clientSetup);
    const fresh = await import('../../src/action/main.js');
    await fresh.run();
  }
  const annotationsOf = () => (JSON.parse(core.outputs.manifest) as { annotations?: Record<string, string> }).annotations;

  afterEach(() => {
    writer?.kill();
    writer = undefined;
    for (const n of names) delete process.env[n];
    for (const n of names) if (saved[n] !== undefined) process.env[n] = saved[n];
  });

  it('a malformed file is not read when GITHUB_REPOSITORY names the repository: the step runs', async () => {
    await runWith(
      { GITHUB_EVENT_PATH: malformed, GITHUB_REPOSITORY: 'acme/app', GITHUB_SHA: SHA },
      { sources: SOURCES, tags: 'reg.example/acme/app:latest', 'github-annotations': 'true' },
    );
    expect(core.setFailed).not.toHaveBeenCalled();
    expect(core.warning).not.toHaveBeenCalled();
    expect(annotationsOf()).toEqual({
      'org.opencontainers.image.source': 'https://github.com/acme/app',
      'org.opencontainers.image.revision': SHA,
    });
  });

  it('a malformed file, read for want of GITHUB_REPOSITORY: one warning, no stack, the step runs without the source annotation', async () => {
    await runWith(
      { GITHUB_EVENT_PATH: malformed, GITHUB_SHA: SHA },
      { sources: SOURCES, tags: 'reg.example/acme/app:latest', 'github-annotations': 'true' },
    );
    expect(core.setFailed).not.toHaveBeenCalled();
    expect(core.error).not.toHaveBeenCalled();
    expect(core.warning).toHaveBeenCalledTimes(1);
    expect(core.warning.mock.calls[0][0]).toMatch(
      new RegExp(`^GITHUB_EVENT_PATH: "${malformed}" is not JSON \\(.*\\); org\\.opencontainers\\.image\\.source is left out$`),
    );
    expect(core.warning.mock.calls[0][0]).not.toMatch(/\n\s+at /);
    expect(annotationsOf()).toEqual({ 'org.opencontainers.image.revision': SHA });
  });

  it('the repository comes from the event file when GITHUB_REPOSITORY is unset', async () => {
    const event = join(dir, 'event.json');
    writeFileSync(event, JSON.stringify({ repository: { full_name: 'acme/from-event', owner: { login: 'acme' }, name: 'from-event' } }));
    await runWith(
      { GITHUB_EVENT_PATH: event, GITHUB_SERVER_URL: 'https://github.example' },
      { sources: SOURCES, tags: 'reg.example/acme/app:latest', 'github-annotations': 'true' },
    );
    expect(core.warning).not.toHaveBeenCalled();
    expect(annotationsOf()).toEqual({ 'org.opencontainers.image.source': 'https://github.example/acme/from-event' });
  });

  it('a 300 MiB file with github-annotations: false is never read', async () => {
    await runWith({ GITHUB_EVENT_PATH: huge }, { sources: SOURCES, tags: 'reg.example/acme/app:latest', 'github-annotations': 'false' });
    expect(core.setFailed).not.toHaveBeenCalled();
    expect(core.warning).not.toHaveBeenCalled();
    expect(annotationsOf()).toBeUndefined();
  });

  it('nor is a FIFO, with annotations that do not apply (auto, not ghcr.io)', async () => {
    // writers that come late, so that a reader waiting for one (@actions/github read it twice) ends, failing this test, rather than hangs
    writer = spawn('sh', ['-c', 'sleep 3; while :; do printf "{}" > "$0"; done', fifo], { stdio: 'ignore' });
    const started = Date.now();
    await runWith({ GITHUB_EVENT_PATH: fifo }, { sources: SOURCES, tags: 'reg.example/acme/app:latest' });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(core.setFailed).not.toHaveBeenCalled();
    expect(core.warning).not.toHaveBeenCalled();
  });

  it('a 300 MiB file, when needed, is read bounded: a warning naming the limit', async () => {
    await runWith(
      { GITHUB_EVENT_PATH: huge, GITHUB_SHA: SHA },
      { sources: SOURCES, tags: 'reg.example/acme/app:latest', 'github-annotations': 'true' },
    );
    expect(core.setFailed).not.toHaveBeenCalled();
    expect(core.warning).toHaveBeenCalledWith(
      `GITHUB_EVENT_PATH: "${huge}" is 300 MiB, over the limit of 10 MiB; org.opencontainers.image.source is left out`,
    );
    expect(annotationsOf()).toEqual({ 'org.opencontainers.image.revision': SHA });
  });
});
