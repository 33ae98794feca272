// Docker's digest files (src/sources/digest-files.ts): each build job touches a file named by its
// digest; the merge job reads the directory into `image@sha256:<name>` sources, sorted, and
// refuses anything else in it, naming it.
import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { InputError } from '../../src/base/errors.js';
import { digestFileSources } from '../../src/sources/digest-files.js';
import { thrown } from '../support/caught.js';
import { hex } from '../support/digests.js';
import { useTempDir, writeFiles } from '../support/temp-dir.js';

const root = useTempDir('mm-digest-files-');
let n = 0;
/** A directory holding an empty file of each name. */
const dirOf = (names: string[]) => writeFiles(join(root(), `d${n++}`), Object.fromEntries(names.map((name) => [name, ''])));
const read = (dir: string, image = 'ghcr.io/acme/app') => digestFileSources('Input `digests-dir`', dir, 'Input `image`', image);

describe('digestFileSources', () => {
  it.each<[string, string[], string, string[]]>([
    ['one build job', [hex(1)], 'ghcr.io/acme/app', [`ghcr.io/acme/app@sha256:${hex(1)}`]],
    ['files sorted by name', [hex(3), hex(1), hex(2)], 'ghcr.io/acme/app', [1, 2, 3].map((i) => `ghcr.io/acme/app@sha256:${hex(i)}`)],
    ['a Docker Hub repository as written', [hex(1)], 'acme/app', [`acme/app@sha256:${hex(1)}`]],
    ['a registry with a port', [hex(1)], 'localhost:5000/app', [`localhost:5000/app@sha256:${hex(1)}`]],
  ])('%s', async (_name, names, image, sources) => {
    expect(read(await dirOf(names), image)).toEqual(sources);
  });

  it.each<[string, string[], string]>([
    [
      'a name with the sha256: prefix',
      [hex(1), `sha256:${hex(2)}`],
      `a file name is not a digest (64 lower-case hex characters): "sha256:${hex(2)}"`,
    ],
    ['upper-case hex', [hex(0xabc).toUpperCase()], `"${hex(0xabc).toUpperCase()}"`],
    ['a short name', ['abc'], '"abc"'],
    ['a stray file', [hex(1), '.DS_Store'], '".DS_Store"'],
    ['several bad names, counted', ['a', 'b'], '2 file names are not a digest'],
    ['over ten bad names: ten shown', Array.from({ length: 12 }, (_, i) => `bad${String(i).padStart(2, '0')}`), '"bad09", …'],
    ['a name with a control character, escaped', ['x\u001b[31m'], '"x"'],
  ])('refuses %s, naming it', async (_name, names, message) => {
    const dir = await dirOf(names);
    const refused = thrown(() => read(dir));
    expect(refused).toBeInstanceOf(InputError);
    expect(refused.message).toMatch(/^Input `digests-dir`: /);
    expect(refused.message).toContain(message);
  });

  it.each<[string, (dir: string) => [string, string], string]>([
    ['an empty image', (dir) => [dir, ''], 'Input `digests-dir` is set but Input `image` is empty'],
    ['an image with a tag', (dir) => [dir, 'ghcr.io/acme/app:1'], 'Input `image` is "ghcr.io/acme/app:1", which has a tag or digest'],
    ['an image with a digest', (dir) => [dir, `ghcr.io/acme/app@sha256:${hex(1)}`], 'which has a tag or digest'],
    ['a directory that does not exist', (dir) => [join(dir, 'missing'), 'ghcr.io/acme/app'], 'cannot read the directory'],
    ['an empty directory', (dir) => [dir, 'ghcr.io/acme/app'], 'is empty'],
  ])('refuses %s', async (_name, args, message) => {
    const [dir, image] = args(await dirOf([]));
    const error = thrown(() => read(dir, image));
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toContain(message);
  });
});
