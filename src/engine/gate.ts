// `require-attestations`: before anything is written, every image of the index must have each
// kind of attestation asked for: provenance, an SBOM, a signature. Looked for where the tools put
// them: the buildx attestation manifests of its source index (those the merged index keeps or
// pushes as referrers), its referrers in its source repository (found once, by the same finder
// the copy uses), and, only for a kind still missing, cosign's `sha256-<hex>.sig` / `.att` tags.
// Presence only: nothing is verified (no signature, no certificate, no subject of a tag form);
// what each manifest is, is told by oci/attestation-kinds.ts. Reads only.
import { mapLimit } from '../base/concurrency.js';
import { MissingAttestationsError, isNotFound } from '../base/errors.js';
import { inGroup } from '../base/logger.js';
import { sanitizeLine } from '../base/redact.js';
import { ATTESTATION_KINDS, type AttestationKind, type KindEvidence, attestationKinds } from '../oci/attestation-kinds.js';
import { type ImageManifest, parseManifest } from '../oci/manifest.js';
import { type RepositoryRef, formatRepository } from '../oci/reference.js';
import { isLayoutRepository } from '../sources/layout-reference.js';
import type { AttestationEvidence, AttestationGateReport, ImageAttestations, MergePlan, PlannedEntry } from './model.js';
import { readManifest } from './resolve.js';
import { type MergeRun, withoutLookAhead } from './run.js';

/** The kinds a cosign `.att` tag may show (its DSSE layers' predicates). */
const ATT_KINDS: readonly AttestationKind[] = ['provenance', 'sbom'];

/** cosign's tag for the signatures (`sig`) or attestations (`att`) of `digest`: `sha256-<hex>.sig`. */
export function cosignTag(digest: string, suffix: 'sig' | 'att'): string {
  return `${digest.replace(':', '-')}.${suffix}`;
}

/**
 * Checks every image of `plan` for the kinds `run.request.requireAttestations` names; undefined
 * when none is required. Throws MissingAttestationsError naming every image that lacks one.
 */
export async function checkRequiredAttestations(run: MergeRun, plan: MergePlan): Promise<AttestationGateReport | undefined> {
  // in one order, whatever order they were asked in
  const required = ATTESTATION_KINDS.filter((k) => run.request.requireAttestations?.includes(k));
  if (required.length === 0) return undefined;
  return inGroup(run.logger, 'Check required attestations', async () => {
    // the attestations that travel with the index: kept in it, or pushed as referrers of their images
    const attestations = [...plan.entries, ...plan.attestationReferrers].filter((e) => e.kind === 'attestation' && e.subject);
    const images = await mapLimit(
      plan.entries.filter((e) => e.kind === 'image'),
      run.concurrency,
      (image) =>
        attestationsOf(
          run,
          image,
          attestations.filter((a) => a.subject === image.descriptor.digest),
          required,
        ),
    );
    for (const image of images) run.logger.info(imageLine(image));
    const failing = images.filter((i) => i.missing.length > 0);
    if (failing.length > 0) throw missingError(failing, required);
    return { required, images };
  });
}

/** The evidence for one image: its index's attestation manifests, its referrers, then cosign's tags for what is still missing. */
async function attestationsOf(
  run: MergeRun,
  image: PlannedEntry,
  attestations: PlannedEntry[],
  required: AttestationKind[],
): Promise<ImageAttestations> {
  const digest = image.descriptor.digest;
  const found: AttestationEvidence[] = [];
  const add = (evidence: KindEvidence[], via: AttestationEvidence['via'], at: string, tag?: string) => {
    for (const e of evidence)
      if (required.includes(e.kind)) found.push({ kind: e.kind, via, digest: at, type: e.type, ...(tag ? { tag } : {}) });
  };

  const fromIndex = await mapLimit(attestations, run.concurrency, async (a) => {
    const { parsed } = await readManifest(
      run.client,
      a.source,
      a.descriptor.digest,
      `${a.sourceInput} > ${a.descriptor.digest}`,
      a.descriptor,
    );
    return { digest: a.descriptor.digest, evidence: parsed.kind === 'image' ? attestationKinds(parsed.image!) : [] };
  });
  for (const a of fromIndex) add(a.evidence, 'index', a.digest);

  const referrers = await run.referrers.find(image.source, digest);
  for (const r of referrers.found)
    if (r.depth === 1 && r.subject === digest) add(attestationKinds(r.image, r.descriptor), 'referrer', r.fetched.digest);

  const missing = () => required.filter((k) => !found.some((e) => e.kind === k));
  if (!isLayoutRepository(image.source)) {
    const wanted = missing();
    const tags = [
      ...(wanted.includes('signature') ? [cosignTag(digest, 'sig')] : []),
      ...(wanted.some((k) => ATT_KINDS.includes(k)) ? [cosignTag(digest, 'att')] : []),
    ];
    const read = await mapLimit(tags, run.concurrency, (tag) => readTag(run, image.source, tag));
    read.forEach((manifest, i) => {
      if (manifest) add(attestationKinds(manifest.image), 'tag', manifest.digest, tags[i]);
    });
  }
  return {
    digest,
    ...(image.platform ? { platform: image.platform } : {}),
    source: image.sourceInput,
    found: [...new Map(found.map((e) => [`${e.kind} ${e.via} ${e.digest} ${e.type}`, e])).values()],
    missing: missing(),
  };
}

/** The image manifest under a cosign tag, or undefined when there is none (or it is no image manifest: warned). */
async function readTag(
  run: MergeRun,
  repository: RepositoryRef,
  tag: string,
): Promise<{ digest: string; image: ImageManifest } | undefined> {
  const label = `${formatRepository(repository)}:${tag}`;
  let fetched;
  try {
    // a tag is read as it is now (never cached), and what it holds is not looked for in the targets
    fetched = await withoutLookAhead(run).client.fetchManifest(repository, tag);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  const parsed = parseManifest(fetched.bytes, fetched.mediaType, label);
  if (parsed.kind !== 'image') {
    run.logger.warning(`${label} is an index, not the image manifest cosign writes there; it was not counted`);
    return undefined;
  }
  return { digest: fetched.digest, image: parsed.image! };
}

function describeEvidence(e: AttestationEvidence): string {
  const where = e.via === 'index' ? 'attestation manifest' : e.via === 'referrer' ? 'referrer' : `tag ${e.tag}`;
  return `${e.kind} (${where} ${e.digest}, ${sanitizeLine(e.type)})`;
}

function imageName(image: ImageAttestations): string {
  return `${image.platform ? sanitizeLine(image.platform) : 'image'} ${image.digest} from ${sanitizeLine(image.source)}`;
}

function imageLine(image: ImageAttestations): string {
  const found = image.found.length > 0 ? image.found.map(describeEvidence).join('; ') : 'nothing';
  return `${imageName(image)}: found ${found}${image.missing.length > 0 ? `; MISSING ${image.missing.join(', ')}` : ''}`;
}

/** One error naming every image that lacks a kind, and what it lacks. */
function missingError(failing: ImageAttestations[], required: AttestationKind[]): MissingAttestationsError {
  const lacking = new Set(failing.flatMap((i) => i.missing));
  const ways = [
    ...(lacking.has('provenance') ? ['rebuild with provenance (docker/build-push-action `provenance: mode=max`)'] : []),
    ...(lacking.has('sbom') ? ['rebuild with an SBOM (`sbom: true`) or attach one'] : []),
    ...(lacking.has('signature') ? ['sign the images (cosign sign) before the merge'] : []),
  ];
  const list = failing.map((i) => `${imageName(i)} has no ${i.missing.join(', ')}`).join('; ');
  return new MissingAttestationsError(`Required attestations (${required.join(', ')}) are missing, so nothing was pushed: ${list}`, {
    hint: `${ways.join(', or ')}; or drop the kind from {requireattestations}. Only presence is checked, not signatures`,
  });
}
