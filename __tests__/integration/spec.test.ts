// Several images in one step (input `spec`) on a real registry: every good image is pushed and
// verified with skopeo although another fails; the failure names the image; `results` has each.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { getInputs } from '../../src/action/inputs.js';
import { createMemoryLogger } from '../../src/base/logger.js';
import { checkOutcomes, imageResults } from '../../src/engine/images.js';
import { runStep } from '../../src/engine/run-step.js';

import { listTags } from '../../scripts/support/fixtures/client.js';
import { seedCase, type SeedCase } from '../../scripts/support/fixtures/cases.js';
import { type RunningRegistry, startRegistry } from '../../scripts/support/registry.js';
import { skopeoCopyAllToOciLayout } from '../../scripts/support/skopeo.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyDockerConfig } from './harness.js';
import { renderActionError } from '../../src/action/wording.js';

let registry: RunningRegistry;
let seed: SeedCase;

beforeAll(async () => {
  registry = await startRegistry({ name: 'spec' });
  seed = await seedCase(registry);
});

afterAll(async () => {
  await registry?.stop();
});

async function runSpec(values: Record<string, string>) {
  const inputs = getInputs((name) => values[name] ?? '');
  return runStep(inputs, { logger: createMemoryLogger(), configDir: await emptyDockerConfig() });
}

describe('input spec', () => {
  it('merges every image; one failing does not stop the others, and the step fails naming it', async () => {
    const host = registry.host;
    const spec = `
images:
  - tags: [${host}/mono/app-a:1]
    sources: [${seed.sources.join(', ')}]
  - tags: [${host}/mono/app-b:1]
    sources:
      - ${seed.sources[0]}
      - ${host}/acme/does-not-exist:1
  - tags: [${host}/mono/app-c:1, ${host}/mono/app-c:latest]
    sources: [${seed.sources[1]}]
    platforms: linux/arm64
`;
    const outcomes = await runSpec({ spec, platforms: 'linux/amd64,linux/arm64' });
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
    for (const ref of [`${host}/mono/app-a:1`, `${host}/mono/app-c:latest`])
      await skopeoCopyAllToOciLayout(ref, await mkdtemp(join(tmpdir(), 'mm-spec-')), { tlsVerify: false });
    // the failed image is not tagged at all
    expect(await listTags(registry, 'mono/app-b')).toEqual([]);
    expect(() => checkOutcomes(outcomes)).toThrow(
      /1 of 3 images failed \(the others completed\): Input `spec` images\[1\] \(.*mono\/app-b:1\): .*does-not-exist/,
    );
    const results = imageResults(outcomes, (e) => renderActionError(e));
    expect(results[0]).toMatchObject({ tags: [`${host}/mono/app-a:1`], digest: expect.stringMatching(/^sha256:/) });
    expect(results[1].error).toMatch(/does-not-exist/);
    expect(results[2].metadata?.platforms).toEqual(['linux/arm64']);
  });
});
