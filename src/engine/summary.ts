// What a merge did, as machine-readable metadata (the `metadata` output, the CLI's --json)
// and as a job summary table for people. Pure. Registry-served text (media types, platforms,
// repository names echoed back) is escaped for where it lands: one log line (no line breaks, no
// escape sequences, so nothing can start a `::` workflow command) or a Markdown table cell (no
// HTML, no table or emphasis syntax).
import { formatBytes } from '../base/bytes.js';
import type { AttestationGateReport, CleanupReport, MergeResult, SigningReport, TargetReferrers, TargetReport } from './model.js';
import { sanitizeLine } from '../base/redact.js';
import { type TargetVerification, trustedRootNote, verifyCommands } from './verify-commands.js';

export interface MergeMetadata {
  digest: string;
  mediaType: string;
  pushed: boolean;
  platforms: string[];
  images: string[];
  sources: Array<{ input: string; digest: string; mediaType: string; entries: number }>;
  children: Array<{ kind: string; digest: string; mediaType: string; size: number; platform?: string; describes?: string; source: string }>;
  /** `referrers`: taken out of the index to be pushed as referrers of their images (`attestations: referrers`) */
  attestations: { kept: number; stripped: number; referrers?: number };
  dropped: Array<{ kind: string; digest: string; source: string; describes?: string }>;
  /** each target's report without its action lines (`referrers.via`: the referrers API or fallback tags; `stale`: listed, manifest gone, left out) */
  targets: Array<Pick<TargetReport, 'repository' | 'tags' | 'blobs' | 'manifestsPushed' | 'manifestsExisting' | 'referrers'>>;
  /** dangling attestations: their image is not in their source index */
  dangling: Array<{ digest: string; source: string; missing?: string; kept: boolean }>;
  requests: { total: number; retries: number; byKind: Record<string, number> };
  /** `cleanup-sources`: source tags removed (in a dry run: to remove), left in place (each warned), and not for cleanup */
  cleanup?: { removed: number; left: number; skipped: number; tags: CleanupReport };
  /** `require-attestations`: the kinds required, and per image what was found (where) and what is missing (none, or the merge failed) */
  requiredAttestations?: AttestationGateReport;
  /** `sign` / `attest`: the identity and Sigstore, per target the signature and provenance referrers, and the commands that verify them */
  signing?: SigningReport & { verify: TargetVerification[] };
}

export function buildMetadata(result: MergeResult): MergeMetadata {
  const { plan } = result;
  return {
    digest: result.digest,
    mediaType: result.mediaType,
    pushed: result.pushed,
    platforms: result.platforms,
    images: result.images,
    sources: result.sources.map((s) => ({ input: s.input, digest: s.digest, mediaType: s.mediaType, entries: s.entries.length })),
    children: plan.entries.map((e) => ({
      kind: e.kind,
      digest: e.descriptor.digest,
      mediaType: e.descriptor.mediaType,
      size: e.descriptor.size,
      ...(e.platform ? { platform: e.platform } : {}),
      ...(e.subject ? { describes: e.subject } : {}),
      source: e.sourceInput,
    })),
    attestations: {
      kept: plan.entries.filter((e) => e.kind === 'attestation').length,
      stripped: plan.dropped.filter((e) => e.kind === 'attestation').length,
      ...(plan.attestationReferrers.length > 0 ? { referrers: plan.attestationReferrers.length } : {}),
    },
    dropped: plan.dropped.map((e) => ({
      kind: e.kind,
      digest: e.descriptor.digest,
      source: e.sourceInput,
      ...(e.subject ? { describes: e.subject } : {}),
    })),
    targets: result.targets.map((t) => ({
      repository: t.repository,
      tags: t.tags,
      blobs: t.blobs,
      manifestsPushed: t.manifestsPushed,
      manifestsExisting: t.manifestsExisting,
      referrers: t.referrers,
    })),
    dangling: plan.dangling.map((d) => ({
      digest: d.entry.descriptor.digest,
      source: d.entry.sourceInput,
      ...(d.missing ? { missing: d.missing } : {}),
      kept: d.kept,
    })),
    requests: { total: result.requests.requests, retries: result.requests.retries, byKind: result.requests.byKind },
    ...(result.cleanup
      ? {
          cleanup: {
            removed: result.cleanup.removed.length,
            left: result.cleanup.left.length,
            skipped: result.cleanup.skipped.length,
            tags: result.cleanup,
          },
        }
      : {}),
    ...(result.attestationGate ? { requiredAttestations: result.attestationGate } : {}),
    ...(result.signing ? { signing: { ...result.signing, verify: verifyCommands(result.signing, result.digest) } } : {}),
  };
}

/** A target's referrers count: how many copied, listed how, attestations among them, stale entries left out. */
function referrersText(r: TargetReferrers): string {
  const via = r.via ? ` (${r.via === 'api' ? 'referrers API' : 'fallback tags'})` : '';
  const attestations = r.attestations ? `, attestations as referrers ${r.attestations}` : '';
  return `${r.copied}${via}${attestations}${r.stale ? `, stale left out ${r.stale}` : ''}`;
}

function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}

/** Text as literal Markdown inside a table cell: one line, HTML and Markdown syntax escaped. */
export function markdownCell(text: string): string {
  return sanitizeLine(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\\`*_[\]|~!#]/g, (c) => `\\${c}`);
}

const cell = markdownCell;

/** A digest as a code span; anything else a registry put where a digest belongs, as escaped text. */
function digestCell(digest: string): string {
  const short = shortDigest(digest);
  return /^[0-9a-f]+$/.test(short) ? `\`${short}\`` : cell(short);
}
/** One log line's worth of registry text. */
const line = sanitizeLine;

/** Markdown for the job summary: the result, one row per child, and per-target transfer counts. */
export function renderSummaryMarkdown(result: MergeResult): string {
  const m = buildMetadata(result);
  const lines: string[] = [];
  lines.push(`### manifest-merge ${result.pushed ? 'pushed' : 'planned (dry run)'} \`${result.digest}\``, '');
  lines.push(
    `${cell(m.mediaType)} · ${m.platforms.length} platform${m.platforms.length === 1 ? '' : 's'} · attestations kept: ${m.attestations.kept}, stripped: ${m.attestations.stripped}${m.attestations.referrers ? `, as referrers: ${m.attestations.referrers}` : ''} · ${m.requests.total} registry requests`,
    '',
  );
  lines.push('| Platform | Kind | Digest | Size | Source | Attestation |', '| --- | --- | --- | --- | --- | --- |');
  const attested = new Set(m.children.filter((c) => c.kind === 'attestation').map((c) => c.describes));
  const stripped = new Set(m.dropped.filter((c) => c.kind === 'attestation').map((c) => c.describes));
  const asReferrer = new Set(result.plan.attestationReferrers.map((a) => a.subject));
  for (const c of m.children) {
    const attestation =
      c.kind === 'image'
        ? attested.has(c.digest)
          ? 'kept'
          : asReferrer.has(c.digest)
            ? 'referrer'
            : stripped.has(c.digest)
              ? 'stripped'
              : 'none'
        : c.describes
          ? `describes ${digestCell(c.describes)}`
          : '';
    lines.push(
      `| ${cell(c.platform ?? (c.kind === 'attestation' ? 'unknown/unknown' : ''))} | ${cell(c.kind)} | ${digestCell(c.digest)} | ${formatBytes(c.size)} | ${cell(c.source)} | ${attestation} |`,
    );
  }
  for (const d of m.dropped) {
    lines.push(
      `| ${d.kind === 'attestation' ? 'unknown/unknown' : ''} | ${cell(d.kind)} (dropped) | ${digestCell(d.digest)} | | ${cell(d.source)} | ${d.describes ? `stripped, described ${digestCell(d.describes)}` : 'stripped'} |`,
    );
  }
  lines.push(
    '',
    '| Target | Tags | Blobs mounted | Blobs copied | Blobs present | Manifests pushed | Referrers copied |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const t of m.targets) {
    lines.push(
      `| ${cell(t.repository)} | ${cell(t.tags.join(', '))} | ${t.blobs.mounted} | ${t.blobs.copied} | ${t.blobs.existing} | ${t.manifestsPushed} | ${referrersText(t.referrers)} |`,
    );
  }
  lines.push('', REFERRERS_NOTE);
  if (result.cleanup) lines.push('', ...cleanupMarkdown(result.cleanup, result.pushed));
  if (result.attestationGate) lines.push('', ...gateMarkdown(result.attestationGate));
  if (result.signing) lines.push('', ...signingMarkdown(result.signing, result.digest));
  lines.push('');
  return lines.join('\n');
}

/** The source tags `cleanup-sources` removed (or would remove) and left, one row each. */
function cleanupMarkdown(cleanup: CleanupReport, pushed: boolean): string[] {
  const rows = [
    ...cleanup.removed.map(
      (t) => `| ${cell(t.tag)} | ${digestCell(t.digest)} | ${pushed ? 'removed' : 'would be removed'}${t.method ? ` (${t.method})` : ''} |`,
    ),
    ...cleanup.left.map((t) => `| ${cell(t.tag)} | ${digestCell(t.digest)} | left: ${cell(t.reason ?? '')} |`),
  ];
  if (rows.length === 0) return ['No source tag to clean up (sources given by digest or layout, or tags that are also targets).'];
  return ['| Source tag | Digest | Cleanup |', '| --- | --- | --- |', ...rows];
}

/** `require-attestations`: per image, each kind required and where it was found. */
function gateMarkdown(gate: AttestationGateReport): string[] {
  const where = { index: 'attestation manifest', referrer: 'referrer', tag: 'cosign tag' } as const;
  const rows = gate.images.flatMap((image) =>
    gate.required.map((kind) => {
      const found = image.found.filter((e) => e.kind === kind);
      const text =
        found.length > 0 ? found.map((e) => `${where[e.via]} ${digestCell(e.digest)} (${cell(e.type)})`).join(', ') : '**missing**';
      return `| ${cell(image.platform ?? '')} | ${digestCell(image.digest)} | ${kind} | ${text} |`;
    }),
  );
  return [
    `Required attestations (${gate.required.join(', ')}): present, not verified.`,
    '',
    '| Platform | Image | Kind | Found in |',
    '| --- | --- | --- | --- |',
    ...rows,
  ];
}

/** `sign` / `attest`: who signed with which Sigstore, per target what was pushed, then the commands that verify it. */
function signingMarkdown(signing: SigningReport, digest: string): string[] {
  const verification = verifyCommands(signing, digest);
  const rows = signing.targets.map((t) => {
    const signatures = t.signatures.map((s) => `${digestCell(s.subject)} → ${digestCell(s.referrer)}`).join(', ') || 'none';
    return `| ${cell(t.repository)} | ${signatures} | ${t.attestation ? digestCell(t.attestation) : 'none'} |`;
  });
  const lines = [
    `Signed keyless as ${cell(signing.identity)} (issuer ${cell(signing.issuer)}) with ${cell(signing.fulcioUrl)} and ${cell(signing.tsaUrl)}${signing.tlog ? ', logged in Rekor' : ', no transparency log entry'}${signing.githubAttestations?.length ? `; provenance stored with GitHub's attestations API (${signing.githubAttestations.map(cell).join(', ')})` : ''}.`,
    '',
    '| Target | Signatures (manifest → referrer) | Provenance referrer |',
    '| --- | --- | --- |',
    ...rows,
  ];
  for (const v of verification) {
    if (v.commands.length === 0) continue;
    lines.push('', `Verify ${cell(v.image)}:`, '', ...codeBlock(v.commands));
  }
  lines.push('', cell(trustedRootNote(signing)));
  return lines;
}

/** Lines as a fenced code block whose fence no line can close (one backtick longer than any run in them). */
function codeBlock(lines: string[]): string[] {
  const longest = Math.max(0, ...lines.flatMap((l) => (l.match(/`+/g) ?? []).map((run) => run.length)));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return [`${fence}sh`, ...lines.map(line), fence];
}

/** Said with the per-target counts: the referrers copied are the children's, never the source indexes'. */
export const REFERRERS_NOTE =
  'Referrers copied are those of the child manifests; referrers of the source indexes themselves do not apply (the merged index is a new manifest).';

/** Plain text for logs and the CLI: the index, then what was (or would be) done per target. */
export function renderReport(result: MergeResult): string {
  const lines: string[] = [];
  lines.push(`${result.pushed ? 'Pushed' : 'Dry run: would push'} ${line(result.mediaType)} ${line(result.digest)}`);
  for (const e of result.plan.entries) {
    lines.push(
      `  ${line(e.platform ?? (e.kind === 'attestation' ? 'attestation' : e.kind)).padEnd(24)} ${line(e.descriptor.digest)} ${formatBytes(e.descriptor.size).padStart(9)}  ${e.subject ? `describes ${line(shortDigest(e.subject))}  ` : ''}from ${line(e.sourceInput)}`,
    );
  }
  for (const d of result.plan.dropped) lines.push(`  (dropped ${d.kind}) ${line(d.descriptor.digest)} from ${line(d.sourceInput)}`);
  for (const t of result.targets) {
    lines.push(`${line(t.repository)}: tags ${line(t.tags.join(', '))}`);
    if (!result.pushed) for (const a of t.actions) lines.push(`  would ${line(a)}`);
    else
      lines.push(
        `  blobs mounted ${t.blobs.mounted}, copied ${t.blobs.copied}, present ${t.blobs.existing}; manifests pushed ${t.manifestsPushed}, present ${t.manifestsExisting}; referrers copied ${referrersText(t.referrers)}`,
      );
  }
  if (result.targets.some((t) => t.referrers.copied + t.referrers.existing > 0)) lines.push(REFERRERS_NOTE);
  if (result.cleanup) {
    for (const t of result.cleanup.removed)
      lines.push(`${result.pushed ? 'Removed' : 'Would remove'} source tag ${line(t.tag)}${t.method ? ` (${t.method})` : ''}`);
    for (const t of result.cleanup.left) lines.push(`Left source tag ${line(t.tag)}: ${line(t.reason ?? '')}`);
  }
  if (result.attestationGate)
    for (const image of result.attestationGate.images)
      lines.push(
        `Attestations of ${line(image.platform ?? 'image')} ${line(image.digest)}: ${result.attestationGate.required
          .map((kind) => `${kind} ${image.found.some((e) => e.kind === kind) ? 'found' : 'MISSING'}`)
          .join(', ')}`,
      );
  if (result.signing) lines.push(...signingReport(result.signing, result.digest));
  return lines.join('\n');
}

/** The log's lines for `sign` / `attest`: per target what was pushed, and each verify command. */
function signingReport(signing: SigningReport, digest: string): string[] {
  const lines = [`Signed as ${line(signing.identity)} (issuer ${line(signing.issuer)})${signing.tlog ? ', logged in Rekor' : ''}`];
  const verification = verifyCommands(signing, digest);
  for (const [i, t] of signing.targets.entries()) {
    for (const s of t.signatures) lines.push(`${line(t.repository)}: signature of ${line(s.subject)} in referrer ${line(s.referrer)}`);
    if (t.attestation) lines.push(`${line(t.repository)}: provenance of ${line(digest)} in referrer ${line(t.attestation)}`);
    if (verification[i].commands.length > 0)
      lines.push(`Verify ${line(verification[i].image)} with:`, ...verification[i].commands.map((c) => `  ${c}`));
  }
  lines.push(line(trustedRootNote(signing)));
  return lines;
}
