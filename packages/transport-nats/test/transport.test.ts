import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { startNatsServer, type NatsServer } from '@tessera/testing/servers';
import { encodeBatch } from '@tessera/raft';
import { nodeSubject } from '../src/index.js';
import { app, endpoint, heartbeat, pattern, sameBytes, type Endpoint } from './helpers.js';

let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
});

const open: Endpoint[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.t.close()));
});
let cluster = 0;
async function pair(extra: Record<string, unknown> = {}): Promise<[Endpoint, Endpoint]> {
  const clusterId = `c${++cluster}`;
  const a = await endpoint('a', { servers: nats.url, clusterId, ...extra });
  const b = await endpoint('b', { servers: nats.url, clusterId, ...extra });
  open.push(a, b);
  return [a, b];
}

describe('NatsTransport over a real nats-server', () => {
  it('delivers messages with the sender identity, in order', async () => {
    const [a, b] = await pair();
    for (let i = 1; i <= 50; i++) a.t.send('b', [heartbeat('a', 'b', i)]);
    const got = await b.waitFor(50);
    expect(got.map((m) => m.context)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(b.inbox.every((x) => x.from === 'a')).toBe(true);
    expect(got[0]!.from).toBe('a');
    expect(got[0]!.to).toBe('b');
    b.t.send('a', [heartbeat('b', 'a', 7)]);
    expect((await a.waitFor(1))[0]!.context).toBe(7);
  });

  it('coalesces everything sent to a peer in one turn into one publish', async () => {
    const [a, b] = await pair();
    for (let i = 0; i < 100; i++) a.t.send('b', [app('a', 'b', i * 10, [100, 100])]);
    await b.waitFor(100);
    expect(a.t.stats().payloadsPublished).toBe(1);
    expect(a.t.stats().published).toBe(100);
    expect(b.inbox.length).toBe(1);
    expect(b.t.stats().received).toBe(100);
  });
});

describe('payload size limits', () => {
  let small: NatsServer;
  beforeAll(async () => {
    small = await startNatsServer({ config: 'max_payload: 65536\n' });
  });
  afterAll(async () => {
    await small?.stop();
  });

  it('fragments multi-MB messages under a 64 KB max_payload and reassembles them', async () => {
    const a = await endpoint('a', { servers: small.url, clusterId: 'frag' });
    const b = await endpoint('b', { servers: small.url, clusterId: 'frag' });
    open.push(a, b);
    expect(a.t.stats().maxPayload).toBe(65536);
    const big = app('a', 'b', 1, [3 * 1024 * 1024 + 17]);
    const mid = app('a', 'b', 2, [40_000, 40_000, 40_000]);
    const tiny = heartbeat('a', 'b', 99);
    const huge = app('a', 'b', 5, [5 * 1024 * 1024]);
    a.t.send('b', [big, mid, tiny]);
    a.t.send('b', [huge]);
    const got = await b.waitFor(4, 20_000);
    expect(got.map((m) => m.index)).toEqual([1, 2, 0, 5]);
    expect(sameBytes(got[0]!.entries[0]!.data, pattern(3 * 1024 * 1024 + 17, 1))).toBe(true);
    expect(got[1]!.entries.map((e) => e.data.byteLength)).toEqual([40_000, 40_000, 40_000]);
    expect(got[2]!.context).toBe(99);
    expect(sameBytes(got[3]!.entries[0]!.data, pattern(5 * 1024 * 1024, 5))).toBe(true);
    const s = a.t.stats();
    expect(s.fragmentsPublished).toBeGreaterThan((8 * 1024 * 1024) / 65536);
    expect(s.published).toBe(4);
    expect(s.dropped).toBe(0);
    expect(b.t.stats().rejected).toBe(0);
  });

  it('splits a large batch across publishes at message boundaries, in order', async () => {
    const a = await endpoint('a', { servers: small.url, clusterId: 'split' });
    const b = await endpoint('b', { servers: small.url, clusterId: 'split' });
    open.push(a, b);
    const msgs = Array.from({ length: 1000 }, (_, i) => app('a', 'b', i, [1000]));
    a.t.send('b', msgs);
    const got = await b.waitFor(1000);
    expect(got.map((m) => m.index)).toEqual(msgs.map((m) => m.index));
    const s = a.t.stats();
    expect(s.payloadsPublished).toBeGreaterThanOrEqual(Math.ceil((1000 * 1000) / 65536));
    expect(s.fragmentsPublished).toBe(0);
    expect(b.inbox.length).toBe(s.payloadsPublished);
  });

  it('honours maxPayloadBytes below the server limit', async () => {
    const [a, b] = await pair({ maxPayloadBytes: 4096 });
    expect(a.t.stats().maxPayload).toBe(4096);
    a.t.send('b', [app('a', 'b', 1, [100_000])]);
    const got = await b.waitFor(1);
    expect(sameBytes(got[0]!.entries[0]!.data, pattern(100_000, 1))).toBe(true);
    expect(a.t.stats().fragmentsPublished).toBeGreaterThanOrEqual(25);
  });

  it('drops messages beyond maxPendingBytes for a peer, and recovers', async () => {
    const [a, b] = await pair({ maxPendingBytes: 1024 * 1024 });
    a.t.send('b', [app('a', 'b', 1, [700_000])]);
    a.t.send('b', [app('a', 'b', 2, [700_000])]); // same turn: over the peer's budget
    const got = await b.waitFor(1);
    expect(got[0]!.index).toBe(1);
    expect(a.t.stats().reasons['peer-backlog']).toBe(1);
    expect(a.t.stats().dropped).toBe(1);
    // Once the server has confirmed the first publish, the budget is free again.
    await expect.poll(() => (a.t.stats().published === 1 ? a.t : undefined)).toBeDefined();
    let i = 3;
    await expect
      .poll(
        () => {
          a.t.send('b', [app('a', 'b', i++, [700_000])]);
          return b.messages().length;
        },
        { timeout: 10_000, interval: 20 },
      )
      .toBeGreaterThan(1);
  });
});

describe('hostile and broken input', () => {
  it('drops malformed payloads with a reason and keeps working', async () => {
    const [a, b] = await pair();
    const raw = await connect({ servers: nats.url });
    try {
      const subject = nodeSubject('tessera', `c${cluster}`, 'b');
      const valid = encodeBatch('a', 'b', [heartbeat('a', 'b', 1)]);
      const wrap = (flags: number, body: Uint8Array) => new Uint8Array([1, flags, ...body]);
      raw.publish(subject, new Uint8Array(0));
      raw.publish(subject, new Uint8Array([0xff, 0xff, 0xff]));
      raw.publish(subject, new Uint8Array([1, 0x80, 1, 2, 3])); // unknown flag
      raw.publish(subject, wrap(0, new Uint8Array([1, 2, 3, 4, 5]))); // garbage batch
      raw.publish(subject, wrap(0, valid.subarray(0, valid.length - 2))); // truncated batch
      raw.publish(subject, wrap(0, encodeBatch('a', 'zz', [heartbeat('a', 'zz', 1)]))); // misaddressed
      raw.publish(subject, wrap(1, new Uint8Array([1, 0x61, 0, 0, 0, 1, 3, 5, 200, 9]))); // fragment 3 of 5 out of nowhere
      raw.publish(subject, wrap(1, new Uint8Array([1, 0x61]))); // truncated fragment header
      raw.publish(subject, wrap(2, valid)); // claims a MAC, node has no secret
      await raw.flush();
      a.t.send('b', [heartbeat('a', 'b', 42)]);
      const got = await b.waitFor(1);
      expect(got.map((m) => m.context)).toEqual([42]);
      await expect.poll(() => b.t.stats().rejected).toBe(9);
      expect(b.t.stats().reasons).toMatchObject({ 'malformed-envelope': 5, 'malformed-batch': 2, misaddressed: 1, 'unexpected-mac': 1 });
      expect(b.t.stats().received).toBe(1);
    } finally {
      await raw.close();
    }
  });

  it('keeps receiving after deliver throws', async () => {
    const [a, b] = await pair();
    let calls = 0;
    const throwing = (await import('../src/index.js')).natsTransport({ servers: nats.url, clusterId: `c${cluster}` })({
      nodeId: 'c',
      deliver: () => {
        calls++;
        throw new Error('boom');
      },
    });
    await throwing.start();
    try {
      a.t.send('c', [heartbeat('a', 'c', 1)]);
      await expect.poll(() => calls).toBe(1);
      a.t.send('c', [heartbeat('a', 'c', 2)]);
      await expect.poll(() => calls).toBe(2);
      b.t.send('a', [heartbeat('b', 'a', 3)]);
      await a.waitFor(1);
    } finally {
      await throwing.close();
    }
  });
});

describe('cluster secret', () => {
  const secret = 'correct horse battery staple';

  it('authenticates payloads and drops forged or unsigned ones', async () => {
    const [a, b] = await pair({ secret });
    const forger = await endpoint('a', { servers: nats.url, clusterId: `c${cluster}`, secret: 'another secret of 16+ chars' });
    const unsigned = await endpoint('a', { servers: nats.url, clusterId: `c${cluster}` });
    open.push(forger, unsigned);
    forger.t.send('b', [heartbeat('a', 'b', 666)]);
    forger.t.send('b', [app('a', 'b', 9, [200_000])]);
    unsigned.t.send('b', [heartbeat('a', 'b', 667)]);
    await expect.poll(() => b.t.stats().rejected).toBe(2);
    a.t.send('b', [heartbeat('a', 'b', 1)]);
    a.t.send('b', [app('a', 'b', 7, [3_000_000])]); // fragmented (default max_payload is 1 MB), every fragment signed
    const got = await b.waitFor(2);
    expect(got.map((m) => m.context)).toEqual([1, 0]);
    expect(sameBytes(got[1]!.entries[0]!.data, pattern(3_000_000, 7))).toBe(true);
    expect(b.t.stats().reasons).toMatchObject({ 'bad-mac': 1, 'missing-mac': 1 });
    // The forged 200 KB message fit in one publish, so only two payloads were forged in total.
    expect(b.messages().some((m) => m.context === 666 || m.context === 667 || m.index === 9)).toBe(false);
  });
});

describe('lifecycle', () => {
  it('maps node ids that are not subject tokens', async () => {
    const clusterId = `c${++cluster}`;
    const a = await endpoint('node.1', { servers: nats.url, clusterId });
    const b = await endpoint('node 2/ü', { servers: nats.url, clusterId });
    open.push(a, b);
    expect(a.t.subject).toBe(`tessera.${clusterId}.~${Buffer.from('node.1').toString('base64url')}`);
    a.t.send('node 2/ü', [heartbeat('node.1', 'node 2/ü', 5)]);
    const got = await b.waitFor(1);
    expect(b.inbox[0]!.from).toBe('node.1');
    expect(got[0]!.context).toBe(5);
  });

  it('isolates clusters and prefixes on one server', async () => {
    const a = await endpoint('a', { servers: nats.url, clusterId: 'iso1' });
    const b1 = await endpoint('b', { servers: nats.url, clusterId: 'iso1' });
    const b2 = await endpoint('b', { servers: nats.url, clusterId: 'iso2' });
    const b3 = await endpoint('b', { servers: nats.url, clusterId: 'iso1', subjectPrefix: 'other.prefix' });
    open.push(a, b1, b2, b3);
    a.t.send('b', [heartbeat('a', 'b', 1)]);
    await b1.waitFor(1);
    await a.t.close(); // drains: anything else in flight has arrived
    expect(b2.messages().length + b3.messages().length).toBe(0);
  });

  it('counts sends before start and after close as dropped; close is idempotent and final', async () => {
    const { natsTransport } = await import('../src/index.js');
    const t = natsTransport({ servers: nats.url, clusterId: 'life' })({ nodeId: 'x', deliver: () => {} });
    t.send('y', [heartbeat('x', 'y', 1)]);
    expect(t.stats().reasons['not-started']).toBe(1);
    await t.start();
    await t.start(); // idempotent
    await t.close();
    await t.close();
    t.send('y', [heartbeat('x', 'y', 1), heartbeat('x', 'y', 2)]);
    expect(t.stats().reasons.closed).toBe(2);
    expect(t.stats().connected).toBe(false);
    await expect(t.start()).rejects.toMatchObject({ code: 'TRANSPORT' });
  });

  it('leaves no sockets or timers behind after close', async () => {
    const count = () => {
      const r = process.getActiveResourcesInfo();
      return { tcp: r.filter((x) => x === 'TCPSocketWrap').length, timers: r.filter((x) => x === 'Timeout').length, immediates: r.filter((x) => x === 'Immediate').length };
    };
    const before = count();
    const [a, b] = await pair({ fragmentTimeoutMs: 60_000 });
    // Leave a fragmented message half-way so the reassembly sweeper is armed, then close.
    const raw = await connect({ servers: nats.url });
    const { EnvelopeCodec } = await import('../src/envelope.js');
    raw.publish(b.t.subject, new EnvelopeCodec(undefined).wrapFragment({ from: 'a', id: 1, index: 0, count: 2, total: 10 }, new Uint8Array(5)));
    await raw.flush();
    await raw.close();
    a.t.send('b', [heartbeat('a', 'b', 1)]);
    await b.waitFor(1);
    await Promise.all(open.splice(0).map((e) => e.t.close()));
    await expect
      .poll(() => {
        const now = count();
        return now.tcp <= before.tcp && now.timers <= before.timers && now.immediates <= before.immediates;
      })
      .toBe(true);
  });
});
