// Flaky registries: the real docker-registry behind the fault-injecting proxy. Transient faults
// (503, 429 with Retry-After, resets, truncated bodies) are ridden through; permanent ones fail
// with the status in the message and leave every tag exactly as it was; wrong bytes are refused
// and never written; the `timeout` budget ends a registry that never recovers.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DigestMismatchError, HttpError, NetworkError, TimeoutError } from '../../src/base/errors.js';
import type { RetryOptions } from '../../src/registry/client-types.js';
import { type FaultProxy, type FaultRule, startFaultProxy } from '../../scripts/support/fault-proxy.js';
import { sha256 } from '../../scripts/support/fixtures/media.js';
import { getManifest, hasBlob, hasManifest } from '../../scripts/support/fixtures/client.js';
import { pushOciImage, type PushedImage } from '../../scripts/support/fixtures/images.js';
import { seedCase, type SeedCase } from '../../scripts/support/fixtures/cases.js';
import { type RunningRegistry, startRegistry } from '../../scripts/support/registry.js';
import { skopeoCopyAllToOciLayout } from '../../scripts/support/skopeo.js';
import { merge, mergeFailure } from './harness.js';

/** Short delays, enough attempts that a 20% fault rate never exhausts them. */
const FAST_RETRY: RetryOptions = { maxAttempts: 10, baseDelayMs: 5, maxDelayMs: 50 };
const WRITES = /^(PUT|POST|PATCH|DELETE) /;

/** mulberry32: a small seeded generator, so the proxy's fault choices repeat from run to run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** About one request in five fails, each in one of the ways flaky registries fail. */
const TRANSIENT_MIX: FaultRule[] = [
  { probability: 0.06, fault: { kind: 'status', status: 503 } },
  { probability: 0.06, fault: { kind: 'status', status: 429, retryAfter: '1' } },
  { probability: 0.05, fault: { kind: 'reset' } },
  { method: 'GET', probability: 0.05, fault: { kind: 'truncate', bytes: 16 } },
  { method: 'GET', probability: 0.05, fault: { kind: 'truncate', bytes: 16, reset: true } },
];

let source: RunningRegistry;
let target: RunningRegistry;
let proxy: FaultProxy;
let targetProxy: FaultProxy;
let seed: SeedCase;
let big: PushedImage;
// one generator per proxy, reseeded before each test
let randoms = [seeded(1), seeded(2)];

beforeAll(async () => {
  [source, target] = await Promise.all([startRegistry({ name: 'faults-source' }), startRegistry({ name: 'faults-target' })]);
  [proxy, targetProxy] = await Promise.all([
    startFaultProxy({ target: source.url, random: () => randoms[0]() }),
    startFaultProxy({ target: target.url, random: () => randoms[1]() }),
  ]);
  [seed, big] = await Promise.all([
    seedCase(source),
    // layers of ~256 KiB: a body that arrives in several chunks, so a fault can land mid-stream
    pushOciImage(source, 'acme/big', 'v1', { platform: 'linux/amd64', seed: 'faults-big', layers: 2, layerSize: 256 * 1024 }),
  ]);
});

afterEach(() => {
  for (const p of [proxy, targetProxy]) {
    p.setRules([]);
    p.reset();
  }
  randoms = [seeded(1), seeded(2)];
});

afterAll(async () => {
  await Promise.all([proxy?.stop(), targetProxy?.stop()]);
  await Promise.all([source?.stop(), target?.stop()]);
});

/** The seed case's sources, read through the proxy. */
function sources(): string {
  return seed.sources.map((s) => s.replace(source.host, proxy.host)).join('\n');
}

async function copyAll(ref: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'mm-faults-layout-'));
  await skopeoCopyAllToOciLayout(ref, dir, { tlsVerify: false });
}

/** Puts an index on `repository:tag` (a plain merge of the amd64 source alone) and returns its digest. */
async function oldTag(repository: string, tag: string): Promise<string> {
  const { result } = await merge({ sources: seed.sources[0], tags: `${source.host}/${repository}:${tag}` });
  return result.digest;
}

async function tagDigest(registry: RunningRegistry, repository: string, tag: string): Promise<string> {
  return (await getManifest(registry, repository, tag)).digest;
}

/** The Alter fault's change: the hex digit after the first `sha256:` flips between 0 and 1 (anything else becomes 0). */
function altered(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  const at = copy.indexOf('sha256:') + 7;
  copy[at] = copy[at] === 0x30 ? 0x31 : 0x30;
  return copy;
}

function faultCount(...proxies: FaultProxy[]): { faulted: number; total: number } {
  let faulted = 0;
  let total = 0;
  for (const p of proxies) {
    const counts = p.counts();
    total += counts.total;
    faulted += Object.values(counts.faults).reduce((a, b) => a + b, 0);
  }
  return { faulted, total };
}

function retryLines(logs: string[]): string[] {
  return logs.filter((l) => l.startsWith('debug:') && /: attempt \d+ of \d+ failed: .+; retrying in \d+ ms/.test(l));
}

describe('transient faults on about 20% of requests', () => {
  it('a cross-repository merge (the seed case) completes, retrying each fault, and the index is whole', async () => {
    const clean = await merge({ sources: seed.sources.join('\n'), tags: `${source.host}/acme/flaky-reference:1`, push: 'false' });
    proxy.setRules(TRANSIENT_MIX);
    // three target repositories: more requests, so the fault rate means something
    const repositories = ['acme/flaky-a', 'acme/flaky-b', 'acme/flaky-c'];
    const { result, logs } = await merge(
      { sources: sources(), tags: repositories.map((r) => `${proxy.host}/${r}:1`).join('\n') },
      { retry: FAST_RETRY },
    );

    const { faulted, total } = faultCount(proxy);
    expect(faulted / total).toBeGreaterThan(0.1);
    expect(faulted / total).toBeLessThan(0.35);
    // A 404 whose body was cut short is still a 404: the referrers look-up reads a fallback tag that
    // is not there, and the status is the whole answer. Not so the referrers API's own 404, whose
    // body is read whole (src/registry/referrers.ts: one cut short is a failed answer, retried, not
    // "no API"). Every other fault cost exactly one retry (here each attempt is one request), each
    // logged at debug with its reason.
    const harmless = proxy.requests().filter((r) => r.fault === 'truncate' && r.status === 404 && r.kind !== 'GET referrers').length;
    expect(result.requests.retries).toBe(faulted - harmless);
    const lines = retryLines(logs);
    expect(lines).toHaveLength(result.requests.retries);
    expect(lines.some((l) => /returned 503 Service Unavailable/.test(l) || /returned 429 Too Many Requests/.test(l))).toBe(true);

    expect(result.digest).toBe(clean.result.digest);
    for (const repository of repositories) expect(await tagDigest(source, repository, '1')).toBe(result.digest);
    await copyAll(`${source.host}/${repositories[2]}:1`);
  });

  it('a cross-registry copy (blobs streamed between two registries) completes too', async () => {
    proxy.setRules(TRANSIENT_MIX);
    targetProxy.setRules(TRANSIENT_MIX);
    const { result, logs } = await merge({ sources: sources(), tags: `${targetProxy.host}/acme/flaky-copy:1` }, { retry: FAST_RETRY });
    const { faulted, total } = faultCount(proxy, targetProxy);
    expect(faulted / total).toBeGreaterThan(0.1);
    expect(faulted / total).toBeLessThan(0.35);
    // a failed request restarts its whole copy (GET + POST + PUT); two faults in one attempt cost one retry
    expect(result.requests.retries).toBeGreaterThan(0);
    expect(result.requests.retries).toBeLessThanOrEqual(faulted);
    expect(retryLines(logs)).toHaveLength(result.requests.retries);
    expect(result.targets[0].blobs.copied).toBeGreaterThanOrEqual(2 * 4);
    expect(await tagDigest(target, 'acme/flaky-copy', '1')).toBe(result.digest);
    await copyAll(`${target.host}/acme/flaky-copy:1`);
  });
});

describe('a permanent failure leaves every tag exactly as it was', () => {
  it('a 500 on the index PUT fails with the status in the message; the old tag still points at the old index', async () => {
    const before = await oldTag('acme/guarded', 'live');
    proxy.setRules([
      {
        method: 'PUT',
        path: /^\/v2\/acme\/guarded\/manifests\/live$/,
        fault: {
          kind: 'status',
          status: 500,
          body: JSON.stringify({ errors: [{ code: 'UNKNOWN', message: 'storage backend unavailable' }] }),
        },
      },
    ]);
    const { error, message } = await mergeFailure({ sources: sources(), tags: `${proxy.host}/acme/guarded:live` }, { retry: FAST_RETRY });

    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).status).toBe(500);
    expect(message).toBe(
      `Manifest ${proxy.host}/acme/guarded:live: unexpected response (UNKNOWN): PUT ${proxy.url}/v2/acme/guarded/manifests/live returned 500 Internal Server Error: UNKNOWN: storage backend unavailable. ` +
        'The registry kept failing with a server error after retries with backoff; check its status and re-run the job',
    );
    // retried as often as allowed (a manifest PUT is idempotent), then given up
    const puts = proxy.requests().filter((r) => r.method === 'PUT' && r.path === '/v2/acme/guarded/manifests/live');
    expect(puts).toHaveLength(FAST_RETRY.maxAttempts!);
    expect(await tagDigest(source, 'acme/guarded', 'live')).toBe(before);
  });

  it('a mount that keeps failing stops the merge before any manifest is written; the old tag is untouched', async () => {
    const before = await oldTag('acme/guarded-mount', 'live');
    proxy.setRules([{ requestKind: 'POST mount', fault: { kind: 'reset' } }]);
    const { error, message } = await mergeFailure(
      { sources: sources(), tags: `${proxy.host}/acme/guarded-mount:live` },
      { retry: FAST_RETRY },
    );

    expect(error).toBeInstanceOf(NetworkError);
    expect(message).toMatch(
      new RegExp(
        `^Blob sha256:[0-9a-f]{64} \\(mount from ${proxy.host}/acme/github-runner-(amd|arm)64 into ${proxy.host}/acme/guarded-mount\\): ` +
          `POST ${proxy.url}/v2/acme/guarded-mount/blobs/uploads/\\?mount=sha256%3A[0-9a-f]{64}&from=acme%2Fgithub-runner-(amd|arm)64: the request failed: .*(ECONNRESET|other side closed|socket hang up).*\\. ` +
          "Connection failures are retried with backoff; this one persisted\\. Check the network path to the registry \\(proxy, firewall, VPN\\) and the registry's status, then re-run the job$",
      ),
    );
    // the first mount to fail was tried every time allowed
    expect(proxy.requests().filter((r) => r.kind === 'POST mount').length).toBeGreaterThanOrEqual(FAST_RETRY.maxAttempts!);
    expect(proxy.requests().filter((r) => r.kind === 'PUT manifest')).toEqual([]);
    expect(await tagDigest(source, 'acme/guarded-mount', 'live')).toBe(before);
  });
});

describe('wrong bytes are refused and nothing is written', () => {
  it.each([
    ['by tag', 'focal', (s: SeedCase) => s.amd64.digest, ' (Docker-Content-Digest)'],
    ['a child, by digest', 'sha256:', (s: SeedCase) => s.amd64.imageDigest, ''],
  ])('an altered source manifest (%s) names the image, the expected and the actual digest', async (_label, reference, expectedOf, via) => {
    const expected = expectedOf(seed);
    const ref = reference === 'focal' ? 'focal' : expected;
    const original = await getManifest(source, 'acme/github-runner-amd64', ref);
    const actual = sha256(altered(original.bytes));
    proxy.setRules([{ method: 'GET', path: new RegExp(`^/v2/acme/github-runner-amd64/manifests/${ref}$`), fault: { kind: 'alter' } }]);
    const repository = `acme/altered-${reference === 'focal' ? 'tag' : 'child'}`;
    const { error, message } = await mergeFailure({ sources: sources(), tags: `${proxy.host}/${repository}:x` }, { retry: FAST_RETRY });

    expect(error).toBeInstanceOf(DigestMismatchError);
    const image = `${proxy.host}/acme/github-runner-amd64${ref === 'focal' ? ':focal' : `@${ref}`}`;
    expect(message).toBe(
      `Manifest ${image}${via}: content digest mismatch: expected ${expected}, got ${actual}. ` +
        'The registry (or something between it and this runner) served altered or truncated bytes; nothing was written. Retry, and if it persists check proxies and the registry storage',
    );
    // never retried (wrong bytes are not a transient fault), and nothing written anywhere
    expect(proxy.requests().filter((r) => r.kind === 'GET manifest' && r.fault === 'alter')).toHaveLength(1);
    expect(proxy.requests().filter((r) => WRITES.test(r.kind))).toEqual([]);
    expect(await hasManifest(source, repository, 'x')).toBe(false);
  });
});

describe('blobs damaged in a cross-registry copy are never committed', () => {
  const layerPath = (digest: string) => new RegExp(`^/v2/acme/big/blobs/${digest}$`);
  const bigSource = () => `${proxy.host}/acme/big:v1`;

  it('a body cut short (FIN, then RST) is retried from the start, and the copy completes', async () => {
    const layer = big.layers[0];
    proxy.setRules([
      { requestKind: 'GET blob', path: layerPath(layer.digest), times: 1, fault: { kind: 'truncate', bytes: 100_000 } },
      { requestKind: 'GET blob', path: layerPath(layer.digest), times: 1, fault: { kind: 'truncate', bytes: 150_000, reset: true } },
    ]);
    const { result, logs } = await merge({ sources: bigSource(), tags: `${targetProxy.host}/acme/big-copy:1` }, { retry: FAST_RETRY });
    expect(result.requests.retries).toBe(2);
    expect(retryLines(logs).filter((l) => l.includes(layer.digest))).toHaveLength(2);
    expect(
      proxy
        .requests()
        .filter((r) => r.kind === 'GET blob' && layerPath(layer.digest).test(r.path))
        .map((r) => r.fault),
    ).toEqual(['truncate', 'truncate', undefined]);
    expect(await hasBlob(target, 'acme/big-copy', layer.digest)).toBe(true);
    await copyAll(`${target.host}/acme/big-copy:1`);
  });

  it('an altered body fails the copy with a digest error naming the blob; the blob and the tag are not in the target', async () => {
    const layer = big.layers[1];
    proxy.setRules([{ requestKind: 'GET blob', path: layerPath(layer.digest), fault: { kind: 'alter' } }]);
    const { error, message } = await mergeFailure(
      { sources: bigSource(), tags: `${targetProxy.host}/acme/big-altered:1` },
      { retry: FAST_RETRY },
    );
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect(message).toMatch(
      new RegExp(
        `^Blob ${layer.digest} from ${proxy.host}/acme/big: content digest mismatch: expected ${layer.digest}, got sha256:(?!${layer.digest.slice(7)})[0-9a-f]{64}\\. The registry`,
      ),
    );
    expect(proxy.requests().filter((r) => r.fault === 'alter')).toHaveLength(1);
    expect(await hasBlob(target, 'acme/big-altered', layer.digest)).toBe(false);
    expect(await hasManifest(target, 'acme/big-altered', '1')).toBe(false);
    expect(await hasManifest(target, 'acme/big-altered', big.digest)).toBe(false);
  });

  it('a body that is always cut short ends in a network error after every attempt; nothing is committed', async () => {
    const layer = big.layers[1];
    proxy.setRules([{ requestKind: 'GET blob', path: layerPath(layer.digest), fault: { kind: 'truncate', bytes: 100_000 } }]);
    const { error, message } = await mergeFailure(
      { sources: bigSource(), tags: `${targetProxy.host}/acme/big-truncated:1` },
      { retry: FAST_RETRY },
    );
    expect(error).toBeInstanceOf(NetworkError);
    expect(message).toMatch(
      new RegExp(
        `^Blob ${layer.digest} of ${proxy.host}/acme/big: GET ${proxy.url}/v2/acme/big/blobs/${layer.digest}: reading the blob failed: .*(other side closed|ECONNRESET|terminated).*\\. Connection failures are retried`,
      ),
    );
    expect(proxy.requests().filter((r) => r.fault === 'truncate')).toHaveLength(FAST_RETRY.maxAttempts!);
    expect(await hasBlob(target, 'acme/big-truncated', layer.digest)).toBe(false);
    expect(await hasManifest(target, 'acme/big-truncated', '1')).toBe(false);
  });
});

describe('rate limits and the time budget', () => {
  it('429 with Retry-After (seconds, or an HTTP date) waits what the registry asked, then retries the same request', async () => {
    const path = /^\/v2\/acme\/github-runner-arm64\/manifests\/focal$/;
    proxy.setRules([
      { method: 'GET', path, times: 1, fault: { kind: 'status', status: 429, retryAfter: '1' } },
      { method: 'GET', path, times: 1, fault: { kind: 'status', status: 429, retryAfter: new Date(Date.now() - 5_000).toUTCString() } },
    ]);
    const { result, logs } = await merge(
      { sources: sources(), tags: `${proxy.host}/acme/rate-limited:1`, push: 'false' },
      { retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 2_000 } },
    );
    const what = `Manifest ${proxy.host}/acme/github-runner-arm64:focal`;
    expect(retryLines(logs)).toEqual([
      `debug: ${what}: attempt 1 of 3 failed: GET returned 429 Too Many Requests; retrying in 1000 ms (Retry-After 1 s)`,
      `debug: ${what}: attempt 2 of 3 failed: GET returned 429 Too Many Requests; retrying in 0 ms (Retry-After 0 s)`,
    ]);
    expect(
      proxy
        .requests()
        .filter((r) => path.test(r.path))
        .map((r) => r.status),
    ).toEqual([429, 429, 200]);
    expect(result.requests.retries).toBe(2);
  });

  it('a request that hangs is cut off by the per-request timeout and retried', async () => {
    const path = /^\/v2\/acme\/github-runner-amd64\/manifests\/focal$/;
    proxy.setRules([{ method: 'GET', path, times: 1, fault: { kind: 'delay', ms: 3_000 } }]);
    const { result, logs } = await merge(
      { sources: sources(), tags: `${proxy.host}/acme/hung:1`, push: 'false' },
      { retry: FAST_RETRY, requestTimeoutMs: 300 },
    );
    expect(result.requests.retries).toBe(1);
    expect(retryLines(logs)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^debug: Manifest ${proxy.host}/acme/github-runner-amd64:focal: attempt 1 of 10 failed: GET failed: .*(UND_ERR_HEADERS_TIMEOUT|Headers Timeout)`,
        ),
      ),
    ]);
    expect(
      proxy
        .requests()
        .filter((r) => path.test(r.path))
        .map((r) => r.fault),
    ).toEqual(['delay', undefined]);
  });

  it('a registry that answers 503 to everything ends in a TimeoutError within the `timeout` budget', async () => {
    proxy.setRules([{ fault: { kind: 'status', status: 503 } }]);
    const { error, message } = await mergeFailure(
      { sources: sources(), tags: `${proxy.host}/acme/never:1`, timeout: '1s' },
      { retry: { maxAttempts: 1_000_000, baseDelayMs: 5, maxDelayMs: 50 } },
    );
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).code).toBe('TIMEOUT');
    // whichever read met the end of the budget: waiting to retry, about to send, or in flight
    expect(message).toMatch(
      new RegExp(
        `^Manifest ${proxy.host}/acme/github-runner-(amd|arm)64:focal: .*(returned 503 Service Unavailable.*timed out: no time left to retry within the time budget|timed out: the time budget ran out before the request to the registry could be made|timed out: no answer from the registry within the time budget)\\)?\\. `,
      ),
    );
    expect((error as TimeoutError).facts.wait).toBe('registry');
    expect(message).toMatch(
      /\. The step must finish within its time budget \(input `timeout`; default 10m\)\. Check the registry's status page and retry later, or raise the budget$/,
    );
    expect(proxy.counts().total).toBeGreaterThan(2);
  });
});
