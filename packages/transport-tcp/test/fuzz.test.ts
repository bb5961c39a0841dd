import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger, type Message } from '@tessera/raft';
import { decodeInboundBatch } from '../src/batch.js';
import { Connection, type ConnectionHost } from '../src/connection.js';
import { FrameDecoder } from '../src/frame.js';
import { parseTcpOptions } from '../src/options.js';
import { emptyCloses, emptyDrops, WarnLimiter, type TcpTransportStats } from '../src/stats.js';
import { baseOptions } from './helpers/harness.js';
import { chunks, guaranteedBad, int, randomMutation, rng, validStream } from './helpers/fuzz.js';
import { link, TestNodes, waitFor } from './helpers/nodes.js';
import { RawPeer } from './helpers/raw-peer.js';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const seedNote = `(replay with FUZZ_SEED=${SEED})`;

/** Stands in for a net.Socket: records writes and destruction, never touches the network. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  written = 0;
  write(buf: Uint8Array): boolean {
    this.written += buf.byteLength;
    return true;
  }
  destroy(): this {
    if (!this.destroyed) {
      this.destroyed = true;
      process.nextTick(() => this.emit('close'));
    }
    return this;
  }
  /** As if the peer acknowledged our FIN at once. */
  end(): this {
    return this.destroy();
  }
  cork(): void {}
  uncork(): void {}
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
}

function counters(): TcpTransportStats {
  return {
    messagesSent: 0,
    messagesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    framesSent: 0,
    framesReceived: 0,
    dropped: emptyDrops(),
    droppedTotal: 0,
    connections: { established: 0, pendingInbound: 0, dials: 0, dialFailures: 0, accepted: 0, handshakes: 0 },
    closed: emptyCloses(),
    authFailures: 0,
    refusedByPeers: 0,
    peers: {},
  };
}

/** The transport side of a connection, reduced to what a single inbound connection needs. */
class FakeHost implements ConnectionHost {
  readonly nodeId = 'm';
  readonly instance = '0123456789abcdef';
  readonly opts = parseTcpOptions(baseOptions({ maxFrameBytes: 1 << 20, handshakeTimeoutMs: 60_000 }));
  readonly secret = undefined;
  readonly counters = counters();
  readonly log = silentLogger;
  readonly warn = new WarnLimiter(silentLogger);
  delivered: Message[] = [];
  closedWith: string | undefined;
  lastSelect(): number | undefined {
    return undefined;
  }
  authenticated(conn: Connection): void {
    // Like the transport: the lower id selects at once, the higher waits.
    if (this.nodeId < conn.peerId!) {
      conn.sendSelect(7);
      conn.markActive(7);
    }
  }
  selected(conn: Connection, id: number): void {
    conn.markActive(id);
  }
  batch(conn: Connection, body: Uint8Array): void {
    for (const m of decodeInboundBatch(body, conn.peerId!, this.nodeId)) this.delivered.push(m);
  }
  drained(): void {}
  closed(_conn: Connection, reason: string): void {
    if (this.closedWith !== undefined) throw new Error('closed twice');
    this.closedWith = reason;
  }
}

/** Feeds `input` to a fresh inbound connection in random chunks. Returns the host afterwards. */
function feed(r: () => number, input: Buffer): { host: FakeHost; conn: Connection; socket: FakeSocket } {
  const host = new FakeHost();
  const socket = new FakeSocket();
  const conn = new Connection(host, socket as unknown as Socket, 'in', undefined, 'fuzz', { connected: true, deadlineMs: 60_000 });
  conn.begin();
  for (const c of chunks(r, input)) {
    socket.emit('data', c);
    if (conn.state === 'closed') break;
  }
  return { host, conn, socket };
}

function finish(conn: Connection, socket: FakeSocket): void {
  // Peer hangs up: whatever state the connection was in, it must end closed (timers cleared).
  socket.emit('end');
  expect(conn.state).toBe('closed');
}

describe(`frame decoder fuzz ${seedNote}`, () => {
  const baseline = process.getActiveResourcesInfo().filter((x) => x === 'Timeout').length;
  afterEach(async () => {
    // Let the fake sockets' close events run; then every connection has cleared its timers.
    await new Promise((r) => setImmediate(r));
    expect(process.getActiveResourcesInfo().filter((x) => x === 'Timeout').length).toBeLessThanOrEqual(baseline + 1);
  });

  it('valid streams, split anywhere, decode to the same messages and keep the connection open', () => {
    const r = rng(SEED);
    for (let i = 0; i < 1_000; i++) {
      const peer = int(r, 2) === 0 ? 'a' : 'z';
      const s = validStream(r, peer, 'm', 'test-cluster');
      const { host, conn, socket } = feed(r, Buffer.concat([...s.handshake, ...s.frames]));
      expect(conn.state, `case ${i} ${seedNote}`).toBe('active');
      expect(host.closedWith).toBeUndefined();
      // Reference: the same frames decoded whole, without chunking.
      const want: Message[] = [];
      const dec = new FrameDecoder({ preamble: () => {}, frame: (type, body) => type === 16 && want.push(...decodeInboundBatch(body, peer, 'm')) }, 1 << 20);
      dec.push(Buffer.concat([...s.handshake, ...s.frames]));
      expect(host.delivered.length).toBe(want.length);
      expect(host.delivered.map((m) => `${m.group}/${m.type}/${m.context}/${m.entries.length}`)).toEqual(want.map((m) => `${m.group}/${m.type}/${m.context}/${m.entries.length}`));
      finish(conn, socket);
    }
  });

  it('at least 5,000 frames broken in ways that must be refused all close the connection as a protocol error', () => {
    const r = rng(SEED + 1);
    const perKind = Math.ceil(5_000 / guaranteedBad.length);
    let total = 0;
    for (const bad of guaranteedBad) {
      for (let i = 0; i < perKind; i++) {
        const s = validStream(r, int(r, 2) === 0 ? 'a' : 'z', 'm', 'test-cluster');
        const input = bad.apply(r, s);
        const t0 = performance.now();
        const { host, conn } = feed(r, input);
        expect(performance.now() - t0, `${bad.name} #${i} took too long ${seedNote}`).toBeLessThan(2_000);
        expect(conn.state, `${bad.name} #${i}: connection not closed ${seedNote}`).toBe('closed');
        expect(host.closedWith, `${bad.name} #${i} ${seedNote}`).toBe('protocol');
        expect(host.counters.closed.protocol).toBe(1);
        total++;
      }
    }
    expect(total).toBeGreaterThanOrEqual(5_000);
  });

  it('at least 10,000 randomly mutated streams never throw, never hang, and always end closed', () => {
    const r = rng(SEED + 2);
    const outcomes = new Map<string, number>();
    const n = 10_000;
    for (let i = 0; i < n; i++) {
      const s = validStream(r, int(r, 2) === 0 ? 'a' : 'z', 'm', 'test-cluster');
      const input = randomMutation(r, s);
      const t0 = performance.now();
      let res: ReturnType<typeof feed>;
      try {
        res = feed(r, input);
      } catch (e) {
        throw new Error(`mutation #${i} threw out of the connection ${seedNote}: ${(e as Error).stack}`);
      }
      expect(performance.now() - t0, `mutation #${i} took too long ${seedNote}`).toBeLessThan(2_000);
      const { host, conn, socket } = res;
      const outcome = conn.state === 'closed' ? `closed:${host.closedWith}` : `open:${conn.state}`;
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      // Whatever was delivered came from a batch addressed from the authenticated peer to us.
      for (const m of host.delivered) expect(m.to).toBe('m');
      if (conn.state !== 'closed') finish(conn, socket);
      else expect(socket.destroyed || host.closedWith === 'refused').toBe(true);
    }
    // The mutations exercise both refusals and still-valid streams.
    expect(outcomes.get('closed:protocol') ?? 0).toBeGreaterThan(n / 4);
  });
});

describe(`socket fuzz ${seedNote}`, () => {
  it('200 mutated streams over real sockets: each connection is closed by the node, which keeps serving', async () => {
    const nodes = new TestNodes();
    try {
      const a = await nodes.add('a');
      const m = await nodes.add('m', { handshakeTimeoutMs: 250, idleTimeoutMs: 300, maxFrameBytes: 1 << 20, maxPendingConnections: 256 });
      await link(a, m);
      const r = rng(SEED + 3);
      const n = 200;
      const parallel = 25;
      for (let start = 0; start < n; start += parallel) {
        const peers = await Promise.all(
          Array.from({ length: parallel }, async () => {
            const raw = await RawPeer.connect(m.port);
            const s = validStream(r, int(r, 2) === 0 ? 'a0' : 'z', 'm', 'test-cluster');
            raw.write(int(r, 3) === 0 ? guaranteedBad[int(r, guaranteedBad.length)]!.apply(r, s) : randomMutation(r, s));
            return raw;
          }),
        );
        // Nobody hangs up from our side: the node must close every one (refusal, protocol error, or a timeout).
        await Promise.all(peers.map((p) => p.waitClosed(5_000)));
      }
      await waitFor(() => m.t.stats().connections.pendingInbound === 0, 'no pending connections left');
      await link(a, m, 'after');
      await link(m, a, 'after');
      expect(m.received.filter((x) => x.from !== 'a').flatMap((x) => x.messages).every((msg) => msg.to === 'm')).toBe(true);
    } finally {
      await nodes.closeAll();
    }
  });
});
