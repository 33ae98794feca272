// temporary experiment (deleted before hand-off)
import { spawn } from 'node:child_process';
import { startSite, stopSite } from './lab.js';
import { pushDockerImage } from '../support/fixtures.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
const lat = Number(process.env.LAT ?? 50);
const src = await startSite('src', lat);
const targets = await Promise.all([1, 2, 3].map((i) => startSite(`t${i}`, lat)));
await Promise.all(['linux/amd64', 'linux/arm64'].map((platform, i) => pushDockerImage(src.registry, `bench/p-src${i}`, 'v1', { platform, seed: `p-${i}`, layers: 3, layerSize: 4096 })));
const dir = mkdtempSync('/tmp/mm-probe-'); writeFileSync(`${dir}/config.json`, '{}');
const cli = process.env.CLI ?? 'dist/cli.js';
const all = [src, ...targets];
for (const count of (process.env.COUNTS ?? '1,3').split(',').map(Number)) for (let run = 0; run < Number(process.env.RUNS ?? 2); run++) {
  for (const s of all) s.proxy.reset();
  const t0 = Date.now();
  const tags = targets.slice(0, count).flatMap((t) => ['--tag', `${t.host}/bench/d${count}-r${run}:v1`]);
  const child = spawn('/usr/bin/time', ['-f', 'cpu %U+%S rss %M', process.execPath, cli, 'merge', '-q', ...tags, `${src.host}/bench/p-src0:v1`, `${src.host}/bench/p-src1:v1`], { env: { ...process.env, DOCKER_CONFIG: dir }, stdio: ['ignore', 'ignore', 'inherit'] });
  await new Promise((r) => child.on('exit', r));
  const end = Date.now() - t0;
  const reqs = all.flatMap((s) => s.proxy.requests().map((r) => ({ ...r, site: s.name }))).sort((a, b) => a.at - b.at);
  console.log(`${count} targets run ${run}: exit ${end} ms; first req ${reqs[0].at - t0}; last req ${reqs[reqs.length - 1].at - t0}; n=${reqs.length}`);
  if (process.env.VERBOSE) { let prev = -1; const line: string[] = []; for (const r of reqs) { const t = r.at - t0; if (t - prev > 15 && line.length) { console.log('   ' + line.join(', ')); line.length = 0; } if (!line.length) line.push(`${t}:`); line.push(`${r.site} ${r.kind}`); prev = t; } console.log('   ' + line.join(', ')); }
}
await Promise.all(all.map(stopSite));
