// Stack traces of the bundle mapped back to src/ (src/base/stack.ts), on a bundle and source map
// written here: two mapped lines, so each frame must land on its own original line.
import { describe, expect, it } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { mapStackTrace } from '../../src/base/stack.js';
import { useTempDir } from '../support/temp-dir.js';

const dir = useTempDir('mm-stack-');

// Generated line 1, column 1 → src/engine/merge.ts:10:5; generated line 2, column 3 → 20:1.
// (Segments: [genColumn, source, originalLine, originalColumn], relative, base64 VLQ.)
const MAP = {
  version: 3,
  file: 'index.js',
  sources: ['../src/engine/merge.ts'],
  names: [],
  mappings: 'AASI;EAUJ',
};

async function bundle(name: string, map: string | undefined): Promise<string> {
  const file = join(dir(), name);
  await writeFile(file, 'a();\n  b();\n');
  if (map !== undefined) await writeFile(`${file}.map`, map);
  return file;
}

describe('mapStackTrace', () => {
  it.each<[string, (file: string) => string, string]>([
    ['a frame at the first mapped position', (f) => `    at run (${f}:1:1)`, '    at run (src/engine/merge.ts:10:5)'],
    ['a frame later on a mapped line', (f) => `    at run (${f}:1:4)`, '    at run (src/engine/merge.ts:10:5)'],
    ['a frame on the second mapped line', (f) => `    at merge (${f}:2:3)`, '    at merge (src/engine/merge.ts:20:1)'],
    ['a frame without a function name', (f) => `    at ${f}:2:3`, '    at src/engine/merge.ts:20:1'],
    ['a file:// URL (ESM frames)', (f) => `    at run (${pathToFileURL(f).href}:1:1)`, '    at run (src/engine/merge.ts:10:5)'],
  ])('maps %s', async (_name, frame, mapped) => {
    const file = await bundle('mapped.js', JSON.stringify(MAP));
    expect(mapStackTrace(frame(file))).toBe(mapped);
  });

  it('maps every frame of a whole stack, leaving the message and unmapped frames as they are', async () => {
    const file = await bundle('whole.js', JSON.stringify(MAP));
    const stack = [
      'TypeError: x is not a function',
      `    at run (${file}:1:1)`,
      '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
      `    at async main (${file}:2:3)`,
    ].join('\n');
    expect(mapStackTrace(stack)).toBe(
      [
        'TypeError: x is not a function',
        '    at run (src/engine/merge.ts:10:5)',
        '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
        '    at async main (src/engine/merge.ts:20:1)',
      ].join('\n'),
    );
  });

  it.each<[string, string | undefined]>([
    ['no source map beside it', undefined],
    ['a source map that is not JSON', '{ not json'],
    ['a source map that maps nothing', JSON.stringify({ ...MAP, mappings: '' })],
  ])('leaves a frame alone in a file with %s', async (name, map) => {
    const file = await bundle(`${name.replace(/\W+/g, '-')}.js`, map);
    const frame = `    at run (${file}:1:1)`;
    expect(mapStackTrace(frame)).toBe(frame);
  });

  it('leaves a stack without file frames alone', () => {
    const stack = 'Error: boom\n    at node:internal/main:1:1\n    at <anonymous>';
    expect(mapStackTrace(stack)).toBe(stack);
  });
});
