/**
 * `pnpm bench transport [--quick] [--json] [--sizes 100,65536] [--seconds 5] [--rounds 5] [--only tcp,socket]`
 *
 * What it measures: one-way throughput (Raft messages/s and payload MB/s) and round-trip latency
 * between two endpoints in this process over loopback, for every transport in {@link CASES}:
 *
 * - `in-process`: @tessera/raft's InProcessNetwork (hands messages over by reference; no bytes);
 * - `tcp`: @tessera/transport-tcp, plain; `tcp+tls`: with mutual TLS and a shared secret;
 * - `socket`: a bare `net.Socket` carrying the very frames the TCP transport writes (5-byte header +
 *   one @tessera/raft codec batch per burst), built once up front; the receiver only splits frames.
 *   The ceiling: what loopback TCP costs with no encoding, decoding or queueing at all;
 * - `socket+codec`: the same socket, but the sender encodes each burst and the receiver decodes each
 *   frame: the least work any transport using the shared codec must do.
 *
 * Every message is an AppendEntries with one entry of `size` bytes. Throughput: the sender sends a
 * burst per event-loop turn (up to 256 messages or 1 MiB, about what a busy node hands its transport
 * per turn) and keeps at most 16 MiB in flight, waiting on deliveries, so nothing is dropped; the figure
 * is delivered messages over elapsed time, drain included. The rows of one size are set up together and
 * take turns: `--rounds` rounds of `seconds / rounds` each per row (the benchmark shares its machine, and
 * interleaving spreads load changes over all rows). Latency: one message at a time, echoed back;
 * p50/p99 are of the round trip. MB/s counts entry payload bytes only.
 *
 * Adding a transport: append a {@link TransportCase} to {@link CASES} whose `harness()` starts what it
 * needs (e.g. a server) and creates endpoints that reach each other; the same loop measures it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeBatch, encodeBatch, InProcessNetwork, message, MessageType, type Message, type Transport } from '@tessera/raft';
import { tcpTransport, type TcpTransport, type TcpTransportOptions } from '@tessera/transport-tcp';
import { Latencies, type BenchContext, type Benchmark } from './harness.js';

const MiB = 1024 * 1024;

/** Creates endpoints `a` and `b` that can reach each other. */
export interface BenchHarness {
  create(nodeId: string, deliver: (messages: Message[], from: string) => void): Promise<Transport>;
  /** Messages the endpoints dropped so far (a benchmark that drops is measuring the wrong thing). */
  dropped(): number;
  destroy(): Promise<void>;
}

/** One row family of the table. */
export interface TransportCase {
  readonly name: string;
  harness(): Promise<BenchHarness>;
}

/** Two endpoints; `a` sends bursts to `b`, `b` can echo one message back to `a`. */
interface Pair {
  burst(n: number): void;
  echo(): void;
  onB: (count: number) => void;
  onA: () => void;
  dropped(): number;
  close(): Promise<void>;
}

function appendOf(size: number, from: string, to: string): Message {
  const m = message(MessageType.App, 'bench', from, to, 1);
  m.index = 0;
  m.entries = [{ index: 1, term: 1, type: 0, data: new Uint8Array(size).fill(7) }];
  return m;
}

function tcpHarness(extra: (nodeId: string) => Partial<TcpTransportOptions> = () => ({}), cleanup?: () => void): BenchHarness {
  const addresses = new Map<string, string>();
  const transports: TcpTransport[] = [];
  return {
    async create(nodeId, deliver) {
      const t = tcpTransport({ listen: { host: '127.0.0.1', port: 0 }, peers: (id) => addresses.get(id), clusterId: 'bench', ...extra(nodeId) })({ nodeId, deliver });
      await t.start();
      addresses.set(nodeId, `127.0.0.1:${t.address!.port}`);
      transports.push(t);
      return t;
    },
    dropped: () => transports.reduce((n, t) => n + t.stats().droppedTotal, 0),
    async destroy() {
      cleanup?.();
    },
  };
}

/** A throwaway CA and node certificates, made with the openssl command. */
function testCertificates(): { ca: string; issue(name: string): { cert: string; key: string }; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-pki-'));
  const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  ssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=bench-ca']);
  return {
    ca: readFileSync(join(dir, 'ca.crt'), 'utf8'),
    issue(name) {
      writeFileSync(join(dir, `${name}.ext`), `subjectAltName=IP:127.0.0.1,DNS:${name}\nextendedKeyUsage=serverAuth,clientAuth\n`);
      ssl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
      ssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', `${name}.ext`]);
      return { cert: readFileSync(join(dir, `${name}.crt`), 'utf8'), key: readFileSync(join(dir, `${name}.key`), 'utf8') };
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The transports measured, in table order. Append yours here. */
export const CASES: TransportCase[] = [
  {
    name: 'in-process',
    async harness() {
      const net = new InProcessNetwork();
      return {
        async create(nodeId, deliver) {
          const t = net.transport({ nodeId, deliver });
          await t.start();
          return t;
        },
        dropped: () => net.dropped,
        async destroy() {},
      };
    },
  },
  { name: 'tcp', harness: async () => tcpHarness() },
  {
    name: 'tcp+tls',
    async harness() {
      const pki = testCertificates();
      return tcpHarness((id) => ({ secret: 'benchmark-secret-0123456789', tls: { ...pki.issue(id), ca: pki.ca, mutual: true } }), pki.cleanup);
    },
  },
];

async function transportPair(c: TransportCase, size: number): Promise<Pair> {
  const h = await c.harness();
  const pair: Pair = {
    burst: () => {},
    echo: () => {},
    onB: () => {},
    onA: () => {},
    dropped: () => h.dropped(),
    close: async () => {
      await Promise.all([a.close(), b.close()]);
      await h.destroy();
    },
  };
  const a = await h.create('a', () => pair.onA());
  const b = await h.create('b', (ms) => pair.onB(ms.length));
  const ab = appendOf(size, 'a', 'b');
  const ba = appendOf(size, 'b', 'a');
  // Transports connect lazily: get the link up before timing anything.
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => a.send('b', [ab]), 20);
    pair.onB = () => {
      clearInterval(timer);
      pair.onB = () => {};
      resolve();
    };
    a.send('b', [ab]);
  });
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => b.send('a', [ba]), 20);
    pair.onA = () => {
      clearInterval(timer);
      pair.onA = () => {};
      resolve();
    };
    b.send('a', [ba]);
  });
  // Transports only read the messages they are given, so one object may be sent many times.
  pair.burst = (n) => a.send('b', new Array<Message>(n).fill(ab));
  pair.echo = () => b.send('a', [ba]);
  return pair;
}

const HEADER = 5;
const BATCH_FRAME = 16;

/** A loopback socket pair. */
async function sockets(): Promise<{ a: Socket; b: Socket; close(): Promise<void> }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const a = tcpConnect({ host: '127.0.0.1', port, noDelay: true });
  await new Promise<void>((r) => a.once('connect', () => r()));
  const b = await accepted;
  b.setNoDelay(true);
  return {
    a,
    b,
    close: async () => {
      a.destroy();
      b.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * Splits a stream into u32be-length-prefixed frames, calling `fn` with each body (a plain Uint8Array
 * view, as the TCP transport hands the codec). Partial frames are collected as a chunk list and joined
 * once complete, so a 1 MiB frame is copied once, not once per 64 KiB read.
 */
function onFrames(sock: Socket, fn: (body: Uint8Array) => void): void {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let need = 0; // total bytes of the frame being collected (0: unknown yet)
  sock.on('data', (chunk: Buffer) => {
    if (pendingBytes > 0) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (need === 0 && pendingBytes >= 4) need = 4 + Buffer.concat(pending, 4).readUInt32BE(0);
      if (need === 0 || pendingBytes < need) return;
      chunk = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      need = 0;
    }
    let pos = 0;
    while (chunk.length - pos >= 4) {
      const len = chunk.readUInt32BE(pos);
      if (chunk.length - pos - 4 < len) break;
      fn(new Uint8Array(chunk.buffer, chunk.byteOffset + pos + HEADER, len - 1));
      pos += 4 + len;
    }
    if (pos < chunk.length) {
      const rest = chunk.subarray(pos);
      pending = [rest];
      pendingBytes = rest.length;
      need = rest.length >= 4 ? 4 + rest.readUInt32BE(0) : 0;
    }
  });
}

function frameOf(payload: Uint8Array): Buffer {
  const f = Buffer.allocUnsafe(HEADER + payload.byteLength);
  f.writeUInt32BE(payload.byteLength + 1, 0);
  f[4] = BATCH_FRAME;
  f.set(payload, HEADER);
  return f;
}

/**
 * The raw socket rows. `codec` false: frames are encoded once up front (one per burst size) and the
 * receiver reads the message count from a side table, so no codec work happens in the loop.
 */
async function socketPair(size: number, codec: boolean): Promise<Pair> {
  const s = await sockets();
  const ab = appendOf(size, 'a', 'b');
  const ba = appendOf(size, 'b', 'a');
  const prebuilt = new Map<number, Buffer>();
  const counts = new Map<number, number>();
  const frameFor = (n: number) => {
    let f = prebuilt.get(n);
    if (!f) {
      f = frameOf(encodeBatch('a', 'b', new Array<Message>(n).fill(ab)));
      prebuilt.set(n, f);
      counts.set(f.length - HEADER, n);
    }
    return f;
  };
  const echoFrame = frameOf(encodeBatch('b', 'a', [ba]));
  const pair: Pair = {
    burst: (n) => {
      if (codec) {
        const payload = encodeBatch('a', 'b', new Array<Message>(n).fill(ab));
        s.a.cork();
        const h = Buffer.allocUnsafe(HEADER);
        h.writeUInt32BE(payload.byteLength + 1, 0);
        h[4] = BATCH_FRAME;
        s.a.write(h);
        s.a.write(payload);
        s.a.uncork();
      } else {
        s.a.write(frameFor(n));
      }
    },
    echo: () => s.b.write(echoFrame),
    onB: () => {},
    onA: () => {},
    dropped: () => 0,
    close: () => s.close(),
  };
  onFrames(s.b, (body) => pair.onB(codec ? decodeBatch(body).messages.length : counts.get(body.length)!));
  onFrames(s.a, (body) => {
    if (codec) decodeBatch(body);
    pair.onA();
  });
  return pair;
}

async function throughput(pair: Pair, size: number, seconds: number): Promise<{ messages: number; secs: number; dropped: number }> {
  const perTurn = Math.max(4, Math.min(256, Math.floor(MiB / size)));
  const window = Math.max(perTurn * 2, Math.min(50_000, Math.floor((16 * MiB) / size)));
  const droppedBefore = pair.dropped();
  const dropped = () => pair.dropped() - droppedBefore;
  let sent = 0;
  let delivered = 0;
  let wake: (() => void) | undefined;
  pair.onB = (n) => {
    delivered += n;
    if (wake && (sent - delivered < window || delivered + dropped() >= sent)) {
      const w = wake;
      wake = undefined;
      w();
    }
  };
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
    if (sent - delivered - dropped() >= window) await waitForDeliveries();
    pair.burst(perTurn);
    sent += perTurn;
    // Yield a macrotask so sends flush and deliveries are processed, as in a running node.
    await new Promise((r) => setImmediate(r));
  }
  const drainBy = performance.now() + 30_000;
  while (delivered + dropped() < sent && performance.now() < drainBy) await waitForDeliveries();
  return { messages: delivered, secs: (performance.now() - t0) / 1000, dropped: dropped() };
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
  const seconds = typeof ctx.flags.seconds === 'string' ? Number(ctx.flags.seconds) : ctx.quick ? 1 : 5;
  const slices = typeof ctx.flags.rounds === 'string' ? Math.max(1, Number(ctx.flags.rounds)) : ctx.quick ? 2 : 5;
  const rounds = ctx.quick ? 300 : 2_000;
  const only = typeof ctx.flags.only === 'string' ? new Set(ctx.flags.only.split(',')) : undefined;
  // The raw socket rows come first so every later row can be given as a fraction of them.
  const all: [string, (size: number) => Promise<Pair>][] = [
    ['socket', (size) => socketPair(size, false)],
    ['socket+codec', (size) => socketPair(size, true)],
    ...CASES.map((c): [string, (size: number) => Promise<Pair>] => [c.name, (size) => transportPair(c, size)]),
  ];
  const kinds = all.filter(([name]) => !only || only.has(name));
  for (const size of sizes) {
    const pairs: [string, Pair][] = [];
    try {
      for (const [transport, make] of kinds) pairs.push([transport, await make(size)]);
      // A short warm-up so JIT and socket buffers settle before the timed part.
      for (const [, pair] of pairs) await throughput(pair, size, Math.min(0.5, seconds / 4));
      // The rows take turns in `slices` rounds (starting with a different row each round), so a
      // machine whose load changes during the run slows every row alike instead of whichever ran then.
      const totals = new Map(pairs.map(([name]) => [name, { messages: 0, secs: 0, dropped: 0 }]));
      for (let r = 0; r < slices; r++) {
        for (let k = 0; k < pairs.length; k++) {
          const [transport, pair] = pairs[(k + r) % pairs.length]!;
          const t = await throughput(pair, size, seconds / slices);
          const sum = totals.get(transport)!;
          sum.messages += t.messages;
          sum.secs += t.secs;
          sum.dropped += t.dropped;
        }
      }
      const rates = new Map<string, number>();
      for (const [transport, pair] of pairs) {
        const t = totals.get(transport)!;
        const lat = await latency(pair, rounds);
        const perSec = t.messages / t.secs;
        rates.set(transport, perSec);
        ctx.log(`${transport} ${size} B: ${Math.round(perSec).toLocaleString('en-US')} msg/s`);
        ctx.report({
          benchmark: 'transport',
          params: { transport, size },
          opsPerSec: perSec,
          p50Ms: lat.percentile(50),
          p99Ms: lat.percentile(99),
          extra: {
            MBps: (perSec * size) / 1e6,
            ofSocket: rates.has('socket') ? Number((perSec / rates.get('socket')!).toFixed(2)) : '',
            messages: t.messages,
            seconds: Number(t.secs.toFixed(2)),
            dropped: t.dropped,
          },
        });
      }
      const tcp = rates.get('tcp');
      const socket = rates.get('socket');
      if (tcp !== undefined && socket !== undefined) ctx.log(`size ${size}: tcp reaches ${((100 * tcp) / socket).toFixed(0)}% of the raw socket rate`);
    } finally {
      for (const [, pair] of pairs) await pair.close();
    }
  }
};

export default run;
