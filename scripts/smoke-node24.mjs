// The action runs on Node 24 (action.yml runs.using: node24) while this machine has Node 20:
// run the bundle under Node 24 from the npm registry, as the runner would, with inputs that
// must fail cleanly, and check the failure is the one readable annotation we expect.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'smoke24-'));
const outputFile = join(dir, 'output');
writeFileSync(outputFile, '');
const env = {
  ...process.env,
  INPUT_SOURCES: 'Not A Valid/Reference',
  INPUT_TAGS: 'localhost:5000/x:y',
  GITHUB_OUTPUT: outputFile,
  RUNNER_TEMP: dir,
};
const node24 = (args) => spawnSync('npx', ['-y', '-p', 'node@24', 'node', ...args], { env, encoding: 'utf8' });
const version = /^v(\d+)\./.exec(node24(['--version']).stdout.trim())?.[1];
const run = node24([join(process.cwd(), 'dist/index.js')]);
const out = `${run.stdout}\n${run.stderr}`;
console.log(out.trim());
const checks = [
  [version === '24', `ran under Node 24 (got ${version ?? 'nothing'})`],
  [run.status === 1, `exit code 1 (got ${run.status})`],
  [/::error::.*Not A Valid\/Reference/.test(out), 'one ::error:: annotation quoting the bad reference'],
  [!/\n\s+at /.test(out), 'no stack trace'],
  [readFileSync(outputFile, 'utf8') === '', 'no outputs written'],
];
let failed = false;
for (const [ok, what] of checks) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failed = true;
}
process.exit(failed ? 1 : 0);
