// No import cycles among src/ (type imports included): scripts/lint/import-cycles.ts.
import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildImportGraph, findCycles, importCycles, relativeSpecifiers } from '../../scripts/lint/import-cycles.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('the import-cycle detector', () => {
  it('reads every kind of relative import, type-only ones included, and leaves packages out', () => {
    const source = [
      "import { a } from './a.js';",
      "import type { B } from '../b.js';",
      "import './side-effect.js';",
      "export { c } from './c.js';",
      "export type { D } from './d.js';",
      "export * from './e.js';",
      "const f = await import('./f.js');",
      "import { readFile } from 'node:fs/promises';",
      "import { Agent } from 'undici';",
      "// import { g } from './g.js';",
    ].join('\n');
    expect(relativeSpecifiers(source).sort()).toEqual(['../b.js', './a.js', './c.js', './d.js', './e.js', './f.js', './side-effect.js']);
  });

  it('finds a planted cycle through a type import and a re-export, and a module importing itself', () => {
    const files = new Map([
      ['engine/a.ts', "import { b } from './b.js';\nexport const a = b;\n"],
      ['engine/b.ts', "import type { C } from '../oci/c.js';\nexport const b = 1 as unknown as C;\n"],
      ['oci/c.ts', "export { a as C } from '../engine/a.js';\n"],
      ['oci/d.ts', "import { C } from './c.js';\nexport const d = C;\n"],
      ['base/e.ts', "import { e as self } from './e.js';\nexport const e = self;\n"],
      [
        'base/f.ts',
        "import { readFile } from 'node:fs/promises';\nimport { missing } from './missing.js';\nexport const f = [readFile, missing];\n",
      ],
    ]);
    const graph = buildImportGraph(files);
    expect(graph.get('oci/c.ts')).toEqual(['engine/a.ts']);
    expect(graph.get('base/f.ts')).toEqual([]);
    expect(findCycles(graph)).toEqual([['base/e.ts'], ['engine/a.ts', 'engine/b.ts', 'oci/c.ts']]);
  });

  it('finds none in an acyclic graph', () => {
    const files = new Map([
      ['a.ts', "import { b } from './b.js';\nimport { c } from './c.js';\nexport const a = [b, c];\n"],
      ['b.ts', "import { c } from './c.js';\nexport const b = c;\n"],
      ['c.ts', 'export const c = 1;\n'],
    ]);
    expect(findCycles(buildImportGraph(files))).toEqual([]);
  });
});

describe('src/', () => {
  it('has no import cycles', async () => {
    const cycles = await importCycles(join(root, 'src'));
    expect(cycles.map((cycle) => cycle.join(' <-> '))).toEqual([]);
  });
});
