// A spec's images on one client: how many connections they share.
import { describe, expect, it } from '@jest/globals';

describe('connections for a spec', () => {
  it('8 per image in flight, at most 10 images at once: a single merge keeps the default 8', async () => {
    const { connectionsFor } = await import('../../src/engine/images.js');
    expect([1, 2, 3, 10, 20].map((n) => connectionsFor(n))).toEqual([8, 16, 24, 80, 80]);
  });
});
