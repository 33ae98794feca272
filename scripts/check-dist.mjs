// Rebuilds the bundle into a temp copy and compares it with the committed dist/ (as
// actions/typescript-action's check-dist does): the action runs dist/, not src/. Every file
// counts: the bundles, the action's loader, and the source maps (a stale map names wrong lines).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, cpSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const saved = mkdtempSync(join(tmpdir(), 'dist-'));
cpSync('dist', saved, { recursive: true });
try {
  execFileSync(process.execPath, ['scripts/bundle.mjs'], { stdio: 'inherit' });
  const names = new Set([...readdirSync('dist'), ...readdirSync(saved)]);
  const differing = [...names].filter((name) => {
    try {
      return !readFileSync(join('dist', name)).equals(readFileSync(join(saved, name)));
    } catch {
      return true;
    }
  });
  // dist/ must not depend on the folder it was built in (CI builds it in a fresh clone elsewhere)
  const here = process.cwd();
  const located = readdirSync('dist').filter((name) => readFileSync(join('dist', name), 'utf8').includes(here));
  if (located.length > 0) {
    console.error(`dist/ holds the absolute path of this folder (${here}): ${located.join(', ')}`);
    process.exitCode = 1;
  }
  if (differing.length > 0) {
    console.error(`dist/ differs from a fresh build: ${differing.join(', ')}`);
    process.exitCode = 1;
  } else {
    console.log('dist/ is up to date');
  }
} finally {
  // back to exactly what was there (a fresh build may have added files)
  rmSync('dist', { recursive: true, force: true });
  cpSync(saved, 'dist', { recursive: true });
  rmSync(saved, { recursive: true, force: true });
}
