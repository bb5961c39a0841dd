import { connect, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeBatch } from '@tessera/raft';
import { seqMessage } from '@tessera/testing/transport';
import { FrameType, frame, frameHeader, preamble } from '../src/frame.js';
import { link, TestNodes, waitFor, type TestNode } from './helpers/nodes.js';
import { RawPeer } from './helpers/raw-peer.js';

let nodes: TestNodes;
let a: TestNode;
let b: TestNode;

beforeEach(async () => {
  nodes = new TestNodes();
  // b is the target of the abuse; a is a well-behaved peer whose link with b must survive it.
  a = await nodes.add('a');
  b = await nodes.add('b', { handshakeTimeoutMs: 300, idleTimeoutMs: 400, maxFrameBytes: 256 * 1024, maxPendingConnections: 32 });
  await link(a, b);
  await link(b, a);
});

afterEach(async () => {
  await nodes.closeAll();
});

/** b still serves a: a fresh message each way arrives. */
async function stillServing(): Promise<void> {
  await link(a, b, 'after');
  await link(b, a, 'after');
  expect(b.t.stats().connections.established).toBeGreaterThanOrEqual(1);
}

async function rawAfterHandshake(nodeId = 'z'): Promise<RawPeer> {
  const raw = await RawPeer.connect(b.port);
  await raw.handshake({ nodeId, to: 'b' });
  return raw;
}

describe('malformed input closes the offending connection, and the node keeps serving', () => {
  it('a well-formed hand-made peer is served (control for the cases below)', async () => {
    const raw = await rawAfterHandshake();
    raw.write(frame(FrameType.Batch, encodeBatch('z', 'b', [seqMessage('z', 'b', 'g', 42)])));
    await waitFor(() => b.count('z') === 1, 'raw batch delivered');
    expect(b.received.find((r) => r.from === 'z')!.messages[0]!.context).toBe(42);
    raw.destroy();
  });

  it('garbage bytes', async () => {
    const raw = await RawPeer.connect(b.port);
    raw.write(Buffer.from('\x00\xff garbage \x13\x37'.repeat(50), 'binary'));
    await raw.waitClosed();
    expect(b.t.stats().closed.protocol).toBe(1);
    expect(b.log.has('warn', /bad preamble: not a Tessera TCP peer/)).toBe(true);
    await stillServing();
  });

  it('an HTTP request', async () => {
    const raw = await RawPeer.connect(b.port);
    raw.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await raw.waitClosed();
    expect(b.t.stats().closed.protocol).toBe(1);
    await stillServing();
  });

  it('an oversize frame before authentication is refused from its header alone', async () => {
    const raw = await RawPeer.connect(b.port);
    raw.write(preamble());
    raw.write(frameHeader(FrameType.Hello, 1024 * 1024));
    await raw.waitClosed();
    expect(b.log.has('warn', /exceeds the limit of 16384/)).toBe(true);
    await stillServing();
  });

  it('an oversize frame after authentication', async () => {
    const raw = await rawAfterHandshake();
    raw.write(frameHeader(FrameType.Batch, 256 * 1024 + 1));
    await raw.waitClosed();
    expect(b.log.has('warn', /frame of 262145 bytes exceeds the limit of 262144/)).toBe(true);
    await stillServing();
  });

  it('a truncated frame followed by a disconnect delivers nothing', async () => {
    const raw = await rawAfterHandshake();
    const f = frame(FrameType.Batch, encodeBatch('z', 'b', [seqMessage('z', 'b', 'g', 1)]));
    raw.write(f.subarray(0, f.length - 3));
    raw.socket.end();
    await raw.waitClosed();
    expect(b.count('z')).toBe(0);
    await stillServing();
  });

  it('invalid hello JSON, an unknown frame type, a corrupt batch, a batch with forged endpoints', async () => {
    const cases: ((r: RawPeer) => Promise<void>)[] = [
      async (r) => {
        r.write(preamble());
        r.write(frame(FrameType.Hello, Buffer.from('{"cluster": 5}')));
      },
      async (r) => {
        r.write(preamble());
        r.write(Buffer.from([0, 0, 0, 1, 99]));
      },
      async (r) => {
        await r.handshake({ nodeId: 'z', to: 'b' });
        const body = Buffer.from(encodeBatch('z', 'b', [seqMessage('z', 'b', 'g', 1)]));
        body[body.length - 2] = 0xff;
        r.write(frame(FrameType.Batch, body));
      },
      async (r) => {
        await r.handshake({ nodeId: 'z', to: 'b' });
        r.write(frame(FrameType.Batch, encodeBatch('a', 'b', [seqMessage('a', 'b', 'g', 1)])));
      },
      async (r) => {
        // Lower id than b: b waits for our Select, so a batch now is out of order.
        await r.handshake({ nodeId: 'B0', to: 'b' });
        r.write(frame(FrameType.Batch, encodeBatch('B0', 'b', [seqMessage('B0', 'b', 'g', 1)])));
      },
    ];
    for (const [i, c] of cases.entries()) {
      const raw = await RawPeer.connect(b.port);
      await c(raw);
      await raw.waitClosed();
      expect(b.t.stats().closed.protocol, `case ${i}`).toBe(i + 1);
    }
    expect(b.received.filter((r) => r.from !== 'a')).toEqual([]);
    expect(b.log.has('warn', /invalid hello/)).toBe(true);
    expect(b.log.has('warn', /unknown frame type 99/)).toBe(true);
    expect(b.log.has('warn', /batch from "a" to "b" on the connection between "z" and "b"/)).toBe(true);
    expect(b.log.has('warn', /batch frame before the connection was selected/)).toBe(true);
    await stillServing();
  });

  it('a peer that sends one byte at a time never gets past the handshake timeout', async () => {
    const raw = await RawPeer.connect(b.port);
    const bytes = Buffer.concat([preamble(), frame(FrameType.Hello, Buffer.from('{"cluster":"test-cluster","node":"z"'))]);
    let i = 0;
    const trickle = setInterval(() => raw.write(bytes.subarray(i, ++i)), 50);
    try {
      await raw.waitClosed(5_000);
    } finally {
      clearInterval(trickle);
    }
    expect(b.t.stats().closed.handshakeTimeout).toBe(1);
    expect(b.log.has('warn', /handshake did not complete within 300 ms/)).toBe(true);
    await stillServing();
  });

  it('an authenticated peer that goes silent, or trickles an endless frame, hits the idle timeout', async () => {
    const silent = await rawAfterHandshake('y');
    const trickler = await rawAfterHandshake('z');
    trickler.write(frameHeader(FrameType.Batch, 100_000));
    const trickle = setInterval(() => trickler.write(Buffer.from([1])), 50);
    try {
      await silent.waitClosed(5_000);
      await trickler.waitClosed(5_000);
    } finally {
      clearInterval(trickle);
    }
    expect(b.t.stats().closed.idleTimeout).toBe(2);
    // a, which b pings and which answers, is still connected.
    await stillServing();
  });

  it('thousands of connections: pending ones are capped, the established link keeps working', async () => {
    const flood: Socket[] = [];
    let delivered = 0;
    let connected = 0;
    const total = 2_000;
    const acceptedBefore = b.t.stats().connections.accepted;
    try {
      for (let i = 0; i < total; i++) {
        const s = connect({ host: '127.0.0.1', port: b.port });
        s.on('error', () => {});
        s.once('connect', () => connected++);
        s.resume();
        flood.push(s);
        if (i % 200 === 199) {
          // Meanwhile a -> b traffic flows.
          a.t.send('b', [seqMessage('a', 'b', 'during', i)]);
          // Waves of 200 stay under the kernel's accept backlog, so no SYN waits for a retransmit.
          const wave = flood.slice(-200);
          await waitFor(() => wave.every((w) => !w.connecting), 'flood wave connects');
        }
      }
      await waitFor(() => b.received.some((r) => r.messages.some((m) => m.group === 'during')), 'a -> b during the flood');
      delivered = b.received.filter((r) => r.from === 'a').flatMap((r) => r.messages).filter((m) => m.group === 'during').length;
      // Every flood connection is closed by b: refused at once over the limit, or by the handshake timeout.
      await waitFor(() => flood.every((s) => s.closed), () => `${flood.filter((s) => !s.closed).length} flood connections still open`);
    } finally {
      for (const s of flood) s.destroy();
    }
    const st = b.t.stats();
    expect(delivered).toBeGreaterThan(0);
    // Each flood connection that got through the kernel's backlog was accepted and then closed for a counted reason.
    expect(connected).toBeGreaterThan(total / 2);
    expect(st.connections.accepted - acceptedBefore).toBe(connected);
    expect(st.closed.pendingLimit + st.closed.handshakeTimeout).toBe(connected);
    expect(st.closed.pendingLimit).toBeGreaterThan(connected / 2);
    // The refusal is logged, but rate-limited rather than 2000 warnings.
    expect(b.log.lines.filter((l) => l.level === 'warn' && /too many connections/.test(l.msg)).length).toBeLessThan(100);
    await waitFor(() => b.t.stats().connections.pendingInbound === 0, 'pending connections drain');
    // A new node can join after the flood.
    const c = await nodes.add('c');
    await link(c, b);
    await link(b, c);
    await stillServing();
  });
});
