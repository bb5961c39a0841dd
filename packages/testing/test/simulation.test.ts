import { describe, expect, it } from 'vitest';
import { runSeeds } from '../src/sim/runner.js';

const workerUrl = new URL('../dist/sim/worker.js', import.meta.url);
/** Seeds per CI run; TESSERA_SIM_SEEDS raises it (the documented long run uses 20000). */
const SEEDS = Number(process.env.TESSERA_SIM_SEEDS ?? 500);
const START = Number(process.env.TESSERA_SIM_START ?? 1);

function report(summary: Awaited<ReturnType<typeof runSeeds>>): string {
  return summary.failures
    .slice(0, 3)
    .map((f) => `seed ${f.seed} (${f.profile}): ${f.violations.join('; ')}\n  replay: pnpm sim --seed ${f.seed} --profile ${f.profile} --trace\n  last events:\n    ${f.trace.slice(-25).join('\n    ')}`)
    .join('\n\n');
}

describe('Raft simulation', () => {
  it(
    `${SEEDS} seeds with every fault on (mixed profiles) find no safety or linearizability violation`,
    async () => {
      const summary = await runSeeds({ start: START, count: SEEDS, profile: 'mixed' }, workerUrl);
      expect(summary.seeds).toBe(SEEDS);
      expect(summary.failures, report(summary)).toEqual([]);
    },
    30 * 60_000,
  );
});
