// Response bodies: read whole up to a limit, or thrown away. The one reader of a body with a byte
// limit (manifests, small blobs, referrers listings, token responses, error bodies), so that a
// hostile or broken registry can never make us hold more than the limit.
import type { ResponseBody } from './http.js';

/** What reading a body up to a limit got. */
export interface BoundedBody {
  /** the body, or its first `limit` bytes when it was longer, or what arrived before it failed */
  bytes: Buffer;
  /** the body was longer than the limit: the rest was not read, and the stream is destroyed */
  overLimit: boolean;
  /** the body failed while being read (reset, deadline): `bytes` is what arrived before */
  error?: unknown;
}

/**
 * Reads a body up to `limit` bytes. Never rejects: a body longer than the limit is cut off there
 * (`overLimit`), a body that fails mid-way gives what arrived (`error`); each caller decides what
 * that means for it.
 */
export async function readBounded(body: ResponseBody, limit: number): Promise<BoundedBody> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (total + chunk.length > limit) {
        chunks.push(chunk.subarray(0, limit - total));
        total = limit;
        body.destroy();
        return { bytes: Buffer.concat(chunks, total), overLimit: true };
      }
      chunks.push(chunk);
      total += chunk.length;
    }
  } catch (error) {
    return { bytes: Buffer.concat(chunks, total), overLimit: false, error };
  }
  return { bytes: Buffer.concat(chunks, total), overLimit: false };
}

/** Discards a body we do not need, so the connection can be reused. */
export async function discard(body: ResponseBody, limit = 64 * 1024): Promise<void> {
  try {
    if (body.dump) await body.dump({ limit });
    else body.destroy();
  } catch {
    // a body we throw away may fail; nothing to report
  }
}
