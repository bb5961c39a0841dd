/**
 * `pnpm bench transport-nats [--quick] [--sizes 100,65536] [--seconds 5]`
 *
 * What it measures: one-way throughput (Raft messages/s and payload MB/s) and round-trip latency
 * between two endpoints in this process, through a nats-server it starts on loopback, for:
 *
 * - `nats`: `@tessera/transport-nats` carrying AppendEntries messages with one entry of `size`
 *   bytes (encodeBatch, per-turn batching, fragmentation above max_payload);
 * - `nats-client`: the bare `@nats-io/transport-node` client publishing `size` raw bytes per
 *   message, one publish each: what NATS costs without the transport;
 * - `socket`: a raw loopback TCP socket with length-prefixed frames of `size` bytes, the ceiling.
 *
 * Throughput: the sender sends a burst per event-loop turn and keeps at most a window of messages
 * (or 16 MiB) in flight, waiting on deliveries, so nothing is dropped and the figure is delivered
 * messages over elapsed time, drain included. Latency: one message at a time, echoed back by the
 * receiver; p50/p99 are of the round trip. MB/s counts payload bytes only.
 */
import { createServer, connect as tcpConnect, type Socket } from 'node:net';
import { connect as natsConnect } from '@nats-io/transport-node';
import { message, MessageType, type Message } from '@tessera/raft';
import { startNatsServer } from '@tessera/testing/servers';
import { natsTransport, type NatsTransport } from '@tessera/transport-nats';
import { Latencies, type BenchContext, type Benchmark } from './harness.js';

/** Two endpoints; `a` sends bursts to `b`, `b` can echo one message back to `a`. */
interface Pair {
  /** Sends `n` messages of the pair's size from a to b within this turn. */
  burst(n: number): void;
  /** Sends one message from b to a. */
  echo(): void;
  /** Called for every message b receives (count) and a receives (echo). */
  onB: (count: number) => void;
  onA: () => void;
  /** Messages the sending side dropped (only the transport drops). */
  dropped(): number;
  close(): Promise<void>;
}

const MiB = 1024 * 1024;

function appendOf(size: number, from: string, to: string): Message {
  const m = message(MessageType.App, 'bench', from, to, 1);
  m.entries = [{ index: 1, term: 1, type: 0, data: new Uint8Array(size).fill(7) }];
  return m;
}

async function transportPair(url: string, size: number): Promise<Pair> {
  const opts = { servers: url, clusterId: 'bench' };
  const pair: Pair = {
    burst: () => {},
    echo: () => {},
    onB: () => {},
    onA: () => {},
    dropped: () => a.stats().dropped,
    close: async () => {
      await Promise.all([a.close(), b.close()]);
    },
  };
  const a: NatsTransport = natsTransport(opts)({ nodeId: 'a', deliver: () => pair.onA() });
  const b: NatsTransport = natsTransport(opts)({ nodeId: 'b', deliver: (ms) => pair.onB(ms.length) });
  await Promise.all([a.start(), b.start()]);
  const ab = appendOf(size, 'a', 'b');
  const ba = appendOf(size, 'b', 'a');
  // The transport only reads messages, so one object may be sent many times.
  pair.burst = (n) => a.send('b', new Array<Message>(n).fill(ab));
  pair.echo = () => b.send('a', [ba]);
  return pair;
}

async function clientPair(url: string, size: number): Promise<Pair> {
  const a = await natsConnect({ servers: url });
  const b = await natsConnect({ servers: url });
  const payload = new Uint8Array(size).fill(7);
  const pair: Pair = {
    burst: (n) => {
      for (let i = 0; i < n; i++) a.publish('bench.b', payload);
    },
    echo: () => b.publish('bench.a', payload),
    onB: () => {},
    onA: () => {},
    dropped: () => 0,
    close: async () => {
      await Promise.all([a.close(), b.close()]);
    },
  };
  b.subscribe('bench.b', { callback: () => pair.onB(1) });
  a.subscribe('bench.a', { callback: () => pair.onA() });
  await Promise.all([a.flush(), b.flush()]);
  return pair;
}

/** Splits a byte stream into u32be-length-prefixed frames, calling `fn` per frame. */
function frames(sock: Socket, fn: () => void): void {
  let buf: Buffer = Buffer.alloc(0);
  sock.on('data', (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    let pos = 0;
    while (buf.length - pos >= 4) {
      const len = buf.readUInt32BE(pos);
      if (buf.length - pos - 4 < len) break;
      pos += 4 + len;
      fn();
    }
    buf = buf.subarray(pos);
  });
}

async function socketPair(size: number): Promise<Pair> {
  const frame = Buffer.alloc(4 + size, 7);
  frame.writeUInt32BE(size, 0);
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const a = tcpConnect({ host: '127.0.0.1', port, noDelay: true });
  await new Promise<void>((r) => a.once('connect', () => r()));
  const b = await accepted;
  b.setNoDelay(true);
  const pair: Pair = {
    burst: (n) => {
      a.cork();
      for (let i = 0; i < n; i++) a.write(frame);
      process.nextTick(() => a.uncork());
    },
    echo: () => b.write(frame),
    onB: () => {},
    onA: () => {},
    dropped: () => 0,
    close: async () => {
      a.destroy();
      b.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  frames(b, () => pair.onB(1));
  frames(a, () => pair.onA());
  return pair;
}

async function throughput(pair: Pair, size: number, seconds: number): Promise<{ messages: number; secs: number; dropped: number }> {
  // About what a busy Raft node hands its transport per turn: up to 1 MiB or 256 messages.
  const perTurn = Math.max(4, Math.min(256, Math.floor(MiB / size)));
  const window = Math.max(perTurn * 2, Math.min(50_000, Math.floor((16 * MiB) / size)));
  let sent = 0;
  let delivered = 0;
  let wake: (() => void) | undefined;
  pair.onB = (n) => {
    delivered += n;
    if (wake && (sent - delivered < window || delivered + pair.dropped() >= sent)) {
      const w = wake;
      wake = undefined;
      w();
    }
  };
  // Woken by a delivery, or after a while in case messages were lost on the way (then it gives up).
  const waitForDeliveries = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        wake = undefined;
        resolve();
      }, 1_000);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const t0 = performance.now();
  const stopAt = t0 + seconds * 1000;
  while (performance.now() < stopAt) {
    if (sent - delivered - pair.dropped() >= window) await waitForDeliveries();
    pair.burst(perTurn);
    sent += perTurn;
    // Yield a macrotask so sends flush and deliveries are processed, as in a running node.
    await new Promise((r) => setImmediate(r));
  }
  const drainBy = performance.now() + 30_000;
  while (delivered + pair.dropped() < sent && performance.now() < drainBy) await waitForDeliveries();
  return { messages: delivered, secs: (performance.now() - t0) / 1000, dropped: pair.dropped() };
}

async function latency(pair: Pair, rounds: number): Promise<Latencies> {
  const lat = new Latencies();
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      pair.onB = () => pair.echo();
      pair.onA = () => resolve();
      pair.burst(1);
    });
    lat.add(performance.now() - t0);
  }
  return lat;
}

const run: Benchmark = async (ctx: BenchContext) => {
  const sizes = typeof ctx.flags.sizes === 'string' ? ctx.flags.sizes.split(',').map(Number) : [100, 65536];
  const seconds = typeof ctx.flags.seconds === 'string' ? Number(ctx.flags.seconds) : ctx.quick ? 1.5 : 5;
  const rounds = ctx.quick ? 300 : 2_000;
  const nats = await startNatsServer();
  try {
    const kinds: [string, (size: number) => Promise<Pair>][] = [
      ['nats', (size) => transportPair(nats.url, size)],
      ['nats-client', (size) => clientPair(nats.url, size)],
      ['socket', (size) => socketPair(size)],
    ];
    for (const size of sizes) {
      for (const [transport, make] of kinds) {
        const pair = await make(size);
        try {
          // A short warm-up so JIT and socket buffers settle before the timed part.
          await throughput(pair, size, Math.min(0.5, seconds / 4));
          const t = await throughput(pair, size, seconds);
          const lat = await latency(pair, rounds);
          const perSec = t.messages / t.secs;
          ctx.log(`${transport} ${size} B: ${Math.round(perSec)} msg/s`);
          ctx.report({
            benchmark: 'transport-nats',
            params: { transport, size },
            opsPerSec: perSec,
            p50Ms: lat.percentile(50),
            p99Ms: lat.percentile(99),
            extra: { MBps: (perSec * size) / 1e6, messages: t.messages, seconds: Number(t.secs.toFixed(2)), dropped: t.dropped, latency: 'round trip' },
          });
        } finally {
          await pair.close();
        }
      }
    }
  } finally {
    await nats.stop();
  }
};

export default run;
