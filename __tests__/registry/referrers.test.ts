// The referrers API client (src/registry/referrers.ts) against small hostile registries: pages
// followed up to a cap, artifactType filtered here unless the registry says it filtered, and
// listings that are malformed, oversize or not JSON refused where they enter. And the pure parts:
// the fallback tag name, the fallback index merge, the listed descriptor of a referrer.
import { afterEach, describe, expect, it } from '@jest/globals';
import { InvalidManifestError, TooLargeError, adviceFor } from '../../src/base/errors.js';
import { MAX_MANIFEST_BYTES, MediaType, type Descriptor } from '../../src/oci/manifest.js';
import { createRegistryClient } from '../../src/registry/client.js';
import { MAX_REFERRERS_PAGES, fallbackTag, mergeFallbackIndex, referrerDescriptor, referrersOf } from '../../src/registry/referrers.js';
import { json, startFakeServer, type FakeServer, type Handler } from '../support/fake-registry.js';
import { anonymous } from '../support/registry-clients.js';
import { hex } from '../support/digests.js';
import { ACTION_WORDS } from '../../src/action/wording.js';
import { CLI_WORDS } from '../../src/cli/wording.js';

const servers: FakeServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const SUBJECT = `sha256:${hex(1)}`;
const SIG = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const SPDX = 'application/spdx+json';
const referrer = (n: number, artifactType?: string): Descriptor => ({
  mediaType: MediaType.OciManifest,
  digest: `sha256:${hex(n)}`,
  size: 400 + n,
  ...(artifactType ? { artifactType } : {}),
});
const index = (manifests: unknown[]) => ({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests });

async function listWith(handler: Handler, artifactType?: string) {
  const server = await startFakeServer(handler);
  servers.push(server);
  const client = createRegistryClient({ credentials: anonymous, retry: { maxAttempts: 1 } });
  try {
    const result = await client.listReferrers!({ registry: server.host, repository: 'acme/app' }, SUBJECT, artifactType).then(
      (listing) => ({ listing, error: undefined }),
      (error: unknown) => ({ listing: undefined, error }),
    );
    return { ...result, server };
  } finally {
    await client.close();
  }
}

describe('Referrers.list', () => {
  it('404: no API (the caller reads the fallback tag)', async () => {
    const { listing } = await listWith((_req, res) => json(res, 404, { errors: [{ code: 'NOT_FOUND' }] }));
    expect(listing).toEqual({ api: false });
  });

  it('asks a registry once whether it serves the API: one 404 settles it for every later and concurrent lookup', async () => {
    const server = await startFakeServer((_req, res) => json(res, 404, { errors: [{ code: 'NOT_FOUND' }] }));
    servers.push(server);
    const client = createRegistryClient({ credentials: anonymous, retry: { maxAttempts: 1 } });
    try {
      const subjects = [1, 2, 3, 4].map((n) => `sha256:${hex(n)}`);
      const concurrent = await Promise.all(
        subjects.map((subject) => client.listReferrers!({ registry: server.host, repository: 'acme/app' }, subject)),
      );
      expect(concurrent).toEqual(subjects.map(() => ({ api: false })));
      expect(await client.listReferrers!({ registry: server.host, repository: 'acme/other' }, `sha256:${hex(5)}`)).toEqual({ api: false });
      expect(server.requests).toHaveLength(1);
      expect(client.stats().byKind['GET referrers']).toBe(1);
    } finally {
      await client.close();
    }
  });

  it('follows Link rel="next" pages, in order', async () => {
    const { listing, server } = await listWith((_req, res, url) => {
      const page = Number(url.searchParams.get('page') ?? '0');
      const headers: Record<string, string> = page < 2 ? { link: `</v2/acme/app/referrers/${SUBJECT}?page=${page + 1}>; rel="next"` } : {};
      json(res, 200, index([referrer(10 + page, SIG)]), { 'content-type': MediaType.OciIndex, ...headers });
    });
    expect(listing).toEqual({ api: true, descriptors: [referrer(10, SIG), referrer(11, SIG), referrer(12, SIG)] });
    expect(server.requests.map((r) => r.path)).toEqual([
      `/v2/acme/app/referrers/${SUBJECT}`,
      `/v2/acme/app/referrers/${SUBJECT}?page=1`,
      `/v2/acme/app/referrers/${SUBJECT}?page=2`,
    ]);
  });

  it(`refuses a listing of more than ${MAX_REFERRERS_PAGES} pages (a registry that links forever)`, async () => {
    const { error, server } = await listWith((_req, res, url) => {
      const page = Number(url.searchParams.get('page') ?? '0');
      json(res, 200, index([referrer(100 + page)]), {
        'content-type': MediaType.OciIndex,
        link: `</v2/acme/app/referrers/${SUBJECT}?page=${page + 1}>; rel="next"`,
      });
    });
    expect(error).toBeInstanceOf(TooLargeError);
    expect((error as Error).message).toContain(`lists more than ${MAX_REFERRERS_PAGES} pages of referrers`);
    expect(server.requests).toHaveLength(MAX_REFERRERS_PAGES);
  });

  it('artifactType: asked for, and filtered here when the registry does not say OCI-Filters-Applied', async () => {
    const all = index([referrer(10, SIG), referrer(11, SPDX), referrer(12)]);
    const unfiltered = await listWith((_req, res) => json(res, 200, all, { 'content-type': MediaType.OciIndex }), SPDX);
    expect(unfiltered.server.requests[0].path).toBe(`/v2/acme/app/referrers/${SUBJECT}?artifactType=${encodeURIComponent(SPDX)}`);
    expect(unfiltered.listing).toEqual({ api: true, descriptors: [referrer(11, SPDX)] });
    // the registry says it filtered: its answer is taken as it is
    const filtered = await listWith(
      (_req, res) =>
        json(res, 200, index([referrer(11, SPDX), referrer(13, SIG)]), {
          'content-type': MediaType.OciIndex,
          'oci-filters-applied': 'artifactType',
        }),
      SPDX,
    );
    expect(filtered.listing).toEqual({ api: true, descriptors: [referrer(11, SPDX), referrer(13, SIG)] });
    // no filter asked: everything
    const none = await listWith((_req, res) => json(res, 200, all, { 'content-type': MediaType.OciIndex }));
    expect(none.server.requests[0].path).toBe(`/v2/acme/app/referrers/${SUBJECT}`);
    expect(none.listing).toEqual({ api: true, descriptors: all.manifests });
  });

  it.each([
    ['a digest that is not a digest', { mediaType: MediaType.OciManifest, digest: '../../etc/passwd', size: 1 }],
    ['a negative size', { mediaType: MediaType.OciManifest, digest: `sha256:${hex(5)}`, size: -1 }],
    ['a size over the manifest limit', { mediaType: MediaType.OciManifest, digest: `sha256:${hex(5)}`, size: MAX_MANIFEST_BYTES + 1 }],
    ['no mediaType', { digest: `sha256:${hex(5)}`, size: 1 }],
    ['annotations that are not strings', { mediaType: MediaType.OciManifest, digest: `sha256:${hex(5)}`, size: 1, annotations: { a: 1 } }],
    ['an artifactType that is not a string', { mediaType: MediaType.OciManifest, digest: `sha256:${hex(5)}`, size: 1, artifactType: 7 }],
    ['null', null],
  ])('refuses a listing with %s', async (_label, bad) => {
    const { error } = await listWith((_req, res) => json(res, 200, index([referrer(10), bad]), { 'content-type': MediaType.OciIndex }));
    expect(error).toBeInstanceOf(InvalidManifestError);
    expect((error as Error).message).toContain('the registry lists a referrer that is not a valid manifest descriptor');
  });

  // olareg v0.1.2 (regclient's registry) answers a subject without referrers with
  // {"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":null}: Go's
  // encoding/json writes a nil slice as null, and Go clients (regctl, crane) read it back as empty.
  it('reads "manifests": null as an empty listing (olareg v0.1.2 for a subject without referrers)', async () => {
    const { listing, error } = await listWith((_req, res) =>
      json(res, 200, { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: null }, { 'content-type': MediaType.OciIndex }),
    );
    expect(error).toBeUndefined();
    expect(listing).toEqual({ api: true, descriptors: [] });
  });

  it.each([
    ['no mediaType', { schemaVersion: 2, manifests: [referrer(10, SIG)] }],
    ['no schemaVersion', { mediaType: MediaType.OciIndex, manifests: [referrer(10, SIG)] }],
    ['neither, and "manifests": null', { manifests: null }],
  ])('takes a listing with %s: the manifests say what it lists', async (label, body) => {
    const { listing, error } = await listWith((_req, res) => json(res, 200, body, { 'content-type': MediaType.OciIndex }));
    expect(error).toBeUndefined();
    expect(listing).toEqual({ api: true, descriptors: label.endsWith('null') ? [] : [referrer(10, SIG)] });
  });

  it.each([
    ['a body that is an array', [referrer(10, SIG)]],
    ['a body that is a string', 'manifests'],
    ['a body that is null', null],
    ['no manifests at all', { schemaVersion: 2, mediaType: MediaType.OciIndex }],
    ['manifests that are an object', { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: { 0: referrer(10, SIG) } }],
    ['manifests that are a string', { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: '' }],
  ])('refuses a listing with %s, and says how to go on without referrers', async (_label, body) => {
    const { error } = await listWith((_req, res) => json(res, 200, body, { 'content-type': MediaType.OciIndex }));
    expect(error).toBeInstanceOf(InvalidManifestError);
    expect((error as Error).message).toContain(`Referrers of 127.0.0.1`);
    expect(adviceFor(error, ACTION_WORDS)).toContain('set input `referrers` to `skip`');
    expect(adviceFor(error, CLI_WORDS)).toContain('set --referrers to `skip`');
  });

  it('every refusal of a listing names the way out: referrers skip (malformed entry, not JSON, too large)', async () => {
    const entry = await listWith((_req, res) => json(res, 200, index([{ digest: 'nope' }]), { 'content-type': MediaType.OciIndex }));
    const notJson = await listWith((_req, res) => {
      res.writeHead(200, { 'content-type': MediaType.OciIndex });
      res.end('<html>');
    });
    const tooLarge = await listWith((_req, res) => {
      res.writeHead(200, { 'content-type': MediaType.OciIndex, 'content-length': String(MAX_MANIFEST_BYTES + 1) });
      res.end();
    });
    for (const { error } of [entry, notJson, tooLarge]) {
      expect(adviceFor(error, ACTION_WORDS)).toContain('set input `referrers` to `skip`');
      expect(adviceFor(error, CLI_WORDS)).toContain('set --referrers to `skip`');
      expect(adviceFor(error, CLI_WORDS)).not.toContain('{');
    }
  });

  it('refuses a listing without a manifests array, one that is not JSON, and one over the size limit', async () => {
    expect((await listWith((_req, res) => json(res, 200, { schemaVersion: 2 }))).error).toBeInstanceOf(InvalidManifestError);
    const notJson = await listWith((_req, res) => {
      res.writeHead(200, { 'content-type': MediaType.OciIndex });
      res.end('<html>');
    });
    expect((notJson.error as Error).message).toContain('a body that is not JSON');
    const declared = await listWith((_req, res) => {
      res.writeHead(200, { 'content-type': MediaType.OciIndex, 'content-length': String(MAX_MANIFEST_BYTES + 1) });
      res.end();
    });
    expect(declared.error).toBeInstanceOf(TooLargeError);
    const streamed = await listWith((_req, res) => {
      res.writeHead(200, { 'content-type': MediaType.OciIndex });
      res.end(Buffer.alloc(MAX_MANIFEST_BYTES + 10, 0x20));
    });
    expect(streamed.error).toBeInstanceOf(TooLargeError);
  });
});

describe('fallback tags and referrer descriptors', () => {
  it('names the fallback tag <alg>-<hex>, and refuses what is not a digest', () => {
    expect(fallbackTag(SUBJECT)).toBe(`sha256-${hex(1)}`);
    expect(() => fallbackTag('latest')).toThrow(InvalidManifestError);
  });

  it('merges into a fallback index: entries already there kept, in order; each new digest once; unchanged when nothing is new', () => {
    const theirs = [referrer(20, SIG), referrer(21)];
    const merged = mergeFallbackIndex(theirs, [referrer(21), referrer(22, SPDX), referrer(22, SPDX)]);
    expect(merged.index.manifests).toEqual([referrer(20, SIG), referrer(21), referrer(22, SPDX)]);
    expect(merged.changed).toBe(true);
    expect(JSON.parse(merged.bytes.toString('utf8'))).toEqual(merged.index);
    expect(mergeFallbackIndex(theirs, [referrer(20, SIG)]).changed).toBe(false);
    // no tag yet: created even for an empty list
    expect(mergeFallbackIndex(undefined, [referrer(30)]).index.manifests).toEqual([referrer(30)]);
  });

  it('lists a referrer under its artifactType, else its config media type (OCI 1.1), with its annotations', () => {
    const config = { mediaType: MediaType.OciConfig, digest: `sha256:${hex(2)}`, size: 2 };
    expect(
      referrerDescriptor(
        { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [] },
        MediaType.OciManifest,
        `sha256:${hex(3)}`,
        9,
      ),
    ).toEqual({
      mediaType: MediaType.OciManifest,
      digest: `sha256:${hex(3)}`,
      size: 9,
      artifactType: MediaType.OciConfig,
    });
    expect(
      referrerDescriptor(
        { schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType: SIG, config, layers: [], annotations: { a: 'b' } },
        MediaType.OciManifest,
        `sha256:${hex(3)}`,
        9,
      ),
    ).toMatchObject({ artifactType: SIG, annotations: { a: 'b' } });
  });

  it('referrersOf checks every entry', () => {
    expect(referrersOf(index([referrer(1, SIG)]), 'x')).toEqual([referrer(1, SIG)]);
    expect(() => referrersOf(index([{ digest: 'nope' }]), 'x')).toThrow(InvalidManifestError);
  });

  it('referrersOf reads "manifests": null as empty, as for a fallback tag pushed by a Go client', () => {
    expect(referrersOf({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: null }, 'x')).toEqual([]);
    expect(() => referrersOf({ schemaVersion: 2, mediaType: MediaType.OciIndex }, 'x')).toThrow(InvalidManifestError);
    expect(() => referrersOf(null, 'x')).toThrow(InvalidManifestError);
  });
});
