// temporary experiment (deleted before hand-off)
import { spawn } from 'node:child_process';
import { startSite, stopSite } from './lab.js';
import { pushDockerImage } from '../support/fixtures.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
const site = await startSite('probe', Number(process.env.LAT ?? 50));
await Promise.all(['linux/amd64', 'linux/arm64'].map((platform, i) => pushDockerImage(site.registry, `bench/p-src${i}`, 'v1', { platform, seed: `p-${i}`, layers: 3, layerSize: 4096 })));
const dir = mkdtempSync('/tmp/mm-probe-'); writeFileSync(`${dir}/config.json`, '{}');
const node = process.env.NODE_BIN ?? process.execPath;
const cli = process.env.CLI ?? 'dist/cli.js';
for (let run = 0; run < Number(process.env.RUNS ?? 3); run++) {
  site.proxy.reset();
  const t0 = Date.now();
  const extra = (process.env.NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn('/usr/bin/time', ['-f', 'cpu %U+%S rss %M', node, ...extra, cli, 'merge', '-q', '--tag', `${site.host}/bench/p-t${run}:v1`, `${site.host}/bench/p-src0:v1`, `${site.host}/bench/p-src1:v1`], { env: { ...process.env, DOCKER_CONFIG: dir }, stdio: ['ignore', 'ignore', 'inherit'] });
  await new Promise((r) => child.on('exit', r));
  const end = Date.now() - t0;
  const reqs = site.proxy.requests();
  console.log(`run ${run}: exit ${end} ms; first req ${reqs[0].at - t0}; last req ${reqs[reqs.length - 1].at - t0}; n=${reqs.length}`);
  if (process.env.VERBOSE) for (const r of reqs) console.log(`   ${r.at - t0} ${r.kind} ${r.status}`);
}
await stopSite(site);
