/**
 * `pnpm bench components [--quick] [--seconds N] [--inflight N[,N...]]`: the word-count network end to end
 * (source -> stateless splitter -> stateful counter -> sink) on a 3-node cluster of real processes
 * (file storage, every append fsynced on each node, TCP on loopback), with 1, 4 and 16 counter
 * partitions of 3 replicas.
 *
 * The driver pushes lines (about 8 words each) through a source as fast as the network accepts them
 * (at most `--inflight` lines pending: 512 saturates the cluster; outside --quick, 16 is measured
 * too, for latency without queueing), and subscribes to the sink. An event is one word: counted by
 * a counter partition (appended to its Raft log and committed on a quorum before the handler runs)
 * and delivered to the sink as a count update. Rows report events/s from the first push to the last
 * sink update of the measured window, and source-to-sink latency per event (from the push to the
 * sink receiving the update; driver and nodes share the machine's clock). `extra` has lines/s, the
 * nodes' and the driver's CPU seconds per 1,000 events, and the re-sent messages dropped.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type TesseraClient } from '@tessera/client';
import { deploy, openSink, openSource, status } from '@tessera/components';
import { benchNetwork, COUNTER_PARTITIONS, type ComponentsNodeConfig } from './components-node.js';
import { Latencies, type Benchmark } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const CLUSTER_PARTITIONS = 16;

class NodeChild {
  readonly proc: ChildProcess;
  address: { raft: string; client: string } | undefined;
  stderr = '';
  private seq = 0;
  private readonly waiting = new Map<number, (m: any) => void>();

  constructor(cfg: ComponentsNodeConfig) {
    this.proc = fork(join(here, 'components-node.js'), [], { env: { ...process.env, TESSERA_BENCH_COMPONENTS: JSON.stringify(cfg), UV_THREADPOOL_SIZE: '16' }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.proc.stderr!.on('data', (d) => (this.stderr = (this.stderr + d).slice(-4000)));
    this.proc.on('message', (m: any) => {
      if (m.type === 'reply') {
        this.waiting.get(m.req)?.(m);
        this.waiting.delete(m.req);
      }
    });
  }

  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.proc.on('message', (m: any) => {
        if (m.type === 'ready') {
          this.address = { raft: m.raft, client: m.client };
          resolve();
        }
      });
      this.proc.once('exit', (code) => reject(new Error(`node exited (${code}) before it was ready: ${this.stderr}`)));
    });
  }

  request(msg: object, timeoutMs = 15_000): Promise<any> {
    const req = ++this.seq;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`node did not answer ${JSON.stringify(msg)}`)), timeoutMs);
      this.waiting.set(req, (m) => {
        clearTimeout(t);
        resolve(m);
      });
      this.proc.send({ ...msg, req });
    });
  }

  async cpu(): Promise<number> {
    return (await this.request({ type: 'cpu' })).cpu as number;
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    await this.request({ type: 'stop' }).catch(() => {});
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3_000))]);
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}

/** Deterministic lines of ~8 words from a 5,000-word vocabulary with a skewed (Zipf-like) distribution. */
function textSource(seed: number): () => [string, number] {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const vocab = Array.from({ length: 5_000 }, (_, i) => `w${i.toString(36)}`);
  return () => {
    const n = 4 + Math.floor(rnd() * 9);
    const words = Array.from({ length: n }, () => vocab[Math.floor(rnd() ** 3 * vocab.length)]!);
    return [words.join(' '), n];
  };
}

const cpuSelf = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

interface Measured {
  events: number;
  lines: number;
  seconds: number;
  latency: Latencies;
  nodeCpu: number;
  driverCpu: number;
  duplicates: number;
}

async function measure(client: TesseraClient, nodes: NodeChild[], k: number, seconds: number, warmupSeconds: number, inflight: number, log: (m: string) => void): Promise<Measured> {
  const net = benchNetwork(k);
  await deploy(client, net);
  const next = textSource(k);
  let measuring = false;
  let measuredFrom = 0;
  let received = 0;
  let lastAt = 0;
  const latency = new Latencies();
  const sink = openSink(client, net, 'counts', (_m, meta) => {
    if (!measuring || meta.createdAt < measuredFrom) return;
    const now = Date.now();
    latency.add(now - meta.createdAt);
    received++;
    lastAt = performance.now();
  });
  await sink.ready;
  const source = openSource(client, net, 'lines', { maxInFlight: inflight, timeoutMs: 120_000 });
  const run = async (forMs: number, count: boolean): Promise<{ words: number; lines: number }> => {
    let words = 0;
    let lines = 0;
    const deadline = performance.now() + forMs;
    const pending = new Set<Promise<void>>();
    while (performance.now() < deadline) {
      const [line, n] = next();
      const p: Promise<void> = source.push(line).finally(() => pending.delete(p));
      pending.add(p);
      if (count) {
        words += n;
        lines++;
      }
      // push() waits by itself once `inflight` lines are pending; let its promise settle first.
      if (pending.size >= inflight) await Promise.race(pending);
    }
    await Promise.all(pending);
    return { words, lines };
  };
  await run(warmupSeconds * 1000, false);
  const cpu0 = await Promise.all(nodes.map((n) => n.cpu()));
  const self0 = cpuSelf();
  measuring = true;
  measuredFrom = Date.now();
  const t0 = performance.now();
  const { words, lines } = await run(seconds * 1000, true);
  // Every pushed word yields one sink update; wait for them (bounded).
  const until = performance.now() + 30_000;
  while (received < words && performance.now() < until) await new Promise((r) => setTimeout(r, 5));
  if (received < words) log(`  k=${k}: only ${received} of ${words} sink updates arrived within 30 s`);
  const elapsed = ((received >= words ? lastAt : performance.now()) - t0) / 1000;
  const cpu1 = await Promise.all(nodes.map((n) => n.cpu()));
  const driverCpu = cpuSelf() - self0;
  const st = await status(client, net);
  await source.close();
  sink.close();
  return {
    events: received,
    lines,
    seconds: elapsed,
    latency,
    nodeCpu: cpu1.reduce((a, b, i) => a + b - cpu0[i]!, 0),
    driverCpu,
    duplicates: st.components.counter!.partitions.reduce((a, p) => a + p.duplicates, 0),
  };
}

const bench: Benchmark = async (ctx) => {
  const seconds = Number(ctx.flags.seconds ?? (ctx.quick ? 3 : 10));
  const warmup = ctx.quick ? 1 : 2;
  // Saturated (throughput) and, outside --quick, lightly loaded (latency without queueing).
  const inflights = String(ctx.flags.inflight ?? (ctx.quick ? '512' : '512,16')).split(',').map(Number);
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-components-'));
  const ids = ['n1', 'n2', 'n3'];
  const nodes = ids.map((id) => new NodeChild({ id, members: ids, partitions: CLUSTER_PARTITIONS, dir: join(dir, id) }));
  let client: TesseraClient | undefined;
  try {
    await Promise.all(nodes.map((n) => n.ready()));
    const peers = Object.fromEntries(ids.map((id, i) => [id, nodes[i]!.address!]));
    for (const n of nodes) n.proc.send({ type: 'peers', peers });
    client = await connect({ endpoints: nodes.map((n) => n.address!.client), requestTimeoutMs: 30_000, sessionTimeoutMs: 60_000 });
    ctx.log(`3 node processes up (file storage, fsync on every append, TCP), ${CLUSTER_PARTITIONS} cluster partitions; ${seconds} s per row, ${inflights.join(' / ')} lines in flight`);
    for (const inflight of inflights) {
      for (const k of COUNTER_PARTITIONS) {
        const m = await measure(client, nodes, k, seconds, warmup, inflight, ctx.log);
        ctx.report({
          benchmark: 'components.wordcount',
          params: { counterPartitions: k, replicas: 3, storage: 'file', transport: 'tcp', inflightLines: inflight },
          opsPerSec: m.events / m.seconds,
          p50Ms: m.latency.percentile(50),
          p99Ms: m.latency.percentile(99),
          extra: {
            linesPerSec: Math.round(m.lines / m.seconds),
            events: m.events,
            nodeCpuSecPer1kEvents: Number(((m.nodeCpu / m.events) * 1000).toFixed(4)),
            driverCpuSecPer1kEvents: Number(((m.driverCpu / m.events) * 1000).toFixed(4)),
            duplicatesDropped: m.duplicates,
          },
        });
      }
    }
  } finally {
    await client?.close().catch(() => {});
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
};

export default bench;
