// The metadata buildx writes about what it pushed: docker/build-push-action's `metadata` output
// (saved to a file), `buildx build --metadata-file` and `buildx bake --metadata-file` (one object
// per target). Each build adds the source REPOSITORY@containerimage.digest, the repository taken
// from `image.name` (comma-separated names, each with or without a tag: pushed by digest, it has
// none). Read while the inputs are parsed, so a file that names no pushed image fails the step
// before any request, naming the file and the key.
import { readFileSync, statSync } from 'node:fs';
import { InputError, ManifestMergeError } from '../base/errors.js';
import { sanitizeLine } from '../base/redact.js';
import { isSha256Digest } from '../oci/digest.js';
import { type ImageReference, type RepositoryRef, formatReference, parseReference, sameRepository } from '../oci/reference.js';
import { expandGlob } from './glob.js';

/** At most this many metadata files in one image; a glob matching more is a mistake. */
export const MAX_METADATA_FILES = 1000;
/** A metadata file over this size is not buildx's (a build's is a few hundred bytes; with provenance a few KiB). */
export const MAX_METADATA_BYTES = 1024 * 1024;

/** Keys of a build's own metadata: a file with any of them at the top is one build, not bake's map of targets. */
const BUILD_KEYS = ['containerimage.digest', 'containerimage.descriptor', 'image.name', 'buildx.build.ref', 'containerimage.config.digest'];

export interface MetadataOptions {
  /** how the surface names the field, e.g. "Input `metadata-files`", "--metadata-file" */
  label: string;
  /** bake targets to take (all when empty), and how the surface names them */
  targets: string[];
  targetsLabel: string;
  /** repositories to take a build's source from when its image.name lists several (the tags'); else the first name's */
  prefer: RepositoryRef[];
}

/** One pushed build, as a metadata file describes it. */
export interface MetadataBuild {
  file: string;
  /** bake target; undefined for a build's file */
  target?: string;
  source: string;
}

const quote = (text: string) => `"${sanitizeLine(text)}"`;

/** The sources the metadata files of `patterns` name, in file order then target order, each once. */
export function metadataFileSources(patterns: string[], options: MetadataOptions): string[] {
  const builds = readMetadataBuilds(patterns, options);
  return [...new Set(builds.map((b) => b.source))];
}

export function readMetadataBuilds(patterns: string[], options: MetadataOptions): MetadataBuild[] {
  const { label } = options;
  const files = [...new Set(patterns.flatMap((p) => expandGlob(label, p)))];
  if (files.length === 0)
    throw new InputError(`${label}: ${patterns.map(quote).join(', ')} ${patterns.length === 1 ? 'matches' : 'match'} no file`, {
      hint: 'Download the metadata artifacts first (actions/download-artifact), or fix the pattern',
    });
  if (files.length > MAX_METADATA_FILES)
    throw new InputError(`${label}: ${files.length} files, over the limit of ${MAX_METADATA_FILES}`, {
      hint: 'Narrow the pattern to the metadata files, or split the merge over several images of a spec',
    });
  const builds: MetadataBuild[] = [];
  const targetsSeen = new Set<string>();
  for (const file of files) {
    const document = readJson(label, file);
    if (BUILD_KEYS.some((k) => Object.hasOwn(document, k))) {
      if (options.targets.length > 0)
        throw new InputError(
          `${label}: ${quote(file)} is the metadata of one build, which has no bake targets, and ${options.targetsLabel} is set`,
          {
            hint: `Leave ${options.targetsLabel} out for build metadata; it picks targets of the files buildx bake --metadata-file writes`,
          },
        );
      builds.push(buildOf(label, file, undefined, document, options.prefer));
      continue;
    }
    // bake: one object per target; other keys (buildx.build.warnings) are not targets
    const targets = Object.entries(document).filter(([key, value]) => !key.startsWith('buildx.') && isObject(value));
    if (targets.length === 0)
      throw new InputError(`${label}: ${quote(file)} names no build: it has no "containerimage.digest" and no bake target`, {
        hint: "Give the file buildx build/bake --metadata-file writes, or build-push-action's `metadata` output saved to a file, of a build that pushed",
      });
    for (const [target, value] of targets) {
      targetsSeen.add(target);
      if (options.targets.length > 0 && !options.targets.includes(target)) continue;
      builds.push(buildOf(label, file, target, value as Record<string, unknown>, options.prefer));
    }
  }
  const absent = options.targets.filter((t) => !targetsSeen.has(t));
  if (absent.length > 0)
    throw new InputError(
      `${options.targetsLabel}: ${absent.map(quote).join(', ')} ${absent.length === 1 ? 'is' : 'are'} in none of the metadata files (their targets: ${[...targetsSeen].map((t) => sanitizeLine(t)).join(', ')})`,
      { hint: 'Name targets as bake names them (the keys of the metadata file)' },
    );
  return builds;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readJson(label: string, file: string): Record<string, unknown> {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_METADATA_BYTES)
      throw new InputError(`${label}: ${quote(file)} is ${size} bytes, over the limit of ${MAX_METADATA_BYTES}`, {
        hint: 'Give the JSON buildx writes with --metadata-file (a few KiB), not another file',
      });
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    if (cause instanceof ManifestMergeError) throw cause;
    throw new InputError(`${label}: cannot read ${quote(file)} (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, {
      cause,
      hint: 'Download the metadata artifacts first (actions/download-artifact), or fix the path',
    });
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (cause) {
    throw new InputError(`${label}: ${quote(file)} is not JSON (${cause instanceof Error ? sanitizeLine(cause.message) : String(cause)})`, {
      cause,
      hint: "Save build-push-action's `metadata` output as it is, e.g. echo '${{ steps.build.outputs.metadata }}' > metadata.json",
    });
  }
  if (!isObject(document))
    throw new InputError(
      `${label}: ${quote(file)} is ${Array.isArray(document) ? 'a list' : JSON.stringify(document)}, not a JSON object`,
      {
        hint: 'Give the file buildx build/bake --metadata-file writes: an object with containerimage.digest and image.name',
      },
    );
  return document;
}

/** One build's keys -> its source. */
function buildOf(
  label: string,
  file: string,
  target: string | undefined,
  entry: Record<string, unknown>,
  prefer: RepositoryRef[],
): MetadataBuild {
  const where = `${label}: ${quote(file)}${target === undefined ? '' : `, target ${quote(target)}`}`;
  const digest = entry['containerimage.digest'];
  if (digest === undefined)
    throw new InputError(`${where} has no "containerimage.digest": the build pushed no image`, {
      hint: 'Build with push: true (build-push-action) or --push / --set *.output=type=registry (bake); a build with push: false or load: true has nothing to merge',
    });
  if (typeof digest !== 'string' || !isSha256Digest(digest))
    throw new InputError(
      `${where}: "containerimage.digest" is ${sanitizeLine(JSON.stringify(digest) ?? String(digest))}, not a sha256 digest`,
      {
        hint: 'Give the file buildx wrote, unchanged',
      },
    );
  const descriptor = entry['containerimage.descriptor'];
  if (isObject(descriptor) && descriptor.digest !== undefined && descriptor.digest !== digest)
    throw new InputError(
      `${where}: "containerimage.descriptor" names ${quote(String(descriptor.digest))}, but "containerimage.digest" is ${digest}`,
      { hint: 'Give the file buildx wrote, unchanged' },
    );
  const names = entry['image.name'];
  if (names === undefined)
    throw new InputError(`${where} has no "image.name": the build named no image to push`, {
      hint: 'Give the build its image: tags (build-push-action), or outputs: type=image,name=ghcr.io/acme/app,push-by-digest=true,push=true',
    });
  if (typeof names !== 'string' || names.trim() === '')
    throw new InputError(`${where}: "image.name" is ${sanitizeLine(JSON.stringify(names) ?? String(names))}, not a list of image names`, {
      hint: 'Give the file buildx wrote, unchanged',
    });
  const refs: ImageReference[] = names
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean)
    .map((name) => {
      try {
        return parseReference(name);
      } catch (error) {
        if (error instanceof ManifestMergeError)
          throw new InputError(`${where}: "image.name": ${error.summary}`, { cause: error, hint: error.hint });
        throw error;
      }
    });
  const chosen = refs.find((r) => prefer.some((p) => sameRepository(p, r))) ?? refs[0];
  return {
    file,
    ...(target === undefined ? {} : { target }),
    source: formatReference({ registry: chosen.registry, repository: chosen.repository, digest }),
  };
}
