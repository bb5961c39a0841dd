// The example as its README runs it (3 nodes, file storage, TCP, a leader stopped half-way), smaller.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { run } from '../src/run.js';
import { sampleLines } from '../src/text.js';

it('counts every word exactly once through a leader stop and restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-example-word-count-'));
  try {
    const r = await run({ dir, lines: sampleLines(400) });
    expect(r.wrong).toEqual([]);
    expect(r.words).toBeGreaterThan(4_000);
    expect(r.sinkGaps).toBe(0);
    expect(r.sinkUpdates).toBe(r.words);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
