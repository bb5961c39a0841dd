// The example as its README runs it (3 nodes, file storage, TCP, a node stopped in every round), smaller.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { run } from '../src/run.js';

it('keeps the total constant at every quiescent point and credits every debit once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-example-bank-'));
  try {
    const r = await run({ dir, accounts: 20, rounds: 2, transfersPerRound: 200 });
    expect(r.rounds).toHaveLength(2);
    for (const round of r.rounds) expect(round).toMatchObject({ ok: true, total: 20_000 });
    expect(r.rounds[1]!.debited).toBeGreaterThan(0);
    expect(r.outcomes).toBe(r.transfers);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
