import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, decodeBatch, message, MessageType } from '@tessera/raft';
import { bigAppend, seqMessage } from '@tessera/testing/transport';
import { FrameType } from '../src/frame.js';
import { tcpTransport } from '../src/index.js';
import { baseOptions } from './helpers/harness.js';
import { link, TestNodes, waitFor } from './helpers/nodes.js';
import { RawPeer } from './helpers/raw-peer.js';

let nodes: TestNodes;
beforeEach(() => {
  nodes = new TestNodes();
});
afterEach(async () => {
  await nodes.closeAll();
});

describe('options', () => {
  it('rejects invalid options with a ConfigError naming the field', () => {
    const bad: [object, RegExp][] = [
      [{ listen: { host: '127.0.0.1', port: 70000 } }, /^tcpTransport\.listen\.port: /],
      [{ clusterId: '' }, /^tcpTransport\.clusterId: /],
      [{ secret: 'short' }, /^tcpTransport\.secret: /],
      [{ peers: { n2: 'no-port' } }, /^tcpTransport\.peers/],
      [{ maxFrameBytes: 10 }, /^tcpTransport\.maxFrameBytes: /],
      [{ reconnect: { initialMs: 500, maxMs: 100 } }, /^tcpTransport\.reconnect\.initialMs: must not exceed maxMs/],
      [{ tls: { cert: 'x' } }, /^tcpTransport\.tls\.key: /],
      [{ bogus: 1 }, /bogus/],
    ];
    for (const [override, re] of bad) {
      let err: unknown;
      try {
        tcpTransport(baseOptions(override as never));
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(override)).toBeInstanceOf(ConfigError);
      expect((err as Error).message, JSON.stringify(override)).toMatch(re);
    }
  });

  it('listens only on the configured address and reports the bound port', async () => {
    const a = await nodes.add('a');
    expect(a.t.address).toEqual({ host: '127.0.0.1', port: a.port });
    expect(a.port).toBeGreaterThan(0);
    await expect(tcpTransport(baseOptions({ listen: { host: '127.0.0.1', port: a.port } }))({ nodeId: 'x', deliver: () => {} }).start()).rejects.toThrow(/cannot listen on 127\.0\.0\.1/);
  });
});

describe('backpressure and drops', () => {
  it('bounds the queue of a peer that stops reading, counts the drops, and keeps other peers flowing', async () => {
    const maxQueueBytes = 2 * 1024 * 1024;
    const b = await nodes.add('b', { maxQueueBytes });
    const a = await nodes.add('a');
    await link(a, b);
    await link(b, a);
    // z connects, completes the handshake, then stops reading.
    const z = await RawPeer.connect(b.port);
    await z.handshake({ nodeId: 'z', to: 'b' });
    z.socket.pause();
    let maxQueued = 0;
    for (let i = 0; i < 400; i++) {
      b.t.send('z', [bigAppend('b', 'z', 'g', 64 * 1024, 2, i)]);
      b.t.send('a', [seqMessage('b', 'a', 'live', i)]);
      if (i % 20 === 19) await new Promise((r) => setImmediate(r));
      maxQueued = Math.max(maxQueued, b.t.stats().peers.z!.queuedBytes);
    }
    await waitFor(() => a.received.flatMap((r) => r.messages).filter((m) => m.group === 'live').length === 400, 'b -> a unaffected by the stuck peer');
    const st = b.t.stats();
    expect(st.dropped.queueFull).toBeGreaterThan(0);
    expect(maxQueued).toBeLessThanOrEqual(maxQueueBytes);
    // Sent + queued + dropped accounts for every message.
    expect(st.peers.z!.queuedMessages + st.dropped.queueFull).toBeLessThanOrEqual(400);
    expect(b.log.has('warn', /send queue full/)).toBe(true);
    // When z reads again, what was queued flows.
    z.socket.resume();
    const before = z.frames.length;
    await waitFor(() => z.frames.length > before && b.t.stats().peers.z!.queuedMessages === 0, 'queue drains once z reads');
    z.destroy();
  });

  it('reused write buffers: every byte arrives intact and in order when writes back up behind a slow reader', async () => {
    const b = await nodes.add('b');
    const z = await RawPeer.connect(b.port);
    await z.handshake({ nodeId: 'z', to: 'b' });
    // z stops reading, so the kernel buffers fill and writes complete late: frames are encoded
    // while earlier buffers are still being written, which is when a premature reuse would show.
    z.socket.pause();
    // 6 KB frames: above the 4 KiB that bypass the pool, below the socket's 16 KiB high-water mark.
    const payload = (seq: number) => new Uint8Array(6000).map((_, k) => (seq * 7 + k * 13) & 0xff);
    const total = 2000;
    for (let seq = 0; seq < total; seq++) {
      const m = message(MessageType.App, `g${seq % 3}`, 'b', 'z', 1);
      m.index = seq;
      m.context = seq;
      m.entries = [{ index: seq + 1, term: 1, type: 0, data: payload(seq) }];
      b.t.send('z', [m]);
      // One message per turn: frames below the socket's high-water mark, so write() keeps
      // returning true while earlier frames are still pending.
      await new Promise((r) => setImmediate(r));
    }
    // The queue stays non-empty only while the transport waits for the socket to drain.
    await waitFor(() => b.t.stats().bytesSent > 1024 * 1024 && b.t.stats().peers.z!.queuedMessages > 0, 'writes towards z back up');
    z.socket.resume();
    const batches = () => z.frames.filter((f) => f.type === FrameType.Batch);
    await waitFor(() => batches().reduce((n, f) => n + decodeBatch(f.body).messages.length, 0) >= total, 'every message reaches z');
    const got = batches().flatMap((f) => decodeBatch(f.body).messages);
    expect(got.map((m) => m.context)).toEqual(Array.from({ length: total }, (_, i) => i));
    for (const m of got) expect(Buffer.from(m.entries[0]!.data).equals(Buffer.from(payload(m.context))), `payload of ${m.context}`).toBe(true);
    expect(b.t.stats().droppedTotal).toBe(0);
    z.destroy();
  });

  it('drops (and counts) a message larger than the frame limit, delivering the rest', async () => {
    const a = await nodes.add('a', { maxFrameBytes: 64 * 1024 });
    const b = await nodes.add('b', { maxFrameBytes: 64 * 1024 });
    await link(a, b);
    a.t.send('b', [seqMessage('a', 'b', 'g', 1), bigAppend('a', 'b', 'g', 100 * 1024, 1, 1), seqMessage('a', 'b', 'g', 2)]);
    // Wait on group g itself: link() may have several of its own messages in flight.
    const inG = () => b.received.flatMap((r) => r.messages).filter((m) => m.group === 'g');
    await waitFor(() => inG().length >= 2, 'small messages arrive');
    expect(inG().map((m) => m.context)).toEqual([1, 2]);
    expect(a.t.stats().dropped.oversize).toBe(1);
  });

  it('drops messages to an unknown peer or to itself without dialing', async () => {
    const a = await nodes.add('a');
    a.t.send('ghost', [seqMessage('a', 'ghost', 'g', 1)]);
    a.t.send('a', [seqMessage('a', 'a', 'g', 1)]);
    const st = a.t.stats();
    expect(st.dropped.unknownPeer).toBe(1);
    expect(st.dropped.self).toBe(1);
    expect(st.connections.dials).toBe(0);
  });
});

describe('connections', () => {
  it('redials an unreachable peer with bounded exponential backoff', async () => {
    const a = await nodes.add('a', { reconnect: { initialMs: 40, maxMs: 320 } });
    // A port that was just bound and released: connection refused.
    const gone = await nodes.add('gone');
    await gone.t.close();
    const started = Date.now();
    let i = 0;
    await waitFor(() => {
      a.t.send('gone', [seqMessage('a', 'gone', 'g', i++)]);
      return Date.now() - started > 1_500;
    }, 'keep sending for 1.5 s');
    const st = a.t.stats();
    // Delays of 20-40, 40-80, 80-160, then 160-320 ms: about 6-12 dials in 1.5 s, never one per send.
    expect(st.connections.dials).toBeGreaterThanOrEqual(4);
    expect(st.connections.dials).toBeLessThanOrEqual(20);
    expect(i).toBeGreaterThan(st.connections.dials * 3);
    // Every dial failed (the last may still be in flight).
    expect(st.connections.dialFailures).toBeGreaterThanOrEqual(st.connections.dials - 1);
    expect(st.dropped.unreachable).toBeGreaterThan(0);
    expect(a.log.has('warn', /cannot reach peer; retrying with backoff/)).toBe(true);
  });

  it('two nodes dialing each other at once end up with one connection and lose nothing afterwards', async () => {
    for (let round = 0; round < 5; round++) {
      const x = await nodes.add(`x${round}`);
      const y = await nodes.add(`y${round}`);
      // Both send first, in the same tick: both dial.
      x.t.send(y.id, [seqMessage(x.id, y.id, 'first', 0)]);
      y.t.send(x.id, [seqMessage(y.id, x.id, 'first', 0)]);
      await link(x, y);
      await link(y, x);
      await waitFor(() => x.t.stats().connections.established === 1 && y.t.stats().connections.established === 1, 'one connection each side');
      const n = 500;
      for (let i = 0; i < n; i++) {
        x.t.send(y.id, [seqMessage(x.id, y.id, 'seq', i)]);
        y.t.send(x.id, [seqMessage(y.id, x.id, 'seq', i)]);
      }
      const seqs = (node: typeof x, from: string) => node.received.filter((r) => r.from === from).flatMap((r) => r.messages).filter((m) => m.group === 'seq').map((m) => m.context);
      await waitFor(() => seqs(y, x.id).length === n && seqs(x, y.id).length === n, 'all delivered');
      expect(seqs(y, x.id)).toEqual(Array.from({ length: n }, (_, i) => i));
      expect(seqs(x, y.id)).toEqual(Array.from({ length: n }, (_, i) => i));
      // Exactly one live socket pair: every other handshake was refused as a duplicate.
      const hx = x.t.stats();
      expect(hx.connections.handshakes - hx.closed.duplicate - hx.closed.replaced).toBeLessThanOrEqual(2);
    }
  });

  it('the counters add up', async () => {
    const a = await nodes.add('a');
    const b = await nodes.add('b');
    await link(a, b);
    a.t.send('b', Array.from({ length: 10 }, (_, i) => seqMessage('a', 'b', 'g', i)));
    await waitFor(() => b.count('a') >= 11, 'delivered');
    // Once nothing is in flight, what one side wrote the other read.
    await waitFor(() => {
      const sa = a.t.stats();
      const sb = b.t.stats();
      return sa.messagesSent === sb.messagesReceived && sa.bytesSent === sb.bytesReceived && sa.framesSent === sb.framesReceived;
    }, () => JSON.stringify([a.t.stats(), b.t.stats()]));
    const sa = a.t.stats();
    expect(sa.messagesSent).toBeGreaterThanOrEqual(11);
    expect(sa.peers.b).toEqual({ connected: true, queuedMessages: 0, queuedBytes: 0, failedDials: 0 });
  });
});
