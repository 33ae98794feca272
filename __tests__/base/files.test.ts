// readBoundedFile: a named file read with its wait and buffer bounded (the spec, the event payload).
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../src/base/errors.js';
import { readBoundedFile } from '../../src/base/files.js';

describe('readBoundedFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mm-files-'));

  it('reads a regular file whole, up to the limit', () => {
    const file = join(dir, 'ten');
    writeFileSync(file, '0123456789');
    expect(readBoundedFile('X', file, { maxBytes: 10 }).toString()).toBe('0123456789');
    expect(() => readBoundedFile('X', file, { maxBytes: 9, sizeHint: 'Smaller' })).toThrow(
      `X: "${file}" is 10 B, over the limit of 9 B. Smaller`,
    );
  });

  it('reads to the end, not to the size fstat gives, and stops past the limit (/proc files say 0 bytes)', () => {
    const status = readBoundedFile('X', '/proc/self/status', { maxBytes: 1024 * 1024 }).toString();
    expect(status).toMatch(/^Name:/);
    expect(() => readBoundedFile('X', '/proc/self/status', { maxBytes: 10 })).toThrow('X: "/proc/self/status" is over the limit of 10 B');
  });

  it('says what is missing or unreadable, as an InputError with the hint', () => {
    expect(() => readBoundedFile('X', join(dir, 'none'), { maxBytes: 1, hint: 'Give a file' })).toThrow(
      `X: no such file "${join(dir, 'none')}". Give a file`,
    );
    expect(() => readBoundedFile('X', join(dir, 'none', 'deeper'), { maxBytes: 1 })).toThrow(InputError);
  });
});
