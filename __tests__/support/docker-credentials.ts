// Docker credential helpers for tests: shell scripts behaving like docker-credential-helpers
// (a working one, a broken one, one that answers garbage, one stuck as on a keychain prompt), a
// fresh config.json directory per provider, and a provider made over them. Call
// useCredentialHelpers() at the top of a test file.
import { afterAll, beforeAll } from '@jest/globals';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryLogger } from '../../src/base/logger.js';
import { type CommandRunner, createDockerCredentialProvider } from '../../src/registry/credentials/lookup.js';

export const b64 = (s: string): string => Buffer.from(s).toString('base64');

export let root: string;
export let binDir: string;
export let callsFile: string;
let counter = 0;

// A credential helper the way docker-credential-helpers behave: server URL on stdin,
// JSON on stdout, "credentials not found in native keychain" with exit 1 when unknown.
const HELPER = `#!/bin/sh
read -r url
echo "$(basename "$0") $1 $url" >> "$CALLS_FILE"
case "$url" in
  ghcr.io) echo '{"ServerURL":"ghcr.io","Username":"helper-user","Secret":"helper-secret"}' ;;
  https://index.docker.io/v1/) echo '{"ServerURL":"https://index.docker.io/v1/","Username":"hub-user","Secret":"hub-secret"}' ;;
  token.example.com) echo '{"ServerURL":"token.example.com","Username":"<token>","Secret":"helper-identity-token"}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`;
const BROKEN_HELPER = `#!/bin/sh
cat > /dev/null
echo "error getting credentials - err: exit status 1, out: keychain locked" >&2
exit 3
`;
// A helper stuck on a prompt: it starts a child that outlives any kill of the helper alone
// (holding stdout open), records both process ids, and never answers.
const HANGING_HELPER = `#!/bin/sh
sleep 300 &
echo "$$ $!" > "$PIDS_FILE"
wait
`;
const GARBAGE_HELPER = `#!/bin/sh
cat > /dev/null
echo "not json: some-secret-value"
`;

// Issue 20 (#6): a helper that prints its secret on stdout and fails; one whose stderr holds a
// secret (its own, one shaped like a credential, one the run knows), terminal escape sequences and
// workflow commands; and one whose stderr is long.
export const LEAKED_SECRET = 's3cr3t-value';
/** a secret the run knows (registerSecret) that the noisy helper repeats on stderr */
export const KNOWN_SECRET = 'registered-pat-8d2e71';
const LEAKY_HELPER = `#!/bin/sh
cat > /dev/null
echo '{"ServerURL":"ghcr.io","Username":"u","Secret":"${LEAKED_SECRET}"}'
exit 1
`;
const NOISY_HELPER = `#!/bin/sh
cat > /dev/null
echo '{"ServerURL":"ghcr.io","Username":"u","Secret":"${LEAKED_SECRET}"}'
printf 'keychain error for u: ${LEAKED_SECRET} refused; password=hunter2-pw-77 (was given ${KNOWN_SECRET})\\033[31m red\\033[0m\\033]0;pwned-title\\007\\n::set-output name=leak::${LEAKED_SECRET}\\n::error::forged\\n' >&2
exit 1
`;
const CHATTY_HELPER = `#!/bin/sh
cat > /dev/null
i=0
while [ $i -lt 100 ]; do printf 'the keychain daemon said something long, part %s of 100; ' $i >&2; i=$((i+1)); done
exit 4
`;

/** Registers the hooks: helpers written to a fresh temporary directory before the file's tests, removed after. */
export function useCredentialHelpers(): void {
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'mm-credentials-'));
    binDir = join(root, 'bin');
    mkdirSync(binDir);
    for (const [name, script] of [
      ['docker-credential-test', HELPER],
      ['docker-credential-broken', BROKEN_HELPER],
      ['docker-credential-garbage', GARBAGE_HELPER],
      ['docker-credential-hanging', HANGING_HELPER],
      ['docker-credential-leaky', LEAKY_HELPER],
      ['docker-credential-noisy', NOISY_HELPER],
      ['docker-credential-chatty', CHATTY_HELPER],
    ]) {
      writeFileSync(join(binDir, name), script);
      chmodSync(join(binDir, name), 0o755);
    }
    callsFile = join(root, 'calls.log');
  });

  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
  });
}

/** A fresh config dir holding `config` (an object is written as JSON, a string as is). */
export function configDir(config?: unknown): string {
  const dir = join(root, `config-${++counter}`);
  mkdirSync(dir, { recursive: true });
  if (config !== undefined) writeFileSync(join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  return dir;
}

export function env(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${binDir}:${process.env.PATH ?? ''}`,
    CALLS_FILE: callsFile,
    PIDS_FILE: join(root, 'pids'),
    HOME: join(root, 'no-home'),
  };
}

export function calls(): string[] {
  try {
    return readFileSync(callsFile, 'utf8').trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

export function make(
  config: unknown,
  options: {
    explicit?: { registry: string; username: string; password: string };
    runner?: CommandRunner;
    deadline?: number;
    explicitSource?: string;
  } = {},
) {
  const secrets: string[] = [];
  const logger = createMemoryLogger();
  const dir = configDir(config);
  const provider = createDockerCredentialProvider({ configDir: dir, env: env(), onSecret: (s) => secrets.push(s), logger, ...options });
  return { provider, secrets, logger, dir };
}
