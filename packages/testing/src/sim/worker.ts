// Worker thread for runSeeds: runs the seeds it is sent and posts each result back.
import { parentPort } from 'node:worker_threads';
import { kvHistoryChecker } from './history-check.js';
import { runSeed } from './runner.js';

const checker = kvHistoryChecker();
parentPort!.on('message', async (m: { seed: number; profile: never; unsafe: never; durationMs?: number }) => {
  const { result, profile } = await runSeed(m.seed, m.profile, m.unsafe, m.durationMs, checker);
  parentPort!.postMessage({ result, profile });
});
