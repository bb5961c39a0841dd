import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { UnsafeFlags } from '@tessera/raft';
import { profileOptions, type ProfileName } from './profiles.js';
import { runSimulation, type HistoryChecker, type SimulationResult } from './simulation.js';

/** What to run: seeds `start .. start+count-1` under a profile, optionally with a planted bug. */
export interface SeedRunOptions {
  readonly start: number;
  readonly count: number;
  readonly profile: ProfileName;
  readonly unsafe?: UnsafeFlags;
  readonly durationMs?: number;
  /** Stop at the first failing seed. */
  readonly stopOnFailure?: boolean;
  /** Worker threads (default: available cores); 0 runs in this thread. */
  readonly workers?: number;
  readonly onResult?: (r: SimulationResult, profile: string) => void;
}

export interface SeedRunSummary {
  readonly seeds: number;
  readonly failures: { seed: number; profile: string; violations: string[]; trace: string[] }[];
  readonly unknownLinearizability: number;
  readonly steps: number;
  readonly ms: number;
}

/** Runs one seed with the linearizability checker when available. */
export async function runSeed(seed: number, profile: ProfileName, unsafe: UnsafeFlags | undefined, durationMs: number | undefined, checkHistory?: HistoryChecker): Promise<{ result: SimulationResult; profile: string }> {
  const { name, options } = profileOptions(profile, seed);
  const result = await runSimulation({ ...options, seed, unsafe, ...(durationMs ? { durationMs } : {}), ...(checkHistory ? { checkHistory } : {}) });
  return { result, profile: name };
}

/**
 * Runs many seeds across worker threads and summarizes. Deterministic per seed: the same seed gives
 * the same result whatever the number of workers.
 */
export async function runSeeds(opts: SeedRunOptions, workerUrl: URL, checkHistory?: HistoryChecker): Promise<SeedRunSummary> {
  const t0 = performance.now();
  const failures: SeedRunSummary['failures'] = [];
  let unknownLin = 0;
  let steps = 0;
  let done = 0;
  const seeds = Array.from({ length: opts.count }, (_, i) => opts.start + i);
  const record = (result: SimulationResult, profile: string) => {
    done++;
    steps += result.stats.steps;
    if (result.linearizability === 'unknown') unknownLin++;
    if (!result.ok) failures.push({ seed: result.seed, profile, violations: result.violations, trace: result.trace });
    opts.onResult?.(result, profile);
  };
  const nWorkers = opts.workers ?? Math.min(availableParallelism(), seeds.length);
  if (nWorkers === 0) {
    for (const seed of seeds) {
      const { result, profile } = await runSeed(seed, opts.profile, opts.unsafe, opts.durationMs, checkHistory);
      record(result, profile);
      if (opts.stopOnFailure && !result.ok) break;
    }
  } else {
    let next = 0;
    let stop = false;
    await Promise.all(
      Array.from({ length: nWorkers }, () =>
        new Promise<void>((resolve, reject) => {
          const w = new Worker(workerUrl);
          const feed = () => {
            if (stop || next >= seeds.length) {
              void w.terminate().then(() => resolve());
              return;
            }
            w.postMessage({ seed: seeds[next++], profile: opts.profile, unsafe: opts.unsafe, durationMs: opts.durationMs });
          };
          w.on('message', (m: { result: SimulationResult; profile: string }) => {
            record(m.result, m.profile);
            if (opts.stopOnFailure && !m.result.ok) stop = true;
            feed();
          });
          w.on('error', reject);
          feed();
        }),
      ),
    );
  }
  failures.sort((a, b) => a.seed - b.seed);
  return { seeds: done, failures, unknownLinearizability: unknownLin, steps, ms: performance.now() - t0 };
}
