#!/usr/bin/env node
/**
 * `node dist/main.js [--dir ./data] [--file book.txt] [--lines 5000] [--no-failover]`
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { run } from './run.js';
import { sampleLines } from './text.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: './data' },
    file: { type: 'string' },
    lines: { type: 'string', default: '5000' },
    'no-failover': { type: 'boolean', default: false },
  },
});
const limit = Number(values.lines);
if (!Number.isInteger(limit) || limit < 1) {
  console.error(`--lines: expected a positive integer, got ${values.lines}`);
  process.exit(2);
}
const lines = values.file ? readFileSync(values.file, 'utf8').split('\n').filter((l) => l.trim()).slice(0, limit) : sampleLines(limit);
const r = await run({ dir: resolve(values.dir), lines, failover: !values['no-failover'], log: (l) => console.log(l) });
console.log(`counted ${r.words} words (${r.distinct} distinct) in ${r.seconds.toFixed(2)} s: ${Math.round(r.words / r.seconds)} words/s end to end`);
console.log(`sink updates: ${r.sinkUpdates} (${r.sinkRecovered} read back from the retention after the failover, ${r.sinkGaps} lost); re-sent messages dropped by the counters' seen-sets: ${r.duplicatesDropped}`);
console.log(`top words: ${r.top.map(([w, n]) => `${w} ${n}`).join(', ')}`);
if (r.sinkUpdates !== r.words) {
  console.log(`SINK MISMATCH: ${r.sinkUpdates} updates for ${r.words} words`);
  process.exitCode = 1;
}
if (r.wrong.length === 0) console.log('verified: every count equals the count computed from the text (none lost, none counted twice)');
else {
  console.log(`MISMATCH in ${r.wrong.length} words, e.g. ${r.wrong.slice(0, 5).join(', ')}`);
  process.exitCode = 1;
}
