// temporary experiment (deleted before hand-off)
import { spawn } from 'node:child_process';
import { startSite, stopSite } from './lab.js';
import { pushLargeImage } from '../support/fixtures.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
const src = await startSite('src', 50);
const dst = await startSite('dst', 50);
const size = Number(process.env.SIZE_MIB ?? 512) * 1024 * 1024;
await Promise.all(['amd64', 'arm64'].slice(0, Number(process.env.IMAGES ?? 1)).map((arch) => pushLargeImage(src.registry, 'bench/big', arch, { platform: `linux/${arch}`, seed: 'p3', layerBytes: size })));
const dir = mkdtempSync('/tmp/mm-probe-'); writeFileSync(`${dir}/config.json`, '{}');
const node = process.env.NODE_BIN ?? process.execPath;
let run = 0;
for (const opts of (process.env.VARIANTS ?? '').split('|')) {
  run++;
  const t0 = Date.now();
  const child = spawn('/usr/bin/time', ['-f', 'cpu %U+%S rss %M', node, ...opts.split(' ').filter(Boolean), 'dist/cli.js', 'merge', '-q', '--tag', `${dst.host}/bench/big-${run}:v1`, ...['amd64', 'arm64'].slice(0, Number(process.env.IMAGES ?? 1)).map((a) => `${src.host}/bench/big:${a}`)], { env: { ...process.env, DOCKER_CONFIG: dir }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = ''; child.stderr.on('data', (c) => (err += c));
  await new Promise((r) => child.on('exit', r));
  console.log(`[${opts}] ${Date.now() - t0} ms ${err.trim().split('\n').slice(-2).join(' ')}`);
}
await Promise.all([stopSite(src), stopSite(dst)]);
