/**
 * Crash test with real processes: a child appends (and truncates, compacts, saves hard state) with
 * `sync: 'always'` and reports every acknowledged call; the test SIGKILLs it at random moments and
 * checks after each kill that everything acknowledged is intact and the log is a clean prefix.
 * 50 cycles by default; `TESSERA_CRASH_CYCLES=1000` for a long run. Needs the package built (dist).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { runCrashCycles } from '@tessera/testing/log-store';
import { fileStorage } from '../src/index.js';

const child = fileURLToPath(new URL('./crash-child.mjs', import.meta.url));
const cycles = Number(process.env.TESSERA_CRASH_CYCLES ?? 50);

it(`keeps every acknowledged entry across ${cycles} SIGKILLs`, async () => {
  expect(existsSync(fileURLToPath(new URL('../dist/index.js', import.meta.url))), 'build the package first (pnpm build)').toBe(true);
  const dir = await mkdtemp(join(tmpdir(), 'tessera-file-crash-'));
  try {
    const report = await runCrashCycles({ childScript: child, dir, cycles, open: (d) => fileStorage({ dir: d, segmentBytes: 64 * 1024 }) });
    expect(report.cycles).toBe(cycles);
    expect(report.acked).toBeGreaterThan(cycles);
    console.log(`file crash test: ${JSON.stringify(report)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, Math.max(300_000, cycles * 6_000));
