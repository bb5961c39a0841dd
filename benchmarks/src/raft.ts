/**
 * `pnpm bench raft`: one Raft group of 3 replicas in one process (memory storage, in-process
 * transport), 100-byte commands proposed on the leader by N concurrent clients that each wait for
 * their previous command to be applied. Measures commits/s and propose-to-apply latency.
 */
import { InProcessNetwork, RaftHost, type RaftGroup, type StateMachine } from '@tessera/raft';
import { memoryStorage } from '@tessera/storage-memory';
import { Latencies, type Benchmark } from './harness.js';

class ByteCounter implements StateMachine<number> {
  bytes = 0;
  apply(cmd: Uint8Array): number {
    this.bytes += cmd.byteLength;
    return this.bytes;
  }
}

async function cluster(): Promise<{ leader: RaftGroup<number>; close: () => Promise<void> }> {
  const net = new InProcessNetwork();
  const ids = ['n1', 'n2', 'n3'];
  const hosts = ids.map((nodeId) => new RaftHost({ nodeId, transport: net.transport }));
  await Promise.all(hosts.map((h) => h.start()));
  const groups = await Promise.all(
    hosts.map(async (h) =>
      h.addGroup<number>({
        group: 'bench',
        storage: await memoryStorage().openGroup('bench'),
        stateMachine: new ByteCounter(),
        membership: { voters: ids, learners: [] },
        config: { tickMs: 50, electionTicks: 20 },
      }),
    ),
  );
  groups[0]!.debugCore.campaignNow();
  const leaderId = await groups[0]!.waitForLeader(10_000);
  return { leader: groups[ids.indexOf(leaderId)]!, close: () => Promise.all(hosts.map((h) => h.close())).then(() => undefined) };
}

const bench: Benchmark = async (ctx) => {
  const concurrencies = ctx.flags.concurrency ? String(ctx.flags.concurrency).split(',').map(Number) : [1, 64, 1024];
  const seconds = ctx.flags.seconds ? Number(ctx.flags.seconds) : ctx.quick ? 3 : 10;
  const size = ctx.flags.size ? Number(ctx.flags.size) : 100;
  for (const concurrency of concurrencies) {
    const { leader, close } = await cluster();
    const payload = new Uint8Array(size).fill(7);
    // Warm up the JIT and the pipeline.
    await Promise.all(Array.from({ length: Math.min(concurrency, 256) }, () => leader.propose(payload)));
    const lat = new Latencies();
    let commits = 0;
    let stop = false;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const deadline = t0 + seconds * 1000;
    const worker = async () => {
      while (!stop) {
        const s = performance.now();
        await leader.propose(payload);
        const e = performance.now();
        commits++;
        lat.add(e - s);
        if (e >= deadline) stop = true;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    ctx.report({
      benchmark: 'raft',
      params: { replicas: 3, storage: 'memory', transport: 'in-process', commandBytes: size, concurrency },
      opsPerSec: commits / elapsed,
      p50Ms: lat.percentile(50),
      p99Ms: lat.percentile(99),
      extra: { cpuSecPer100k: ((cpu.user + cpu.system) / 1e6 / commits) * 100_000 },
    });
    ctx.log(`concurrency ${concurrency}: ${Math.round(commits / elapsed)} commits/s`);
    await close();
  }
};
export default bench;
