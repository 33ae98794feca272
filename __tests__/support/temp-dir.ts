// Temporary directories for the tests of one file (or one describe): made before them, removed
// after them, so that no test leaves files behind in the system's temporary directory.
import { afterAll, beforeAll } from '@jest/globals';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * A fresh directory named `prefix…` under the temporary directory, for the tests of the scope that
 * calls this (top level or a describe); the getter gives its path inside a test or hook.
 */
export function useTempDir(prefix: string): () => string {
  let dir: string | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return () => {
    if (!dir) throw new Error(`useTempDir(${prefix}): the directory exists only inside tests and hooks`);
    return dir;
  };
}

/** Writes `files` (relative path → contents) under `dir`, making directories as needed; returns `dir`. */
export async function writeFiles(dir: string, files: Record<string, string | Uint8Array>): Promise<string> {
  for (const [name, contents] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), contents);
  }
  await mkdir(dir, { recursive: true });
  return dir;
}

/**
 * A fresh directory that the code under test gets as its temporary directory (TMPDIR, which
 * os.tmpdir() reads) during the tests of the calling scope, so that they can see what it leaves
 * there; TMPDIR is restored, and the directory removed, after them.
 */
export function useTmpdirOverride(prefix: string): () => string {
  let dir: string | undefined;
  let saved: string | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
    saved = process.env.TMPDIR;
    process.env.TMPDIR = dir;
  });
  afterAll(async () => {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return () => {
    if (!dir) throw new Error(`useTmpdirOverride(${prefix}): the directory exists only inside tests and hooks`);
    return dir;
  };
}
