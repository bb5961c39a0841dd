// Real processes, SIGKILL: exactly-once state across leader crashes and restarts.
import { connect, type TesseraClient } from '@tessera/client';
import { afterEach, describe, expect, it } from 'vitest';
import { deploy, openSink, openSource, placeNetwork, queryAll, status, type Network } from '../src/index.js';
import { bankNetwork, wordCountNetwork } from './fixtures/networks.mjs';
import { processCluster, type ProcessCluster } from './helpers/processes.js';
import { expectedCounts, lines, quiescent, until } from './helpers/wait.js';

const P = 4;
let cluster: ProcessCluster | undefined;
let client: TesseraClient | undefined;
afterEach(async (ctx) => {
  // A failed test says what each node was doing (replicas, stderr tail) before the cluster goes.
  if (ctx.task.result?.state === 'fail' && cluster) console.error(`cluster at the failure:\n${await cluster.report()}`);
  await client?.close().catch(() => {});
  await cluster?.close();
  client = undefined;
  cluster = undefined;
});

async function start(snapshotEntries: number): Promise<{ cluster: ProcessCluster; client: TesseraClient }> {
  cluster = await processCluster({ partitions: P, snapshotEntries });
  client = await connect({ endpoints: cluster.endpoints, requestTimeoutMs: 30_000, attemptTimeoutMs: 1_500, sessionTimeoutMs: 60_000, retry: { initialMs: 5, maxMs: 200 } });
  return { cluster, client };
}

async function counts(c: TesseraClient, net: Network): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const part of await queryAll<Record<string, number>>(c, net, 'counter', 'counts')) for (const [w, n] of Object.entries(part)) out.set(w, (out.get(w) ?? 0) + n);
  return out;
}

describe('crashes with real processes', () => {
  it('word count: the leader of a counter partition is SIGKILLed mid-stream and restarted; every count is exact', async () => {
    const { cluster: c, client: cl } = await start(300);
    const net = wordCountNetwork(4);
    await deploy(cl, net);
    const text = lines(1_500, 11);
    // Every count update once, in order per word, across the crash of a replica that may be serving the subscription.
    const updates = new Map<string, number[]>();
    const sink = openSink<{ word: string; count: number }>(cl, net, 'counts', (u) => {
      const list = updates.get(u.word) ?? [];
      list.push(u.count);
      updates.set(u.word, list);
    }, { catchUpIntervalMs: 200 });
    await sink.ready;
    const source = openSource(cl, net, 'lines', { maxInFlight: 128, timeoutMs: 60_000 });
    const target = placeNetwork(net, P).of('counter', 0).clusterPartition;
    let done = 0;
    let fault: Promise<void> | undefined;
    let killed = '';
    const pushes = text.map((l) =>
      source.push(l).then(() => {
        if (++done === 400) {
          fault = (async () => {
            const leader = await c.leaderOf(target);
            killed = leader.id;
            await leader.kill();
            await c.leaderOf(target, leader.id); // the stream goes on under a new leader
            await leader.start(); // recovers from its files, catches up
          })();
        }
      }),
    );
    await Promise.all(pushes);
    await fault;
    expect(killed).not.toBe('');
    await quiescent(cl, net);
    const expected = expectedCounts(text);
    expect(await counts(cl, net)).toEqual(expected);
    await until(() => ([...expected].every(([w, n]) => (updates.get(w)?.length ?? 0) >= n) ? true : undefined), 'every count update at the sink');
    for (const [w, n] of expected) expect(updates.get(w), w).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(sink.stats().gaps).toBe(0);
    sink.close();
    const st = await status(cl, net);
    const counter = st.components.counter!.partitions;
    expect(counter.reduce((s, p) => s + p.errors, 0)).toBe(0);
    expect(source.stats()).toMatchObject({ pushed: text.length, applied: text.length, failed: 0 });
    await source.close();
  });

  it('bank: random node kills and restarts; the total is constant at every quiescent point and each accepted transfer is applied once', async () => {
    const { cluster: c, client: cl } = await start(200);
    const net = bankNetwork(4);
    await deploy(cl, net);
    const ACCOUNTS = 24;
    const opens = openSource(cl, net, 'opens');
    await Promise.all(Array.from({ length: ACCOUNTS }, (_, i) => opens.push({ account: `a${i}`, balance: 1_000 })));
    await opens.close();
    const outcomes = new Map<string, number>();
    const sink = openSink<{ id: string; ok: boolean }>(cl, net, 'outcomes', (o) => outcomes.set(o.id, (outcomes.get(o.id) ?? 0) + 1));
    await sink.ready;
    let seed = 5;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const transfers = openSource(cl, net, 'transfers', { maxInFlight: 64, timeoutMs: 60_000 });
    const ids: string[] = [];
    const check = async () => {
      await quiescent(cl, net);
      const balances = Object.assign({}, ...(await queryAll<Record<string, number>>(cl, net, 'accounts', 'balances'))) as Record<string, number>;
      expect(Object.values(balances).reduce((a, b) => a + b, 0)).toBe(ACCOUNTS * 1_000);
      expect(Object.values(balances).every((b) => b >= 0)).toBe(true);
      const ledger = { debits: {} as Record<string, number>, refused: {} as Record<string, number>, credits: {} as Record<string, number> };
      for (const l of await queryAll<typeof ledger>(cl, net, 'accounts', 'ledger')) for (const k of ['debits', 'refused', 'credits'] as const) Object.assign(ledger[k], l[k]);
      for (const id of ids) {
        expect((ledger.debits[id] ?? 0) + (ledger.refused[id] ?? 0), `transfer ${id} decided once`).toBe(1);
        expect(ledger.credits[id] ?? 0, `transfer ${id} credited once if debited`).toBe(ledger.debits[id] ?? 0);
      }
      return ledger;
    };
    for (let round = 0; round < 3; round++) {
      const batch = Array.from({ length: 400 }, (_, i) => ({ id: `r${round}t${i}`, from: `a${Math.floor(rnd() * ACCOUNTS)}`, to: `a${Math.floor(rnd() * ACCOUNTS)}`, amount: 1 + Math.floor(rnd() * 300) }));
      const victim = c.nodes[Math.floor(rnd() * c.nodes.length)]!;
      const killAt = 50 + Math.floor(rnd() * 250);
      let done = 0;
      let fault: Promise<void> | undefined;
      await Promise.all(
        batch.map((t) => {
          ids.push(t.id);
          return transfers.push(t).then(() => {
            if (++done === killAt) fault = victim.kill().then(() => victim.start());
          });
        }),
      );
      await fault;
      const ledger = await check();
      expect(Object.keys(ledger.debits).length).toBeGreaterThan(0);
    }
    // Every transfer's outcome reached the sink (a sink re-subscribing after a crash skips what it had).
    await until(() => (ids.every((id) => outcomes.has(id)) ? true : undefined), 'an outcome per transfer');
    expect([...outcomes.values()].every((n) => n === 1)).toBe(true);
    sink.close();
    await transfers.close();
  });
});
