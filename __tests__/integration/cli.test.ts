// The CLI as a user runs it: the built bin (dist/cli.js) as a subprocess against a real registry,
// on every fixture type, with results checked by skopeo (never by the product's own client).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sha256Digest } from '../../src/oci/digest.js';
import { MT } from '../../scripts/support/fixtures/media.js';
import { deleteBlob, deleteManifest, hasManifest } from '../../scripts/support/fixtures/client.js';
import { pushBuildxImage, pushBuildxImageWithoutAttestations, type PushedBuildxImage } from '../../scripts/support/fixtures/buildx.js';
import { seedCase, seedVariety, type SeedCase, type VarietyCase } from '../../scripts/support/fixtures/cases.js';
import { type FaultProxy, startFaultProxy } from '../../scripts/support/fault-proxy.js';
import { type RunningRegistry, startRegistry } from '../../scripts/support/registry.js';
import { skopeoCopyAllToOciLayout, skopeoInspectRaw, writeDockerConfig } from '../../scripts/support/skopeo.js';
import { CLI, type CliOptions, type NodeRun, runCli } from './processes.js';

let dockerConfig: string;

const cli = (args: string[], options: Omit<CliOptions, 'home'> = {}) => runCli(args, { home: dockerConfig, ...options });

const raw = (ref: string) => skopeoInspectRaw(ref, { tlsVerify: false });
const json = <T>(run: NodeRun): T => JSON.parse(run.stdout.toString()) as T;
interface Index {
  mediaType: string;
  manifests: Array<{
    mediaType: string;
    digest: string;
    platform?: { os: string; architecture: string; variant?: string };
    annotations?: Record<string, string>;
  }>;
}

let registry: RunningRegistry;
let seed: SeedCase;
let variety: VarietyCase;

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run npm run build');
  dockerConfig = await mkdtemp(join(tmpdir(), 'mm-cli-'));
  await writeFile(join(dockerConfig, 'config.json'), '{}');
  registry = await startRegistry({ name: 'cli', deleteEnabled: true });
  [seed, variety] = await Promise.all([seedCase(registry), seedVariety(registry)]);
});

afterAll(async () => {
  await registry?.stop();
});

describe('manifest-merge merge', () => {
  it('--quiet prints only the digest on stdout, which is what the registry serves', async () => {
    const target = `${registry.host}/acme/cli-merged:latest`;
    const run = await cli(['merge', '--quiet', '--tag', target, ...seed.sources]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const digest = run.stdout.toString().trim();
    expect(digest).toBe(sha256Digest(await raw(target)));
  });

  it('without --quiet: progress and the report on stderr, only the digest on stdout', async () => {
    const target = `${registry.host}/acme/cli-progress:latest`;
    const run = await cli(['merge', '-t', target, '--platforms', 'linux/arm64,linux/amd64', ...seed.sources]);
    expect(run.code).toBe(0);
    const digest = sha256Digest(await raw(target));
    expect(run.stdout.toString()).toBe(`${digest}\n`);
    expect(run.stderr).toContain(`Pushed ${target}@${digest}`);
    expect(run.stderr).toMatch(/^Index sha256:[a-f0-9]{64} \(application\/vnd\.oci\.image\.index\.v1\+json/m);
  });

  it('--json prints the metadata; --dry-run writes nothing', async () => {
    const target = `${registry.host}/acme/cli-dry:latest`;
    const run = await cli(['merge', '--json', '--dry-run', '-t', target, '--attestations', 'strip', ...seed.sources]);
    expect(run.code).toBe(0);
    const metadata = json<{ pushed: boolean; attestations: { kept: number; stripped: number }; platforms: string[] }>(run);
    expect(metadata).toMatchObject({ pushed: false, attestations: { kept: 0, stripped: 2 }, platforms: ['linux/amd64', 'linux/arm64'] });
    expect(run.stderr).toMatch(/\[dry run\] .*acme\/cli-dry: put index under tag latest/);
    await expect(raw(target)).rejects.toThrow();
  });

  it('--json after a push: the metadata names what the registry now serves', async () => {
    const target = `${registry.host}/acme/cli-json:v1`;
    const run = await cli(['merge', '--json', '-t', target, ...seed.sources]);
    expect(run.code).toBe(0);
    const metadata = json<{ digest: string; pushed: boolean; images: string[]; children: Array<{ kind: string; digest: string }> }>(run);
    const served = await raw(target);
    expect(metadata.digest).toBe(sha256Digest(served));
    expect(metadata.pushed).toBe(true);
    expect(metadata.images).toEqual([`${target}@${metadata.digest}`]);
    expect(metadata.children.map((c) => c.digest)).toEqual((JSON.parse(served.toString()) as Index).manifests.map((m) => m.digest));
  });

  it('--attestations strip pushes the images alone', async () => {
    const target = `${registry.host}/acme/cli-strip:latest`;
    const run = await cli(['merge', '-q', '--attestations', 'strip', '-t', target, ...seed.sources]);
    expect(run.code).toBe(0);
    const index = JSON.parse((await raw(target)).toString()) as Index;
    expect(index.manifests.map((m) => m.digest)).toEqual([seed.amd64.imageDigest, seed.arm64.imageDigest]);
  });

  it('--spec with --attestations referrers: every image takes the flag (an image may set its own), its attestations leave the index', async () => {
    const one = `${registry.host}/acme/cli-spec-referrers-one:1`;
    const two = `${registry.host}/acme/cli-spec-referrers-two:1`;
    const spec = join(await mkdtemp(join(tmpdir(), 'mm-cli-spec-')), 'spec.yaml');
    await writeFile(
      spec,
      [
        'images:',
        `  - {tags: [${one}], sources: [${seed.sources.join(', ')}]}`,
        `  - {tags: [${two}], sources: [${seed.sources[0]}], attestations: keep}`,
      ].join('\n'),
    );
    const run = await cli(['merge', '--json', '--spec', spec, '--attestations', 'referrers']);
    expect(run.stderr).not.toMatch(/Use one of/);
    expect(run.code).toBe(0);
    const results = json<Array<{ tags: string[]; metadata: { attestations: { kept: number; referrers?: number } } }>>(run);
    expect(results.map((r) => r.metadata.attestations)).toEqual([
      { kept: 0, stripped: 0, referrers: 2 },
      { kept: 1, stripped: 0 },
    ]);
    const index = JSON.parse((await raw(one)).toString()) as Index;
    expect(index.manifests.map((m) => m.digest)).toEqual([seed.amd64.imageDigest, seed.arm64.imageDigest]);
  });

  it('--spec with two images writing one tag exits 2 before any request, naming both images (issue 20, 4)', async () => {
    const tag = `${registry.host}/acme/cli-spec-clash:1`;
    const spec = join(await mkdtemp(join(tmpdir(), 'mm-cli-spec-')), 'spec.yaml');
    await writeFile(
      spec,
      ['images:', `  - {tags: [${tag}], sources: [${seed.sources[0]}]}`, `  - {tags: [${tag}], sources: [${seed.sources[1]}]}`].join('\n'),
    );
    const run = await cli(['merge', '--spec', spec]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(`manifest-merge: --spec images[0] and images[1] both write the tag ${tag}`);
    expect(run.stdout.length).toBe(0);
    expect(await hasManifest(registry, 'acme/cli-spec-clash', '1')).toBe(false);
  });

  it('--spec naming a FIFO is refused at once, not waited on (issue 20, 8)', async () => {
    const fifo = join(await mkdtemp(join(tmpdir(), 'mm-cli-spec-')), 'spec.fifo');
    execFileSync('mkfifo', [fifo]);
    // writers that come late, so that a CLI waiting for one ends (and fails this test) rather than hangs
    const writer = spawn('sh', ['-c', 'sleep 3; while :; do printf "images: []" > "$0"; done', fifo], { stdio: 'ignore' });
    try {
      const started = Date.now();
      const run = await cli(['merge', '--spec', fifo]);
      expect(run.stderr).toMatch(`manifest-merge: --spec: "${fifo}" is a FIFO (named pipe), not a regular file`);
      expect(run.code).toBe(2);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      writer.kill();
    }
  });

  it('--format: auto gives a Docker manifest list for Docker images, oci forces an OCI index, docker refuses attestations', async () => {
    const dockerSources = [variety.sources[2], variety.sources[3]];
    const list = `${registry.host}/acme/cli-list:latest`;
    const oci = `${registry.host}/acme/cli-oci:latest`;
    const [auto, forced, refused] = await Promise.all([
      cli(['merge', '-q', '-t', list, ...dockerSources]),
      cli(['merge', '-q', '--format', 'oci', '-t', oci, ...dockerSources]),
      cli(['merge', '-q', '--format', 'docker', '-t', `${registry.host}/acme/cli-refused:latest`, ...seed.sources]),
    ]);
    expect([auto.code, forced.code]).toEqual([0, 0]);
    expect((JSON.parse((await raw(list)).toString()) as Index).mediaType).toBe(MT.DockerManifestList);
    expect((JSON.parse((await raw(oci)).toString()) as Index).mediaType).toBe(MT.OciIndex);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^manifest-merge: format: docker cannot hold application\/vnd\.oci\.image\.manifest\.v1\+json .*a Docker manifest list may only list Docker schema 2 image manifests\. Set --format to oci \(or auto\)/m,
    );
    expect(await hasManifest(registry, 'acme/cli-refused', 'latest')).toBe(false);
  });

  it('--cleanup-sources removes the source tags after the read-back; --json counts them; the index is whole', async () => {
    await Promise.all([
      pushBuildxImage(registry, 'acme/cli-clean', 'amd64', { platform: 'linux/amd64', seed: 'cli-clean-amd64' }),
      pushBuildxImage(registry, 'acme/cli-clean', 'arm64', { platform: 'linux/arm64', seed: 'cli-clean-arm64' }),
    ]);
    const target = `${registry.host}/acme/cli-clean:latest`;
    const sources = [`${registry.host}/acme/cli-clean:amd64`, `${registry.host}/acme/cli-clean:arm64`];
    const run = await cli(['merge', '--json', '--cleanup-sources', '--tag', target, ...sources]);
    expect(run.code).toBe(0);
    const metadata = json<{ cleanup: { removed: number; left: number } }>(run);
    expect(metadata.cleanup).toMatchObject({ removed: 2, left: 0 });
    expect(await hasManifest(registry, 'acme/cli-clean', 'amd64')).toBe(false);
    expect(await hasManifest(registry, 'acme/cli-clean', 'arm64')).toBe(false);
    await skopeoCopyAllToOciLayout(target, await mkdtemp(join(tmpdir(), 'mm-cli-layout-')));
  });

  it('merges every fixture type (buildx index, bare OCI, Docker arm/v7 and arm/v6, Windows) into one index', async () => {
    const target = `${registry.host}/acme/cli-variety:latest`;
    const run = await cli([
      'merge',
      '-q',
      '-t',
      target,
      '--platforms',
      'linux/amd64,linux/arm64,linux/arm/v7,linux/arm/v6,windows/amd64',
      ...variety.sources,
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const index = JSON.parse((await raw(target)).toString()) as Index;
    expect(index.manifests.map((m) => m.digest)).toEqual([
      variety.buildxAmd64.imageDigest,
      variety.ociArm64v8.digest,
      variety.dockerArmV7.digest,
      variety.dockerArmV6.digest,
      variety.windowsLtsc2022.digest,
      variety.buildxAmd64.attestationDigest,
    ]);
    // skopeo pulls every manifest and blob of the result from the target repository.
    await skopeoCopyAllToOciLayout(target, await mkdtemp(join(tmpdir(), 'mm-cli-layout-')));
  });

  it.each([
    [['merge', '--tag', 'x/y:z'], /merge needs at least one SOURCE/],
    [['merge', 'a/b:c'], /merge needs at least one --tag/],
    [['merge', '--bogus', '--tag', 'x/y:z', 'a/b:c'], /Unknown option '--bogus'/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['merge', '--tag', 'x/y:z', '--format', 'v1', 'a/b:c'], /^manifest-merge: --format is "v1". Use one of: auto, oci, docker$/m],
    [['merge', '--tag', 'x/y:z', '--attestations', 'drop', 'a/b:c'], /^manifest-merge: --attestations is "drop"/m],
    [['merge', '--tag', 'x/y:z', '--timeout', 'soon', 'a/b:c'], /--timeout is "soon", not a duration/],
    // defect #9: no time at all, and more than a Node timer holds (it would fire at once)
    [['merge', '--tag', 'x/y:z', '--timeout', '0', 'a/b:c'], /--timeout is "0", which leaves no time at all/],
    [['merge', '--tag', 'x/y:z', '--timeout', '99999999h', 'a/b:c'], /--timeout is "99999999h", over the limit of 24h/],
    [['inspect', '--timeout', '0s', 'a/b:c'], /--timeout is "0s", which leaves no time at all/],
    [['merge', '--tag', 'x/y:z', '--platforms', 'linux/amd64,linux/x86_64', 'a/b:c'], /lists linux\/amd64 twice/],
    [['merge', '--tag', 'x/y:z', '--username', 'u', 'a/b:c'], /--username needs --password-stdin/],
    [['merge', '--tag', 'x/y@sha256:' + 'a'.repeat(64), 'a/b:c'], /is a digest reference, which cannot be a target/],
    [['inspect'], /inspect takes exactly one REF/],
    [['inspect', '--raw', '--check', 'a/b:c'], /--raw prints the bytes only/],
  ])('usage errors exit 2: %j', async (args, message) => {
    const run = await cli(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stdout.length).toBe(0);
  });

  it('a failure exits 1 with one message', async () => {
    const run = await cli(['merge', '--tag', `${registry.host}/acme/cli-fail:x`, '--platforms', 'linux/s390x', ...seed.sources]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^manifest-merge: Platforms? .*linux\/amd64/m);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stdout.length).toBe(0);
  });
});

describe('manifest-merge merge --require-attestations', () => {
  it('passes with the seed case (buildx provenance), reporting it in --json; a leg without attestations exits 1 naming it, nothing pushed', async () => {
    const target = `${registry.host}/acme/cli-gate:latest`;
    const passed = await cli(['merge', '--json', '--require-attestations', 'provenance', '-t', target, ...seed.sources]);
    expect(passed.code).toBe(0);
    const metadata = json<{ requiredAttestations: { required: string[]; images: Array<{ platform: string; missing: string[] }> } }>(passed);
    expect(metadata.requiredAttestations.required).toEqual(['provenance']);
    expect(metadata.requiredAttestations.images.map((i) => [i.platform, i.missing])).toEqual([
      ['linux/amd64', []],
      ['linux/arm64', []],
    ]);

    const plain = await pushBuildxImageWithoutAttestations(registry, 'acme/cli-gate-plain', 'arm64', {
      platform: 'linux/arm64',
      seed: 'cli-gate',
    });
    const refused = `${registry.host}/acme/cli-gate:refused`;
    const failed = await cli([
      'merge',
      '--require-attestations',
      'provenance,sbom',
      '-t',
      refused,
      seed.sources[0],
      `${registry.host}/acme/cli-gate-plain:arm64`,
    ]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(
      `manifest-merge: Required attestations (provenance, sbom) are missing, so nothing was pushed: linux/amd64 ${seed.amd64.imageDigest} from ${seed.sources[0]} has no sbom; linux/arm64 ${plain.imageDigest} from ${registry.host}/acme/cli-gate-plain:arm64 has no provenance, sbom.`,
    );
    expect(failed.stderr).toContain('or drop the kind from --require-attestations');
    expect(failed.stdout.length).toBe(0);
    expect(await hasManifest(registry, 'acme/cli-gate', 'refused')).toBe(false);
  });

  it('an unknown kind is a usage error (exit 2) before any request', async () => {
    const run = await cli(['merge', '--require-attestations', 'provenance,vex', '-t', `${registry.host}/acme/cli-gate:x`, ...seed.sources]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--require-attestations lists "vex". Use any of: provenance, sbom, signature');
  });
});

describe('manifest-merge inspect, on every fixture type', () => {
  it('prints a tree for a buildx index, attestations marked with the image they describe', async () => {
    const run = await cli(['inspect', seed.sources[0]]);
    expect(run.code).toBe(0);
    const text = run.stdout.toString();
    expect(text).toContain('application/vnd.oci.image.index.v1+json');
    expect(text).toContain(seed.amd64.indexDigest);
    expect(text).toContain('2 manifests:');
    expect(text).toContain('- linux/amd64');
    expect(text).toContain(`- attestation → ${seed.amd64.imageDigest} (linux/amd64)`);
    expect(text).toContain(seed.amd64.attestationDigest);
  });

  it.each([
    ['bare OCI manifest, arm64/v8 config', 1, MT.OciManifest, 'linux/arm64'],
    ['Docker schema 2, arm/v7', 2, MT.DockerManifest, 'linux/arm/v7'],
    ['Docker schema 2, arm/v6', 3, MT.DockerManifest, 'linux/arm/v6'],
    ['Windows with os.version and a foreign layer', 4, MT.DockerManifest, 'windows/amd64:10.0.20348.2113'],
  ])('%s: type, digest, size and the platform from its config', async (_name, i, mediaType, platform) => {
    const ref = variety.sources[i];
    const run = await cli(['inspect', ref]);
    expect(run.code).toBe(0);
    const served = await raw(ref);
    const lines = run.stdout.toString().split('\n');
    expect(lines.slice(0, 4)).toEqual([
      ref,
      `  ${mediaType}`,
      expect.stringMatching(new RegExp(`^  ${sha256Digest(served)}  ${served.length} B$`)),
      `  platform: ${platform}`,
    ]);
    expect(lines[5]).toMatch(/^ {2}\d+ layers?, /);
  });

  it('a Docker manifest list: each entry with its platform', async () => {
    const target = `${registry.host}/acme/cli-inspect-list:latest`;
    expect((await cli(['merge', '-q', '-t', target, variety.sources[2], variety.sources[3]])).code).toBe(0);
    const run = await cli(['inspect', target]);
    expect(run.code).toBe(0);
    const text = run.stdout.toString();
    expect(text).toContain(`  ${MT.DockerManifestList}\n`);
    expect(text).toContain(`- linux/arm/v7\n      ${MT.DockerManifest}\n      ${variety.dockerArmV7.digest}`);
    expect(text).toContain(`- linux/arm/v6\n      ${MT.DockerManifest}\n      ${variety.dockerArmV6.digest}`);
  });

  it('--json gives the same as data', async () => {
    const run = await cli(['inspect', '--json', seed.sources[1]]);
    expect(run.code).toBe(0);
    const out = json<{ mediaType: string; digest: string; entries: Array<{ digest: string; platform?: unknown; describes?: string }> }>(
      run,
    );
    expect(out.mediaType).toBe(MT.OciIndex);
    expect(out.digest).toBe(seed.arm64.indexDigest);
    expect(out.entries.map((e) => e.digest)).toEqual([seed.arm64.imageDigest, seed.arm64.attestationDigest]);
    expect(out.entries[1].describes).toBe(seed.arm64.imageDigest);
  });

  it('--raw prints the exact bytes the registry serves, for every manifest type', async () => {
    const list = `${registry.host}/acme/cli-raw-list:latest`;
    expect((await cli(['merge', '-q', '-t', list, variety.sources[2], variety.sources[3]])).code).toBe(0);
    const refs = [seed.sources[0], ...variety.sources, list];
    const runs = await Promise.all(refs.map((ref) => cli(['inspect', '--raw', ref])));
    for (const [i, run] of runs.entries()) {
      expect(run.code).toBe(0);
      expect(run.stderr).toBe('');
      expect(run.stdout.equals(await raw(refs[i]))).toBe(true);
    }
    expect((JSON.parse(runs[runs.length - 1].stdout.toString()) as Index).mediaType).toBe(MT.DockerManifestList);
  });

  it('--check passes on a complete image and lists a missing blob of a broken one (exit 1)', async () => {
    const ok = await cli(['inspect', '--check', seed.sources[1]]);
    expect(ok.code).toBe(0);
    expect(ok.stdout.toString()).toContain('every child manifest and blob is present');
    const bare = await cli(['inspect', '--check', variety.sources[4]]);
    expect(bare.code).toBe(0);

    // Break the amd64 source on purpose: delete one layer blob from its repository.
    const layer = seed.amd64.image.layers[1].digest;
    await deleteBlob(registry, 'acme/github-runner-amd64', layer);
    const broken = await cli(['inspect', '--check', seed.sources[0]]);
    expect(broken.code).toBe(1);
    expect(broken.stdout.toString()).toContain(`blob ${layer} (needed by ${seed.amd64.imageDigest})`);
    expect(broken.stdout.toString()).toMatch(/check: 1 missing from/);
  });

  it('--check lists a missing child manifest (exit 1); without --check the index still prints', async () => {
    const broken: PushedBuildxImage = await pushBuildxImage(registry, 'acme/cli-broken-child', 'v1', {
      platform: 'linux/arm64',
      seed: 'cli-broken-child',
    });
    await deleteManifest(registry, 'acme/cli-broken-child', broken.imageDigest);
    const ref = `${registry.host}/acme/cli-broken-child:v1`;
    const run = await cli(['inspect', '--check', ref]);
    expect(run.code).toBe(1);
    const text = run.stdout.toString();
    expect(text).toContain(`check: 1 missing from ${registry.host}/acme/cli-broken-child:`);
    expect(text).toContain(`  - manifest ${broken.imageDigest} (needed by ${ref})`);
    // The attestation's own blobs are there: only the image is reported.
    expect(text).not.toContain(`blob `);
    const jsonRun = await cli(['inspect', '--check', '--json', ref]);
    expect(jsonRun.code).toBe(1);
    expect(json<{ missing: unknown[] }>(jsonRun).missing).toEqual([{ kind: 'manifest', digest: broken.imageDigest, neededBy: ref }]);
    expect((await cli(['inspect', ref])).code).toBe(0);
  });

  it('a reference that does not exist exits 1 naming it', async () => {
    const run = await cli(['inspect', `${registry.host}/acme/nothing-here:v0`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/acme\/nothing-here:v0/);
    expect(run.stdout.length).toBe(0);
  });

  it('--version and --help on every command', async () => {
    const version = await cli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.toString()).toBe(`${(JSON.parse(await readFile('package.json', 'utf8')) as { version: string }).version}\n`);
    for (const [args, flags] of [
      [['--help'], ['merge', 'inspect', '--version']],
      [
        ['merge', '--help'],
        [
          '--tag',
          '--platforms',
          '--attestations',
          '--format',
          '--dry-run',
          '--annotation',
          '--append',
          '--insecure-registry',
          '--timeout',
          '--username',
          '--password-stdin',
          '--registry',
          '--json',
          '--quiet',
        ],
      ],
      [
        ['inspect', '--help'],
        ['--raw', '--check', '--json', '--insecure-registry', '--timeout', '--username', '--password-stdin'],
      ],
    ] as const) {
      const help = await cli([...args]);
      expect(help.code).toBe(0);
      const text = help.stdout.toString();
      expect(text).toMatch(/Usage:/);
      for (const flag of flags) expect(text).toContain(flag);
    }
  });
});

describe('requests per inspect (through a counting proxy)', () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await startFaultProxy({ target: registry.url });
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  const count = async (args: string[]) => {
    proxy.reset();
    const run = await cli(args);
    expect(run.code).toBe(0);
    return proxy.counts();
  };

  it('--timeout bounds the whole command: a registry that stalls fails it with a timeout (exit 1)', async () => {
    // Its own proxy, so the stalled request never shows in the counts below; the stall (3 s) ends
    // while later tests run, leaving no timer behind.
    const stalling = await startFaultProxy({
      target: registry.url,
      rules: [{ requestKind: 'GET manifest', fault: { kind: 'delay', ms: 3000 }, times: 1 }],
    });
    try {
      const run = await cli(['inspect', '--timeout', '1s', `${stalling.host}/acme/github-runner-arm64:focal`]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^manifest-merge: .*(time|deadline)/im);
      expect(stalling.counts().faults).toEqual({ delay: 1 });
    } finally {
      void stalling.stop();
    }
  });

  it('an index: one GET (human and --raw); a bare image: one more GET for its config, none for --raw', async () => {
    const index = `${proxy.host}/acme/github-runner-arm64:focal`;
    const bare = `${proxy.host}/acme/variety:docker-armv7`;
    expect(await count(['inspect', index])).toMatchObject({ total: 1, byKind: { 'GET manifest': 1 } });
    expect(await count(['inspect', '--raw', index])).toMatchObject({ total: 1, byKind: { 'GET manifest': 1 } });
    expect(await count(['inspect', bare])).toMatchObject({ total: 2, byKind: { 'GET manifest': 1, 'GET blob': 1 } });
    expect(await count(['inspect', '--raw', bare])).toMatchObject({ total: 1 });
  });

  it('--check: one GET per child manifest and one HEAD per distinct blob', async () => {
    const index = `${proxy.host}/acme/github-runner-arm64:focal`;
    const blobs = new Set([
      seed.arm64.image.config.digest,
      ...seed.arm64.image.layers.map((l) => l.digest),
      seed.arm64.attestation.config.digest,
      ...seed.arm64.attestation.layers.map((l) => l.digest),
    ]);
    expect(await count(['inspect', '--check', index])).toEqual({
      total: 3 + blobs.size,
      byKind: { 'GET manifest': 3, 'HEAD blob': blobs.size },
      faults: {},
    });
    // A bare image: its config was read already, so only the layers are HEADed.
    expect(await count(['inspect', '--check', `${proxy.host}/acme/variety:docker-armv7`])).toMatchObject({
      byKind: { 'GET manifest': 1, 'GET blob': 1, 'HEAD blob': variety.dockerArmV7.layers.length },
    });
  });
});

describe('credentials and --insecure-registry', () => {
  let secured: RunningRegistry;
  let image: PushedBuildxImage;
  beforeAll(async () => {
    secured = await startRegistry({ name: 'cli-htpasswd', auth: 'htpasswd', users: { ci: 's3cret-Pa55' } });
    image = await pushBuildxImage(secured, 'acme/private', 'amd64', { platform: 'linux/amd64', seed: 'cli-private' });
  });
  afterAll(async () => {
    await secured?.stop();
  });

  it('without credentials: unauthorized, exit 1', async () => {
    const run = await cli(['inspect', `${secured.host}/acme/private:amd64`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/unauthorized|401/i);
  });

  it('reads credentials from $DOCKER_CONFIG/config.json as docker login writes them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mm-cli-login-'));
    await writeDockerConfig(join(dir, 'config.json'), { [secured.host]: { username: 'ci', password: 's3cret-Pa55' } });
    const target = `${secured.host}/acme/private-merged:latest`;
    const env = { DOCKER_CONFIG: dir };
    const inspect = await cli(['inspect', `${secured.host}/acme/private:amd64`], { env });
    expect(inspect.code).toBe(0);
    expect(inspect.stdout.toString()).toContain(image.indexDigest);
    const merged = await cli(['merge', '-q', '-t', target, `${secured.host}/acme/private:amd64`, seed.sources[1]], { env });
    expect(merged.stderr).toBe('');
    expect(merged.code).toBe(0);
    const served = await skopeoInspectRaw(target, { tlsVerify: false, creds: 'ci:s3cret-Pa55' });
    expect(merged.stdout.toString().trim()).toBe(sha256Digest(served));
  });

  it('--username with --password-stdin; the password never shows, even with --verbose', async () => {
    const ref = `${secured.host}/acme/private:amd64`;
    const run = await cli(['inspect', '--verbose', '--username', 'ci', '--password-stdin', ref], { stdin: 's3cret-Pa55\n' });
    expect(run.code).toBe(0);
    expect(run.stdout.toString()).toContain(image.imageDigest);
    expect(run.stderr).toMatch(/^debug: /m);
    const target = `${secured.host}/acme/private-stdin:latest`;
    const merged = await cli(['merge', '-v', '--username', 'ci', '--password-stdin', '-t', target, ref], { stdin: 's3cret-Pa55' });
    expect(merged.code).toBe(0);
    for (const text of [run.stderr, run.stdout.toString(), merged.stderr, merged.stdout.toString()]) {
      expect(text).not.toContain('s3cret-Pa55');
      expect(text).not.toContain(Buffer.from('ci:s3cret-Pa55').toString('base64'));
    }
    const wrong = await cli(['inspect', '--username', 'ci', '--password-stdin', ref], { stdin: 'Not-The-Pa55' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/unauthorized|401/i);
    expect(wrong.stderr).not.toContain('Not-The-Pa55');
  });

  it('--insecure-registry lets a non-loopback name speak plain HTTP; without it, HTTPS only', async () => {
    // A name that is not loopback to the tool but resolves to this machine (as an /etc/hosts entry would).
    const dir = await mkdtemp(join(tmpdir(), 'mm-cli-dns-'));
    const shim = join(dir, 'resolve.mjs');
    await writeFile(
      shim,
      "import dns from 'node:dns';\nconst lookup = dns.lookup;\ndns.lookup = function (host, options, callback) { return lookup.call(this, host === 'registry.mm.test' ? '127.0.0.1' : host, options, callback); };\n",
    );
    const nodeArgs = ['--import', pathToFileURL(shim).href];
    const host = `registry.mm.test:${registry.port}`;
    const target = `${host}/acme/cli-insecure:latest`;
    const refused = await cli(['merge', '-q', '--timeout', '20s', '-t', target, seed.sources[1]], { nodeArgs });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/registry\.mm\.test/);
    expect(refused.stderr).toMatch(/insecure/);
    expect(await hasManifest(registry, 'acme/cli-insecure', 'latest')).toBe(false);

    const run = await cli(['merge', '-q', '--insecure-registry', host, '-t', target, seed.sources[1]], { nodeArgs });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.toString().trim()).toBe(sha256Digest(await raw(`${registry.host}/acme/cli-insecure:latest`)));
    const inspect = await cli(['inspect', '--insecure-registry', host, target], { nodeArgs });
    expect(inspect.code).toBe(0);
    expect(inspect.stdout.toString()).toContain(seed.arm64.imageDigest);
  });
});
