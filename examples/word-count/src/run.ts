/**
 * Runs word count on a local 3-node cluster (file storage, TCP on loopback): streams the lines
 * through the network, stops the node leading counter partition 0 half-way and starts it again,
 * then checks every count against counts computed here from the same lines.
 */
import type { TesseraClient } from '@tessera/client';
import { deploy, openSink, openSource, placeNetwork, queryAll, status, undeploy } from '@tessera/components';
import { startLocalCluster, type LocalCluster } from '@tessera/components/local';
import { wordCount, wordsOf } from './network.js';

export interface RunOptions {
  /** Where the nodes keep their files (one directory per node). */
  readonly dir: string;
  readonly lines: readonly string[];
  /** Stop and restart the leader of counter partition 0 half-way. Default true. */
  readonly failover?: boolean;
  readonly log?: (line: string) => void;
}

export interface RunResult {
  readonly words: number;
  readonly distinct: number;
  readonly seconds: number;
  readonly wrong: readonly string[];
  readonly sinkUpdates: number;
  /** Sink outputs missed for good (fell out of the retention before the sink could read them). */
  readonly sinkGaps: number;
  /** Sink outputs the subscription missed and the sink read back from the partitions' retention. */
  readonly sinkRecovered: number;
  readonly duplicatesDropped: number;
  readonly top: readonly [string, number][];
}

async function quiescent(client: TesseraClient): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const st = await status(client, wordCount);
    if (Object.values(st.components).every((c) => c.partitions.every((p) => p.available && p.outbox === 0))) return;
    if (Date.now() > deadline) throw new Error('the network did not become quiescent within 60 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function leaderOf(cluster: LocalCluster, clusterPartition: number): string | undefined {
  for (const [id, n] of cluster.nodes) if (n.node.status().find((s) => s.partition === clusterPartition)?.role === 'leader') return id;
  return undefined;
}

export async function run(o: RunOptions): Promise<RunResult> {
  const log = o.log ?? (() => {});
  const cluster = await startLocalCluster({ networks: [wordCount], dir: o.dir, partitions: 8 });
  let client: TesseraClient | undefined;
  try {
    log(`3 nodes up (files under ${o.dir}): ${cluster.endpoints().join(', ')}`);
    client = await cluster.connect();
    const cl = client;
    // A directory from an earlier run still holds that run's counts: start from zero.
    if ((await status(cl, wordCount)).deployment) await undeploy(cl, wordCount);
    const d = await deploy(cl, wordCount);
    log(`deployed ${wordCount.name}: counter partitions in cluster partitions ${d.partitions.map((p) => p.clusterPartition).join(', ')}`);

    let sinkUpdates = 0;
    const sink = openSink<{ word: string; count: number }>(cl, wordCount, 'counts', () => void sinkUpdates++);
    await sink.ready;
    const source = openSource(cl, wordCount, 'lines', { maxInFlight: 256 });
    const target = placeNetwork(wordCount, cl.clusterMap().partitions).of('counter', 0).clusterPartition;
    const half = Math.floor(o.lines.length / 2);
    let done = 0;
    let failover: Promise<void> | undefined;
    const started = performance.now();
    await Promise.all(
      o.lines.map((line) =>
        source.push(line).then(() => {
          if (++done !== half || o.failover === false) return;
          failover = (async () => {
            const victim = leaderOf(cluster, target);
            if (!victim) return;
            log(`stopping ${victim}, the leader of counter partition 0, half-way through`);
            await cluster.stop(victim);
            await cluster.start(victim);
            log(`${victim} is back: it recovered from its files and catches up`);
          })();
        }),
      ),
    );
    await failover;
    await quiescent(cl);
    const seconds = (performance.now() - started) / 1000;

    const expected = new Map<string, number>();
    for (const l of o.lines) for (const w of wordsOf(l)) expected.set(w, (expected.get(w) ?? 0) + 1);
    const actual = new Map<string, number>();
    for (const part of await queryAll<Record<string, number>>(cl, wordCount, 'counter', 'counts')) for (const [w, n] of Object.entries(part)) actual.set(w, n);
    const wrong = [...new Set([...expected.keys(), ...actual.keys()])].filter((w) => expected.get(w) !== actual.get(w));
    const st = await status(cl, wordCount);
    const words = [...expected.values()].reduce((a, b) => a + b, 0);
    await source.close();
    // The sink may still be receiving the last updates; give it a moment to see them all.
    const until = Date.now() + 5_000;
    while (sinkUpdates < words && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    const sinkStats = sink.stats();
    sink.close();
    return {
      words,
      distinct: expected.size,
      seconds,
      wrong,
      sinkUpdates,
      sinkGaps: sinkStats.gaps,
      sinkRecovered: sinkStats.recovered,
      duplicatesDropped: st.components.counter!.partitions.reduce((s, p) => s + p.duplicates, 0),
      top: [...actual].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10),
    };
  } finally {
    await client?.close().catch(() => {});
    await cluster.close();
  }
}
