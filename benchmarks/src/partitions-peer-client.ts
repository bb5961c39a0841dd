/**
 * Child process of `pnpm bench partitions --peers`: the same workload as the Tessera client (100-byte
 * writes, N in flight, fixed duration) against etcd (HTTP/JSON gateway, `/v3/kv/put`, keep-alive
 * connections) or an R3 JetStream stream (publish and wait for the stream's ack). Not a benchmark.
 */
import { Agent, request } from 'node:http';
import { Latencies } from './harness.js';

interface Job {
  system: 'etcd' | 'jetstream';
  endpoints: string[];
  inflight: number;
  seconds: number;
  warmupSeconds: number;
  valueBytes: number;
  keys: number;
}

type Op = (key: string, value: Uint8Array) => Promise<void>;

async function etcdOp(job: Job): Promise<{ op: Op; close: () => Promise<void> }> {
  const agent = new Agent({ keepAlive: true, maxSockets: Math.min(job.inflight, 256) });
  let rr = 0;
  const urls = job.endpoints.map((e) => new URL('/v3/kv/put', e));
  const op: Op = (key, value) =>
    new Promise((resolve, reject) => {
      const u = urls[rr++ % urls.length]!;
      const body = JSON.stringify({ key: Buffer.from(key).toString('base64'), value: Buffer.from(value).toString('base64') });
      const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`etcd ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(body);
    });
  return { op, close: async () => agent.destroy() };
}

async function jetstreamOp(job: Job): Promise<{ op: Op; close: () => Promise<void> }> {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstream, jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: job.endpoints });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'BENCH', subjects: ['bench.>'], num_replicas: 3, storage: 'file' as never });
  const js = jetstream(nc, { timeout: 20_000 });
  const op: Op = async (key, value) => {
    await js.publish(`bench.${key}`, value);
  };
  return { op, close: () => nc.close() };
}

async function run(job: Job): Promise<object> {
  const { op, close } = job.system === 'etcd' ? await etcdOp(job) : await jetstreamOp(job);
  const value = new Uint8Array(job.valueBytes).fill(120);
  let i = 0;
  const key = () => `k${(i++ * 7919) % job.keys}`;
  const warmEnd = performance.now() + job.warmupSeconds * 1000;
  await Promise.all(Array.from({ length: job.inflight }, async () => { while (performance.now() < warmEnd) await op(key(), value).catch(() => {}); }));
  process.send!({ type: 'start' });
  const lat = new Latencies();
  let commits = 0;
  let errors = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + job.seconds * 1000;
  await Promise.all(
    Array.from({ length: job.inflight }, async () => {
      for (;;) {
        const s = performance.now();
        if (s >= end) return;
        try {
          await op(key(), value);
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
  await close();
  return { commits, errors, elapsed, p50: lat.percentile(50), p99: lat.percentile(99), cpu: (cpu.user + cpu.system) / 1e6 };
}

process.on('message', (job: Job) => {
  run(job).then(
    (r) => process.send!({ type: 'result', ...r }),
    (err) => process.send!({ type: 'error', message: String(err?.stack ?? err) }),
  );
});
process.send?.({ type: 'ready' });
