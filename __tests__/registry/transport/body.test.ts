// The one bounded body reader: whole bodies under the limit, a body over it cut off there (and its
// stream destroyed), a body failing mid-way giving what arrived; and a discarded body.
import { describe, expect, it } from '@jest/globals';
import { Readable } from 'node:stream';
import { discard, readBounded } from '../../../src/registry/transport/body.js';
import type { ResponseBody } from '../../../src/registry/transport/http.js';

const body = (...chunks: Array<Buffer | Error>): ResponseBody =>
  Readable.from(
    (async function* () {
      for (const chunk of chunks) {
        if (chunk instanceof Error) throw chunk;
        yield chunk;
      }
    })(),
    { objectMode: false },
  );

describe('readBounded', () => {
  it('reads a body up to and including the limit whole', async () => {
    expect(await readBounded(body(Buffer.from('abc'), Buffer.from('def')), 6)).toEqual({ bytes: Buffer.from('abcdef'), overLimit: false });
    expect(await readBounded(body(), 6)).toEqual({ bytes: Buffer.alloc(0), overLimit: false });
  });

  it('stops at the limit: the first `limit` bytes, overLimit, and the stream destroyed', async () => {
    const stream = body(Buffer.from('abcd'), Buffer.from('efgh'), Buffer.from('ijkl'));
    const read = await readBounded(stream, 6);
    expect(read).toEqual({ bytes: Buffer.from('abcdef'), overLimit: true });
    expect(stream.destroyed).toBe(true);
  });

  it('never rejects: a body failing mid-way gives what arrived, and the error', async () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const read = await readBounded(body(Buffer.from('abc'), reset), 100);
    expect(read.bytes).toEqual(Buffer.from('abc'));
    expect(read.overLimit).toBe(false);
    expect(read.error).toBe(reset);
  });
});

describe('discard', () => {
  it('dumps a body that can be dumped, destroys one that cannot, and never throws', async () => {
    let dumped: unknown;
    const dumpable = Object.assign(body(Buffer.from('x')), { dump: async (options?: { limit?: number }) => void (dumped = options) });
    await discard(dumpable, 10);
    expect(dumped).toEqual({ limit: 10 });
    const plain = body(Buffer.from('x'));
    await discard(plain);
    expect(plain.destroyed).toBe(true);
    const failing = Object.assign(body(), { dump: () => Promise.reject(new Error('socket closed')) });
    await expect(discard(failing)).resolves.toBeUndefined();
  });
});
