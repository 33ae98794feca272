// The step every surface runs: layouts opened, one client for every image, each image's outcome,
// the client closed; `checkStep` fails a run without a spec with its image's own error, and a spec
// with one error naming each failed image.
import { beforeEach, describe, expect, it, jest } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryRegistry, addBuildxImage } from '../support/memory-registry.js';
import { ImagesFailedError, ManifestMergeError } from '../../src/base/errors.js';
import { type Logger, createMemoryLogger } from '../../src/base/logger.js';
import type { ClientSettings, ImageRequest, MergeRequest } from '../../src/engine/model.js';
import type { RegistryClient } from '../../src/registry/client-types.js';
import { thrown } from '../support/caught.js';
import { useTempDir } from '../support/temp-dir.js';

const root = useTempDir('mm-run-step-');

let registry: MemoryRegistry;
const createClient = jest.fn((_settings: ClientSettings, _setup: { logger: Logger }) => registry as RegistryClient);
const closed = jest.fn();

jest.unstable_mockModule('../../src/engine/client-setup.js', () => ({
  USER_AGENT: 'test',
  createClient,
  useClient: async <T>(client: RegistryClient, _logger: Logger, work: (client: RegistryClient) => Promise<T>): Promise<T> => {
    try {
      return await work(client);
    } finally {
      closed();
    }
  },
}));

const { checkStep, runStep } = await import('../../src/engine/run-step.js');

const app = { registry: 'reg.example', repository: 'acme/app' };
const settings: ClientSettings = { insecureRegistries: [], timeoutMs: 60_000 };

function image(position: string, repository: string, sources: string[]): ImageRequest {
  const request: MergeRequest = {
    sources: sources.map((tag) => ({ ...app, tag })),
    tags: [{ registry: 'reg.example', repository, tag: '1' }],
    attestations: 'keep',
    format: 'auto',
    push: true,
  };
  return { position, request, warnings: [] };
}

beforeEach(() => {
  registry = new MemoryRegistry();
  addBuildxImage(registry, app, 'amd64', { platform: { os: 'linux', architecture: 'amd64' }, seed: 'amd64' });
  addBuildxImage(registry, app, 'arm64', { platform: { os: 'linux', architecture: 'arm64' }, seed: 'arm64' });
  createClient.mockClear();
  closed.mockClear();
});

describe('runStep', () => {
  it('without a spec: one merge on one client, logged as the run itself, then the client is closed', async () => {
    const logger = createMemoryLogger();
    const outcomes = await runStep(
      { images: [image('image', 'acme/merged', ['amd64', 'arm64'])], client: settings, spec: false },
      { logger },
    );
    expect(outcomes).toHaveLength(1);
    const [outcome] = outcomes;
    expect(outcome).toMatchObject({ position: 'image', tags: ['reg.example/acme/merged:1'], ok: true });
    expect(outcome.ok && outcome.result.digest).toBe(
      registry.repository({ registry: 'reg.example', repository: 'acme/merged' }).tags.get('1'),
    );
    expect(createClient).toHaveBeenCalledTimes(1);
    expect(createClient.mock.calls[0][0]).toEqual({ ...settings, connectionsPerOrigin: 64 });
    expect(closed).toHaveBeenCalledTimes(1);
    expect(logger.lines.some((l) => l.includes('[image'))).toBe(false);
    expect(() => checkStep(outcomes, false)).not.toThrow();
  });

  it('without a spec: a failed merge is an outcome, and checkStep throws its own error', async () => {
    const outcomes = await runStep(
      { images: [image('image', 'acme/merged', ['amd64', 'missing'])], client: settings, spec: false },
      { logger: createMemoryLogger() },
    );
    const [outcome] = outcomes;
    expect(outcome.ok).toBe(false);
    expect(closed).toHaveBeenCalledTimes(1);
    const error = thrown(() => checkStep(outcomes, false));
    expect(error).toBe(!outcome.ok && outcome.error);
    expect(error).toBeInstanceOf(ManifestMergeError);
  });

  it('a spec: every image on the one client (connections for those in flight), each logged under its position; one failing does not stop the others', async () => {
    const logger = createMemoryLogger();
    const images = [
      image('images[0]', 'acme/one', ['amd64']),
      image('images[1]', 'acme/two', ['missing']),
      image('images[2]', 'acme/three', ['arm64']),
    ];
    const outcomes = await runStep({ images, client: settings, spec: true }, { logger });
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
    expect(createClient).toHaveBeenCalledTimes(1);
    // 3 images: a single merge's 64 control requests in flight is more than 3 x 8
    expect(createClient.mock.calls[0][0].connectionsPerOrigin).toBe(64);
    expect(logger.lines.some((l) => l.includes('[images[2] reg.example/acme/three:1]'))).toBe(true);
    expect(() => checkStep(outcomes, true)).toThrow(ImagesFailedError);
    expect(() => checkStep(outcomes, true)).toThrow(
      /^1 of 3 images failed \(the others completed\): images\[1\] \(reg\.example\/acme\/two:1\)/,
    );
  });

  it('a layout that cannot be opened fails the step before any client is made', async () => {
    const request: MergeRequest = {
      ...image('image', 'acme/merged', []).request,
      sources: [{ registry: 'oci-layout:/', repository: '/no/such/layout' }],
    };
    await expect(
      runStep({ images: [{ position: 'image', request, warnings: [] }], client: settings, spec: false }, { logger: createMemoryLogger() }),
    ).rejects.toThrow(/no\/such\/layout/);
    expect(createClient).not.toHaveBeenCalled();
  });

  it('one time budget for the step: the client is given the deadline the step started with', async () => {
    const before = Date.now();
    await runStep({ images: [image('image', 'acme/merged', ['amd64'])], client: settings, spec: false }, { logger: createMemoryLogger() });
    const deadline = (createClient.mock.calls[0][1] as { deadline?: number }).deadline;
    expect(deadline).toBeGreaterThanOrEqual(before + settings.timeoutMs);
    expect(deadline).toBeLessThanOrEqual(Date.now() + settings.timeoutMs);
  });

  it('opening layouts spends the same budget: a step whose deadline has passed stops there with a timeout', async () => {
    const dir = mkdtempSync(join(root(), 'layout-'));
    writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(join(dir, 'index.json'), '{"schemaVersion":2,"manifests":[]}');
    const request: MergeRequest = {
      ...image('image', 'acme/merged', []).request,
      sources: [{ registry: 'oci-layout:/', repository: dir }],
    };
    const error = await runStep(
      { images: [{ position: 'image', request, warnings: [] }], client: settings, spec: false },
      { logger: createMemoryLogger(), deadline: Date.now() - 1 },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ManifestMergeError);
    expect((error as ManifestMergeError).code).toBe('TIMEOUT');
    expect(createClient).not.toHaveBeenCalled();
  });
});
