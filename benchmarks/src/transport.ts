/**
 * `pnpm bench transport [--quick] [--json] [--mode processes|same-process|both] [--sizes 100,65536]
 *  [--seconds 5] [--rounds 5] [--only tcp,socket]`
 *
 * What it measures: one-way throughput (Raft messages/s and payload MB/s) and round-trip latency
 * between two endpoints over loopback, for every transport in {@link CASES}, beside raw sockets:
 *
 * - `socket`: a bare `net.Socket` carrying the very frames the TCP transport writes (5-byte header +
 *   one @tessera/raft codec batch per burst), built once up front; the receiver only splits frames
 *   and reads each batch's message count. The ceiling: what loopback TCP costs with no encoding,
 *   decoding or queueing at all;
 * - `socket+codec`: the same socket, but the sender encodes each burst (into reused memory, as the TCP
 *   transport does) and the receiver decodes each frame: the least work any transport using the
 *   shared codec must do;
 * - `in-process` (same-process mode only): @tessera/raft's InProcessNetwork (no bytes move);
 * - `tcp`: @tessera/transport-tcp, plain; `tcp+tls`: with mutual TLS and a shared secret.
 *
 * Two modes, each row tagged with its mode:
 * - `processes` (default): the sender is this process, the receiver a child process (as peers are
 *   different processes, usually on different machines), so encoding and decoding run on different
 *   cores. The receiver reports deliveries back on a pipe, every quarter of the window of messages
 *   in flight or 5 ms after a delivery; it echoes over the transport for the latency rounds.
 * - `same-process`: both endpoints in this process: one thread pays encoding, decoding and both ends
 *   of every socket, so this bounds what one core can move.
 *
 * Every message is an AppendEntries with one entry of `size` bytes. Throughput: the sender sends a
 * burst per event-loop turn (up to 256 messages or 1 MiB, about what a busy node hands its transport
 * per turn) and keeps at most 16 MiB in flight, waiting on deliveries, so nothing is dropped; the figure
 * is delivered messages over elapsed time, drain included. The rows of one size are set up together and
 * take turns: `--rounds` rounds of `seconds / rounds` each per row (the benchmark shares its machine, and
 * interleaving spreads load changes over all rows). CPU µs per message (user + system, sender and
 * receiver processes) is reported too: on a loaded machine it varies less than the rate. Latency: one
 * message at a time, echoed back; p50/p99 are of the round trip. MB/s counts entry payload bytes only.
 *
 * Adding a transport: append a {@link TransportCase} to {@link CASES}; the same loops measure it.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket, connect as tcpConnect, type Server } from 'node:net';
import type { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { batchBound, decodeBatch, encodeBatch, encodeBatchInto, InProcessNetwork, message, MessageType, type Message, type Transport } from '@tessera/raft';
import { tcpTransport } from '@tessera/transport-tcp';
import { Latencies, type BenchContext, type Benchmark } from './harness.js';

const MiB = 1024 * 1024;
const CHILD_ENV = 'TESSERA_TRANSPORT_BENCH_CHILD';

/** One endpoint of a transport case. */
export interface Endpoint {
  readonly transport: Transport;
  /** Where peers reach it (`host:port`), if the transport has addresses. */
  readonly address: string | undefined;
  /** Messages this endpoint dropped so far (a benchmark that drops is measuring the wrong thing). */
  dropped(): number;
}

/** One row family of the table. */
export interface TransportCase {
  readonly name: string;
  /** Whether endpoints in different processes reach each other (false: same-process mode only). */
  readonly crossProcess: boolean;
  /** Starts what endpoints share (a server, certificates); `settings` is JSON when `crossProcess`. */
  setup(): Promise<{ settings: unknown; cleanup(): void }>;
  /** Creates endpoint `nodeId`; peers' addresses are looked up in `addresses` when needed. */
  endpoint(settings: unknown, nodeId: string, addresses: ReadonlyMap<string, string>, deliver: (messages: Message[]) => void): Promise<Endpoint>;
}

async function tcpEndpoint(nodeId: string, addresses: ReadonlyMap<string, string>, deliver: (messages: Message[]) => void, extra: object = {}): Promise<Endpoint> {
  const t = tcpTransport({ listen: { host: '127.0.0.1', port: 0 }, peers: (id) => addresses.get(id), clusterId: 'bench', ...extra })({ nodeId, deliver });
  await t.start();
  return { transport: t, address: `127.0.0.1:${t.address!.port}`, dropped: () => t.stats().droppedTotal };
}

interface TlsSettings {
  ca: string;
  certs: Record<string, { cert: string; key: string }>;
}

/** A throwaway CA and certificates for nodes `a` and `b`, made with the openssl command. */
function testCertificates(): TlsSettings {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-pki-'));
  try {
    const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    ssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=bench-ca']);
    const certs: TlsSettings['certs'] = {};
    for (const name of ['a', 'b']) {
      writeFileSync(join(dir, `${name}.ext`), `subjectAltName=IP:127.0.0.1,DNS:${name}\nextendedKeyUsage=serverAuth,clientAuth\n`);
      ssl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
      ssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', `${name}.ext`]);
      certs[name] = { cert: readFileSync(join(dir, `${name}.crt`), 'utf8'), key: readFileSync(join(dir, `${name}.key`), 'utf8') };
    }
    return { ca: readFileSync(join(dir, 'ca.crt'), 'utf8'), certs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The transports measured, in table order. Append yours here. */
export const CASES: TransportCase[] = [
  {
    name: 'in-process',
    crossProcess: false,
    setup: async () => ({ settings: new InProcessNetwork(), cleanup: () => {} }),
    async endpoint(settings, nodeId, _addresses, deliver) {
      const net = settings as InProcessNetwork;
      const t = net.transport({ nodeId, deliver });
      await t.start();
      return { transport: t, address: undefined, dropped: () => net.dropped };
    },
  },
  {
    name: 'tcp',
    crossProcess: true,
    setup: async () => ({ settings: {}, cleanup: () => {} }),
    endpoint: (_settings, nodeId, addresses, deliver) => tcpEndpoint(nodeId, addresses, deliver),
  },
  {
    name: 'tcp+tls',
    crossProcess: true,
    setup: async () => ({ settings: testCertificates(), cleanup: () => {} }),
    endpoint(settings, nodeId, addresses, deliver) {
      const s = settings as TlsSettings;
      return tcpEndpoint(nodeId, addresses, deliver, { secret: 'benchmark-secret-0123456789', tls: { ...s.certs[nodeId]!, ca: s.ca, mutual: true } });
    },
  },
];

/** Two endpoints; `a` (this process) sends bursts to `b` (this process or the child). */
interface Pair {
  burst(n: number): void;
  /** b echoes every delivery back to a (for the latency rounds) or not. */
  setEcho(on: boolean): Promise<void>;
  /** Messages delivered at b. */
  onB: (count: number) => void;
  /** An echo arrived at a. */
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

/** Transports connect lazily: get both directions up (one echoed message) before timing anything. */
async function connectPair(pair: Pair): Promise<void> {
  await pair.setEcho(true);
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => pair.burst(1), 20);
    pair.onA = () => {
      clearInterval(timer);
      pair.onA = () => {};
      resolve();
    };
    pair.burst(1);
  });
  await pair.setEcho(false);
}

async function localTransportPair(c: TransportCase, size: number): Promise<Pair> {
  const { settings, cleanup } = await c.setup();
  const addresses = new Map<string, string>();
  const ba = appendOf(size, 'b', 'a');
  let echo = false;
  const pair: Pair = {
    burst: () => {},
    setEcho: async (on) => {
      echo = on;
    },
    onB: () => {},
    onA: () => {},
    dropped: () => a.dropped(),
    close: async () => {
      await Promise.all([a.transport.close(), b.transport.close()]);
      cleanup();
    },
  };
  const a = await c.endpoint(settings, 'a', addresses, () => pair.onA());
  const b = await c.endpoint(settings, 'b', addresses, (ms) => {
    if (echo) b.transport.send('a', [ba]);
    pair.onB(ms.length);
  });
  if (a.address) addresses.set('a', a.address);
  if (b.address) addresses.set('b', b.address);
  const ab = appendOf(size, 'a', 'b');
  // Transports only read the messages they are given, so one object may be sent many times.
  pair.burst = (n) => a.transport.send('b', new Array<Message>(n).fill(ab));
  await connectPair(pair);
  return pair;
}

const HEADER = 5;
const BATCH_FRAME = 16;

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

/** The message count of an encoded batch, read from its head (version, from, to, count) without decoding it. */
function batchCount(body: Uint8Array): number {
  let p = 1;
  p += 1 + body[p]!; // from: ids here are under 128 bytes, so a one-byte length
  p += 1 + body[p]!; // to
  let n = 0;
  for (let shift = 0; ; shift += 7) {
    const b = body[p++]!;
    n += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return n;
  }
}

/**
 * The raw socket rows' sending side. `codec` false: frames are encoded once up front (one per burst
 * size). `codec` true: each burst is encoded in place after its frame header, into a buffer reused
 * once the socket has written it (as the TCP transport does).
 */
function socketSender(sock: Socket, size: number, codec: boolean): (n: number) => void {
  const ab = appendOf(size, 'a', 'b');
  const prebuilt = new Map<number, Buffer>();
  const spare: Buffer[] = [];
  const written = (buf: Buffer) => (err?: Error | null) => {
    if (!err && spare.length < 4) spare.push(buf);
  };
  return (n) => {
    if (codec) {
      const messages = new Array<Message>(n).fill(ab);
      const need = HEADER + batchBound('a', 'b', messages);
      let buf = spare.pop();
      if (buf === undefined || buf.length < need) buf = Buffer.allocUnsafeSlow(Math.max(need, 64 * 1024));
      const end = encodeBatchInto(buf, HEADER, 'a', 'b', messages);
      buf.writeUInt32BE(end - HEADER + 1, 0);
      buf[4] = BATCH_FRAME;
      sock.write(buf.subarray(0, end), written(buf));
      return;
    }
    let f = prebuilt.get(n);
    if (!f) {
      f = frameOf(encodeBatch('a', 'b', new Array<Message>(n).fill(ab)));
      prebuilt.set(n, f);
    }
    sock.write(f);
  };
}

/** The raw socket rows' receiving side: counts each frame's messages (decoding them if `codec`), echoes if asked. */
function socketReceiver(sock: Socket, size: number, codec: boolean, delivered: (n: number) => void): { echo: boolean } {
  const state = { echo: false };
  const echoFrame = frameOf(encodeBatch('b', 'a', [appendOf(size, 'b', 'a')]));
  onFrames(sock, (body) => {
    const n = codec ? decodeBatch(body).messages.length : batchCount(body);
    if (state.echo) sock.write(echoFrame);
    delivered(n);
  });
  return state;
}

/** The socket a sends on: frames coming back (echoes) are decoded if `codec`, then reported. */
function socketEchoes(sock: Socket, codec: boolean, onEcho: () => void): void {
  onFrames(sock, (body) => {
    if (codec) decodeBatch(body);
    onEcho();
  });
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

async function dial(port: number): Promise<Socket> {
  const s = tcpConnect({ host: '127.0.0.1', port, noDelay: true });
  await new Promise<void>((r) => s.once('connect', () => r()));
  return s;
}

async function localSocketPair(size: number, codec: boolean): Promise<Pair> {
  const server = createServer();
  const port = await listen(server);
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const a = await dial(port);
  const b = await accepted;
  b.setNoDelay(true);
  const pair: Pair = {
    burst: socketSender(a, size, codec),
    setEcho: async (on) => {
      receiver.echo = on;
    },
    onB: () => {},
    onA: () => {},
    dropped: () => 0,
    close: async () => {
      a.destroy();
      b.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const receiver = socketReceiver(b, size, codec, (n) => pair.onB(n));
  socketEchoes(a, codec, () => pair.onA());
  return pair;
}

// ---- processes mode: the receiving endpoints live in a child process --------------------------

/** Parent to child. */
type ToChild =
  | { op: 'open'; req: number; id: number; kind: string; size: number; settings: unknown; ackEvery: number }
  | { op: 'peer'; req: number; id: number; address: string }
  | { op: 'echo'; req: number; id: number; on: boolean }
  | { op: 'cpu'; req: number }
  | { op: 'close'; req: number; id: number };
/** Child to parent: a request's answer. Deliveries travel on their own pipe (see {@link ACK_FD}). */
type FromChild = { op: 'reply'; req: number; value: unknown } | { op: 'error'; req: number; message: string };

/**
 * The child's descriptor for delivery reports: 8-byte records (u32be pair id, u32be messages) on a
 * plain pipe. Node's IPC channel (JSON messages) cost the receiver about 0.2 ms per message here,
 * which would have weighed on every row.
 */
const ACK_FD = 4;

/** The child process hosting endpoint `b` of every pair, and the IPC requests to it. */
class Receiver {
  private readonly child: ChildProcess;
  private nextReq = 1;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  readonly deliveries = new Map<number, (n: number) => void>();

  constructor() {
    this.child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, [CHILD_ENV]: '1' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe'] });
    this.child.on('message', (m: FromChild) => {
      const w = this.waiting.get(m.req);
      this.waiting.delete(m.req);
      if (m.op === 'reply') w?.resolve(m.value);
      else w?.reject(new Error(`transport bench child: ${m.message}`));
    });
    let rest: Buffer = Buffer.alloc(0);
    (this.child.stdio[ACK_FD] as Readable).on('data', (chunk: Buffer) => {
      const b = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
      let p = 0;
      for (; p + 8 <= b.length; p += 8) this.deliveries.get(b.readUInt32BE(p))?.(b.readUInt32BE(p + 4));
      rest = b.subarray(p);
    });
    this.child.on('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`transport bench child exited (${code})`));
      this.waiting.clear();
    });
  }

  newId(): number {
    return this.nextId++;
  }

  request<T>(m: DistributiveOmit<ToChild, 'req'>): Promise<T> {
    const req = this.nextReq++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(req, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ ...m, req });
    });
  }

  /** The child's CPU time so far, µs (user + system). */
  async cpu(): Promise<number> {
    return this.request<number>({ op: 'cpu' });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.disconnect();
    await exited;
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

async function remoteTransportPair(rx: Receiver, c: TransportCase, size: number, ackEvery: number): Promise<Pair> {
  const { settings, cleanup } = await c.setup();
  const addresses = new Map<string, string>();
  const id = rx.newId();
  const pair: Pair = {
    burst: () => {},
    setEcho: (on) => rx.request({ op: 'echo', id, on }),
    onB: () => {},
    onA: () => {},
    dropped: () => a.dropped(),
    close: async () => {
      await Promise.all([a.transport.close(), rx.request({ op: 'close', id })]);
      rx.deliveries.delete(id);
      cleanup();
    },
  };
  rx.deliveries.set(id, (n) => pair.onB(n));
  const a = await c.endpoint(settings, 'a', addresses, () => pair.onA());
  addresses.set('b', await rx.request<string>({ op: 'open', id, kind: c.name, size, settings, ackEvery }));
  await rx.request({ op: 'peer', id, address: a.address! });
  const ab = appendOf(size, 'a', 'b');
  pair.burst = (n) => a.transport.send('b', new Array<Message>(n).fill(ab));
  await connectPair(pair);
  return pair;
}

async function remoteSocketPair(rx: Receiver, size: number, codec: boolean, ackEvery: number): Promise<Pair> {
  const id = rx.newId();
  const port = await rx.request<number>({ op: 'open', id, kind: codec ? 'socket+codec' : 'socket', size, settings: null, ackEvery });
  const a = await dial(port);
  const pair: Pair = {
    burst: socketSender(a, size, codec),
    setEcho: (on) => rx.request({ op: 'echo', id, on }),
    onB: () => {},
    onA: () => {},
    dropped: () => 0,
    close: async () => {
      a.destroy();
      await rx.request({ op: 'close', id });
      rx.deliveries.delete(id);
    },
  };
  rx.deliveries.set(id, (n) => pair.onB(n));
  socketEchoes(a, codec, () => pair.onA());
  return pair;
}

/** The child's side: endpoints `b`, reporting deliveries to the parent. */
function childMain(): void {
  const send = (m: FromChild) => process.send!(m);
  const acks = new Socket({ fd: ACK_FD, readable: false, writable: true });
  const open = new Map<number, { echo(on: boolean): void; peer(address: string): void; close(): Promise<void> }>();
  /** Counts deliveries, reporting them every `ackEvery` messages or 5 ms after the first unreported one. */
  const reporter = (id: number, ackEvery: number) => {
    let unreported = 0;
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (unreported > 0) {
        const record = Buffer.allocUnsafe(8);
        record.writeUInt32BE(id, 0);
        record.writeUInt32BE(unreported, 4);
        acks.write(record);
      }
      unreported = 0;
    };
    return (n: number) => {
      unreported += n;
      if (unreported >= ackEvery) flush();
      else timer ??= setTimeout(flush, 5);
    };
  };
  const handlers = {
    async open(m: Extract<ToChild, { op: 'open' }>): Promise<unknown> {
      const delivered = reporter(m.id, m.ackEvery);
      if (m.kind === 'socket' || m.kind === 'socket+codec') {
        const server = createServer();
        const port = await listen(server);
        server.once('connection', (b: Socket) => {
          b.setNoDelay(true);
          const receiver = socketReceiver(b, m.size, m.kind === 'socket+codec', delivered);
          open.set(m.id, {
            echo: (on) => (receiver.echo = on),
            peer: () => {},
            close: async () => {
              b.destroy();
              await new Promise<void>((r) => server.close(() => r()));
            },
          });
        });
        return port;
      }
      const c = CASES.find((x) => x.name === m.kind)!;
      const addresses = new Map<string, string>();
      const ba = appendOf(m.size, 'b', 'a');
      let echo = false;
      const b = await c.endpoint(m.settings, 'b', addresses, (ms) => {
        if (echo) b.transport.send('a', [ba]);
        delivered(ms.length);
      });
      open.set(m.id, {
        echo: (on) => (echo = on),
        peer: (address) => addresses.set('a', address),
        close: () => b.transport.close(),
      });
      return b.address;
    },
  };
  process.on('message', (m: ToChild) => {
    const reply = (value: unknown) => send({ op: 'reply', req: m.req, value: value ?? null });
    const run = async (): Promise<unknown> => {
      switch (m.op) {
        case 'open':
          return handlers.open(m);
        case 'peer':
          return open.get(m.id)!.peer(m.address);
        case 'echo':
          return open.get(m.id)!.echo(m.on);
        case 'cpu': {
          const u = process.cpuUsage();
          return u.user + u.system;
        }
        case 'close': {
          const e = open.get(m.id);
          open.delete(m.id);
          return e?.close();
        }
      }
    };
    run().then(reply, (err: Error) => send({ op: 'error', req: m.req, message: err.stack ?? String(err) }));
  });
  // The parent disconnecting ends the run: close whatever is still open, then exit.
  process.on('disconnect', () => {
    void Promise.all([...open.values()].map((e) => e.close())).finally(() => {
      acks.destroy();
      process.exit(0);
    });
  });
}

// ---- measuring -------------------------------------------------------------------------------

async function throughput(pair: Pair, size: number, seconds: number): Promise<{ messages: number; secs: number; dropped: number }> {
  const perTurn = Math.max(4, Math.min(256, Math.floor(MiB / size)));
  const window = windowOf(size);
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

/** Messages kept in flight: 16 MiB, at least two bursts. */
function windowOf(size: number): number {
  const perTurn = Math.max(4, Math.min(256, Math.floor(MiB / size)));
  return Math.max(perTurn * 2, Math.min(50_000, Math.floor((16 * MiB) / size)));
}

async function latency(pair: Pair, rounds: number): Promise<Latencies> {
  const lat = new Latencies();
  await pair.setEcho(true);
  pair.onB = () => {};
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      pair.onA = () => resolve();
      pair.burst(1);
    });
    lat.add(performance.now() - t0);
  }
  await pair.setEcho(false);
  return lat;
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

type Mode = 'processes' | 'same-process';

async function runMode(ctx: BenchContext, mode: Mode, size: number, opts: { seconds: number; slices: number; rounds: number; only: Set<string> | undefined }): Promise<void> {
  const rx = mode === 'processes' ? new Receiver() : undefined;
  // A few hundred delivery reports a second at most, so that they weigh on no row.
  const ackEvery = Math.max(1, Math.floor(windowOf(size) / 4));
  // The raw socket rows come first so every later row can be given as a fraction of them.
  const all: [string, () => Promise<Pair>][] = [
    ['socket', () => (rx ? remoteSocketPair(rx, size, false, ackEvery) : localSocketPair(size, false))],
    ['socket+codec', () => (rx ? remoteSocketPair(rx, size, true, ackEvery) : localSocketPair(size, true))],
    ...CASES.filter((c) => !rx || c.crossProcess).map((c): [string, () => Promise<Pair>] => [c.name, () => (rx ? remoteTransportPair(rx, c, size, ackEvery) : localTransportPair(c, size))]),
  ];
  const kinds = all.filter(([name]) => !opts.only || opts.only.has(name));
  const pairs: [string, Pair][] = [];
  try {
    for (const [transport, make] of kinds) pairs.push([transport, await make()]);
    // A short warm-up so JIT and socket buffers settle before the timed part.
    for (const [, pair] of pairs) await throughput(pair, size, Math.min(0.5, opts.seconds / 4));
    // The rows take turns in `slices` rounds (starting with a different row each round), so a
    // machine whose load changes during the run slows every row alike instead of whichever ran then.
    const totals = new Map(pairs.map(([name]) => [name, { messages: 0, secs: 0, dropped: 0, senderCpu: 0, receiverCpu: 0 }]));
    for (let r = 0; r < opts.slices; r++) {
      for (let k = 0; k < pairs.length; k++) {
        const [transport, pair] = pairs[(k + r) % pairs.length]!;
        const [s0, r0] = [cpuMicros(), rx ? await rx.cpu() : 0];
        const t = await throughput(pair, size, opts.seconds / opts.slices);
        const [s1, r1] = [cpuMicros(), rx ? await rx.cpu() : 0];
        const sum = totals.get(transport)!;
        sum.messages += t.messages;
        sum.secs += t.secs;
        sum.dropped += t.dropped;
        sum.senderCpu += s1 - s0;
        sum.receiverCpu += r1 - r0;
      }
    }
    const rates = new Map<string, number>();
    for (const [transport, pair] of pairs) {
      const t = totals.get(transport)!;
      const lat = await latency(pair, opts.rounds);
      const perSec = t.messages / t.secs;
      rates.set(transport, perSec);
      ctx.log(`${mode} ${transport} ${size} B: ${Math.round(perSec).toLocaleString('en-US')} msg/s`);
      const us = (cpu: number) => Number((cpu / t.messages).toFixed(3));
      ctx.report({
        benchmark: 'transport',
        params: { mode, transport, size },
        opsPerSec: perSec,
        p50Ms: lat.percentile(50),
        p99Ms: lat.percentile(99),
        extra: {
          MBps: (perSec * size) / 1e6,
          ofSocket: rates.has('socket') ? Number((perSec / rates.get('socket')!).toFixed(2)) : '',
          // Same process: everything in sendCpuUs. Processes: sender (this process) and receiver (child).
          sendCpuUs: us(t.senderCpu),
          recvCpuUs: rx ? us(t.receiverCpu) : '',
          messages: t.messages,
          seconds: Number(t.secs.toFixed(2)),
          dropped: t.dropped,
        },
      });
    }
    const tcp = rates.get('tcp');
    const socket = rates.get('socket');
    if (tcp !== undefined && socket !== undefined) ctx.log(`${mode}, size ${size}: tcp reaches ${((100 * tcp) / socket).toFixed(0)}% of the raw socket rate`);
  } finally {
    for (const [, pair] of pairs) await pair.close();
    await rx?.stop();
  }
}

const run: Benchmark = async (ctx: BenchContext) => {
  const sizes = typeof ctx.flags.sizes === 'string' ? ctx.flags.sizes.split(',').map(Number) : [100, 65536];
  const seconds = typeof ctx.flags.seconds === 'string' ? Number(ctx.flags.seconds) : ctx.quick ? 1 : 5;
  const slices = typeof ctx.flags.rounds === 'string' ? Math.max(1, Number(ctx.flags.rounds)) : ctx.quick ? 2 : 5;
  const rounds = ctx.quick ? 300 : 2_000;
  const only = typeof ctx.flags.only === 'string' ? new Set(ctx.flags.only.split(',')) : undefined;
  const modeFlag = typeof ctx.flags.mode === 'string' ? ctx.flags.mode : 'processes';
  const modes: Mode[] = modeFlag === 'both' ? ['processes', 'same-process'] : modeFlag === 'processes' || modeFlag === 'same-process' ? [modeFlag] : [];
  if (modes.length === 0) throw new Error(`--mode must be processes, same-process or both, not ${JSON.stringify(modeFlag)}`);
  for (const mode of modes) for (const size of sizes) await runMode(ctx, mode, size, { seconds, slices, rounds, only });
};

export default run;

if (process.env[CHILD_ENV] === '1' && process.send) childMain();
