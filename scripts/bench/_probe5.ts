// temporary experiment (deleted before hand-off)
import { startSite, stopSite } from './lab.js';
import { pushDockerImage } from '../support/fixtures.js';
import { measureSteps } from './measure.js';
import { dockerMerge, findTools, oursMerge } from './tools.js';
import { runnerNode } from './startup.js';
const site = await startSite('probe', 50);
await Promise.all(['linux/amd64', 'linux/arm64'].map((platform, i) => pushDockerImage(site.registry, `bench/b-src${i}`, 'v1', { platform, seed: `p5-${i}`, layers: 3, layerSize: 4096 })));
const tools = findTools('dist/cli.js', true, runnerNode());
const sources = [0, 1].map((i) => `${site.host}/bench/b-src${i}:v1`);
for (const [name, prep] of [['ours', () => oursMerge(tools, sources, [`${site.host}/bench/b-ours:v1`])], ['docker', () => dockerMerge(tools, sources, `${site.host}/bench/b-docker:v1`)]] as const) {
  const p = await prep();
  site.proxy.reset();
  const t0 = Date.now();
  const m = await measureSteps(p.steps, { env: p.env });
  console.log(`== ${name}: ${Math.round(m.wallMs)} ms exit ${m.exitCode}`);
  const reqs = site.proxy.requests();
  reqs.forEach((r, i) => console.log(`${String(i + 1).padStart(2)} +${String(r.at - t0).padStart(4)} ${r.method} ${r.path.replace(/sha256:[0-9a-f]{64}/g, (d) => d.slice(0, 15)).replace(/sha256%3A[0-9a-f]{64}/g, (d) => d.slice(0, 17)).slice(0, 100)} → ${r.status}`));
  await p.cleanup();
}
await stopSite(site);
