// temporary experiment (deleted before hand-off)
import { spawn } from 'node:child_process';
import { startSite, stopSite } from './lab.js';
import { pushDockerImage } from '../support/fixtures.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
const site = await startSite('probe', 50);
await Promise.all(['linux/amd64', 'linux/arm64'].map((platform, i) => pushDockerImage(site.registry, `bench/p-src${i}`, 'v1', { platform, seed: `p-${i}`, layers: 3, layerSize: 4096 })));
const dir = mkdtempSync('/tmp/mm-probe-'); writeFileSync(`${dir}/config.json`, '{}');
const node = process.env.NODE_BIN ?? process.execPath;
let run = 0;
for (const opts of (process.env.VARIANTS ?? ' ').split('|')) {
  run++;
  const child = spawn('/usr/bin/time', ['-f', 'rss %M', node, ...opts.split(' ').filter(Boolean), 'dist/cli.js', 'merge', '-q', '--tag', `${site.host}/bench/p-t${run}:v1`, `${site.host}/bench/p-src0:v1`, `${site.host}/bench/p-src1:v1`], { env: { ...process.env, DOCKER_CONFIG: dir }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = ''; child.stderr.on('data', (c) => (err += c));
  await new Promise((r) => child.on('exit', r));
  console.log(`[${opts}] ${err.trim().split('\n').slice(-2).join(' ')}`);
}
await stopSite(site);
