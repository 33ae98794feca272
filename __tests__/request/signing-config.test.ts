// signing-config: a Sigstore signing config v0.2 gives the signer its services, the first valid now
// that this version speaks of each kind; anything it cannot sign with is refused before any request.
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIGNING_CONFIG_MEDIA_TYPE, readSigningConfig } from '../../src/request/signing-config.js';
import { thrown } from '../support/caught.js';

const DIR = mkdtempSync(join(tmpdir(), 'mm-signing-config-'));
let n = 0;
function file(config: unknown): string {
  const path = join(DIR, `config-${n++}.json`);
  writeFileSync(path, typeof config === 'string' ? config : JSON.stringify(config));
  return path;
}
const service = (url: string, majorApiVersion: number, start = '2024-01-01T00:00:00Z', end?: string) => ({
  url,
  majorApiVersion,
  validFor: { start, ...(end ? { end } : {}) },
});
const NOW = new Date('2026-06-01T00:00:00Z');
const base = {
  mediaType: SIGNING_CONFIG_MEDIA_TYPE,
  caUrls: [service('https://fulcio.example', 1)],
  tsaUrls: [service('https://tsa.example/api/v1/timestamp', 1)],
};

describe('readSigningConfig', () => {
  it('takes the first service of each kind valid now: an ended one and one not started yet are passed over', () => {
    const path = file({
      ...base,
      caUrls: [
        service('https://ended.example', 1, '2023-01-01T00:00:00Z', '2025-01-01T00:00:00Z'),
        service('https://later.example', 1, '2027-01-01T00:00:00Z'),
        service('https://fulcio.example', 1),
      ],
    });
    expect(readSigningConfig('--signing-config', path, NOW)).toEqual({
      fulcioUrl: 'https://fulcio.example/',
      tsaUrl: 'https://tsa.example/api/v1/timestamp',
    });
  });

  it('Rekor: v2 is taken over a v1 listed first; a config naming only v1 is refused, saying so', () => {
    const both = file({ ...base, rekorTlogUrls: [service('https://rekor.example', 1), service('https://log.rekor.example', 2)] });
    expect(readSigningConfig('--signing-config', both, NOW).rekorUrl).toBe('https://log.rekor.example/');
    const v1 = file({ ...base, rekorTlogUrls: [service('https://rekor.example', 1)] });
    expect(thrown(() => readSigningConfig('--signing-config', v1, NOW)).message).toContain(
      `--signing-config: "${v1}" names only Rekor v1 as its transparency log, and this version writes to Rekor v2 only`,
    );
    // unless rekor-url names the Rekor v2 to use instead
    expect(readSigningConfig('--signing-config', v1, NOW, { rekorUrlGiven: true })).not.toHaveProperty('rekorUrl');
  });

  it('refuses what it cannot sign with: no TSA, no CA valid now, another media type, not JSON, a missing file', () => {
    const noTsa = file({ ...base, tsaUrls: [] });
    expect(thrown(() => readSigningConfig('x', noTsa, NOW)).message).toMatch(/names no timestamp authority valid now/);
    const ended = file({ ...base, caUrls: [service('https://fulcio.example', 1, '2023-01-01T00:00:00Z', '2024-01-01T00:00:00Z')] });
    expect(thrown(() => readSigningConfig('x', ended, NOW)).message).toMatch(/names no certificate authority valid now/);
    const v01 = file({ ...base, mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.1+json' });
    expect(thrown(() => readSigningConfig('x', v01, NOW)).message).toMatch(/is not a signing config v0\.2/);
    expect(thrown(() => readSigningConfig('x', file('{'), NOW)).message).toMatch(/is not JSON/);
    expect(thrown(() => readSigningConfig('x', join(DIR, 'missing.json'), NOW)).message).toMatch(/no such file/);
    const ftp = file({ ...base, caUrls: [service('ftp://fulcio.example', 1)] });
    expect(thrown(() => readSigningConfig('x', ftp, NOW)).message).toMatch(/caUrls has "ftp:\/\/fulcio.example", not an http\(s\) URL/);
  });
});
