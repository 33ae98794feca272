// Platform selection (`select-platforms`, as `docker buildx imagetools create --platform`): only
// the chosen platforms of the sources go into the index, each image with its attestations. Pure;
// runs on resolved sources, before the plan, so `platforms` still checks the result exactly.
import { PlatformError } from '../base/errors.js';
import { type Platform, formatPlatform, platformMatches } from '../oci/platform.js';
import type { ResolvedSource, SourceEntry } from './model.js';

export function selectPlatforms(sources: ResolvedSource[], selected: Platform[] | undefined): ResolvedSource[] {
  if (!selected || selected.length === 0) return sources;
  const images = sources.flatMap((s) => s.entries.filter((e) => e.kind === 'image' && e.platform));
  const absent = selected.filter((p) => !images.some((e) => platformMatches(p, e.platform!)));
  if (absent.length > 0) {
    const found = [...new Set(images.map((e) => formatPlatform(e.platform!)))].join(', ') || 'none';
    throw new PlatformError(
      `\`select-platforms\` asks for ${absent.map(formatPlatform).join(', ')}, which no source has (the sources have: ${found})`,
      {
        hint: 'Select only platforms the sources were built for, or add a source for it to {sources}',
      },
    );
  }
  const chosen = (e: SourceEntry) =>
    e.kind === 'image' && e.platform !== undefined && selected.some((p) => platformMatches(p, e.platform!));
  const kept = new Set(images.filter(chosen).map((e) => e.descriptor.digest));
  return sources.map((source) => ({
    ...source,
    entries: source.entries.filter((e) => {
      if (e.kind === 'image') return kept.has(e.descriptor.digest);
      // an attestation goes with its image; other artifacts with their platform, if they have one
      if (e.kind === 'attestation') return e.subject !== undefined && kept.has(e.subject);
      return !e.descriptor.platform || selected.some((p) => platformMatches(p, e.descriptor.platform!));
    }),
  }));
}
