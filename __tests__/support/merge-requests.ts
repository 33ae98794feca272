// Merge requests for engine tests, written as the user writes references.
import type { MergeRequest } from '../../src/engine/model.js';
import { type ImageReference, parseReference } from '../../src/oci/reference.js';

export const ref = (text: string): ImageReference => parseReference(text);

/** A request with the defaults every surface gives (`attestations: keep`, `format: auto`, push), and `extra` over them. */
export const request = (sources: string[], tags: string[], extra: Partial<MergeRequest> = {}): MergeRequest => ({
  sources: sources.map(ref),
  tags: tags.map(ref),
  attestations: 'keep',
  format: 'auto',
  push: true,
  ...extra,
});

/** Engine options whose append retries do not wait. */
export const noWait = { appendRetry: { sleep: async () => undefined, random: () => 0.5 } };

/** The JSON of a pushed index, as the tests read it back. */
export interface Index {
  mediaType: string;
  manifests: Array<{ digest: string; size: number; mediaType: string; platform?: { os: string; architecture: string } }>;
  annotations?: Record<string, string>;
}
