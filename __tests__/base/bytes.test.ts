// Sizes for people (src/base/bytes.ts): bytes below 1 KiB, then binary units with one decimal
// below 10 and none from 10 up, and no ".0" on a round number.
import { describe, expect, it } from '@jest/globals';
import { formatBytes } from '../../src/base/bytes.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

describe('formatBytes', () => {
  it.each<[string, number, string]>([
    ['nothing', 0, '0 B'],
    ['one byte', 1, '1 B'],
    ['an empty JSON object', 2, '2 B'],
    ['the largest count shown in bytes', 1023, '1023 B'],
    ['exactly 1 KiB', KiB, '1 KiB'],
    ['a small manifest', 1536, '1.5 KiB'],
    ['just under 10 KiB keeps a decimal', 9.5 * KiB, '9.5 KiB'],
    ['10 KiB and up drop the decimal', 10 * KiB, '10 KiB'],
    ['a config blob', 12_345, '12 KiB'],
    ['the 4 MiB manifest limit', 4 * MiB, '4 MiB'],
    ['a limit reads as its round number', 5 * MiB, '5 MiB'],
    ['the 64 MiB gzip extraction floor', 64 * MiB, '64 MiB'],
    ['a layer of 1.2 GiB', 1.2 * GiB, '1.2 GiB'],
    ['a 2 TiB registry', 2 * TiB, '2 TiB'],
    ['TiB is the largest unit', 2048 * TiB, '2048 TiB'],
  ])('%s: formatBytes(%d) = %s', (_name, size, text) => {
    expect(formatBytes(size)).toBe(text);
  });
});
