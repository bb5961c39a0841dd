/**
 * `pnpm bench partitions`: the headline benchmark. Three `@tessera/partitions` node processes on
 * loopback (TCP transport, file storage with `sync: 'always'`: every append fdatasync'ed before it
 * counts) and a client in a fourth process writing 100-byte values with `map.set` (keys spread over
 * all partitions) with 64, 256 and 1024 commands in flight, for P = 1..64 partitions. Reports
 * commits/s, latency p50/p99, and CPU seconds per 100k commits (all four processes, from /proc).
 * Writes an SVG chart of throughput against partitions next to the JSON results.
 *
 * Flags: --partitions 1,8  --inflight 256  --seconds 5  --storage file|memory|rocksdb
 *        --transport tcp|nats  --peers etcd,jetstream  --chart <file.svg>  --profile <dir>  --idle  --coalesce false
 *        --entries-in-flight 1 (the nodes' batching.maxEntriesInFlight)  --preallocate BYTES (file storage's preallocateBytes)
 *        --threadpool 16 (UV_THREADPOOL_SIZE of the node processes; default 16 unless the environment sets it)
 * `--idle`: measures memory and CPU of idle partitions instead (see measureIdle); `--coalesce false`
 * gives every group its own tick timer (to compare).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startNatsServer, type NatsServer } from '@tessera/testing/servers';
import type { Benchmark, BenchContext, Row } from './harness.js';
import type { BenchNodeConfig } from './partitions-node.js';
import { startEtcd, startJetStream, type PeerCluster } from './partitions-peers.js';
import { renderChart } from './partitions-chart.js';

const here = dirname(fileURLToPath(import.meta.url));

interface Result {
  commits: number;
  errors: number;
  elapsed: number;
  p50: number;
  p99: number;
  cpu: number;
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
export function procCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return 0;
  }
}

class Child {
  readonly proc: ChildProcess;
  private seq = 0;
  private readonly waiting = new Map<number, (m: any) => void>();
  private readonly listeners: ((m: any) => void)[] = [];
  stderr = '';

  constructor(script: string, env: Record<string, string>, execArgv: string[] = []) {
    this.proc = fork(join(here, script), [], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv });
    this.proc.stderr!.on('data', (d) => (this.stderr = (this.stderr + d).slice(-4000)));
    this.proc.on('message', (m: any) => {
      if (m.type === 'reply') {
        this.waiting.get(m.req)?.(m);
        this.waiting.delete(m.req);
      } else for (const l of [...this.listeners]) l(m);
    });
  }

  next(type: string, timeoutMs = 120_000): Promise<any> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no '${type}' from child within ${timeoutMs} ms: ${this.stderr}`)), timeoutMs);
      const onExit = (code: number | null) => {
        clearTimeout(t);
        reject(new Error(`child exited (${code}) waiting for '${type}': ${this.stderr}`));
      };
      this.proc.once('exit', onExit);
      const l = (m: any) => {
        if (m.type !== type && m.type !== 'error') return;
        clearTimeout(t);
        this.proc.off('exit', onExit);
        this.listeners.splice(this.listeners.indexOf(l), 1);
        if (m.type === 'error') reject(new Error(m.message));
        else resolve(m);
      };
      this.listeners.push(l);
    });
  }

  request(msg: object, timeoutMs = 30_000): Promise<any> {
    const req = ++this.seq;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`child did not answer ${JSON.stringify(msg)}`)), timeoutMs);
      this.waiting.set(req, (m) => {
        clearTimeout(t);
        resolve(m);
      });
      this.proc.send({ ...msg, req });
    });
  }

  send(msg: object): void {
    this.proc.send(msg);
  }

  async kill(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const gone = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGKILL');
    await gone;
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    await this.request({ type: 'stop' }, 15_000).catch(() => {});
    // Give it a moment to exit by itself (a --cpu-prof profile is written at exit).
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    await this.kill();
  }
}

interface Settings {
  partitions: number[];
  inflight: number[];
  seconds: number;
  warmupSeconds: number;
  storage: 'file' | 'memory' | 'rocksdb';
  transport: 'tcp' | 'nats';
  peers: string[];
  profileDir: string | undefined;
  keys: number;
  valueBytes: number;
  coalesceTimers: boolean;
  /** The nodes' `batching.maxEntriesInFlight` (undefined: the package default). */
  entriesInFlight: number | undefined;
  /** `preallocateBytes` of the file storage (undefined: the package default). */
  preallocate: number | undefined;
  /** libuv thread pool size of the node processes (UV_THREADPOOL_SIZE): concurrent fdatasyncs. */
  threadpool: string;
}

function list(flag: string | boolean | undefined, dflt: number[]): number[] {
  return typeof flag === 'string' ? flag.split(',').map(Number) : dflt;
}

function settings(ctx: BenchContext): Settings {
  const f = ctx.flags;
  const storage = (f.storage as string | undefined) ?? 'file';
  const transport = (f.transport as string | undefined) ?? 'tcp';
  if (!['file', 'memory', 'rocksdb'].includes(storage)) throw new Error(`--storage must be file, memory or rocksdb, got ${storage}`);
  if (!['tcp', 'nats'].includes(transport)) throw new Error(`--transport must be tcp or nats, got ${transport}`);
  return {
    partitions: list(f.partitions, ctx.quick ? [1, 8] : [1, 2, 4, 8, 16, 32, 64]),
    inflight: list(f.inflight, ctx.quick ? [256] : [64, 256, 1024]),
    seconds: f.seconds ? Number(f.seconds) : ctx.quick ? 2 : 5,
    warmupSeconds: ctx.quick ? 0.5 : 1,
    storage: storage as Settings['storage'],
    transport: transport as Settings['transport'],
    peers: typeof f.peers === 'string' ? f.peers.split(',').filter(Boolean) : [],
    profileDir: typeof f.profile === 'string' ? f.profile : undefined,
    keys: 100_000,
    valueBytes: f.size ? Number(f.size) : 100,
    coalesceTimers: f.coalesce !== 'false',
    entriesInFlight: typeof f['entries-in-flight'] === 'string' ? Number(f['entries-in-flight']) : undefined,
    preallocate: typeof f.preallocate === 'string' ? Number(f.preallocate) : undefined,
    // Every group's write + fdatasync runs on the thread pool; libuv's default of 4 threads caps
    // the syncs in flight at 4 however many groups append. An explicit environment value wins.
    threadpool: typeof f.threadpool === 'string' ? f.threadpool : (process.env.UV_THREADPOOL_SIZE ?? '16'),
  };
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  void what;
  return false;
}

/** Starts three node processes hosting `p` partitions; resolves once every partition has a (balanced) leader. */
async function startCluster(ctx: BenchContext, s: Settings, p: number, nats: NatsServer | undefined): Promise<{ nodes: Child[]; endpoints: string[]; stop: () => Promise<void> }> {
  const ids = ['n1', 'n2', 'n3'];
  const root = mkdtempSync(join(tmpdir(), 'tessera-bench-partitions-'));
  const raftPorts: Record<string, number> = {};
  const clientPorts: Record<string, number> = {};
  for (const id of ids) {
    raftPorts[id] = await freePort();
    clientPorts[id] = await freePort();
  }
  const nodes = ids.map((id) => {
    const cfg: BenchNodeConfig = { id, members: ids, partitions: p, storage: s.storage, transport: s.transport, dir: join(root, id), raftPorts, clientPorts, coalesceTimers: s.coalesceTimers, ...(s.entriesInFlight !== undefined ? { entriesInFlight: s.entriesInFlight } : {}), ...(s.preallocate !== undefined ? { preallocate: s.preallocate } : {}), ...(nats ? { natsUrl: nats.url } : {}) };
    const execArgv = s.profileDir ? ['--cpu-prof', '--cpu-prof-dir', s.profileDir, '--cpu-prof-name', `node-${id}-P${p}-${Date.now()}.cpuprofile`] : [];
    return new Child('partitions-node.js', { TESSERA_BENCH_NODE: JSON.stringify(cfg), UV_THREADPOOL_SIZE: s.threadpool }, execArgv);
  });
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await Promise.all(nodes.map((n) => n.next('ready', 60_000)));
    const balanced = await until(
      'balanced leaders',
      async () => {
        const st = await Promise.all(nodes.map((n) => n.request({ type: 'status' })));
        const leaders = st.reduce((a, x) => a + x.leaders, 0);
        const preferred = st.reduce((a, x) => a + x.preferred, 0);
        return leaders === p && st.every((x) => x.leaderless === 0) && preferred === p;
      },
      30_000,
    );
    if (!balanced) ctx.log(`P=${p}: leaders not fully balanced after 30 s; measuring anyway`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes, endpoints: ids.map((id) => `127.0.0.1:${clientPorts[id]}`), stop };
}

interface NodeCounters {
  appends: number;
  appendedEntries: number;
  proposedEntries: number;
  /** Sum of durable-write latencies (ms). */
  persistMs: number;
  /** Leader batches committed, and the sum of their append-to-commit latencies (ms). */
  commits: number;
  commitMs: number;
}

/** Storage appends (write + fdatasync each) and entries of all nodes, summed. */
async function nodeCounters(nodes: Child[] | undefined): Promise<NodeCounters | undefined> {
  if (!nodes) return undefined;
  const all = await Promise.all(nodes.map((n) => n.request({ type: 'counters' }) as Promise<NodeCounters>));
  const sum: NodeCounters = { appends: 0, appendedEntries: 0, proposedEntries: 0, persistMs: 0, commits: 0, commitMs: 0 };
  for (const c of all) for (const k of Object.keys(sum) as (keyof NodeCounters)[]) sum[k] += c[k];
  return sum;
}

interface LoadResult extends Result {
  serverCpu: number;
  /** CPU seconds of each server process (n1, n2, n3: at P=1, n1 leads). */
  perServerCpu: number[];
  /** Fsynced appends per second, all nodes together. */
  syncsPerSec?: number;
  /** Commands per Raft entry (the node batches one client frame's commands for a partition). */
  commandsPerEntry?: number;
  /** read/write system calls (sockets and files, all server processes) per commit. */
  readSyscallsPerCommit?: number;
  writeSyscallsPerCommit?: number;
  /** Mean latency of one durable write, and of a leader's batch from append to commit (ms). */
  persistMs?: number;
  commitMs?: number;
}

async function runLoad(client: Child, job: object, pids: number[], nodes?: Child[]): Promise<LoadResult> {
  const started = client.next('start', 120_000);
  const result = client.next('result', 300_000);
  client.send(job);
  await started;
  const cpu0 = pids.map(procCpuSeconds);
  const io0 = pids.map(procSyscalls);
  const c0 = await nodeCounters(nodes);
  const r = (await result) as Result;
  const cpu1 = pids.map(procCpuSeconds);
  const io1 = pids.map(procSyscalls);
  const c1 = await nodeCounters(nodes);
  const out: LoadResult = { ...r, serverCpu: cpu1.reduce((a, c, i) => a + c - cpu0[i]!, 0), perServerCpu: cpu1.map((c, i) => c - cpu0[i]!) };
  if (r.commits > 0) {
    out.readSyscallsPerCommit = io1.reduce((a, c, i) => a + c.reads - io0[i]!.reads, 0) / r.commits;
    out.writeSyscallsPerCommit = io1.reduce((a, c, i) => a + c.writes - io0[i]!.writes, 0) / r.commits;
  }
  if (c0 && c1) {
    out.syncsPerSec = (c1.appends - c0.appends) / r.elapsed;
    const entries = c1.proposedEntries - c0.proposedEntries;
    out.commandsPerEntry = entries > 0 ? r.commits / entries : 0;
    const appends = c1.appends - c0.appends;
    const batches = c1.commits - c0.commits;
    if (appends > 0) out.persistMs = (c1.persistMs - c0.persistMs) / appends;
    if (batches > 0) out.commitMs = (c1.commitMs - c0.commitMs) / batches;
  }
  return out;
}

function row(system: string, s: Settings, params: Record<string, string | number>, r: LoadResult): Row {
  const per100k = (sec: number) => (r.commits > 0 ? (sec / r.commits) * 100_000 : 0);
  return {
    benchmark: 'partitions',
    params: { system, ...params, storage: system === 'tessera' ? s.storage : '-', transport: system === 'tessera' ? s.transport : '-', ...(system === 'tessera' && s.entriesInFlight !== undefined ? { entriesInFlight: s.entriesInFlight } : {}), ...(system === 'tessera' && s.preallocate !== undefined ? { preallocateBytes: s.preallocate } : {}) },
    opsPerSec: r.commits / r.elapsed,
    p50Ms: r.p50,
    p99Ms: r.p99,
    extra: {
      cpuSecPer100k: per100k(r.serverCpu + r.cpu),
      serverCpuSecPer100k: per100k(r.serverCpu),
      perServerCpuSecPer100k: r.perServerCpu.map((c) => Math.round(per100k(c) * 100) / 100).join('/'),
      clientCpuSecPer100k: per100k(r.cpu),
      errors: r.errors,
      ...(r.syncsPerSec !== undefined ? { syncsPerSec: Math.round(r.syncsPerSec), commandsPerEntry: Math.round(r.commandsPerEntry! * 10) / 10 } : {}),
      ...(r.persistMs !== undefined ? { persistMs: Math.round(r.persistMs * 100) / 100 } : {}),
      ...(r.commitMs !== undefined ? { commitMs: Math.round(r.commitMs * 100) / 100 } : {}),
      ...(r.writeSyscallsPerCommit !== undefined ? { readsPerCommit: Math.round(r.readSyscallsPerCommit! * 1000) / 1000, writesPerCommit: Math.round(r.writeSyscallsPerCommit * 1000) / 1000 } : {}),
    },
  };
}

/** Read and write system calls a process has made so far (all threads), from /proc (Linux). */
export function procSyscalls(pid: number): { reads: number; writes: number } {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    return { reads: Number(/syscr:\s+(\d+)/.exec(io)?.[1] ?? 0), writes: Number(/syscw:\s+(\d+)/.exec(io)?.[1] ?? 0) };
  } catch {
    return { reads: 0, writes: 0 };
  }
}

/** RSS of a process in MiB, from /proc. */
function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * `--idle`: cost of idle partitions. Starts the three node processes with P = 1 and with a large P
 * (no client), waits for balanced leaders, then measures each process's CPU over a window and its
 * RSS; the per-partition cost is the difference divided by the extra partitions (each partition has
 * a replica on every node: 3 replicas, one of them leader).
 */
async function measureIdle(ctx: BenchContext): Promise<void> {
  const s = settings(ctx);
  const big = ctx.flags.partitions ? Number(ctx.flags.partitions) : ctx.quick ? 64 : 256;
  const windowS = ctx.quick ? 3 : 10;
  const sample = async (p: number) => {
    const c = await startCluster(ctx, s, p, undefined);
    try {
      await new Promise((r) => setTimeout(r, 1_000)); // let start-up garbage settle before measuring
      const pids = c.nodes.map((n) => n.proc.pid!);
      const cpu0 = pids.map(procCpuSeconds);
      await new Promise((r) => setTimeout(r, windowS * 1000));
      const cpu = pids.reduce((a, pid, i) => a + procCpuSeconds(pid) - cpu0[i]!, 0) / windowS;
      const rss = pids.reduce((a, pid) => a + rssMiB(pid), 0);
      return { cpu, rss };
    } finally {
      await c.stop();
    }
  };
  const base = await sample(1);
  const loaded = await sample(big);
  const extra = big - 1;
  const cpuPerPartition = (loaded.cpu - base.cpu) / extra;
  const rssPerPartition = (loaded.rss - base.rss) / extra;
  ctx.report({
    benchmark: 'partitions-idle',
    params: { partitions: big, storage: s.storage, transport: s.transport, windowS, coalesceTimers: s.coalesceTimers },
    opsPerSec: 0,
    p50Ms: 0,
    p99Ms: 0,
    extra: {
      cpuCoresAtP1: base.cpu,
      cpuCoresAtP: loaded.cpu,
      rssMiBAtP1: base.rss,
      rssMiBAtP: loaded.rss,
      cpuMsPerSecPerPartition: cpuPerPartition * 1000,
      rssKiBPerPartition: rssPerPartition * 1024,
    },
  });
  ctx.log(`idle: P=1 ${base.cpu.toFixed(3)} cores, ${base.rss.toFixed(0)} MiB; P=${big} ${loaded.cpu.toFixed(3)} cores, ${loaded.rss.toFixed(0)} MiB (3 processes)`);
}

const bench: Benchmark = async (ctx) => {
  if (ctx.flags.idle) return measureIdle(ctx);
  const s = settings(ctx);
  const rows: Row[] = [];
  const report = (r: Row) => {
    rows.push(r);
    ctx.report(r);
  };
  let nats: NatsServer | undefined;
  if (s.transport === 'nats') nats = await startNatsServer();
  try {
    for (const p of s.partitions) {
      const cluster = await startCluster(ctx, s, p, nats);
      const client = new Child('partitions-client.js', {}, s.profileDir ? ['--cpu-prof', '--cpu-prof-dir', s.profileDir, '--cpu-prof-name', `client-P${p}-${Date.now()}.cpuprofile`] : []);
      try {
        await client.next('ready');
        const pids = cluster.nodes.map((n) => n.proc.pid!);
        for (const inflight of s.inflight) {
          const r = await runLoad(client, { endpoints: cluster.endpoints, inflight, seconds: s.seconds, warmupSeconds: s.warmupSeconds, valueBytes: s.valueBytes, keys: s.keys }, pids, cluster.nodes);
          const out = row('tessera', s, { partitions: p, inflight }, r);
          report(out);
          const cpu = (x: unknown) => (x as number).toFixed(2);
          ctx.log(
            `tessera P=${p} inflight=${inflight}: ${Math.round(out.opsPerSec)} commits/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ` +
              `CPU s/100k ${cpu(out.extra!.cpuSecPer100k)} (nodes ${cpu(out.extra!.serverCpuSecPer100k)} = ${out.extra!.perServerCpuSecPer100k}, client ${cpu(out.extra!.clientCpuSecPer100k)}), ` +
              `${Math.round(r.syncsPerSec ?? 0)} syncs/s (3 nodes), ${(r.commandsPerEntry ?? 0).toFixed(1)} commands/entry, ` +
              `write ${(r.persistMs ?? 0).toFixed(2)} ms, append-to-commit ${(r.commitMs ?? 0).toFixed(2)} ms, ` +
              `syscalls/commit ${(r.readSyscallsPerCommit ?? 0).toFixed(3)} read ${(r.writeSyscallsPerCommit ?? 0).toFixed(3)} write, ${r.errors} errors`,
          );
        }
      } finally {
        await client.stop();
        await cluster.stop();
      }
    }
    for (const peer of s.peers) {
      const start = peer === 'etcd' ? startEtcd : peer === 'jetstream' ? startJetStream : undefined;
      if (!start) throw new Error(`--peers: unknown system ${peer} (etcd, jetstream)`);
      const cluster: PeerCluster | undefined = await start();
      if (!cluster) {
        ctx.log(`${peer}: not installed; skipped`);
        continue;
      }
      const client = new Child('partitions-peer-client.js', {});
      try {
        await client.next('ready');
        for (const inflight of s.inflight) {
          const r = await runLoad(client, { system: peer, endpoints: cluster.endpoints, inflight, seconds: s.seconds, warmupSeconds: s.warmupSeconds, valueBytes: s.valueBytes, keys: s.keys }, cluster.pids);
          const out = row(peer, s, { partitions: '-', inflight }, r);
          report(out);
          ctx.log(`${peer} inflight=${inflight}: ${Math.round(out.opsPerSec)} writes/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`);
        }
      } finally {
        await client.kill();
        await cluster.stop();
      }
    }
  } finally {
    await nats?.stop();
  }
  const chart = typeof ctx.flags.chart === 'string' ? ctx.flags.chart : join(here, '..', 'results', `partitions-${new Date().toISOString().replace(/[:.]/g, '-')}.svg`);
  mkdirSync(dirname(chart), { recursive: true });
  writeFileSync(chart, renderChart(rows));
  ctx.log(`chart written to ${chart}`);
};
export default bench;
