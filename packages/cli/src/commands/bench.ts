/**
 * `tessera bench NAME ...`: runs the repository's benchmarks (`benchmarks/run.mjs`, the same as
 * `pnpm bench NAME ...`). Needs a clone of the repository with the benchmarks built.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';

/** The repository's benchmarks/run.mjs, found upwards from this package (or the working directory). */
export function findBenchRunner(): string | undefined {
  for (const start of [dirname(fileURLToPath(import.meta.url)), process.cwd()]) {
    let dir = start;
    for (;;) {
      const candidate = join(dir, 'benchmarks', 'run.mjs');
      if (existsSync(candidate)) return candidate;
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  return undefined;
}

export async function bench(args: readonly string[]): Promise<number> {
  const runner = findBenchRunner();
  if (!runner) throw new UsageError('benchmarks live in the Tessera repository: run `tessera bench` inside a clone (after `pnpm build`)');
  const child = spawn(process.execPath, [runner, ...args], { stdio: 'inherit', env: { UV_THREADPOOL_SIZE: '16', ...process.env } });
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return await new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}
