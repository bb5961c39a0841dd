// End-to-end in one process: nodes with their own storage, TCP transport and client ports on
// loopback (@tessera/components/local). Crashes with real processes are in crash.test.ts.
import type { TesseraClient } from '@tessera/client';
import { Role } from '@tessera/raft';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy, network, NotDeployedError, partitionForKey, openSink, openSource, placeNetwork, queryAll, queryComponent, status, undeploy, DeployError, type Network } from '../src/index.js';
import { startLocalCluster, type LocalCluster } from '../src/local/index.js';
import { accounts, bankNetwork, gateNetwork, wordCountNetwork } from './fixtures/networks.mjs';
import { expectedCounts, lines, quiescent, until, wordsOf } from './helpers/wait.js';

async function leaderOf(cluster: LocalCluster, clusterPartition: number): Promise<string> {
  return until(() => {
    for (const [id, n] of cluster.nodes) if (n.node.group(clusterPartition)?.role === Role.Leader) return id;
    return undefined;
  }, `a leader of p${clusterPartition}`);
}

async function countsOf(client: TesseraClient, net: Network): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const part of await queryAll<Record<string, number>>(client, net, 'counter', 'counts')) for (const [w, n] of Object.entries(part)) out.set(w, (out.get(w) ?? 0) + n);
  return out;
}

describe('word count and bank on a 3-node cluster', () => {
  const wc = wordCountNetwork(4);
  const bank = bankNetwork(4);
  let cluster: LocalCluster;
  let client: TesseraClient;

  beforeAll(async () => {
    cluster = await startLocalCluster({ networks: [wc, bank], partitions: 8 });
    client = await cluster.connect();
  });
  afterAll(async () => {
    await client?.close();
    await cluster?.close();
  });

  it('deploys, counts every word exactly once through a node stop and restart, feeds the sink once per update, reports status', async () => {
    const d = await deploy(client, wc);
    expect(d.partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3]);
    expect(await deploy(client, wc)).toEqual(d); // idempotent
    const sinkUpdates: { word: string; count: number }[] = [];
    const sink = openSink<{ word: string; count: number }>(client, wc, 'counts', (m) => sinkUpdates.push(m));
    await sink.ready;
    const text = lines(600, 7);
    const source = openSource(client, wc, 'lines', { maxInFlight: 64 });
    const target = placeNetwork(wc, 8).of('counter', 0).clusterPartition;
    const victim = await leaderOf(cluster, target);
    let done = 0;
    let stopped: Promise<void> | undefined;
    await Promise.all(
      text.map((l) =>
        source.push(l).then(() => {
          if (++done === 200) stopped = cluster.stop(victim).then(() => cluster.start(victim));
        }),
      ),
    );
    await stopped;
    await quiescent(client, wc);
    const expected = expectedCounts(text);
    expect(await countsOf(client, wc)).toEqual(expected);
    const total = [...expected.values()].reduce((a, b) => a + b, 0);
    // Each counter update reaches the sink once, in order per word.
    await until(() => (sinkUpdates.length >= total ? true : undefined), 'every sink output');
    expect(sinkUpdates).toHaveLength(total);
    const last = new Map<string, number>();
    for (const u of sinkUpdates) {
      expect(u.count).toBe((last.get(u.word) ?? 0) + 1);
      last.set(u.word, u.count);
    }
    expect(source.stats()).toMatchObject({ pushed: 600, applied: 600, failed: 0 });
    sink.close();
    await source.close();

    const st = await status(client, wc);
    expect(st.deployment).toMatchObject({ network: 'wordcount', status: 'deployed', fingerprint: wc.fingerprint });
    expect(st.components.splitter).toEqual({ stateful: false, partitions: [] });
    const parts = st.components.counter!.partitions;
    expect(parts).toHaveLength(4);
    expect(parts.reduce((s, p) => s + p.applied, 0)).toBe(total);
    for (const p of parts) {
      expect(p.leader).toMatch(/^n[123]$/);
      expect(p).toMatchObject({ lag: 0, queueDepth: 0, errors: 0 });
    }
    // each node reports the replicas it holds
    const local = cluster.nodes.get('n1')!.runtime.status().filter((s) => s.network === 'wordcount');
    expect(local.length).toBeGreaterThan(0);
    expect(local[0]).toMatchObject({ component: 'counter', deployed: true });
    // The handler ran on every replica: each node's copy of each counter partition holds the same counts.
    const placement = placeNetwork(wc, 8);
    for (let p = 0; p < 4; p++) {
      const place = placement.of('counter', p);
      const leaderView = JSON.stringify(await queryComponent(client, wc, 'counter', p, 'counts'));
      await until(() => {
        const copies = [...cluster.nodes.values()].map((n) => JSON.stringify(n.node.stateMachine(place.clusterPartition)!.query(placement.type, place.resource, 'query', ['counts', null], null)));
        return copies.length === 3 && copies.every((c) => c === leaderView) ? true : undefined;
      }, `three equal replicas of counter/${p}`);
    }
    // partition 0 holds exactly the words hash() sends it
    const p0 = await queryComponent<Record<string, number>>(client, wc, 'counter', 0, 'counts');
    expect(Object.keys(p0).length).toBeGreaterThan(0);
    for (const w of Object.keys(p0)) expect(partitionForKey(w, 4)).toBe(0);
  });

  it('keeps the bank total constant and applies every transfer once', async () => {
    await deploy(client, bank);
    const opens = openSource(client, bank, 'opens');
    const accountsN = 20;
    await Promise.all(Array.from({ length: accountsN }, (_, i) => opens.push({ account: `a${i}`, balance: 1_000 })));
    const transfers = openSource(client, bank, 'transfers', { maxInFlight: 32 });
    const outcomes = new Map<string, boolean>();
    const sink = openSink<{ id: string; ok: boolean }>(client, bank, 'outcomes', (o) => outcomes.set(o.id, o.ok));
    await sink.ready;
    let r = 3;
    const rnd = () => ((r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const ids: string[] = [];
    await Promise.all(
      Array.from({ length: 300 }, (_, i) => {
        const id = `t${i}`;
        ids.push(id);
        return transfers.push({ id, from: `a${Math.floor(rnd() * accountsN)}`, to: `a${Math.floor(rnd() * accountsN)}`, amount: 1 + Math.floor(rnd() * 400) });
      }),
    );
    await quiescent(client, bank);
    const balances = Object.assign({}, ...(await queryAll<Record<string, number>>(client, bank, 'accounts', 'balances'))) as Record<string, number>;
    expect(Object.values(balances).reduce((a, b) => a + b, 0)).toBe(accountsN * 1_000);
    const ledgers = await queryAll<{ debits: Record<string, number>; refused: Record<string, number>; credits: Record<string, number> }>(client, bank, 'accounts', 'ledger');
    const merged = { debits: {} as Record<string, number>, refused: {} as Record<string, number>, credits: {} as Record<string, number> };
    for (const l of ledgers) for (const k of ['debits', 'refused', 'credits'] as const) Object.assign(merged[k], l[k]);
    for (const id of ids) {
      const accepted = merged.debits[id] === 1;
      expect((merged.debits[id] ?? 0) + (merged.refused[id] ?? 0)).toBe(1);
      expect(merged.credits[id] ?? 0).toBe(accepted ? 1 : 0);
    }
    await until(() => (outcomes.size === ids.length ? true : undefined), 'an outcome per transfer');
    for (const id of ids) expect(outcomes.get(id)).toBe(merged.debits[id] === 1);
    sink.close();
    await Promise.all([opens.close(), transfers.close()]);
  });

  it('undeploys (state gone, sources refused) and redeploys from zero', async () => {
    expect(await undeploy(client, wc)).toBe(true);
    expect((await status(client, wc)).deployment).toBeNull();
    const source = openSource(client, wc, 'lines', { timeoutMs: 5_000 });
    await expect(source.push('after undeploy')).rejects.toBeInstanceOf(NotDeployedError);
    await expect(source.push('after undeploy')).rejects.toMatchObject({ code: 'NOT_DEPLOYED' });
    await deploy(client, wc);
    await source.push('a fresh start');
    await quiescent(client, wc);
    expect(await countsOf(client, wc)).toEqual(new Map([['a', 1], ['fresh', 1], ['start', 1]]));
    await source.close();
  });

  it('refuses deployments that do not fit the cluster or that the nodes do not run', async () => {
    const other = wordCountNetwork(5); // same name, another definition
    await expect(deploy(client, other)).rejects.toMatchObject({ code: 'DEFINITION_MISMATCH' });
    expect((await status(client, wc)).deployment).toMatchObject({ fingerprint: wc.fingerprint }); // untouched
    const foreign = gateNetwork('foreign', 10);
    await expect(deploy(client, foreign)).rejects.toMatchObject({ code: 'NOT_RUNNING' });
    const fiveReplicas = network('bank').add(accounts, { partitions: 4, replicas: 5 }).build();
    await expect(deploy(client, fiveReplicas)).rejects.toBeInstanceOf(DeployError);
    await expect(deploy(client, fiveReplicas)).rejects.toMatchObject({ code: 'REPLICAS_MISMATCH' });
    await expect(queryComponent(client, wc, 'counter', 0, 'nope')).rejects.toMatchObject({ code: 'UNKNOWN_QUERY' });
  });
});
