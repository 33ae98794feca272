// The real test of the action: `node dist/index.js` with INPUT_* variables and the
// GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files, exactly as the runner runs it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Digest } from '../../src/oci/digest.js';
import { hasManifest } from '../../scripts/support/fixtures/client.js';
import { seedCase, type SeedCase } from '../../scripts/support/fixtures/cases.js';
import { type RunningRegistry, startRegistry } from '../../scripts/support/registry.js';
import { skopeoInspectRaw } from '../../scripts/support/skopeo.js';
import { ACTION, runAction } from './processes.js';

let registry: RunningRegistry;
let seed: SeedCase;

beforeAll(async () => {
  if (!existsSync(ACTION)) throw new Error('dist/index.js is missing: run npm run build');
  registry = await startRegistry({ name: 'action-plain' });
  seed = await seedCase(registry);
});

afterAll(async () => {
  await registry?.stop();
});

describe('node dist/index.js, as the runner runs it', () => {
  it('spec: several images in one step; results per image, digest of the first, a failed image named while the others complete', async () => {
    const good1 = `${registry.host}/acme/spec-one:1`;
    const good2 = `${registry.host}/acme/spec-two:1`;
    const broken = `${registry.host}/acme/spec-broken:1`;
    const spec = [
      'images:',
      `  - tags: [${good1}]`,
      `    sources: [${seed.sources.join(', ')}]`,
      `  - tags: [${broken}]`,
      `    sources: [${registry.host}/acme/does-not-exist:1]`,
      `  - tags: [${good2}]`,
      `    sources: [${seed.sources[0]}]`,
      '    platforms: [linux/amd64]',
    ].join('\n');
    const run = await runAction({ spec });
    expect(run.code).toBe(1);
    const errors = run.stdout.split('\n').filter((l) => l.startsWith('::error::'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('1 of 3 images failed');
    expect(errors[0]).toContain(broken);
    const results = JSON.parse(run.outputs.results) as Array<{ tags: string[]; digest?: string; error?: string }>;
    expect(results.map((r) => r.tags)).toEqual([[good1], [broken], [good2]]);
    expect(results[0].digest).toBe(sha256Digest(await skopeoInspectRaw(good1, { tlsVerify: false })));
    expect(results[2].digest).toBe(sha256Digest(await skopeoInspectRaw(good2, { tlsVerify: false })));
    expect(results[1].digest).toBeUndefined();
    expect(results[1].error).toContain('does-not-exist');
    expect(run.outputs.digest).toBe(results[0].digest);
    expect(await hasManifest(registry, 'acme/spec-broken', '1')).toBe(false);
  });

  it('spec with the step input attestations: referrers: each image takes it as its default', async () => {
    const target = `${registry.host}/acme/spec-referrers:1`;
    const run = await runAction({
      spec: ['images:', `  - tags: [${target}]`, `    sources: [${seed.sources.join(', ')}]`].join('\n'),
      attestations: 'referrers',
    });
    expect(run.stdout).not.toMatch(/Use one of/);
    expect(run.code).toBe(0);
    const [result] = JSON.parse(run.outputs.results) as Array<{ metadata: { attestations: { kept: number; referrers?: number } } }>;
    expect(result.metadata.attestations).toEqual({ kept: 0, stripped: 0, referrers: 2 });
    const index = JSON.parse((await skopeoInspectRaw(target, { tlsVerify: false })).toString('utf8')) as {
      manifests: Array<{ digest: string }>;
    };
    expect(index.manifests.map((m) => m.digest)).toEqual([seed.amd64.imageDigest, seed.arm64.imageDigest]);
  });

  it("github-annotations: the run's repository and commit (the runner's GITHUB_* variables) annotate the index; auto leaves other registries alone", async () => {
    const env = { GITHUB_SERVER_URL: 'https://github.example', GITHUB_REPOSITORY: 'acme/app', GITHUB_SHA: 'c0ffee'.padEnd(40, '0') };
    const forced = `${registry.host}/acme/gh-annotated:1`;
    const run = await runAction({ sources: seed.sources.join('\n'), tags: forced, 'github-annotations': 'true' }, { env });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const index = JSON.parse((await skopeoInspectRaw(forced, { tlsVerify: false })).toString('utf8')) as {
      annotations?: Record<string, string>;
    };
    expect(index.annotations).toEqual({
      'org.opencontainers.image.source': 'https://github.example/acme/app',
      'org.opencontainers.image.revision': env.GITHUB_SHA,
    });
    // the same commit gives the same digest
    const again = await runAction(
      { sources: seed.sources.join('\n'), tags: `${registry.host}/acme/gh-annotated:2`, 'github-annotations': 'true' },
      { env },
    );
    expect(again.outputs.digest).toBe(run.outputs.digest);

    const auto = `${registry.host}/acme/gh-auto:1`;
    const plain = await runAction({ sources: seed.sources.join('\n'), tags: auto }, { env });
    expect(plain.code).toBe(0);
    const autoIndex = JSON.parse((await skopeoInspectRaw(auto, { tlsVerify: false })).toString('utf8')) as {
      annotations?: Record<string, string>;
    };
    expect(autoIndex.annotations).toBeUndefined();
  });

  it('spec with two images writing one tag fails before any request, naming both images (issue 20, 4)', async () => {
    const tag = `${registry.host}/acme/spec-clash:1`;
    const run = await runAction({
      spec: ['images:', `  - {tags: [${tag}], sources: [${seed.sources[0]}]}`, `  - {tags: [${tag}], sources: [${seed.sources[1]}]}`].join(
        '\n',
      ),
    });
    expect(run.code).toBe(1);
    const errors = run.stdout.split('\n').filter((l) => l.startsWith('::error::'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`::error::Input \`spec\` images[0] and images[1] both write the tag ${tag}`);
    expect(run.outputs).toEqual({});
    expect(await hasManifest(registry, 'acme/spec-clash', '1')).toBe(false);
  });

  it('a malformed GITHUB_EVENT_PATH: a normal run, or a ::warning:: when the file is needed; never a SyntaxError stack (issue 20, 7)', async () => {
    const event = join(await mkdtemp(join(tmpdir(), 'mm-action-event-')), 'event.json');
    await writeFile(event, '{"repository": {"full_name": ');
    const sha = 'c0ffee'.padEnd(40, '0');
    const inputs = { sources: seed.sources.join('\n'), 'github-annotations': 'true' };
    // GITHUB_REPOSITORY names the repository: the event file is not read
    const plain = await runAction(
      { ...inputs, tags: `${registry.host}/acme/event-plain:1` },
      {
        env: { GITHUB_EVENT_PATH: event, GITHUB_REPOSITORY: 'acme/app', GITHUB_SHA: sha },
      },
    );
    expect(plain.stderr).toBe('');
    expect(plain.stdout).not.toMatch(/SyntaxError|::warning::|::error::/);
    expect(plain.code).toBe(0);
    // without it, the event file is read for the repository: one warning, and the rest of the step runs
    const target = `${registry.host}/acme/event-warned:1`;
    const warned = await runAction({ ...inputs, tags: target }, { env: { GITHUB_EVENT_PATH: event, GITHUB_SHA: sha } });
    expect(warned.stderr).toBe('');
    expect(warned.stdout).not.toMatch(/SyntaxError|::error::|\n\s+at /);
    const warnings = warned.stdout.split('\n').filter((l) => l.startsWith('::warning::'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^::warning::GITHUB_EVENT_PATH: ".*event\.json" is not JSON \(.*\); org\.opencontainers\.image\.source is left out$/,
    );
    expect(warned.code).toBe(0);
    const index = JSON.parse((await skopeoInspectRaw(target, { tlsVerify: false })).toString('utf8')) as {
      annotations?: Record<string, string>;
    };
    expect(index.annotations).toEqual({ 'org.opencontainers.image.revision': sha });
  });

  it('merges the seed case and sets every output and the job summary', async () => {
    const target = `${registry.host}/acme/action-merged:latest`;
    const run = await runAction({ sources: seed.sources.join('\n'), tags: target, platforms: 'linux/amd64, linux/arm64' });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);

    const raw = await skopeoInspectRaw(target, { tlsVerify: false });
    expect(run.outputs.digest).toBe(sha256Digest(raw));
    expect(run.outputs.manifest).toBe(raw.toString('utf8'));
    expect(run.outputs.platforms).toBe('linux/amd64,linux/arm64');
    expect(run.outputs.images).toBe(`${target}@${run.outputs.digest}`);

    const metadata = JSON.parse(run.outputs.metadata) as {
      digest: string;
      sources: Array<{ input: string; digest: string }>;
      children: Array<{ kind: string; digest: string; describes?: string }>;
      attestations: { kept: number; stripped: number };
      requests: { total: number };
    };
    expect(metadata.digest).toBe(run.outputs.digest);
    expect(metadata.sources.map((s) => s.digest)).toEqual([seed.amd64.indexDigest, seed.arm64.indexDigest]);
    expect(metadata.attestations).toEqual({ kept: 2, stripped: 0 });
    expect(metadata.children.filter((c) => c.kind === 'attestation').map((c) => c.describes)).toEqual([
      seed.amd64.imageDigest,
      seed.arm64.imageDigest,
    ]);
    expect(metadata.requests.total).toBeGreaterThan(0);

    expect(run.summary).toContain('| Platform | Kind | Digest | Size | Source | Attestation |');
    expect(run.summary).toMatch(
      new RegExp(
        `\\| linux/amd64 \\| image \\| \`${seed.amd64.imageDigest.slice(7, 19)}\` \\| [0-9.]+ (B|KiB) \\| ${seed.sources[0].replace(/[.]/g, '\\.')} \\| kept \\|`,
      ),
    );
    expect(run.summary).toContain(run.outputs.digest);
  });

  it('fails with one readable error and no stack trace on bad input, writing no outputs', async () => {
    const run = await runAction({ sources: seed.sources.join('\n'), tags: `${registry.host}/acme/action-bad:x`, attestations: 'drop' });
    expect(run.code).toBe(1);
    const errors = run.stdout.split('\n').filter((l) => l.startsWith('::error::'));
    expect(errors).toEqual(['::error::Input `attestations` is "drop". Use one of: keep, strip, referrers']);
    expect(run.stdout).not.toMatch(/\n\s+at /);
    expect(run.outputs).toEqual({});
  });

  it('an unexpected failure (not one of ours) prints its stack, source-mapped to src/ lines', async () => {
    // GITHUB_OUTPUT naming a directory: writing the first output fails with EISDIR, after the merge
    const run = await runAction(
      { sources: seed.sources.join('\n'), tags: `${registry.host}/acme/action-eisdir:x` },
      { env: { GITHUB_OUTPUT: tmpdir() } },
    );
    expect(run.code).toBe(1);
    const errors = run.stdout.split('\n').filter((l) => l.startsWith('::error::'));
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^::error::EISDIR/);
    // the stack, one annotation (%0A: its line breaks), naming the TypeScript source it came from
    expect(errors[1]).toMatch(/^::error::Error: EISDIR.*%0A\s+at /);
    expect(errors[1]).toMatch(/src\/action\/main\.ts:\d+:\d+/);
  });

  it('fails on a missing platform before writing anything', async () => {
    const run = await runAction({
      sources: seed.sources.join('\n'),
      tags: `${registry.host}/acme/action-missing:x`,
      platforms: 'linux/amd64,linux/arm/v7',
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/::error::Platform linux\/arm\/v7 expected by `platforms` but not found/);
    expect(await hasManifest(registry, 'acme/action-missing', 'x')).toBe(false);
  });

  it('require-attestations: the job summary and metadata say where provenance was found; a missing kind is one ::error:: and no tag', async () => {
    const target = `${registry.host}/acme/action-gate:x`;
    const run = await runAction({ sources: seed.sources.join('\n'), tags: target, 'require-attestations': 'provenance' });
    expect(run.code).toBe(0);
    expect(run.summary).toContain('Required attestations (provenance): present, not verified.');
    expect(run.summary).toContain(
      `| linux/amd64 | \`${seed.amd64.imageDigest.slice(7, 19)}\` | provenance | attestation manifest \`${seed.amd64.attestationDigest.slice(7, 19)}\` (https://slsa.dev/provenance/v0.2) |`,
    );
    const metadata = JSON.parse(run.outputs.metadata) as { requiredAttestations: { images: Array<{ missing: string[] }> } };
    expect(metadata.requiredAttestations.images.map((i) => i.missing)).toEqual([[], []]);

    const refused = await runAction({
      sources: seed.sources.join('\n'),
      tags: `${registry.host}/acme/action-gate:refused`,
      'require-attestations': 'signature',
    });
    expect(refused.code).toBe(1);
    const errors = refused.stdout.split('\n').filter((l) => l.startsWith('::error::'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(
      `linux/amd64 ${seed.amd64.imageDigest} from ${seed.sources[0]} has no signature; linux/arm64 ${seed.arm64.imageDigest}`,
    );
    expect(errors[0]).toContain('drop the kind from input `require-attestations`');
    expect(await hasManifest(registry, 'acme/action-gate', 'refused')).toBe(false);
  });

  it('summary: false writes no job summary; push: false writes nothing to the registry', async () => {
    const run = await runAction({
      sources: seed.sources.join('\n'),
      tags: `${registry.host}/acme/action-dry:x`,
      push: 'false',
      summary: 'false',
    });
    expect(run.code).toBe(0);
    expect(run.summary).toBe('');
    expect(run.outputs.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(await hasManifest(registry, 'acme/action-dry', 'x')).toBe(false);
  });
});
