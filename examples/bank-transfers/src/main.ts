#!/usr/bin/env node
/**
 * `node dist/main.js [--dir ./data] [--accounts 50] [--rounds 3] [--transfers 1000] [--no-failover]`
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { run } from './run.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: './data' },
    accounts: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '3' },
    transfers: { type: 'string', default: '1000' },
    'no-failover': { type: 'boolean', default: false },
  },
});
const int = (name: 'accounts' | 'rounds' | 'transfers') => {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < 1) {
    console.error(`--${name}: expected a positive integer, got ${values[name]}`);
    process.exit(2);
  }
  return v;
};
const r = await run({ dir: resolve(values.dir), accounts: int('accounts'), rounds: int('rounds'), transfersPerRound: int('transfers'), failover: !values['no-failover'], log: (l) => console.log(l) });
console.log(`${r.transfers} transfers, ${r.outcomes} outcomes received by the sink`);
if (r.rounds.every((x) => x.ok)) console.log('verified: the total balance was constant at every quiescent point; every debit was credited exactly once');
else {
  console.log('INVARIANT BROKEN');
  process.exitCode = 1;
}
