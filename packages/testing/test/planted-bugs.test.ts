import { describe, expect, it } from 'vitest';
import type { UnsafeFlags } from '@tessera/raft';
import type { ProfileName } from '../src/sim/profiles.js';
import { runSeeds } from '../src/sim/runner.js';

const workerUrl = new URL('../dist/sim/worker.js', import.meta.url);

/**
 * The checks must be able to fail: each planted bug, switched on through the core's `unsafe` flags,
 * is caught within a bounded number of seeds (the same seeds every run: the simulation is
 * deterministic). The profile is the fault mix that exercises the bug's window.
 */
const CASES: { bug: keyof UnsafeFlags; profile: ProfileName; within: number; caughtBy: RegExp }[] = [
  { bug: 'voteIgnoresLog', profile: 'default', within: 40, caughtBy: /leader completeness|committed prefix|state machine safety|linearizability/ },
  { bug: 'ackBeforePersist', profile: 'churn', within: 100, caughtBy: /leader completeness|committed prefix|state machine safety|linearizability/ },
  { bug: 'readWithoutQuorum', profile: 'no-check-quorum', within: 100, caughtBy: /linearizability/ },
];

describe('planted bugs are caught by the simulation', () => {
  for (const c of CASES) {
    it(`${c.bug} is caught within ${c.within} seeds (${c.profile})`, async () => {
      const summary = await runSeeds({ start: 1, count: c.within, profile: c.profile, unsafe: { [c.bug]: true }, stopOnFailure: true }, workerUrl);
      expect(summary.failures.length, `no violation in ${summary.seeds} seeds`).toBeGreaterThan(0);
      expect(summary.failures[0]!.violations.join('\n')).toMatch(c.caughtBy);
    }, 10 * 60_000);
  }
});
