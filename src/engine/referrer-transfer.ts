// The referrers phase of a merge: signatures, SBOMs and other artifacts whose `subject` is a child
// of the index travel with it. Found by referrer-finder.ts in the children's own repositories;
// with `attestations: referrers`, the attestations the plan took out of the index join them.
// Copied into every target repository that is not the child's own (there they already are) by
// the transfer's own step (bringIn: blobs, then manifests by dependency level, subjects before
// their referrers); then made findable there: the API is asked whether it lists them, or the
// fallback tag is created or merged with what it holds (never dropping someone else's).
//
// The source indexes' own referrers do not apply: the merged index is a new manifest.
import { mapLimit } from '../base/concurrency.js';
import { VerifyError } from '../base/errors.js';
import { inGroup } from '../base/logger.js';
import { type Descriptor, type ImageManifest, MediaType } from '../oci/manifest.js';
import { type RepositoryRef, formatRepository, sameRepository } from '../oci/reference.js';
import { sanitizeLine } from '../base/redact.js';
import { fallbackTag, mergeFallbackIndex, referrerDescriptor } from '../registry/referrers.js';
import type { FetchedManifest } from '../registry/client-types.js';
import { sha256Digest } from '../oci/digest.js';
import { planBlobs } from './plan.js';
import { readManifest } from './resolve.js';
import type { MergePlan, TargetPlan, TargetReferrers } from './model.js';
import { type FoundReferrer, type ReferrerSearch, readFallbackTag } from './referrer-finder.js';
import type { EngineRun, MergeRun } from './run.js';
import { type BlobToWrite, type TargetTransfer, bringIn } from './transfer.js';

/** What referrer discovery found for a merge: per target, the searches of its children; the attestations taken out of the index. */
export interface ReferrerDiscovery {
  searches: ReferrerSearch[];
  attestations: FoundReferrer[];
}

/**
 * Starts looking for the referrers of every target's children (`referrers: copy`) and reading the
 * attestations the plan took out of the index (`attestations: referrers`), as soon as the plan
 * names them: reads only, beside the transfer, awaited only by the referrers copy (and a dry run's
 * report). The promise may fail before it is awaited; its failure is reported where it is awaited.
 */
export function discoverReferrers(run: MergeRun, plan: MergePlan, targets: TargetPlan[]): Promise<ReferrerDiscovery> {
  const searches =
    (run.request.referrers ?? 'copy') === 'copy'
      ? findReferrers(run, targets)
      : Promise.resolve(targets.map((): ReferrerSearch => ({ found: [], stale: [] })));
  const discovery = Promise.all([searches, attestationReferrers(run, plan)]).then(([s, attestations]) => ({ searches: s, attestations }));
  discovery.catch(() => undefined);
  return discovery;
}

/**
 * Per transfer, the referrers to copy into its target: those of its children found in other
 * repositories (`referrers: copy`), then, with `attestations: referrers`, every attestation taken
 * out of the index. Each is added to the target's report as an action.
 */
export function referrersFor(transfers: TargetTransfer[], { searches, attestations }: ReferrerDiscovery): FoundReferrer[][] {
  const found = searches.map((s) => s.found);
  transfers.forEach((t, i) => {
    for (const r of found[i])
      if (!sameRepository(r.source, t.target.repository))
        t.report.actions.push(
          `copy referrer ${r.fetched.digest}${r.descriptor.artifactType ? ` (${sanitizeLine(r.descriptor.artifactType)})` : ''} of ${r.subject} from ${formatRepository(r.source)}`,
        );
    // stale entries (warned when found) count where their referrers would have been copied
    const stale = [
      ...new Map(
        searches[i].stale
          .filter((s) => !sameRepository(s.source, t.target.repository))
          .map((s) => [`${formatRepository(s.source)}@${s.subject} ${s.descriptor.digest}`, s]),
      ).values(),
    ];
    for (const s of stale)
      t.report.actions.push(
        `leave out stale referrer ${s.descriptor.digest} of ${s.subject} in ${formatRepository(s.source)} (listed by ${s.via === 'api' ? 'the referrers API' : `tag ${fallbackTag(s.subject)}`}, manifest not found)`,
      );
    if (stale.length > 0) t.report.referrers.stale = stale.length;
    for (const r of attestations) {
      const added = r.attestation!.original !== r.fetched.digest ? ` (subject added: was ${r.attestation!.original})` : '';
      t.report.actions.push(`push attestation ${r.fetched.digest} as a referrer of ${r.subject}${added}`);
    }
  });
  return found.map((list) => [...list, ...attestations]);
}

/** Per target, the referrers of its children (and stale entries), read from each child's own repository (once, shared by the targets). */
async function findReferrers(run: MergeRun, targets: TargetPlan[]): Promise<ReferrerSearch[]> {
  return mapLimit(targets, run.concurrency, async (target) => {
    const searches = await mapLimit(target.manifests, run.concurrency, (entry) =>
      run.referrers.find(entry.source, entry.descriptor.digest),
    );
    return { found: searches.flatMap((s) => s.found), stale: searches.flatMap((s) => s.stale) };
  });
}

/**
 * `attestations: referrers`: each attestation the plan took out of the index, as a referrer of the
 * image it describes: unchanged when it names the image in `subject` already, else with `subject`
 * added (a new digest: said in one warning). One that cannot be a referrer is left out, warned.
 */
export async function attestationReferrers({ client, concurrency, logger }: EngineRun, plan: MergePlan): Promise<FoundReferrer[]> {
  if (plan.attestationReferrers.length === 0) return [];
  const images = new Map(plan.entries.filter((e) => e.kind === 'image').map((e) => [e.descriptor.digest, e]));
  const made = await mapLimit(plan.attestationReferrers, concurrency, async (entry) => {
    const label = `${entry.sourceInput} > ${entry.descriptor.digest}`;
    const { fetched, parsed } = await readManifest(client, entry.source, entry.descriptor.digest, label, entry.descriptor);
    const image = images.get(entry.subject!)!; // the plan keeps only attestations of images in the index
    const as = parsed.kind === 'image' ? attestationAsReferrer(fetched, parsed.image!, image.descriptor) : { refused: 'it is an index' };
    if ('refused' in as) {
      logger.warning(
        `Attestation ${entry.descriptor.digest} in ${entry.sourceInput} cannot be a referrer of image ${image.descriptor.digest} (${image.platform}): ${as.refused}; it was left out`,
      );
      return undefined;
    }
    const referrer: FoundReferrer = {
      subject: image.descriptor.digest,
      source: entry.source,
      descriptor: referrerDescriptor(as.image, as.fetched.mediaType, as.fetched.digest, as.fetched.size),
      fetched: as.fetched,
      image: as.image,
      depth: 1,
      attestation: { original: entry.descriptor.digest },
    };
    return { referrer, platform: image.platform };
  });
  const done = made.filter((m): m is NonNullable<typeof m> => m !== undefined);
  const changed = done.filter((m) => m.referrer.attestation!.original !== m.referrer.fetched.digest);
  if (changed.length > 0) {
    logger.warning(
      `${changed.length} attestation manifest(s) had no subject (built before BuildKit 0.32): pushed as referrers with subject added, which changes their digest: ${changed.map((m) => `${m.referrer.attestation!.original} -> ${m.referrer.fetched.digest} (${m.platform})`).join(', ')}`,
    );
  }
  return done.map((m) => m.referrer);
}

/**
 * A buildx attestation manifest as a referrer of `image` (the descriptor of the image it
 * describes). One that names it in `subject` already (BuildKit 0.32 and later) is used as is; one
 * without gets it: canonical JSON of the original with `subject` after `layers`, everything else
 * (config, artifactType or its absence, annotations) unchanged, so its digest changes. One whose
 * `subject` names another manifest is refused (undefined): that is not this image's attestation.
 */
export function attestationAsReferrer(
  fetched: FetchedManifest,
  manifest: ImageManifest,
  image: Descriptor,
): { fetched: FetchedManifest; image: ImageManifest; subjectAdded: boolean } | { refused: string } {
  if (manifest.subject) {
    return manifest.subject.digest === image.digest
      ? { fetched, image: manifest, subjectAdded: false }
      : { refused: `its subject is ${sanitizeLine(manifest.subject.digest)}, not the image it describes` };
  }
  // `subject` is a field of OCI image manifests; a Docker schema 2 manifest has none
  if (fetched.mediaType !== MediaType.OciManifest)
    return { refused: `it is ${sanitizeLine(fetched.mediaType)}, which cannot carry a subject` };
  const subject: Descriptor = { mediaType: image.mediaType, digest: image.digest, size: image.size };
  const original = JSON.parse(fetched.bytes.toString('utf8')) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(original)) {
    if (key === 'annotations' && !('subject' in out)) out.subject = subject;
    out[key] = value;
    if (key === 'layers') out.subject = subject;
  }
  out.subject ??= subject;
  const bytes = Buffer.from(JSON.stringify(out));
  return {
    fetched: { bytes, mediaType: fetched.mediaType, digest: sha256Digest(bytes), size: bytes.byteLength },
    image: { ...manifest, subject },
    subjectAdded: true,
  };
}

/** Copies each transfer's referrers into its target, and reports what each target got. */
export async function copyAllReferrers(run: EngineRun, transfers: TargetTransfer[], referrers: FoundReferrer[][]): Promise<void> {
  if (!referrers.some((r) => r.length > 0)) return;
  await inGroup(run.logger, 'Copy referrers', () =>
    mapLimit(transfers, run.concurrency, async (t, i) => {
      const { stale } = t.report.referrers;
      const report = (t.report.referrers = {
        ...(await copyReferrers(run, t.target.repository, referrers[i])),
        ...(stale ? { stale } : {}),
      });
      if (report.copied + report.existing > 0) {
        const ofThem = report.attestations ? `, ${report.attestations} of them attestation(s) taken out of the index` : '';
        run.logger.info(
          `${t.report.repository}: ${report.copied} referrer(s) copied${ofThem}${report.via === 'tag' ? ' (listed in fallback tags sha256-<hex>)' : report.via === 'api' ? ' (listed by the referrers API)' : ''}`,
        );
      }
    }),
  );
}

/** Copies `referrers` into `target` (bringIn: blobs, then manifests by dependency level) and makes them findable there. */
export async function copyReferrers(run: EngineRun, target: RepositoryRef, referrers: FoundReferrer[]): Promise<TargetReferrers> {
  const report: TargetReferrers = { copied: 0, existing: 0 };
  // one per digest; an attestation taken out of the index wins over the same manifest found as a referrer
  const unique = [
    ...new Map(referrers.filter((r) => r.attestation || !sameRepository(r.source, target)).map((r) => [r.fetched.digest, r])).values(),
  ];
  if (unique.length === 0) return report;
  const attestations = unique.filter((r) => r.attestation).length;
  if (attestations > 0) report.attestations = attestations;

  // Blobs (each digest once; an attestation in its own repository has its blobs there), then the
  // manifests, a referrer after its subject; an attestation unchanged in its own repository is there.
  const seen = new Set<string>();
  const blobs: BlobToWrite[] = unique
    .filter((r) => !sameRepository(r.source, target))
    .flatMap((r) => planBlobs(r.image, r.source, target, seen));
  const atHome = (r: FoundReferrer) => sameRepository(r.source, target) && r.attestation?.original === r.fetched.digest;
  const manifests = unique.filter((r) => !atHome(r)).map((r) => ({ fetched: r.fetched, subject: r.subject }));
  const brought = await bringIn(run, target, { blobs, manifests });
  report.copied = brought.manifests.pushed;
  report.existing = unique.length - manifests.length + brought.manifests.existing;

  await makeFindable(run, target, unique, report);
  return report;
}

/** Per subject, the API lists what was pushed (else the run fails), or the fallback tag is merged to hold it. */
async function makeFindable(
  { client, concurrency, logger }: EngineRun,
  target: RepositoryRef,
  referrers: FoundReferrer[],
  report: TargetReferrers,
): Promise<void> {
  const bySubject = new Map<string, FoundReferrer[]>();
  for (const r of referrers) bySubject.set(r.subject, [...(bySubject.get(r.subject) ?? []), r]);
  await mapLimit([...bySubject], concurrency, async ([subject, pushed]) => {
    const label = `Referrers of ${formatRepository(target)}@${subject}`;
    const listing = await client.listReferrers(target, subject);
    if (listing.api) {
      report.via = 'api';
      const listed = new Set(listing.descriptors.map((d) => d.digest));
      const missing = pushed.filter((r) => !listed.has(r.fetched.digest));
      if (missing.length > 0) {
        throw new VerifyError(
          `${label}: the registry's referrers API does not list ${missing.map((r) => r.fetched.digest).join(', ')}, pushed by this run`,
          {
            registry: target.registry,
            repository: target.repository,
            reference: subject,
            hint: 'The registry serves the referrers API but did not index what was pushed; report it to the registry operator, or set {referrers} to skip',
          },
        );
      }
      return;
    }
    report.via ??= 'tag';
    const existing = await readFallbackTag(client, target, subject, label);
    const merged = mergeFallbackIndex(
      existing,
      pushed.map((r) => referrerDescriptor(r.image, r.fetched.mediaType, r.fetched.digest, r.fetched.size)),
    );
    if (!merged.changed) return;
    await client.putManifest(target, fallbackTag(subject), { bytes: merged.bytes, mediaType: merged.index.mediaType! });
    logger.debug(`${label}: tag ${fallbackTag(subject)} now lists ${merged.index.manifests.length} referrer(s)`);
  });
}
