// The layer rule of src/ (scripts/lint/layers.mjs, applied by eslint.config.js): checked on
// synthetic sources through ESLint's own API, then over the real tree.
import { describe, expect, it } from '@jest/globals';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const root = fileURLToPath(new URL('../..', import.meta.url));
const eslint = new ESLint({ cwd: root, overrideConfigFile: join(root, 'eslint.config.js') });

/** The layer rule's messages (`line: message`) for `code` linted as `file` (relative to the repository). */
async function layerProblems(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, file) });
  return result.messages.filter(isLayerMessage).map((m) => `${m.line}: ${m.message}`);
}

const isLayerMessage = (m: { ruleId: string | null; message: string }) =>
  m.ruleId === 'no-restricted-imports' && m.message.includes('Layers: ');

describe('the layer rule on synthetic sources', () => {
  it.each([
    [
      'src/oci/x.ts',
      "import { mergeImages } from '../engine/merge.js';\nexport const x = mergeImages;\n",
      /src\/oci\/ may import only oci\/, base\//,
    ],
    [
      'src/oci/x.ts',
      "import type { MergeRequest } from '../engine/merge.js';\nexport type X = MergeRequest;\n",
      /src\/oci\/ may import only oci\/, base\//,
    ],
    ['src/oci/x.ts', "export type { MergeRequest } from '../engine/merge.js';\n", /src\/oci\/ may import only oci\/, base\//],
    ['src/oci/x.ts', "export * from './../registry/client.js';\n", /src\/oci\/ may import only/],
    [
      'src/sources/x.ts',
      "import { mergeImages } from '../engine/merge.js';\nexport const x = mergeImages;\n",
      /src\/sources\/ may import only sources\/, registry\//,
    ],
    [
      'src/engine/x.ts',
      "import { parse } from '../request/parse.js';\nexport const x = parse;\n",
      /src\/engine\/ may import only engine\//,
    ],
    ['src/base/deep/x.ts', "import { a } from '../../oci/digest.js';\nexport const x = a;\n", /src\/base\/ may import only base\//],
    [
      'src/registry/transport/x.ts',
      "import type { RegistryClient } from '../client-types.js';\nexport type X = RegistryClient;\n",
      /src\/registry\/transport\/ .*not the rest of registry\//,
    ],
    ['src/registry/transport/x.ts', "import { a } from '../../registry/auth.js';\nexport const x = a;\n", /not the rest of registry\//],
    [
      'src/registry/transport/x.ts',
      "import { a } from '../../engine/merge.js';\nexport const x = a;\n",
      /src\/registry\/transport\/ may import only/,
    ],
    ['src/action/x.ts', "import { main } from '../cli/main.js';\nexport const x = main;\n", /src\/action\/ may import only action\//],
    ['src/cli/x.ts', "import { run } from '../action/main.js';\nexport const x = run;\n", /src\/cli\/ may import only cli\//],
    ['src/cli.ts', "import { run } from './action/main.js';\nexport const x = run;\n", /entry src\/cli\.ts may import only cli\//],
    ['src/engine/x.ts', "import * as core from '@actions/core';\nexport const x = core;\n", /only src\/action\/ may import @actions\/core/],
    [
      'src/engine/x.ts',
      "import type { context } from '@actions/github';\nexport type X = typeof context;\n",
      /only src\/action\/ may import @actions\/core, @actions\/github/,
    ],
    ['src/cli/x.ts', "import { getInput } from '@actions/core';\nexport const x = getInput;\n", /only src\/action\//],
    [
      'src/registry/transport/compose.ts',
      "import { Agent } from 'undici';\nexport const x = Agent;\n",
      /only src\/registry\/transport\/wire\.ts may import undici at run time/,
    ],
    ['src/engine/x.ts', "import { fetch } from 'undici';\nexport const x = fetch;\n", /may import undici at run time/],
    [
      'src/newfolder/x.ts',
      "import { a } from '../base/bytes.js';\nexport const x = a;\n",
      /in no layer; add it to scripts\/lint\/layers\.mjs/,
    ],
  ])('%s: %j fails', async (file, code, message) => {
    const problems = await layerProblems(file, code);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it.each([
    [
      'src/engine/x.ts',
      "import { openSource } from '../sources/open.js';\nimport type { Digest } from '../oci/digest.js';\nimport { a } from './merge.js';\nexport const x = [openSource, a] as unknown as Digest;\n",
    ],
    [
      'src/request/x.ts',
      "import { mergeImages } from '../engine/merge.js';\nimport { b } from '../base/bytes.js';\nexport const x = [mergeImages, b];\n",
    ],
    [
      'src/action/x.ts',
      "import * as core from '@actions/core';\nimport { context } from '@actions/github';\nimport { parse } from '../request/parse.js';\nexport const x = [core, context, parse];\n",
    ],
    ['src/cli/x.ts', "import { parse } from '../request/parse.js';\nexport const x = parse;\n"],
    ['src/index.ts', "import { run } from './action/main.js';\nexport const x = run;\n"],
    ['src/cli.ts', "import { main } from './cli/main.js';\nexport const x = main;\n"],
    [
      'src/registry/x.ts',
      "import { a } from './transport/wire.js';\nimport { b } from '../oci/digest.js';\nimport type { Dispatcher } from 'undici';\nexport const x: [unknown, unknown, Dispatcher | undefined] = [a, b, undefined];\n",
    ],
    [
      'src/registry/transport/x.ts',
      "import { a } from './wire.js';\nimport { b } from '../../oci/digest.js';\nimport { c } from '../../base/bytes.js';\nexport const x = [a, b, c];\n",
    ],
    [
      'src/registry/transport/wire.ts',
      "import { Agent, type Dispatcher } from 'undici';\nexport const x: [unknown, Dispatcher | undefined] = [Agent, undefined];\n",
    ],
    ['src/engine/x.ts', "import type { Dispatcher } from 'undici';\nexport type X = Dispatcher;\n"],
    [
      'src/oci/x.ts',
      "import { createHash } from 'node:crypto';\nimport { a } from '../base/bytes.js';\nexport const x = [createHash, a];\n",
    ],
  ])('%s: %j passes', async (file, code) => {
    expect(await layerProblems(file, code)).toEqual([]);
  });

  it('covers every folder of src/ (a new folder is an error until it is in the table)', async () => {
    const folders = readdirSync(join(root, 'src'), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    const unlisted: string[] = [];
    for (const folder of folders) {
      const problems = await layerProblems(`src/${folder}/x.ts`, "import { a } from '../base/bytes.js';\nexport const x = a;\n");
      if (problems.some((p) => p.includes('in no layer'))) unlisted.push(folder);
    }
    expect(unlisted).toEqual([]);
  });
});

describe('the layer rule on src/', () => {
  it('finds no import against the layers', async () => {
    const results = await eslint.lintFiles(['src']);
    const violations = results.flatMap((r) =>
      r.messages.filter(isLayerMessage).map((m) => `${relative(root, r.filePath)}:${m.line}: ${m.message}`),
    );
    expect(violations).toEqual([]);
  });
});
