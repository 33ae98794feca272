// The job summary and the log report show registry-served text: escaped for Markdown (no HTML,
// no table breakouts) and for log lines (no line breaks, so no `::` workflow command).
import { describe, expect, it } from '@jest/globals';
import type { MergeResult } from '../../src/engine/model.js';
import { buildMetadata, markdownCell, renderReport, renderSummaryMarkdown } from '../../src/engine/summary.js';

const digest = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const HOSTILE_TYPE = 'application/vnd.oci.image.index.v1+json\n::error::pwned <img src=x onerror=alert(1)> | cell';
const HOSTILE_SUBJECT = 'sha256:`|<b>x';

function result(): MergeResult {
  const entry = (n: number, kind: string, extra: Record<string, unknown> = {}) => ({
    kind,
    descriptor: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digest(n), size: 500 },
    sourceInput: 'reg.example/acme/app:amd64',
    ...extra,
  });
  return {
    digest: digest(99),
    manifest: '{}',
    mediaType: HOSTILE_TYPE,
    pushed: true,
    platforms: ['linux/amd64'],
    images: [],
    sources: [],
    plan: {
      entries: [entry(1, 'image', { platform: 'linux/amd64\n::warning::x' }), entry(2, 'attestation', { subject: HOSTILE_SUBJECT })],
      dropped: [],
      dangling: [],
      attestationReferrers: [],
    },
    targets: [
      {
        repository: 'reg.example/acme/app',
        tags: ['latest'],
        blobs: { mounted: 0, copied: 0, existing: 0 },
        manifestsPushed: 0,
        manifestsExisting: 0,
        referrers: { copied: 0, existing: 0 },
        actions: [],
      },
    ],
    requests: { requests: 3, retries: 0, byKind: {} },
  } as unknown as MergeResult;
}

describe('markdownCell', () => {
  it.each([
    ['a | b', 'a \\| b'],
    ['<script>alert(1)</script>', '&lt;script&gt;alert(1)&lt;/script&gt;'],
    ['line\n::error::x', 'line\\\\n::error::x'],
    ['`code` *em* _u_ [link](x) ~s~ ![i](x) # h', '\\`code\\` \\*em\\* \\_u\\_ \\[link\\](x) \\~s\\~ \\!\\[i\\](x) \\# h'],
    ['a\u001b[31mred', 'ared'],
    ['linux/arm64/v8', 'linux/arm64/v8'],
  ])('%j', (text, escaped) => {
    expect(markdownCell(text)).toBe(escaped);
  });
});

describe('renderSummaryMarkdown', () => {
  it('escapes what the registry served: no raw HTML, no extra table cells, no line breaks', () => {
    const markdown = renderSummaryMarkdown(result());
    expect(markdown).not.toContain('<img');
    expect(markdown).not.toContain('<b>');
    expect(markdown).not.toMatch(/^::/m);
    const row = markdown.split('\n').find((l) => l.includes(digest(1).slice(7, 19)))!;
    expect(row).toBe(
      `| linux/amd64\\\\n::warning::x | image | \`${digest(1).slice(7, 19)}\` | 500 B | reg.example/acme/app:amd64 | none |`,
    );
    const attestation = markdown.split('\n').find((l) => l.includes(digest(2).slice(7, 19)))!;
    expect(attestation.endsWith('| describes \\`\\|&lt;b&gt;x |')).toBe(true);
  });
});

describe('renderReport', () => {
  it('keeps each registry string on its own log line', () => {
    const report = renderReport(result());
    expect(report).not.toMatch(/^::/m);
    expect(report.split('\n')[0]).toBe(
      `Pushed application/vnd.oci.image.index.v1+json\\n::error::pwned <img src=x onerror=alert(1)> | cell ${digest(99)}`,
    );
  });
});

describe('stale referrers (listed, manifest gone): counted in every rendering', () => {
  const withStale = (): MergeResult => {
    const r = result();
    r.targets[0].referrers = { copied: 1, existing: 0, via: 'tag', stale: 2 };
    return r;
  };

  it('the metadata output carries the count', () => {
    expect(buildMetadata(withStale()).targets[0].referrers).toEqual({ copied: 1, existing: 0, via: 'tag', stale: 2 });
  });

  it('the log report and the job summary say how many were left out', () => {
    expect(renderReport(withStale())).toContain('referrers copied 1 (fallback tags), stale left out 2');
    expect(renderSummaryMarkdown(withStale())).toContain('| 1 (fallback tags), stale left out 2 |');
  });

  it('none stale: nothing said', () => {
    expect(renderReport(result())).not.toContain('stale');
    expect(renderSummaryMarkdown(result())).not.toContain('stale');
  });
});

describe('require-attestations: what was found per image, in every rendering', () => {
  const withGate = (): MergeResult => ({
    ...result(),
    attestationGate: {
      required: ['provenance', 'signature'],
      images: [
        {
          digest: digest(1),
          platform: 'linux/amd64',
          source: 'reg.example/acme/app:amd64',
          found: [
            { kind: 'provenance', via: 'index', digest: digest(2), type: 'https://slsa.dev/provenance/v0.2' },
            { kind: 'signature', via: 'referrer', digest: digest(3), type: 'application/vnd.dev.sigstore.bundle.v0.3+json;x=<b>|y' },
          ],
          missing: [],
        },
      ],
    },
  });

  it('the metadata output carries the report as is', () => {
    expect(buildMetadata(withGate()).requiredAttestations).toEqual(withGate().attestationGate);
    expect(buildMetadata(result())).not.toHaveProperty('requiredAttestations');
  });

  it('the job summary: one row per image and kind, registry text escaped; the log report: one line per image', () => {
    const markdown = renderSummaryMarkdown(withGate());
    expect(markdown).toContain('Required attestations (provenance, signature): present, not verified.');
    expect(markdown).toContain(
      `| linux/amd64 | \`${digest(1).slice(7, 19)}\` | provenance | attestation manifest \`${digest(2).slice(7, 19)}\` (https://slsa.dev/provenance/v0.2) |`,
    );
    expect(markdown).toContain(
      `| linux/amd64 | \`${digest(1).slice(7, 19)}\` | signature | referrer \`${digest(3).slice(7, 19)}\` (application/vnd.dev.sigstore.bundle.v0.3+json;x=&lt;b&gt;\\|y) |`,
    );
    expect(renderReport(withGate())).toContain(`Attestations of linux/amd64 ${digest(1)}: provenance found, signature found`);
    expect(renderSummaryMarkdown(result())).not.toContain('Required attestations');
  });
});

describe('sign / attest: what was signed per target, and the commands that verify it', () => {
  const IDENTITY = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
  const ISSUER = 'https://token.actions.githubusercontent.com';
  const signing = (extra: Partial<NonNullable<MergeResult['signing']>> = {}): NonNullable<MergeResult['signing']> => ({
    identity: IDENTITY,
    issuer: ISSUER,
    fulcioUrl: 'https://fulcio.githubapp.com',
    tsaUrl: 'https://timestamp.githubapp.com',
    instance: 'github',
    targets: [
      { repository: 'reg.example/acme/app', signatures: [{ subject: digest(99), referrer: digest(5) }], attestation: digest(6) },
      { repository: 'ghcr.io/acme/app', signatures: [], attestation: digest(7) },
    ],
    githubAttestations: ['42'],
    ...extra,
  });
  const signed = (extra: Partial<NonNullable<MergeResult['signing']>> = {}): MergeResult => ({ ...result(), signing: signing(extra) });
  const image = `reg.example/acme/app@${digest(99)}`;
  const trust = '--new-bundle-format --use-signed-timestamps --insecure-ignore-tlog=true --trusted-root trusted_root.json';
  const who = `--certificate-identity ${IDENTITY} --certificate-oidc-issuer ${ISSUER}`;

  it('metadata: per target the referrers, and per target the exact commands', () => {
    const m = buildMetadata(signed());
    expect(m.signing?.targets).toEqual(signing().targets);
    expect(m.signing?.verify).toEqual([
      {
        repository: 'reg.example/acme/app',
        image,
        commands: [
          `cosign verify ${image} ${who} ${trust}`,
          `cosign verify-attestation --type slsaprovenance1 ${image} ${who} ${trust}`,
          `gh attestation verify oci://${image} --owner acme`,
          `gh attestation verify oci://${image} --owner acme --bundle-from-oci`,
        ],
      },
      {
        repository: 'ghcr.io/acme/app',
        image: `ghcr.io/acme/app@${digest(99)}`,
        commands: [
          `cosign verify-attestation --type slsaprovenance1 ghcr.io/acme/app@${digest(99)} ${who} ${trust}`,
          `gh attestation verify oci://ghcr.io/acme/app@${digest(99)} --owner acme`,
          `gh attestation verify oci://ghcr.io/acme/app@${digest(99)} --owner acme --bundle-from-oci`,
        ],
      },
    ]);
    expect(buildMetadata(result())).not.toHaveProperty('signing');
  });

  it('not stored with GitHub: only the --bundle-from-oci form; a custom Sigstore: its trusted root for gh too; a Rekor entry: the tlog is checked', () => {
    const [custom] = buildMetadata(signed({ githubAttestations: undefined, instance: 'custom', tlog: true })).signing!.verify;
    expect(custom.commands.filter((c) => c.startsWith('gh '))).toEqual([
      `gh attestation verify oci://${image} --owner acme --custom-trusted-root trusted_root.json --bundle-from-oci`,
    ]);
    // the TSA's timestamp stays the proof of time (a Rekor v2 entry has none); the tlog is checked
    expect(custom.commands[0]).toBe(
      `cosign verify ${image} ${who} --new-bundle-format --use-signed-timestamps --trusted-root trusted_root.json`,
    );
  });

  it('an identity that is no GitHub workflow: no gh command; a GHES one: --hostname', () => {
    const email = buildMetadata(signed({ identity: 'someone@example.com', issuer: 'https://issuer.example' })).signing!.verify[0];
    expect(email.commands.some((c) => c.startsWith('gh '))).toBe(false);
    const ghes = buildMetadata(signed({ identity: 'https://git.corp/acme/app/.github/workflows/r.yml@refs/heads/main' })).signing!
      .verify[0];
    expect(ghes.commands).toContain(`gh attestation verify oci://${image} --owner acme --hostname git.corp`);
  });

  it('certificate text is shell-quoted and kept on one line: it can neither run nor start a workflow command', () => {
    const hostile = buildMetadata(signed({ identity: "x'; rm -rf / #\n::error::pwned $(id) `id`" })).signing!.verify[0].commands[0];
    expect(hostile).toContain(`--certificate-identity 'x'\\''; rm -rf / #\\n::error::pwned $(id) \`id\`'`);
    expect(hostile).not.toContain('\n');
    const markdown = renderSummaryMarkdown(signed({ identity: '```\n<img src=x>' }));
    // the fence is longer than any backtick run in the commands: they cannot close it
    expect(markdown).toContain('````sh\n');
    // outside the code blocks (where it is literal text), no HTML
    expect(markdown.replace(/````sh\n[^]*?\n````/g, '')).not.toContain('<img');
  });

  it('the job summary: a row per target and each command in a code block; the log report: the same commands', () => {
    const markdown = renderSummaryMarkdown(signed());
    expect(markdown).toContain(
      `| reg.example/acme/app | \`${digest(99).slice(7, 19)}\` → \`${digest(5).slice(7, 19)}\` | \`${digest(6).slice(7, 19)}\` |`,
    );
    expect(markdown).toContain('| ghcr.io/acme/app | none |');
    expect(markdown).toContain(`Verify ${image}:\n\n\`\`\`sh\ncosign verify ${image} ${who} ${trust}\n`);
    expect(markdown).toContain("provenance stored with GitHub's attestations API (42)");
    const report = renderReport(signed());
    expect(report).toContain(`reg.example/acme/app: signature of ${digest(99)} in referrer ${digest(5)}`);
    expect(report).toContain(`ghcr.io/acme/app: provenance of ${digest(99)} in referrer ${digest(7)}`);
    expect(report).toContain(`Verify ${image} with:\n  cosign verify ${image} ${who} ${trust}`);
    expect(report).toContain(`  gh attestation verify oci://${image} --owner acme --bundle-from-oci`);
    expect(renderReport(result())).not.toContain('Verify');
  });
});
