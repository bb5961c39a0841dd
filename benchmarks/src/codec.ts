/**
 * `pnpm bench codec [--quick] [--json] [--seconds 1] [--shapes append-1x100,heartbeat]`
 *
 * What it measures: the CPU cost of @tessera/raft's batch codec (`encodeBatch` / `decodeBatch`),
 * alone, in ns per message and ns per entry, for the batch shapes a node sends:
 *
 * - `append-1x100`: 256 AppendEntries of one 100-byte entry each, one group (the `pnpm bench
 *   transport` shape: what a busy leader sends when every proposal is flushed at once);
 * - `append-64x100`: 16 AppendEntries of 64 entries of 100 bytes, 16 groups (a leader catching up
 *   followers or replicating a burst of proposals), log indexes around 10 million;
 * - `append-64x16`: the same with 16-byte entries (per-entry overhead dominates);
 * - `heartbeat`: 256 heartbeats to 256 groups named like partitions (`orders-p0017`), as a node
 *   hosting many groups sends every tick;
 * - `append-resp`: 256 AppendEntries replies to those groups.
 *
 * Each row runs one operation (`encode`, `decode`) in a loop over the same batch for `seconds`
 * (after a warm-up), decoding from a view inside a larger buffer as a transport does; `opsPerSec` is
 * messages/s, p50/p99 are per batch call; `cpuNsPerMessage` is CPU time (user + system) per message,
 * which a busy machine inflates less than elapsed time. Decoded messages are read (entry data
 * lengths summed) so nothing is optimised away. Single-threaded; run on an idle machine for stable
 * figures.
 */
import { decodeBatch, encodeBatch, EntryType, message, MessageType, type LogEntry, type Message } from '@tessera/raft';
import { Latencies, type Benchmark } from './harness.js';

interface Shape {
  readonly name: string;
  readonly messages: Message[];
}

function appendShape(name: string, messages: number, entries: number, size: number, groups: number): Shape {
  const out: Message[] = [];
  for (let i = 0; i < messages; i++) {
    const group = groups === 1 ? 'bench' : `orders-p${String(i % groups).padStart(4, '0')}`;
    const m = message(MessageType.App, group, 'node-1', 'node-2', 7);
    const prev = groups === 1 ? 0 : 10_000_000 + i * entries;
    m.index = prev;
    m.logTerm = groups === 1 ? 1 : 7;
    m.commit = prev;
    const ents: LogEntry[] = [];
    for (let k = 0; k < entries; k++) ents.push({ index: prev + 1 + k, term: m.logTerm, type: EntryType.Normal, data: new Uint8Array(size).fill(7 + k) });
    m.entries = ents;
    out.push(m);
  }
  return { name, messages: out };
}

function perGroupShape(name: string, type: MessageType, count: number): Shape {
  const out: Message[] = [];
  for (let i = 0; i < count; i++) {
    const m = message(type, `orders-p${String(i).padStart(4, '0')}`, 'node-1', 'node-2', 7);
    m.commit = 10_000_000 + i * 13;
    m.index = type === MessageType.Heartbeat ? 123_456 : m.commit + 5;
    m.context = type === MessageType.Heartbeat ? 98_765 : 0;
    out.push(m);
  }
  return { name, messages: out };
}

const SHAPES: Shape[] = [
  appendShape('append-1x100', 256, 1, 100, 1),
  appendShape('append-64x100', 16, 64, 100, 16),
  appendShape('append-64x16', 16, 64, 16, 16),
  perGroupShape('heartbeat', MessageType.Heartbeat, 256),
  perGroupShape('append-resp', MessageType.AppResp, 256),
];

/** Reads what a consumer would, so decoding cannot be optimised away. */
function consume(messages: readonly Message[]): number {
  let n = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    n += m.group.length + m.term;
    const ents = m.entries;
    for (let k = 0; k < ents.length; k++) n += ents[k]!.data.byteLength;
  }
  return n;
}

/**
 * Runs `fn` in slices of `batch` calls until `seconds` pass; returns calls/s, CPU µs per call (user +
 * system: on a shared machine it counts only the time this thread ran) and per-call latencies.
 */
function loop(fn: () => number, seconds: number): { callsPerSec: number; cpuUsPerCall: number; lat: Latencies; sink: number } {
  const lat = new Latencies();
  let sink = 0;
  let calls = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const stopAt = t0 + seconds * 1000;
  let now = t0;
  while (now < stopAt) {
    // Time groups of calls: one call is too short for the clock at small batches.
    const reps = 16;
    const s = performance.now();
    for (let i = 0; i < reps; i++) sink += fn();
    now = performance.now();
    const per = (now - s) / reps;
    for (let i = 0; i < reps; i++) lat.add(per);
    calls += reps;
  }
  const cpu = process.cpuUsage(c0);
  return { callsPerSec: calls / ((now - t0) / 1000), cpuUsPerCall: (cpu.user + cpu.system) / calls, lat, sink };
}

const run: Benchmark = async (ctx) => {
  const seconds = typeof ctx.flags.seconds === 'string' ? Number(ctx.flags.seconds) : ctx.quick ? 0.5 : 2;
  const only = typeof ctx.flags.shapes === 'string' ? new Set(ctx.flags.shapes.split(',')) : undefined;
  for (const shape of SHAPES) {
    if (only && !only.has(shape.name)) continue;
    const msgs = shape.messages;
    const entries = msgs.reduce((n, m) => n + m.entries.length, 0);
    const encoded = encodeBatch('node-1', 'node-2', msgs);
    // As a transport hands it over: a view inside a larger receive buffer.
    const chunk = new Uint8Array(encoded.byteLength + 64);
    chunk.set(encoded, 37);
    const view = new Uint8Array(chunk.buffer, 37, encoded.byteLength);
    const ops: [string, () => number][] = [
      ['encode', () => encodeBatch('node-1', 'node-2', msgs).byteLength],
      ['decode', () => consume(decodeBatch(view).messages)],
    ];
    for (const [op, fn] of ops) {
      loop(fn, Math.min(0.5, seconds / 2)); // warm-up
      const r = loop(fn, seconds);
      const nsPerCall = 1e9 / r.callsPerSec;
      const cpuNsPerCall = r.cpuUsPerCall * 1000;
      ctx.log(`${shape.name} ${op}: ${(nsPerCall / msgs.length).toFixed(0)} ns/message (CPU ${(cpuNsPerCall / msgs.length).toFixed(0)})${entries > msgs.length ? `, ${(nsPerCall / entries).toFixed(0)} ns/entry (CPU ${(cpuNsPerCall / entries).toFixed(0)})` : ''}`);
      ctx.report({
        benchmark: 'codec',
        params: { shape: shape.name, op },
        opsPerSec: r.callsPerSec * msgs.length,
        p50Ms: r.lat.percentile(50),
        p99Ms: r.lat.percentile(99),
        extra: {
          nsPerMessage: nsPerCall / msgs.length,
          nsPerEntry: entries > 0 ? nsPerCall / entries : '',
          cpuNsPerMessage: cpuNsPerCall / msgs.length,
          bytesPerMessage: encoded.byteLength / msgs.length,
          messagesPerBatch: msgs.length,
        },
      });
    }
  }
};

export default run;
