// Retries under the one deadline: the retry layer alone (TransientError retried and unwrapped,
// Retry-After, no wait past the deadline, the timer cap), then through the whole client (503, 429,
// connection resets retried and counted; a 400 not; nothing sent past the deadline).
import { describe, expect, it } from '@jest/globals';
import { HttpError, NetworkError, TimeoutError, TransientError } from '../../../src/base/errors.js';
import { silentLogger } from '../../../src/base/logger.js';
import { MediaType } from '../../../src/oci/manifest.js';
import { caught } from '../../support/caught.js';
import { ORIGIN, APP, MANIFEST, MANIFEST_DIGEST, mockRegistryClient, manifestPath } from '../../support/registry-clients.js';
import { Retrier, parseRetryAfter, RETRYABLE_STATUS } from '../../../src/registry/transport/retry.js';
import { RequestCounter } from '../../../src/registry/transport/stats.js';

describe('retry layer (alone)', () => {
  const final = () => new HttpError('HTTP', 'Manifest x: unexpected response: GET u returned 503', { method: 'GET', url: 'u' }, 503);

  it('retries a TransientError, counts the retry, and unwraps `final` once attempts run out', async () => {
    const counter = new RequestCounter();
    const retrier = new Retrier({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 }, logger: silentLogger, counter });
    let calls = 0;
    const error = await caught(
      retrier.run('Manifest x', async () => {
        calls++;
        throw new TransientError(final(), 'GET returned 503');
      }),
    );
    expect(calls).toBe(3);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).not.toBeInstanceOf(TransientError);
    expect(counter.stats().retries).toBe(2);
  });

  it('never waits past the deadline: a Retry-After beyond it is a TimeoutError that says "timed out" and which wait', async () => {
    const retrier = new Retrier({
      retry: { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 60_000 },
      deadline: Date.now() + 1_000,
      logger: silentLogger,
      counter: new RequestCounter(),
    });
    const started = Date.now();
    const error = await caught(
      retrier.run(
        'Token',
        async () => {
          throw new TransientError(final(), 'busy', 30_000);
        },
        'token service',
      ),
    );
    expect(Date.now() - started).toBeLessThan(500);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).facts.wait).toBe('token service');
    expect((error as TimeoutError).summary).toContain('timed out');
  });

  it('caps a deadline signal at what a timer can hold (a huge budget does not overflow into an instant abort)', () => {
    const retrier = new Retrier({
      retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
      deadline: Date.now() + 10 * 365 * 24 * 3600 * 1000,
      logger: silentLogger,
      counter: new RequestCounter(),
    });
    const signal = retrier.signal();
    expect(signal?.aborted).toBe(false);
  });

  it('retries 408 like 429 and the 5xx gateway family; parses Retry-After seconds and dates', () => {
    expect([...RETRYABLE_STATUS].sort()).toEqual([408, 429, 500, 502, 503, 504]);
    expect(parseRetryAfter('7')).toBe(7000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('retries', () => {
  it('retries 503 and then succeeds, logging the reason and counting the retry', async () => {
    const { registry, client, logger } = mockRegistryClient();
    registry.intercept({ path: manifestPath('1.0'), method: 'GET' }).reply(503, 'busy');
    registry
      .intercept({ path: manifestPath('1.0'), method: 'GET' })
      .reply(200, MANIFEST, { headers: { 'content-type': MediaType.OciManifest } });
    const fetched = await client.fetchManifest(APP, '1.0');
    expect(fetched.digest).toBe(MANIFEST_DIGEST);
    expect(client.stats()).toEqual({ requests: 2, byKind: { 'GET manifest': 2 }, retries: 1 });
    expect(logger.lines.some((l) => l.startsWith('debug:') && l.includes('503') && l.includes('retrying'))).toBe(true);
  });

  it('honours Retry-After in seconds (capped by maxDelayMs) instead of the jittered backoff', async () => {
    const { registry, client, logger } = mockRegistryClient({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 20 } });
    registry.intercept({ path: manifestPath('1.0'), method: 'GET' }).reply(429, '', { headers: { 'retry-after': '120' } });
    registry.intercept({ path: manifestPath('1.0'), method: 'GET' }).reply(200, MANIFEST);
    await client.fetchManifest(APP, '1.0');
    expect(logger.lines.some((l) => /retrying in 20 ms \(Retry-After 120 s\)/.test(l))).toBe(true);
  });

  it('honours Retry-After as an HTTP date', async () => {
    const { registry, client, logger } = mockRegistryClient({ retry: { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 1000 } });
    registry
      .intercept({ path: manifestPath('1.0'), method: 'GET' })
      .reply(429, '', { headers: { 'retry-after': new Date(Date.now() - 60_000).toUTCString() } });
    registry.intercept({ path: manifestPath('1.0'), method: 'GET' }).reply(200, MANIFEST);
    await client.fetchManifest(APP, '1.0');
    expect(logger.lines.some((l) => /retrying in 0 ms \(Retry-After 0 s\)/.test(l))).toBe(true);
    expect(client.stats().retries).toBe(1);
  });

  it('gives up after maxAttempts with a RATE_LIMITED error', async () => {
    const { registry, client } = mockRegistryClient();
    registry
      .intercept({ path: manifestPath('1.0'), method: 'GET' })
      .reply(429, { errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] }, { headers: { 'retry-after': '0' } })
      .times(3);
    const error = (await caught(client.fetchManifest(APP, '1.0'))) as HttpError;
    expect(error.code).toBe('RATE_LIMITED');
    expect(error.message).toContain('TOOMANYREQUESTS: slow down');
    expect(client.stats()).toMatchObject({ requests: 3, retries: 2 });
  });

  it('retries a connection reset, then reports a NetworkError naming method and URL', async () => {
    const { registry, client } = mockRegistryClient();
    const reset = (): Error => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    registry.intercept({ path: manifestPath('1.0'), method: 'GET' }).replyWithError(reset());
    registry.intercept({ path: manifestPath('1.0'), method: 'GET' }).reply(200, MANIFEST);
    expect((await client.fetchManifest(APP, '1.0')).digest).toBe(MANIFEST_DIGEST);

    for (let i = 0; i < 3; i++) registry.intercept({ path: manifestPath('2.0'), method: 'GET' }).replyWithError(reset());
    const error = await caught(client.fetchManifest(APP, '2.0'));
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.message).toContain(`GET ${ORIGIN}/v2/acme/app/manifests/2.0`);
    expect(error.message).toContain('ECONNRESET');
    expect(client.stats().retries).toBe(1 + 2);
  });

  it('does not retry a 400', async () => {
    const { registry, client } = mockRegistryClient();
    registry
      .intercept({ path: manifestPath('1.0'), method: 'GET' })
      .reply(400, { errors: [{ code: 'NAME_INVALID', message: 'invalid repository name' }] });
    const error = (await caught(client.fetchManifest(APP, '1.0'))) as HttpError;
    expect(error.code).toBe('HTTP');
    expect(error.message).toContain('returned 400 Bad Request: NAME_INVALID: invalid repository name');
    expect(client.stats()).toMatchObject({ requests: 1, retries: 0 });
  });

  it('throws TimeoutError past the deadline without sending', async () => {
    const { client } = mockRegistryClient({ deadline: Date.now() - 1 });
    const error = await caught(client.fetchManifest(APP, '1.0'));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(client.stats().requests).toBe(0);
  });

  it('does not wait past the deadline for a retry', async () => {
    const { registry, client } = mockRegistryClient({
      deadline: Date.now() + 5_000,
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 120_000 },
    });
    registry.intercept({ path: manifestPath('1.0'), method: 'GET' }).reply(503, '', { headers: { 'retry-after': '60' } });
    const error = await caught(client.fetchManifest(APP, '1.0'));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).code).toBe('TIMEOUT');
    expect(error.message).toContain('503');
    expect(client.stats()).toMatchObject({ requests: 1, retries: 0 });
  });
});
