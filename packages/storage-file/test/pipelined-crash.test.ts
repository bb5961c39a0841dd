/**
 * Crash test of pipelined appends with real processes: a child keeps two `sync: 'always'` appends
 * in flight (as the Raft runtime does) and reports each call before it is made and once it
 * resolved; the test SIGKILLs it at random moments and checks after each kill that the log is a
 * gap-free prefix holding every acknowledged entry intact and nothing beyond the calls made.
 * 20 cycles by default (`TESSERA_CRASH_CYCLES` raises it). Needs the package built (dist).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '@tessera/testing';
import { expect, it } from 'vitest';
import { fileStorage } from '../src/index.js';
// A plain ES module shared with the child process.
import { payload } from './pipelined-payload.mjs';

const child = fileURLToPath(new URL('./pipelined-crash-child.mjs', import.meta.url));
const cycles = Math.max(1, Math.round(Number(process.env.TESSERA_CRASH_CYCLES ?? 50) / 2.5));
const expected = payload as (index: number) => Uint8Array;

/** Runs the child until it has acknowledged `killAfter` calls (then `extraMs` more), kills it, returns its lines. */
function runChild(dir: string, seed: number, killAfter: number, extraMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, dir, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let buf = '';
    let stderr = '';
    let acks = 0;
    let killing = false;
    const kill = () => {
      if (killing) return;
      killing = true;
      proc.kill('SIGKILL');
    };
    const timer = setTimeout(() => {
      kill();
      reject(new Error(`child made ${acks} acknowledgements in 30 s (wanted ${killAfter}); stderr: ${stderr}`));
    }, 30_000);
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        if (line.startsWith('a ') && ++acks === killAfter) {
          if (extraMs === 0) kill();
          else setTimeout(kill, extraMs);
        }
      }
    });
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (c: string) => (stderr += c));
    proc.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    // 'close', not 'exit': every line the child wrote has been read by then.
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL' || !killing) reject(new Error(`child exited by itself (code ${code}, signal ${signal}); stderr: ${stderr}`));
      else resolve(lines);
    });
  });
}

it(`pipelined appends keep every acknowledged entry across ${cycles} SIGKILLs`, async () => {
  expect(existsSync(fileURLToPath(new URL('../dist/index.js', import.meta.url))), 'build the package first (pnpm build)').toBe(true);
  const dir = await mkdtemp(join(tmpdir(), 'tessera-file-pipe-crash-'));
  const rand = seededRandom(0x9e3779b9);
  let acked = 0;
  let totalAcks = 0;
  let cutInFlight = 0;
  try {
    for (let cycle = 0; cycle < cycles; cycle++) {
      const where = `cycle ${cycle}`;
      const lines = await runChild(dir, 1 + cycle, 1 + Math.floor(rand() * 40), rand() < 0.5 ? 0 : rand() * 4);
      let issued = acked;
      for (const line of lines) {
        const [kind, a, b] = line.split(' ');
        if (kind === 'i') issued = Math.max(issued, Number(b));
        if (kind === 'a') {
          acked = Math.max(acked, Number(a));
          totalAcks++;
        }
      }
      const engine = await fileStorage({ dir, segmentBytes: 64 * 1024 });
      try {
        const { log } = await engine.openGroup('pipe');
        const last = log.lastIndex();
        expect(log.firstIndex(), where).toBe(1);
        expect(last, `${where}: acknowledged up to ${acked}`).toBeGreaterThanOrEqual(acked);
        expect(last, `${where}: calls made up to ${issued}`).toBeLessThanOrEqual(issued);
        if (last > acked) cutInFlight++;
        const got = last > 0 ? await log.entries(1, last + 1) : [];
        expect(got.length, where).toBe(last);
        for (const e of got) {
          if (!Buffer.from(e.data).equals(Buffer.from(expected(e.index)))) throw new Error(`${where}: entry ${e.index} is damaged`);
        }
        // What survived is the new baseline: the child continues from it.
        acked = last;
      } finally {
        await engine.close();
      }
    }
    expect(totalAcks).toBeGreaterThan(cycles);
    console.log(`file pipelined crash test: ${JSON.stringify({ cycles, acks: totalAcks, cyclesWithUnacknowledgedEntriesKept: cutInFlight, entries: acked })}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, Math.max(300_000, cycles * 5_000));
