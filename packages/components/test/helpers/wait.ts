import type { TesseraClient } from '@tessera/client';
import { status, type Network } from '../../src/index.js';
import { until } from '@tessera/testing/processes';

export { until };

/** Waits until no stateful partition of the network has unacknowledged outbox messages (everything emitted was applied downstream). */
export async function quiescent(client: TesseraClient, net: Network, timeoutMs = 30_000): Promise<void> {
  await until(
    async () => {
      const st = await status(client, net);
      for (const c of Object.values(st.components)) for (const p of c.partitions) if (p.outbox > 0) return undefined;
      return true;
    },
    `network ${net.name} to be quiescent`,
    timeoutMs,
  );
}

/** Words of a line as the test networks split them. */
export const wordsOf = (line: string) => line.split(/\s+/).filter(Boolean).map((w) => w.toLowerCase());

/** Deterministic lines of text (seeded), with a Zipf-ish word distribution. */
export function lines(n: number, seed = 1): string[] {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const vocab = Array.from({ length: 300 }, (_, i) => `w${i}`);
  return Array.from({ length: n }, () => Array.from({ length: 3 + Math.floor(rnd() * 8) }, () => vocab[Math.floor(rnd() ** 2 * vocab.length)]!).join(' '));
}

export function expectedCounts(text: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const l of text) for (const w of wordsOf(l)) m.set(w, (m.get(w) ?? 0) + 1);
  return m;
}
