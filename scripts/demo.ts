// npm run demo: a throwaway registry, the seed note's images (two buildx pushes with
// attestations, in two repositories), what `docker manifest` makes of them, then the merge.
import { spawnSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectReference, renderInspection } from '../src/engine/inspect.js';
import { getInputs } from '../src/action/inputs.js';
import type { Logger } from '../src/base/logger.js';
import { createClient, useClient } from '../src/engine/client-setup.js';
import { checkStep, runStep } from '../src/engine/run-step.js';
import { renderReport } from '../src/engine/summary.js';
import { seedCase } from './support/fixtures/cases.js';
import { findOnPath, startRegistry } from './support/registry.js';
import { skopeoCopyAllToOciLayout } from './support/skopeo.js';

const say = (text: string) => process.stdout.write(`\n\x1b[1m${text}\x1b[0m\n`);
const logger: Logger = {
  debug: () => undefined,
  info: (m) => process.stdout.write(`  ${m}\n`),
  warning: (m) => process.stdout.write(`  warning: ${m}\n`),
};

const registry = await startRegistry({ name: 'demo' });
try {
  say(`Registry running at ${registry.url}`);
  const seed = await seedCase(registry);
  say("Pushed the seed note's images, as buildx >= 0.10 pushes them:");
  for (const s of seed.sources) process.stdout.write(`  ${s}\n`);

  const docker = findOnPath('docker');
  if (docker) {
    say(`What \`docker manifest inspect ${seed.sources[0]}\` says:`);
    const dockerConfig = await mkdtemp(join(tmpdir(), 'demo-docker-'));
    const out = spawnSync(docker, ['manifest', 'inspect', '--insecure', seed.sources[0]], {
      encoding: 'utf8',
      env: { ...process.env, DOCKER_CONFIG: dockerConfig },
    });
    process.stdout.write(`  ${(out.stdout + out.stderr).trim().split('\n').slice(0, 6).join('\n  ')}\n  (exit ${out.status})\n`);
    say(`What \`docker manifest create … --amend\` says:`);
    const create = spawnSync(
      docker,
      [
        'manifest',
        'create',
        '--insecure',
        `${registry.host}/acme/github-runner:focal`,
        '--amend',
        seed.sources[0],
        '--amend',
        seed.sources[1],
      ],
      { encoding: 'utf8', env: { ...process.env, DOCKER_CONFIG: dockerConfig } },
    );
    process.stdout.write(`  ${(create.stdout + create.stderr).trim().split('\n').slice(0, 4).join('\n  ')}\n  (exit ${create.status})\n`);
  }

  const inputs = getInputs(
    (name) =>
      ({ sources: seed.sources.join('\n'), tags: `${registry.host}/acme/github-runner:focal`, platforms: 'linux/amd64,linux/arm64' })[
        name
      ] ?? '',
  );
  const configDir = await mkdtemp(join(tmpdir(), 'demo-config-'));
  const [{ request }] = inputs.images;
  say('manifest-merge inspect of one source (every manifest type accepted):');
  const client = createClient(inputs.client, { logger, configDir });
  const inspection = await useClient(client, logger, () => inspectReference(request.sources[0], client));
  process.stdout.write(`${renderInspection(inspection).replace(/^/gm, '  ')}\n`);

  say(`manifest-merge: merging into ${registry.host}/acme/github-runner:focal`);
  const started = Date.now();
  const outcomes = await runStep(inputs, { logger, configDir });
  checkStep(outcomes, inputs.spec);
  if (outcomes[0].ok) {
    const { result } = outcomes[0];
    process.stdout.write(`${renderReport(result).replace(/^/gm, '  ')}\n`);
    process.stdout.write(`  ${result.requests.requests} registry requests in ${Date.now() - started} ms\n`);
    say('The pushed index:');
    process.stdout.write(`${JSON.stringify(JSON.parse(result.manifest), null, 2).replace(/^/gm, '  ')}\n`);
  }

  say('Independent check: skopeo copy --all of the result into an OCI layout (fails on any missing child or blob):');
  const layout = await mkdtemp(join(tmpdir(), 'demo-layout-'));
  await skopeoCopyAllToOciLayout(`${registry.host}/acme/github-runner:focal`, layout, { tlsVerify: false });
  process.stdout.write(`  ok: copied into ${layout}\n`);
} finally {
  await registry.stop();
}
