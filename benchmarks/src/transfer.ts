/**
 * `pnpm bench transfer`: leadership transfer under load. One group of 3 replicas in one process
 * (in-process transport; memory storage, or `--storage file` for synced file storage) while 64
 * clients propose 100-byte commands continuously (retrying on NotLeader, as a client library does).
 * Measures the time from `transferLeadership(target)` until the target leads, over 100 transfers
 * (20 with --quick), each started after `--gap` (2,000) more commits under the current leader, and
 * the commits/s sustained across the whole run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InProcessNetwork, RaftHost, TesseraError, type RaftGroup, type StateMachine, type StorageEngine } from '@tessera/raft';
import { fileStorage } from '@tessera/storage-file';
import { memoryStorage } from '@tessera/storage-memory';
import { Latencies, type Benchmark } from './harness.js';

class Sink implements StateMachine<number> {
  n = 0;
  apply(): number {
    return ++this.n;
  }
}

const bench: Benchmark = async (ctx) => {
  const transfers = ctx.quick ? 20 : 100;
  const storageKind = ctx.flags.storage === 'file' ? 'file' : 'memory';
  const tickMs = Number(ctx.flags.tickMs ?? 50);
  const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-transfer-'));
  const net = new InProcessNetwork();
  const ids = ['n1', 'n2', 'n3'];
  const engines: StorageEngine[] = await Promise.all(ids.map((id) => (storageKind === 'file' ? fileStorage({ dir: join(dir, id) }) : Promise.resolve(memoryStorage()))));
  const hosts = ids.map((nodeId) => new RaftHost({ nodeId, transport: net.transport }));
  await Promise.all(hosts.map((h) => h.start()));
  const groups: RaftGroup<number>[] = await Promise.all(
    hosts.map(async (h, i) =>
      h.addGroup<number>({ group: 'g', storage: await engines[i]!.openGroup('g'), stateMachine: new Sink(), membership: { voters: ids, learners: [] }, config: { tickMs, electionTicks: 10 } }),
    ),
  );
  const leader = () => groups.find((g) => g.role === 'leader');
  await groups[0]!.waitForLeader(10_000);
  const payload = new Uint8Array(100);
  let stop = false;
  let commits = 0;
  let failures = 0;
  const client = async () => {
    while (!stop) {
      const l = leader();
      if (!l) {
        await new Promise((r) => setTimeout(r, 1));
        continue;
      }
      try {
        await l.propose(payload);
        commits++;
      } catch (err) {
        if (!TesseraError.isInstance(err) || !err.retryable) failures++;
        await new Promise((r) => setImmediate(r));
      }
    }
  };
  const clients = Array.from({ length: 64 }, client);
  const lat = new Latencies();
  const t0 = performance.now();
  // Between transfers the group serves a real backlog: the next transfer starts only after the
  // clients completed `gap` more commits under the current leader, so every transfer happens while
  // the log is moving and the target has entries to catch up on.
  const gap = Number(ctx.flags.gap ?? 2_000);
  let transferTime = 0;
  for (let i = 0; i < transfers; i++) {
    const before = commits;
    while (commits - before < gap) await new Promise((r) => setImmediate(r));
    let l = leader();
    while (!l) {
      await new Promise((r) => setTimeout(r, 1));
      l = leader();
    }
    const target = ids.filter((x) => x !== l!.id)[i % 2]!;
    const s = performance.now();
    try {
      await l.transferLeadership(target);
      lat.add(performance.now() - s);
      transferTime += performance.now() - s;
    } catch {
      failures++;
    }
  }
  const elapsed = (performance.now() - t0) / 1000;
  stop = true;
  await Promise.all(clients);
  ctx.report({
    benchmark: 'transfer',
    params: { replicas: 3, storage: storageKind, clients: 64, tickMs, electionTimeoutMs: tickMs * 10, transfers, commitsBetween: gap },
    opsPerSec: transfers / elapsed,
    p50Ms: lat.percentile(50),
    p99Ms: lat.percentile(99),
    extra: { commitsPerSec: commits / elapsed, shareOfTimeTransferring: transferTime / 1000 / elapsed, failedTransfers: failures },
  });
  await Promise.all(hosts.map((h) => h.close()));
  for (const e of engines) await e.close();
  await rm(dir, { recursive: true, force: true });
};
export default bench;
