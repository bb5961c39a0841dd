/**
 * Crash testing of a durable storage engine with real processes.
 *
 * A child process (a small script of the backend's tests) opens the engine and runs
 * {@link crashWorkload}: appends, truncations, compactions and hard-state saves, each announced on
 * stdout before it is made (`i ...`) and acknowledged after it resolved (`a ...`). The test side,
 * {@link runCrashCycles}, SIGKILLs the child at a random moment (after a random number of
 * acknowledgements, sometimes after a further random delay, sometimes while it is still opening),
 * reopens the store in its own process and checks:
 *
 * - every entry read back is intact (its bytes are a function of index and term);
 * - every acknowledged entry at or above the first index is there with its term, except those the
 *   one call in flight at the kill may legitimately have removed (a truncation);
 * - nothing beyond the acknowledged end is there except entries of the append in flight;
 * - the first index and hard state are the acknowledged ones or those of the call in flight.
 *
 * The recovered state becomes the expectation of the next cycle, so the same store is killed
 * again and again. `TESSERA_CRASH_CYCLES` overrides the number of cycles.
 *
 * This module imports no vitest, so that a child can load it quickly as a sibling of the
 * `@tessera/testing/log-store` entry point:
 * `await import(new URL('./storage-crash.js', import.meta.resolve('@tessera/testing/log-store')).href)`.
 */
import { spawn } from 'node:child_process';
import { EntryType, type GroupStorage, type LogEntry, type StorageEngine } from '@tessera/raft';
import { seededRandom } from '../sim/rng.js';

const GROUP = 'crash';

/** The bytes of the entry at (`index`, `term`) in the crash workload; its size varies with both. */
export function crashPayload(index: number, term: number): Uint8Array {
  let x = (Math.imul(index, 0x9e3779b1) ^ Math.imul(term, 0x85ebca6b)) | 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  const r = next() % 100;
  const size = r < 2 ? 20_000 + (next() % 80_000) : r < 10 ? next() % 4_000 : next() % 300;
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i & 3) === 0 ? next() & 0xff : (x >>> ((i & 3) * 8)) & 0xff;
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/**
 * The child side: runs appends, truncations, compactions and hard-state saves on group `crash`
 * until killed, writing `i <op>` before and `a <op>` after each call. Never returns.
 */
export async function crashWorkload(engine: StorageEngine, seed: number): Promise<never> {
  const g = await engine.openGroup(GROUP);
  const rand = seededRandom(seed);
  const pick = (n: number) => Math.floor(rand() * n);
  const out = (line: string) => process.stdout.write(line + '\n');
  const hs = await g.hardState.load();
  let term = Math.max(hs.term, g.log.lastIndex() >= g.log.firstIndex() ? await g.log.term(g.log.lastIndex()) : 0) + 1;
  out(`R ${g.log.firstIndex()} ${g.log.lastIndex()}`);
  const saveTerm = async () => {
    out(`i H ${term}`);
    await g.hardState.save({ term, vote: `n${term % 5}`, commit: 0 });
    out(`a H ${term}`);
  };
  await saveTerm();
  for (;;) {
    const first = g.log.firstIndex();
    const last = g.log.lastIndex();
    const r = rand();
    if (r < 0.06 && last >= first) {
      const from = Math.max(first, last - pick(20));
      out(`i T ${from}`);
      await g.log.truncateSuffix(from);
      out(`a T ${from}`);
      term++;
      await saveTerm();
    } else if (r < 0.1) {
      const upTo = rand() < 0.2 ? last + pick(5) : first - 1 + pick(Math.max(1, last - first + 1));
      out(`i C ${upTo}`);
      await g.log.compactPrefix(upTo);
      out(`a C ${upTo}`);
    } else if (r < 0.13) {
      term++;
      await saveTerm();
    } else {
      const n = 1 + pick(rand() < 0.3 ? 200 : 16);
      const lo = last + 1;
      const batch: LogEntry[] = [];
      for (let i = lo; i < lo + n; i++) batch.push({ index: i, term, type: EntryType.Normal, data: crashPayload(i, term) });
      out(`i A ${lo} ${lo + n - 1} ${term}`);
      await g.log.append(batch);
      out(`a A ${lo} ${lo + n - 1} ${term}`);
    }
  }
}

export interface CrashCycleOptions {
  /** Node script that opens the engine on the directory given as its first argument and runs {@link crashWorkload} with the seed given second. */
  readonly childScript: string;
  /** Opens the engine on `dir` in the test process, to check what survived. */
  open(dir: string): Promise<StorageEngine>;
  /** The directory handed to the child and to `open` (a temp dir the caller removes). */
  readonly dir: string;
  /** Kill cycles; default `TESSERA_CRASH_CYCLES` or 50. */
  readonly cycles?: number;
  readonly seed?: number;
  /** Bound on one cycle. */
  readonly cycleTimeoutMs?: number;
}

export interface CrashReport {
  readonly cycles: number;
  /** Acknowledged calls over all cycles. */
  readonly acked: number;
  /** Cycles whose kill landed with a call in flight. */
  readonly inFlightAtKill: number;
  /** Entries in the log after the last cycle. */
  readonly finalEntries: number;
}

/** Acknowledged state the store must hold after the next crash. */
interface Expected {
  first: number;
  last: number;
  terms: Map<number, number>;
  hardTerm: number;
}

type Op = { op: 'A'; lo: number; hi: number; term: number } | { op: 'T'; from: number } | { op: 'C'; upTo: number } | { op: 'H'; term: number };

function parseOp(parts: string[]): Op {
  const n = parts.slice(2).map(Number);
  switch (parts[1]) {
    case 'A':
      return { op: 'A', lo: n[0]!, hi: n[1]!, term: n[2]! };
    case 'T':
      return { op: 'T', from: n[0]! };
    case 'C':
      return { op: 'C', upTo: n[0]! };
    case 'H':
      return { op: 'H', term: n[0]! };
    default:
      throw new Error(`crash child: unknown line ${parts.join(' ')}`);
  }
}

function applyAck(e: Expected, op: Op): void {
  switch (op.op) {
    case 'A':
      for (let i = op.lo; i <= op.hi; i++) e.terms.set(i, op.term);
      e.last = op.hi;
      break;
    case 'T':
      for (let i = op.from; i <= e.last; i++) e.terms.delete(i);
      e.last = Math.min(e.last, op.from - 1);
      break;
    case 'C':
      if (op.upTo >= e.first) {
        for (let i = e.first; i <= Math.min(op.upTo, e.last); i++) e.terms.delete(i);
        e.first = op.upTo + 1;
        if (e.last < op.upTo) e.last = op.upTo;
      }
      break;
    case 'H':
      e.hardTerm = op.term;
      break;
  }
}

/** Runs the kill cycles; throws (with seed and cycle) on the first violation. */
export async function runCrashCycles(opts: CrashCycleOptions): Promise<CrashReport> {
  const cycles = opts.cycles ?? Number(process.env.TESSERA_CRASH_CYCLES ?? 50);
  const seed = opts.seed ?? 1;
  const rand = seededRandom(seed);
  const exp: Expected = { first: 1, last: 0, terms: new Map(), hardTerm: 0 };
  let acked = 0;
  let inFlightAtKill = 0;
  let finalEntries = 0;
  for (let cycle = 0; cycle < cycles; cycle++) {
    const where = `crash cycle ${cycle} (seed ${seed})`;
    const run = await runChild(opts, seed * 100_003 + cycle, rand, opts.cycleTimeoutMs ?? 30_000, where);
    let inflight: Op | undefined;
    for (const line of run.lines) {
      const parts = line.split(' ');
      if (parts[0] === 'i') inflight = parseOp(parts);
      else if (parts[0] === 'a') {
        applyAck(exp, parseOp(parts));
        inflight = undefined;
        acked++;
      }
    }
    if (inflight) inFlightAtKill++;
    const engine = await opts.open(opts.dir);
    try {
      const g = await engine.openGroup(GROUP);
      finalEntries = await check(g, exp, inflight, where);
      await g.close();
    } finally {
      await engine.close();
    }
  }
  return { cycles, acked, inFlightAtKill, finalEntries };
}

/** Checks the reopened group against the expectation, then makes what it holds the new expectation. */
async function check(g: GroupStorage, exp: Expected, inflight: Op | undefined, where: string): Promise<number> {
  const fail = (msg: string): never => {
    throw new Error(`${where}: ${msg} (expected first ${exp.first}, last ${exp.last}; in flight ${JSON.stringify(inflight ?? null)})`);
  };
  const first = g.log.firstIndex();
  const last = g.log.lastIndex();
  const compactInFlight = inflight?.op === 'C' && inflight.upTo >= exp.first;
  if (first !== exp.first && !(compactInFlight && first === inflight.upTo + 1)) fail(`first index is ${first}`);
  const entries = last >= first ? await g.log.entries(first, last + 1) : [];
  if (entries.length !== last - first + 1) fail(`read ${entries.length} entries for [${first}, ${last}]`);
  for (const e of entries) {
    if (!sameBytes(e.data, crashPayload(e.index, e.term))) fail(`entry ${e.index} (term ${e.term}) is damaged`);
    const want = exp.terms.get(e.index);
    if (want !== undefined && e.index <= exp.last) {
      if (e.term !== want) fail(`entry ${e.index} has term ${e.term}, acknowledged with term ${want}`);
    } else if (!(inflight?.op === 'A' && e.index >= inflight.lo && e.index <= inflight.hi && e.term === inflight.term)) {
      fail(`entry ${e.index} (term ${e.term}) was never acknowledged and is not part of the append in flight`);
    }
  }
  // Every acknowledged entry still in range must be there, unless the truncation in flight took it.
  const mayLoseFrom = inflight?.op === 'T' ? inflight.from : Infinity;
  const needUpTo = Math.min(exp.last, mayLoseFrom - 1);
  if (last < needUpTo && !(compactInFlight && first > needUpTo)) fail(`last index is ${last}: acknowledged entries up to ${needUpTo} are missing`);
  const hs = await g.hardState.load();
  if (hs.term !== exp.hardTerm && !(inflight?.op === 'H' && hs.term === inflight.term)) fail(`hard state term is ${hs.term}, acknowledged ${exp.hardTerm}`);
  if (hs.term > 0 && hs.vote !== `n${hs.term % 5}`) fail(`hard state is mixed: term ${hs.term} with vote ${hs.vote}`);

  exp.first = first;
  exp.last = last;
  exp.terms = new Map(entries.map((e) => [e.index, e.term]));
  exp.hardTerm = hs.term;
  return entries.length;
}

interface ChildRun {
  readonly lines: string[];
}

/** Spawns the child, kills it at a random moment, and returns the complete lines it wrote. */
function runChild(opts: CrashCycleOptions, seed: number, rand: () => number, timeoutMs: number, where: string): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [opts.childScript, opts.dir, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let stderr = '';
    const lines: string[] = [];
    let acks = 0;
    let killing = false;
    // Mostly after 1..24 acknowledgements (plus, half the time, up to 4 ms more); sometimes while still opening.
    const early = rand() < 0.1;
    const killAfter = 1 + Math.floor(rand() * 24);
    const extraMs = rand() < 0.5 ? 0 : rand() * 4;
    const kill = () => {
      if (killing) return;
      killing = true;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => {
      kill();
      reject(new Error(`${where}: child made ${acks} acknowledgements in ${timeoutMs} ms (wanted ${killAfter}); stderr: ${stderr}`));
    }, timeoutMs);
    if (early) setTimeout(kill, rand() * 150);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
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
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => (stderr += c));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    // 'close', not 'exit': every line the child wrote has been read by then.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL' || !killing) {
        reject(new Error(`${where}: child exited by itself (code ${code}, signal ${signal}); stderr: ${stderr}`));
        return;
      }
      // A partial last line (killed mid-write) is dropped: it acknowledged nothing.
      resolve({ lines });
    });
  });
}
