// Jest globalSetup of the integration project: installs the pinned Go tools (test registries,
// crane) once, before any suite starts. A cold `go install` can take minutes, longer than a
// beforeAll may; installed, this is a lookup. A tool that cannot be installed stops the run with
// go's reason: never a skipped suite.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function installGoTools() {
  const script = fileURLToPath(new URL('../../scripts/support/go-tools.ts', import.meta.url));
  const run = spawnSync(process.execPath, ['--import', 'tsx', script, 'install'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  if (run.status !== 0) {
    throw new Error(
      `the Go tools the integration tests need could not be installed:\n${run.stderr || run.error?.message || `exit ${run.status}`}`,
    );
  }
}
