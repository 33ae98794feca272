// A spec's images on one client: how many connections they share, and what the `results` output says of each.
import { describe, expect, it } from '@jest/globals';
import { HttpError, TagsRestoredError } from '../../src/base/errors.js';
import { imageResults } from '../../src/engine/images.js';

describe('connections for a spec', () => {
  it("a single merge's 64, or 8 per image in flight when that is more, at most 10 images at once", async () => {
    const { connectionsFor } = await import('../../src/engine/images.js');
    expect([1, 2, 3, 8, 10, 20].map((n) => connectionsFor(n))).toEqual([64, 64, 64, 64, 80, 80]);
  });
});

describe('the results output', () => {
  it('says, for an image that failed after some of its tags moved, what became of each of them', () => {
    const refused = new HttpError(
      'HTTP',
      'PUT b.example/app:1 refused',
      { method: 'PUT', url: 'https://b.example/v2/app/manifests/1' },
      400,
    );
    const tags = [{ tag: 'a.example/app:1', previous: `sha256:${'1'.repeat(64)}`, outcome: 'restored' as const }];
    const error = new TagsRestoredError(refused, 'PUT b.example/app:1 refused; put back: a.example/app:1', tags);
    const results = imageResults([{ position: 'images[0]', tags: ['a.example/app:1', 'b.example/app:1'], ok: false, error }], (e) =>
      String((e as Error).message),
    );
    expect(results).toEqual([
      { tags: ['a.example/app:1', 'b.example/app:1'], error: 'PUT b.example/app:1 refused; put back: a.example/app:1', tagsPutBack: tags },
    ]);
  });
});
