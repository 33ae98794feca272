// Content digests (src/oci/digest.ts): the grammar of the OCI image spec, sha256 of bytes, and
// checking bytes against a digest in an algorithm this tool can verify.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { DigestMismatchError, UnsupportedMediaTypeError } from '../../src/base/errors.js';
import { createDigester, digestAlgorithm, isDigest, isSha256Digest, sha256Digest, verifyDigest } from '../../src/oci/digest.js';
import { thrown } from '../support/caught.js';
import { filledDigest as digest } from '../support/digests.js';

const ABC_SHA256 = 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
const ABC_SHA512 =
  'sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f';

describe('digests', () => {
  it.each<[string, Uint8Array, string]>([
    ['empty', new Uint8Array(0), 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ['"abc" (FIPS 180-2 test vector)', Buffer.from('abc'), 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
    [
      '"abc" as a view into a larger buffer',
      new Uint8Array(Buffer.from('xabcx')).subarray(1, 4),
      'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    ],
  ])('sha256Digest(%s) = %s', (_name, input, expected) => {
    expect(sha256Digest(input)).toBe(expected);
  });

  it.each<[string, boolean]>([
    [digest('a'), true],
    ['sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', true],
    [`sha512:${'a'.repeat(128)}`, true],
    ['sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564', true],
    ['multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8', true],
    ['blake3:abc', true],
    ['sha256:abc', false],
    [`sha256:${'a'.repeat(63)}`, false],
    [`sha256:${'a'.repeat(65)}`, false],
    [`sha256:${'A'.repeat(64)}`, false],
    [`sha256:${'g'.repeat(64)}`, false],
    [`sha512:${'a'.repeat(64)}`, false],
    ['SHA256:abc', false],
    ['sha256', false],
    [':abc', false],
    ['sha256:', false],
    ['sha256::abc', false],
    ['sha256:ab/c', false],
    ['', false],
  ])('isDigest(%j) = %s', (value, valid) => {
    expect(isDigest(value)).toBe(valid);
  });

  it.each<[string, boolean]>([
    [digest('a'), true],
    [`sha512:${'a'.repeat(128)}`, false],
    ['sha256:abc', false],
    [` ${digest('a')}`, false],
  ])('isSha256Digest(%j) = %s', (value, valid) => {
    expect(isSha256Digest(value)).toBe(valid);
  });

  it('sha256Digest always gives a digest isDigest and isSha256Digest accept', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (data) => isDigest(sha256Digest(data)) && isSha256Digest(sha256Digest(data))),
      { numRuns: 200 },
    );
  });
});

describe('digestAlgorithm: only algorithms this tool can verify', () => {
  it.each<[string, string]>([
    [ABC_SHA256, 'sha256'],
    [ABC_SHA512, 'sha512'],
    // the encoding is not checked here: isDigest does that where digests enter
    ['sha256:abc', 'sha256'],
  ])('digestAlgorithm(%s) = %s', (value, algorithm) => {
    expect(digestAlgorithm(value, 'Blob x')).toBe(algorithm);
  });

  it.each<[string, string]>([
    ['a registered-by-grammar algorithm we cannot hash', 'blake3:abc'],
    ['a multihash', 'multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8'],
    ['upper-case algorithm', `SHA256:${'a'.repeat(64)}`],
    ['no algorithm at all', 'a'.repeat(64)],
    ['an empty algorithm', `:${'a'.repeat(64)}`],
    ['an empty string', ''],
  ])('refuses %s, naming the subject and the supported ones', (_name, value) => {
    const error = thrown(() => digestAlgorithm(value, 'Blob ghcr.io/acme/app@x'));
    expect(error).toBeInstanceOf(UnsupportedMediaTypeError);
    expect(error.message).toBe(
      `Blob ghcr.io/acme/app@x: digest "${value}" uses an algorithm this tool cannot verify (supported: sha256, sha512)`,
    );
  });
});

describe('verifyDigest / createDigester', () => {
  it.each<[string, string]>([
    ['sha256', ABC_SHA256],
    ['sha512', ABC_SHA512],
  ])('accepts bytes that hash to the %s digest', (_name, expected) => {
    expect(() => verifyDigest('Blob x', expected, Buffer.from('abc'))).not.toThrow();
  });

  it.each<[string, string, Uint8Array]>([
    ['other bytes', ABC_SHA256, Buffer.from('abd')],
    ['one byte missing', ABC_SHA256, Buffer.from('ab')],
    ['sha512 of other bytes', ABC_SHA512, Buffer.from('abcd')],
    ['a well-formed digest of nothing we hold', digest('a'), Buffer.from('abc')],
  ])('refuses %s with DigestMismatchError, naming the subject, expected and actual digests', (_name, expected, bytes) => {
    const error = thrown(() => verifyDigest('Manifest ghcr.io/acme/app:1', expected, bytes)) as DigestMismatchError;
    expect(error).toBeInstanceOf(DigestMismatchError);
    const algorithm = expected.slice(0, expected.indexOf(':'));
    const actual = `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
    expect(error.actual).toBe(actual);
    expect(error.summary).toBe(`Manifest ghcr.io/acme/app:1: content digest mismatch: expected ${expected}, got ${actual}`);
  });

  it('refuses an algorithm it cannot verify before hashing anything', () => {
    expect(() => verifyDigest('Blob x', 'md5:900150983cd24fb0d6963f7d28e17f72', Buffer.from('abc'))).toThrow(UnsupportedMediaTypeError);
  });

  it.each<[string, string]>([
    ['sha256', ABC_SHA256],
    ['sha512', ABC_SHA512],
  ])('createDigester hashes a stream in the algorithm of a %s digest', (algorithm, expected) => {
    const { hash, algorithm: got } = createDigester(expected, 'Blob x');
    expect(got).toBe(algorithm);
    for (const chunk of ['a', 'b', 'c']) hash.update(chunk);
    expect(`${got}:${hash.digest('hex')}`).toBe(expected);
  });

  it('createDigester refuses what digestAlgorithm refuses', () => {
    expect(() => createDigester('blake3:abc', 'Blob x')).toThrow('uses an algorithm this tool cannot verify');
  });

  it('verifyDigest accepts exactly what sha256Digest gives (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (data) => {
        verifyDigest('Blob x', sha256Digest(data), data);
        return true;
      }),
      { numRuns: 100 },
    );
  });
});
