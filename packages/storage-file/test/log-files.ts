/** Helpers of the tests that damage or inspect a file log's files: temp dirs and where things are. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { groupDirName } from '../src/group-dir.js';

/** A temp dir factory whose dirs are removed after each test. */
export function useTempDirs(prefix: string): () => Promise<string> {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });
  return async () => {
    const d = await mkdtemp(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
}

export function logDir(dir: string, group = 'g'): string {
  return join(dir, 'groups', groupDirName(group), 'log');
}

/** Segment file names of group `g`, oldest first. */
export async function segments(dir: string): Promise<string[]> {
  return (await readdir(logDir(dir))).filter((n) => n.endsWith('.seg')).sort();
}
