/**
 * Child process of `pnpm bench partitions`: the client. Keeps `inflight` map.set commands of
 * `valueBytes` each going against the cluster for `seconds` and reports commits, latency
 * percentiles and its own CPU time over IPC. Not a benchmark by itself.
 */
import { connect } from '@tessera/client';
import { Latencies } from './harness.js';

interface Job {
  endpoints: string[];
  inflight: number;
  seconds: number;
  warmupSeconds: number;
  valueBytes: number;
  keys: number;
}

async function run(job: Job): Promise<object> {
  const client = await connect({ endpoints: job.endpoints, requestTimeoutMs: 20_000, sessionTimeoutMs: 60_000 });
  const map = client.map<Uint8Array>('bench');
  const value = new Uint8Array(job.valueBytes).fill(120);
  let i = 0;
  const key = () => `k${(i++ * 7919) % job.keys}`;
  // Warm up: JIT, connections, leaders known.
  const warmEnd = performance.now() + job.warmupSeconds * 1000;
  await Promise.all(
    Array.from({ length: job.inflight }, async () => {
      while (performance.now() < warmEnd) await map.set(key(), value);
    }),
  );
  const lat = new Latencies();
  let commits = 0;
  let errors = 0;
  process.send!({ type: 'start' });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + job.seconds * 1000;
  await Promise.all(
    Array.from({ length: job.inflight }, async () => {
      for (;;) {
        const s = performance.now();
        if (s >= end) return;
        try {
          await map.set(key(), value);
          commits++;
          lat.add(performance.now() - s);
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const stats = client.stats();
  await client.close();
  return { stats, commits, errors, elapsed, p50: lat.percentile(50), p99: lat.percentile(99), cpu: (cpu.user + cpu.system) / 1e6 };
}

process.on('message', (job: Job & { type?: string; req?: number }) => {
  if (job.type === 'stop') {
    process.send!({ type: 'reply', req: job.req });
    process.exit(0);
  }
  run(job).then(
    (r) => process.send!({ type: 'result', ...r }),
    (err) => process.send!({ type: 'error', message: String(err?.stack ?? err) }),
  );
});
process.send?.({ type: 'ready' });
