// The step's outputs and job summary (src/action/outputs.ts) with @actions/core mocked: `results`
// for every image, the first image's digest, manifest, platforms, images and metadata, each set
// once; a report per merged image in the log and, when asked, in the job summary.
import { afterAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { InputError } from '../../src/base/errors.js';
import { createMemoryLogger } from '../../src/base/logger.js';
import type { ImageOutcome } from '../../src/engine/images.js';
import type { MergeResult } from '../../src/engine/model.js';
import { buildMetadata, renderReport, renderSummaryMarkdown } from '../../src/engine/summary.js';
import * as core from '../support/actions-core.js';
import { filledDigest } from '../support/digests.js';

jest.unstable_mockModule('@actions/core', () => core);
const { writeOutputs } = await import('../../src/action/outputs.js');

/** A merge of two platforms pushed to `tags` of reg.example/acme/app. */
function merged(c: string, tags: string[]): MergeResult {
  const digest = filledDigest(c);
  const entry = (n: string, platform: string) => ({
    kind: 'image',
    platform,
    descriptor: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: filledDigest(n), size: 500 },
    sourceInput: `reg.example/acme/app:${platform.split('/')[1]}`,
  });
  return {
    digest,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifest: `{"schemaVersion":2,"for":"${c}"}`,
    pushed: true,
    platforms: ['linux/amd64', 'linux/arm64'],
    images: tags.map((t) => `reg.example/acme/app:${t}@${digest}`),
    sources: [],
    plan: { entries: [entry('1', 'linux/amd64'), entry('2', 'linux/arm64')], dropped: [], dangling: [], attestationReferrers: [] },
    targets: [],
    requests: { requests: 4, retries: 0, byKind: {} },
  } as unknown as MergeResult;
}

const ok = (position: string, c: string, tags: string[]): ImageOutcome => ({
  position,
  tags: tags.map((t) => `reg.example/acme/app:${t}`),
  ok: true,
  result: merged(c, tags),
});
const failed = (position: string, error: unknown): ImageOutcome => ({ position, tags: ['reg.example/acme/other:1'], ok: false, error });
const PLATFORMS_ERROR = new InputError('The index holds linux/amd64 only', { hint: 'Set {platforms} to the platforms built' });

const FIRST_IMAGE_OUTPUTS = ['digest', 'manifest', 'platforms', 'images', 'metadata'];
const savedSummary = process.env.GITHUB_STEP_SUMMARY;

beforeEach(() => {
  core.resetCore();
  process.env.GITHUB_STEP_SUMMARY = '/dev/null';
});
afterAll(() => {
  if (savedSummary === undefined) delete process.env.GITHUB_STEP_SUMMARY;
  else process.env.GITHUB_STEP_SUMMARY = savedSummary;
});

/** How many times each output was set. */
function setCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [name] of core.setOutput.mock.calls) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

describe('writeOutputs', () => {
  it.each<[string, () => ImageOutcome[], string | undefined, number]>([
    ['one merged image', () => [ok('image', 'a', ['1', 'latest'])], 'a', 1],
    ['one failed image', () => [failed('image', PLATFORMS_ERROR)], undefined, 0],
    ['a spec: the first merged, the second failed', () => [ok('images[0]', 'a', ['1']), failed('images[1]', PLATFORMS_ERROR)], 'a', 1],
    [
      'a spec: the first failed, the second merged',
      () => [failed('images[0]', PLATFORMS_ERROR), ok('images[1]', 'b', ['2'])],
      undefined,
      1,
    ],
    ['a spec of two merged images', () => [ok('images[0]', 'a', ['1']), ok('images[1]', 'b', ['2'])], 'a', 2],
  ])('%s: each output set once, from the outcomes', async (_name, make, first, reports) => {
    const outcomes = make();
    const logger = createMemoryLogger();
    await writeOutputs(outcomes, { summary: true, logger });

    const expectedCounts: Record<string, number> = { results: 1 };
    if (first) for (const name of FIRST_IMAGE_OUTPUTS) expectedCounts[name] = 1;
    expect(setCounts()).toEqual(expectedCounts);

    const results = JSON.parse(core.outputs.results) as Array<{ tags: string[]; digest?: string; error?: string }>;
    expect(results.map((r) => r.tags)).toEqual(outcomes.map((o) => o.tags));
    outcomes.forEach((o, i) => {
      if (o.ok) expect(results[i]).toEqual({ tags: o.tags, digest: o.result.digest, metadata: buildMetadata(o.result) });
      // errors in the action's words
      else
        expect(results[i]).toEqual({
          tags: o.tags,
          error: 'The index holds linux/amd64 only. Set input `platforms` to the platforms built',
        });
    });

    const [head] = outcomes;
    if (head.ok) {
      const { result } = head;
      expect(core.outputs.digest).toBe(filledDigest(first!));
      expect(core.outputs.manifest).toBe(result.manifest);
      expect(core.outputs.platforms).toBe('linux/amd64,linux/arm64');
      expect(core.outputs.images).toBe(result.images.join('\n'));
      expect(JSON.parse(core.outputs.metadata)).toEqual(buildMetadata(result));
    }

    const merges = outcomes.filter((o): o is Extract<ImageOutcome, { ok: true }> => o.ok).map((o) => o.result);
    expect(logger.lines).toEqual(merges.map((r) => `info: ${renderReport(r)}`));
    expect(core.summaries).toEqual(merges.map((r) => renderSummaryMarkdown(r)));
    expect(core.summary.write).toHaveBeenCalledTimes(reports);
  });

  it.each<[string, boolean, string | undefined]>([
    ['the summary input is false', false, '/dev/null'],
    ['there is no job summary file (not on a runner)', true, undefined],
  ])('writes no job summary when %s, and still logs the report', async (_name, summary, file) => {
    if (file === undefined) delete process.env.GITHUB_STEP_SUMMARY;
    else process.env.GITHUB_STEP_SUMMARY = file;
    const logger = createMemoryLogger();
    await writeOutputs([ok('image', 'a', ['1'])], { summary, logger });
    expect(core.summary.addRaw).not.toHaveBeenCalled();
    expect(core.summary.write).not.toHaveBeenCalled();
    expect(logger.lines).toHaveLength(1);
    expect(core.outputs.digest).toBe(filledDigest('a'));
  });
});
