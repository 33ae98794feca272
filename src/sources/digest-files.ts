// Docker's "distribute build across multiple runners" recipe: each build job pushes by digest
// and does `touch "$RUNNER_TEMP/digests/${digest#sha256:}"`; the merge job downloads those empty
// files into one directory. Each file's name is a digest of an image in `image`.
import { readdirSync } from 'node:fs';
import { InputError } from '../base/errors.js';
import { parseReference } from '../oci/reference.js';
import { sanitizeLine } from '../base/redact.js';

const HEX64 = /^[a-f0-9]{64}$/;

/** `image@sha256:<name>` for every file in `dir`, sorted; any other name is an error, listed. */
export function digestFileSources(dirLabel: string, dir: string, imageLabel: string, image: string): string[] {
  if (image === '')
    throw new InputError(`${dirLabel} is set but ${imageLabel} is empty`, {
      hint: `Set ${imageLabel} to the repository the build jobs pushed by digest, e.g. ghcr.io/acme/app`,
    });
  const ref = parseReference(image);
  if (ref.tag || ref.digest) {
    throw new InputError(`${imageLabel} is "${image}", which has a tag or digest`, {
      hint: 'Give the repository only, e.g. ghcr.io/acme/app: the digests come from the file names',
    });
  }
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (cause) {
    throw new InputError(`${dirLabel}: cannot read the directory "${dir}" (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, {
      cause,
      hint: 'Download the digest artifacts into it first (actions/download-artifact with pattern: digests-* and merge-multiple: true)',
    });
  }
  if (names.length === 0)
    throw new InputError(`${dirLabel}: the directory "${dir}" is empty`, {
      hint: 'Each build job must `touch` a file named by its digest there, and upload it as an artifact',
    });
  const bad = names.filter((n) => !HEX64.test(n));
  if (bad.length > 0) {
    throw new InputError(
      `${dirLabel}: ${bad.length === 1 ? 'a file name is' : `${bad.length} file names are`} not a digest (64 lower-case hex characters): ${bad
        .slice(0, 10)
        .map((n) => `"${sanitizeLine(n)}"`)
        .join(', ')}${bad.length > 10 ? ', …' : ''}`,
      {
        hint: 'The directory must hold only the empty files the build jobs named `${digest#sha256:}`; remove anything else',
      },
    );
  }
  return names.sort().map((n) => `${image}@sha256:${n}`);
}
