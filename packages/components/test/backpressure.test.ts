// Backpressure: when the partition downstream of a stateful component cannot apply (here it lost
// its quorum), the component's outbox fills to maxOutbox, it refuses new messages, and the source's
// pushes stop resolving once maxInFlight are pending. When the partition is back, everything
// flows and every message is applied exactly once.
import type { TesseraClient } from '@tessera/client';
import { afterAll, describe, expect, it } from 'vitest';
import { deploy, openSource, placeNetwork, queryComponent, status, type Network } from '../src/index.js';
import { startLocalCluster, type LocalCluster } from '../src/local/index.js';
import { gateNetwork } from './fixtures/networks.mjs';
import { quiescent, until } from './helpers/wait.js';

const IDS = ['n1', 'n2', 'n3', 'n4', 'n5'];
const P = 5;
/** Replicas of cluster partition p (docs/partitions.md placement: nodes[(p + i) mod N]). */
const replicas = (p: number) => [0, 1, 2].map((i) => IDS[(p + i) % IDS.length]!);

/** A gate network whose store partition can lose its quorum while the gate's keeps one (found deterministically by name). */
function pick(): { net: Network; stop: string[] } {
  for (let i = 0; ; i++) {
    const net = gateNetwork(`bp${i}`, 20);
    const pl = placeNetwork(net, P);
    const gate = replicas(pl.of('gate', 0).clusterPartition);
    const store = replicas(pl.of('store', 0).clusterPartition);
    const stop = IDS.filter((id) => !gate.includes(id));
    if (stop.every((id) => store.includes(id))) return { net, stop };
  }
}

describe('backpressure', () => {
  const { net, stop } = pick();
  let cluster: LocalCluster | undefined;
  let client: TesseraClient | undefined;
  afterAll(async () => {
    await client?.close();
    await cluster?.close();
  });

  it('a partition that cannot apply stops the source; nothing is lost or doubled when it is back', async () => {
    cluster = await startLocalCluster({ networks: [net], nodes: IDS, partitions: P, replicationFactor: 3 });
    client = await cluster.connect({ requestTimeoutMs: 30_000 });
    await deploy(client, net);
    await Promise.all(stop.map((id) => cluster!.stop(id)));

    const maxInFlight = 40;
    const source = openSource(client, net, 'numbers', { maxInFlight, maxBatch: 8, timeoutMs: 120_000 });
    const N = 150;
    let resolved = 0;
    let started = 0;
    const pushes: Promise<void>[] = [];
    const feeding = (async () => {
      for (let i = 0; i < N; i++) {
        started++;
        pushes.push(source.push(i).then(() => void resolved++));
        // push() returns at once while a slot is free; wait for the slot before pushing the next
        // number, as a producer honouring backpressure does.
        await Promise.race([pushes[i], new Promise((r) => setImmediate(r))]);
        while (source.stats().inFlight >= maxInFlight) await new Promise((r) => setTimeout(r, 5));
      }
    })();

    // The gate's outbox fills up to maxOutbox (20), then it refuses the source, which stops at maxInFlight.
    await until(async () => {
      const st = await status(client!, net, { timeoutMs: 500 });
      const gate = st.components.gate!.partitions[0];
      expect(st.components.store!.partitions[0]).toMatchObject({ available: false, error: expect.any(String) });
      return gate && gate.outbox >= 20 && source.stats().refused > 0 && source.stats().inFlight === maxInFlight ? true : undefined;
    }, 'the gate to refuse the source');
    const stuck = resolved;
    expect(stuck).toBeLessThan(N);
    expect(started).toBeLessThanOrEqual(stuck + maxInFlight + 1);
    const gate = (await status(client, net, { timeoutMs: 500 })).components.gate!.partitions[0]!;
    expect(gate.outbox).toBeLessThan(20 + 8 + 1); // at most one batch beyond the bound
    expect(gate.outboxByDest['store/0']).toBe(gate.outbox);

    // Commit before handler: the store replica that is still up received deliveries it cannot commit
    // (no quorum) and has applied none of them.
    const place = placeNetwork(net, P).of('store', 0);
    const survivors = replicas(place.clusterPartition).filter((id) => !stop.includes(id));
    expect(survivors).toHaveLength(1);
    const local = cluster.nodes.get(survivors[0]!)!.runtime.status().find((s) => s.component === 'store')!;
    expect(local).toMatchObject({ deployed: true, applied: 0 });

    await Promise.all(stop.map((id) => cluster!.start(id)));
    await feeding;
    await Promise.all(pushes);
    await quiescent(client, net);
    const seen = await queryComponent<Record<string, number>>(client, net, 'store', 0, 'seen');
    expect(Object.keys(seen)).toHaveLength(N);
    for (let i = 0; i < N; i++) expect(seen[i]).toBe(1);
    expect(source.stats()).toMatchObject({ pushed: N, applied: N, failed: 0 });
    await source.close();
  });
});
