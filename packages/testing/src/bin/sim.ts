#!/usr/bin/env node
// tessera-sim: run many simulation seeds in parallel, or replay one with its trace.
//   tessera-sim --seeds 500 [--start 1] [--profile mixed|default|five|narrow|slow-disk|calm] [--unsafe flag] [--workers N]
//   tessera-sim --seed 1234 [--profile ...] [--trace]
import { parseArgs } from 'node:util';
import { kvHistoryChecker } from '../sim/history-check.js';
import { PROFILES, type ProfileName } from '../sim/profiles.js';
import { runSeed, runSeeds } from '../sim/runner.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '100' },
    start: { type: 'string', default: '1' },
    seed: { type: 'string' },
    profile: { type: 'string', default: 'mixed' },
    unsafe: { type: 'string' },
    workers: { type: 'string' },
    duration: { type: 'string' },
    trace: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`usage: tessera-sim [--seeds N] [--start S] [--profile P] [--unsafe FLAG] [--workers W]\n       tessera-sim --seed S [--profile P] [--trace]\nprofiles: mixed, ${Object.keys(PROFILES).join(', ')}\nunsafe flags: commitPriorTermByCount, voteIgnoresLog, ackBeforePersist, readWithoutQuorum`);
  process.exit(0);
}
const profile = values.profile as ProfileName;
if (profile !== 'mixed' && !(profile in PROFILES)) {
  console.error(`unknown profile ${profile}`);
  process.exit(2);
}
const unsafe = values.unsafe ? { [values.unsafe]: true } : undefined;
const durationMs = values.duration ? Number(values.duration) : undefined;

if (values.seed !== undefined) {
  const seed = Number(values.seed);
  const { result, profile: p } = await runSeed(seed, profile, unsafe, durationMs, kvHistoryChecker());
  if (values.trace || !result.ok) console.log(result.trace.join('\n'));
  console.log(JSON.stringify({ seed, profile: p, ok: result.ok, linearizability: result.linearizability, stats: result.stats }));
  for (const v of result.violations) console.log(`VIOLATION: ${v}`);
  process.exitCode = result.ok ? 0 : 1;
} else {

const count = Number(values.seeds);
const start = Number(values.start);
let lastPrint = 0;
const summary = await runSeeds(
  {
    start,
    count,
    profile,
    unsafe,
    durationMs,
    workers: values.workers !== undefined ? Number(values.workers) : undefined,
    onResult: (r, p) => {
      if (!r.ok) console.log(`seed ${r.seed} (${p}) FAILED: ${r.violations[0]?.split('\n')[0]}`);
      const now = Date.now();
      if (process.stdout.isTTY && now - lastPrint > 1000) {
        lastPrint = now;
        process.stdout.write(`\r${r.seed}...`);
      }
    },
  },
  new URL('../sim/worker.js', import.meta.url),
);
const f = summary.failures;
console.log(
  `\n${summary.seeds} seeds (${start}..${start + summary.seeds - 1}, profile ${profile}${values.unsafe ? `, unsafe ${values.unsafe}` : ''}): ${f.length} with violations, ` +
    `${summary.unknownLinearizability} with an inconclusive linearizability check, ${summary.steps} steps in ${(summary.ms / 1000).toFixed(1)} s`,
);
if (f.length > 0) {
  const first = f[0]!;
  console.log(`\nfirst failing seed: ${first.seed} (${first.profile})`);
  for (const v of first.violations) console.log(`  ${v}`);
  console.log(`\nlast events:\n${first.trace.slice(-60).join('\n')}`);
  console.log(`\nreplay: pnpm sim --seed ${first.seed} --profile ${first.profile}${values.unsafe ? ` --unsafe ${values.unsafe}` : ''} --trace`);
  process.exitCode = 1;
}
}
