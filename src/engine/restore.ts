// Several tags move together (DESIGN §2 item 14). The index goes to every target by digest before
// any tag, so a registry that refuses the index moves no tag anywhere; but a registry may take the
// index and still refuse the tag (immutable tags on ECR, Harbor, Artifactory), after other tags
// have moved. So, for a merge with more than one tag:
//
//   readPrevious  what each tag holds before the merge: one HEAD per tag, sent as soon as the
//                 targets are known and awaited only before the first tag PUT (beside the
//                 transfer, never a wave of its own)
//   putBack       on a failed tag PUT, each tag already moved goes back: PUT of the manifest it
//                 held (read by digest, on this path only), or DELETE of a tag that did not exist
//                 (where the registry deletes tags); the error lists what became of each
//
// A merge with one tag reads nothing more: its one PUT either moves the tag or fails.
import { mapLimit } from '../base/concurrency.js';
import { type ManifestMergeError, type TagRestore, TagsRestoredError, isExpectedError, isHttpError, isNotFound } from '../base/errors.js';
import { sanitizeLine } from '../base/redact.js';
import { type RepositoryRef, formatRepository } from '../oci/reference.js';
import type { ManifestHead } from '../registry/client-types.js';
import type { EngineRun } from './run.js';

/** One tag of one target repository. */
export interface TagTarget {
  repository: RepositoryRef;
  tag: string;
}

/** What each tag held before the merge (undefined: it did not exist), by `tagName`. */
export type PreviousTags = Map<string, ManifestHead | undefined>;

export function tagName({ repository, tag }: TagTarget): string {
  return `${formatRepository(repository)}:${tag}`;
}

/**
 * Starts reading what each tag holds now, for putting it back if a later tag is refused. Nothing is
 * read for a single tag. The promise may fail before it is awaited: its failure is reported where
 * it is awaited (before any tag moves), never as an unhandled rejection.
 */
export function readPrevious({ client, concurrency }: EngineRun, tags: TagTarget[]): Promise<PreviousTags> | undefined {
  if (tags.length < 2) return undefined;
  const reading = mapLimit(tags, concurrency, async (t) => [tagName(t), await client.headManifest(t.repository, t.tag)] as const).then(
    (pairs) => new Map(pairs),
  );
  reading.catch(() => undefined);
  return reading;
}

/**
 * PUTs `write` under every tag, in parallel. When one fails after others have moved, those are put
 * back as `previous` says they were (a tag whose PUT failed without an answer, a reset or a
 * timeout, may have moved too: it is put back as well), and the error thrown says what became of
 * each. Without `previous` (a single tag), the failure is thrown as it is.
 */
export async function writeTags(
  run: EngineRun,
  tags: TagTarget[],
  previous: PreviousTags | undefined,
  digest: string,
  write: (t: TagTarget) => Promise<void>,
): Promise<void> {
  const moved: TagTarget[] = [];
  const unanswered: TagTarget[] = [];
  try {
    await mapLimit(tags, run.concurrency, async (t) => {
      try {
        await write(t);
      } catch (error) {
        // no status from the registry: the PUT may have landed
        if (!isHttpError(error)) unanswered.push(t);
        throw error;
      }
      moved.push(t);
    });
  } catch (failure) {
    const toPutBack = [...moved, ...unanswered];
    if (!previous || toPutBack.length === 0) throw failure;
    throw await putBack(run, toPutBack, previous, digest, failure, new Set(unanswered));
  }
}

/** Puts back every tag of `moved`; returns the error to throw (the failure, wrapped with what became of each tag). */
async function putBack(
  run: EngineRun,
  moved: TagTarget[],
  previous: PreviousTags,
  digest: string,
  failure: unknown,
  unanswered: Set<TagTarget>,
): Promise<unknown> {
  const { client, logger } = run;
  const outcomes = await mapLimit(moved, run.concurrency, async (t): Promise<TagRestore> => {
    const tag = tagName(t);
    const before = previous.get(tag);
    try {
      if (before === undefined) {
        try {
          await client.deleteManifest(t.repository, t.tag);
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
        logger.info(`Deleted ${tag} again: it did not exist before this run`);
        return { tag, outcome: 'deleted' };
      }
      if (before.digest !== digest) {
        const manifest = await client.fetchManifest(t.repository, before.digest);
        const stored = await client.putManifest(t.repository, t.tag, { bytes: manifest.bytes, mediaType: manifest.mediaType });
        if (stored !== before.digest) throw new Error(`the registry stored it as ${stored}`);
      }
      logger.info(`Put ${tag} back at ${before.digest}`);
      return { tag, previous: before.digest, outcome: 'restored' };
    } catch (error) {
      const reason = sanitizeLine(isExpectedError(error) ? error.summary : error instanceof Error ? error.message : String(error));
      logger.warning(`Could not put ${tag} back ${before ? `at ${before.digest}` : '(delete it)'}: ${reason}`);
      const maybe = unanswered.has(t) ? `its PUT got no answer, so it may hold ${digest}; ` : '';
      return { tag, ...(before ? { previous: before.digest } : {}), outcome: 'failed', current: digest, reason: `${maybe}${reason}` };
    }
  });
  // a failure that is not ours (a bug) keeps its stack; the log lines above said what was put back
  if (!isExpectedError(failure)) return failure;
  return restoredError(failure, outcomes);
}

function restoredError(failure: ManifestMergeError, outcomes: TagRestore[]): TagsRestoredError {
  const back = outcomes
    .filter((o) => o.outcome !== 'failed')
    .map((o) => (o.outcome === 'deleted' ? `${o.tag} (deleted: it did not exist before)` : `${o.tag} (back at ${o.previous})`));
  const failed = outcomes
    .filter((o) => o.outcome === 'failed')
    .map(
      (o) =>
        `${o.tag} (${o.previous ? `was ${o.previous}, still holds ${o.current}; putting it back failed` : `it did not exist before and now holds ${o.current}; deleting it failed`}: ${o.reason})`,
    );
  const parts = [failure.summary.replace(/\.$/, '')];
  if (back.length > 0) parts.push(`tags that had already moved were put back: ${back.join(', ')}`);
  if (failed.length > 0) parts.push(`tags that had already moved could not be put back: ${failed.join(', ')}`);
  const byHand =
    failed.length > 0
      ? "Set right by hand each tag that could not be put back: point it at the digest it held (`crane tag REPOSITORY@DIGEST TAG`), or delete it where it did not exist (in the registry's UI or API)"
      : undefined;
  const hint = [byHand, failure.hint].filter((h): h is string => h !== undefined).join('. ') || undefined;
  return new TagsRestoredError(failure, parts.join('; '), outcomes, hint ? { hint } : {});
}
