// Defect #1 against the real registry: several jobs appending distinct platforms to one tag at
// the same time. Each run must either end with the tag holding its platform, or fail (a
// ConflictError naming the race); none may succeed while its platform is lost.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isConflict } from '../../src/base/errors.js';
import { getManifest } from '../../scripts/support/fixtures/client.js';
import { pushBuildxImage } from '../../scripts/support/fixtures/buildx.js';
import { type RunningRegistry, startRegistry } from '../../scripts/support/registry.js';
import { merge } from './harness.js';

const PLATFORMS = ['linux/amd64', 'linux/arm64', 'linux/s390x', 'linux/ppc64le', 'linux/riscv64'];
const ROUNDS = 3;

let registry: RunningRegistry;
const sources = new Map<string, { ref: string; digest: string }>();

beforeAll(async () => {
  registry = await startRegistry({ name: 'append-race' });
  await Promise.all(
    PLATFORMS.map(async (platform) => {
      const tag = platform.replace('/', '-');
      const pushed = await pushBuildxImage(registry, 'acme/race', tag, { platform, seed: `race-${platform}` });
      sources.set(platform, { ref: `${registry.host}/acme/race:${tag}`, digest: pushed.imageDigest });
    }),
  );
});

afterAll(async () => {
  await registry?.stop();
});

describe('#1: parallel appends to one tag', () => {
  it.each(Array.from({ length: ROUNDS }, (_, i) => i + 1))(
    'round %i: every run that succeeds finds its platform in the final index',
    async (round) => {
      const tag = `${registry.host}/acme/race:all-${round}`;
      const runs = await Promise.allSettled(
        PLATFORMS.map((platform) => merge({ sources: sources.get(platform)!.ref, tags: tag, append: 'true' })),
      );
      const index = JSON.parse((await getManifest(registry, 'acme/race', `all-${round}`)).bytes.toString('utf8')) as {
        manifests: Array<{ digest: string }>;
      };
      const listed = new Set(index.manifests.map((m) => m.digest));
      runs.forEach((run, i) => {
        const platform = PLATFORMS[i];
        if (run.status === 'fulfilled') expect([platform, listed.has(sources.get(platform)!.digest)]).toEqual([platform, true]);
        // a run that cannot win says so, with the kind the CLI and action report
        else expect([platform, isConflict(run.reason)]).toEqual([platform, true]);
      });
      // with five writers and five attempts each, every run is expected to get its platform in
      expect(runs.map((r) => r.status)).toEqual(PLATFORMS.map(() => 'fulfilled'));
      expect(listed.size).toBe(PLATFORMS.length * 2); // each image and its attestation
    },
  );
});
