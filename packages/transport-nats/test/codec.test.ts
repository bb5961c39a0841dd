import { seededRandom as rng } from '@tessera/testing';
import { describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch, message, MessageType, type Message } from '@tessera/raft';
import { EnvelopeCodec, PayloadRejectedError } from '../src/envelope.js';
import { PayloadPacker, batchHeaderBound, messageSizeBound } from '../src/payloads.js';
import { Reassembler } from '../src/reassembly.js';
import { app, heartbeat, pattern } from './helpers.js';

function rejected(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof PayloadRejectedError) return e.reason;
    throw e;
  }
  return 'accepted';
}

function randomMessage(r: () => number, i: number): Message {
  const groups = ['g', 'grüppe/ü', 'x'.repeat(200), '日本語'];
  const m = message((1 + Math.floor(r() * 15)) as Message['type'], groups[Math.floor(r() * groups.length)]!, 'from', 'to', Math.floor(r() * 2 ** 40));
  m.index = Math.floor(r() * 2 ** 50);
  m.commit = Math.floor(r() * 2 ** 30);
  m.context = Math.floor(r() * 2 ** 53);
  m.logTerm = Math.floor(r() * 1000);
  if (m.type === MessageType.App) m.entries = Array.from({ length: Math.floor(r() * 20) }, (_, k) => ({ index: m.index + 1 + k, term: 3, type: 0 as const, data: pattern(Math.floor(r() * 3000), i + k) }));
  if (r() < 0.1) m.snapshot = { meta: { index: 9, term: 2, membership: { voters: ['a', 'ß'], learners: ['c'] } }, offset: 0, done: r() < 0.5, data: pattern(Math.floor(r() * 5000), i) };
  return m;
}

describe('size bound', () => {
  it('is never below the encoded size (1000 random messages)', () => {
    const r = rng(42);
    for (let i = 0; i < 1000; i++) {
      const m = randomMessage(r, i);
      const actual = encodeBatch('from', 'to', [m]).byteLength;
      expect(batchHeaderBound('from', 'to') + messageSizeBound(m), `message ${i}`).toBeGreaterThanOrEqual(actual);
    }
  });
});

describe('envelope', () => {
  const body = encodeBatch('a', 'b', [heartbeat('a', 'b', 1)]);

  it('round-trips whole batches and fragments, with and without a secret', () => {
    for (const secret of [undefined, 'sixteen-byte-key!']) {
      const c = new EnvelopeCodec(secret);
      const env = c.unwrap(c.wrapBatch(body));
      expect(env.fragment).toBeUndefined();
      expect(decodeBatch(env.body.slice()).messages[0]!.context).toBe(1);
      const h = { from: 'nöde', id: 0xfffffffe, index: 3, count: 200, total: 1 << 30 };
      const f = c.unwrap(c.wrapFragment(h, new Uint8Array([9, 8, 7])));
      expect(f.fragment).toEqual(h);
      expect([...f.body]).toEqual([9, 8, 7]);
      expect(c.wrapFragment(h, new Uint8Array(3)).byteLength).toBeLessThanOrEqual(c.fragmentOverhead('nöde') + 3);
    }
  });

  it('rejects tampering, missing and foreign MACs', () => {
    const signed = new EnvelopeCodec('sixteen-byte-key!');
    const other = new EnvelopeCodec('another-16-byte-key');
    const plain = new EnvelopeCodec(undefined);
    const p = signed.wrapBatch(body);
    for (let i = 0; i < p.length; i++) {
      const t = p.slice();
      t[i]! ^= 0x01;
      expect(['bad-mac', 'malformed-envelope']).toContain(rejected(() => signed.unwrap(t)));
    }
    expect(rejected(() => other.unwrap(p))).toBe('bad-mac');
    expect(rejected(() => signed.unwrap(plain.wrapBatch(body)))).toBe('missing-mac');
    expect(rejected(() => plain.unwrap(p))).toBe('unexpected-mac');
    expect(rejected(() => signed.unwrap(p.subarray(0, 20)))).toBe('malformed-envelope');
  });

  it('rejects malformed headers', () => {
    const c = new EnvelopeCodec(undefined);
    expect(rejected(() => c.unwrap(new Uint8Array([])))).toBe('malformed-envelope');
    expect(rejected(() => c.unwrap(new Uint8Array([2, 0])))).toBe('malformed-envelope');
    expect(rejected(() => c.unwrap(new Uint8Array([1, 4])))).toBe('malformed-envelope');
    const frag = (h: { index: number; count: number; total: number }, n: number) => c.wrapFragment({ from: 'a', id: 1, ...h }, new Uint8Array(n));
    expect(rejected(() => c.unwrap(frag({ index: 0, count: 1, total: 10 }, 5)))).toBe('malformed-envelope');
    expect(rejected(() => c.unwrap(frag({ index: 2, count: 2, total: 10 }, 5)))).toBe('malformed-envelope');
    expect(rejected(() => c.unwrap(frag({ index: 0, count: 2, total: 10 }, 0)))).toBe('malformed-envelope');
    expect(rejected(() => c.unwrap(frag({ index: 0, count: 2, total: 4 }, 5)))).toBe('malformed-envelope');
    const good = frag({ index: 0, count: 2, total: 10 }, 5);
    for (let n = 2; n < good.length - 5; n++) expect(rejected(() => c.unwrap(good.subarray(0, n)))).toBe('malformed-envelope');
  });

  it('never throws anything but a rejection on random bytes', () => {
    const r = rng(7);
    const c = new EnvelopeCodec(undefined);
    for (let i = 0; i < 5000; i++) {
      const b = new Uint8Array(Math.floor(r() * 64));
      for (let j = 0; j < b.length; j++) b[j] = Math.floor(r() * 256);
      if (b.length > 0 && r() < 0.7) b[0] = 1;
      if (b.length > 1 && r() < 0.5) b[1] = Math.floor(r() * 2);
      try {
        c.unwrap(b);
      } catch (e) {
        expect(e).toBeInstanceOf(PayloadRejectedError);
      }
    }
  });
});

describe('PayloadPacker', () => {
  function unpack(c: EnvelopeCodec, payloads: { data: Uint8Array }[]): Message[] {
    const out: Message[] = [];
    const ra = new Reassembler({ maxBytes: 1 << 30, timeoutMs: 60_000, onDiscard: () => expect.fail('discarded') });
    for (const p of payloads) {
      const env = c.unwrap(p.data);
      const body = env.fragment ? ra.add(env.fragment, env.body) : env.body.slice();
      if (body) out.push(...decodeBatch(body).messages);
    }
    ra.close();
    return out;
  }

  it('keeps every publish within max_payload and the messages in order (random workloads)', () => {
    const r = rng(1);
    for (const secret of [undefined, 'sixteen-byte-key!']) {
      const c = new EnvelopeCodec(secret);
      const packer = new PayloadPacker(c, 0xfffffff0);
      for (let round = 0; round < 30; round++) {
        const maxPayload = 512 + Math.floor(r() * 20_000);
        const msgs = Array.from({ length: 1 + Math.floor(r() * 40) }, (_, i) => randomMessage(r, i));
        const payloads = packer.pack('from', 'to', msgs, maxPayload);
        for (const p of payloads) expect(p.data.byteLength).toBeLessThanOrEqual(maxPayload);
        expect(payloads.reduce((n, p) => n + p.messages, 0)).toBe(msgs.length);
        const back = unpack(c, payloads);
        expect(back.map((m) => [m.type, m.group, m.index, m.context, m.entries.length])).toEqual(msgs.map((m) => [m.type, m.group, m.index, m.context, m.entries.length]));
      }
    }
  });

  it('uses one publish when everything fits', () => {
    const c = new EnvelopeCodec(undefined);
    const msgs = Array.from({ length: 100 }, (_, i) => app('a', 'b', i, [100]));
    const payloads = new PayloadPacker(c, 1).pack('a', 'b', msgs, 1 << 20);
    expect(payloads.length).toBe(1);
    expect(payloads[0]!.messages).toBe(100);
  });

  it('sends a message whose bound is over the limit whole when its real size fits', () => {
    const c = new EnvelopeCodec(undefined);
    // 40 one-byte entries: the bound counts 25 bytes of overhead per entry, the codec far less.
    const m = app('a', 'b', 1, Array.from({ length: 40 }, () => 1));
    const real = encodeBatch('a', 'b', [m]).byteLength + c.batchOverhead;
    expect(batchHeaderBound('a', 'b') + messageSizeBound(m) + c.batchOverhead).toBeGreaterThan(real + 200);
    const payloads = new PayloadPacker(c, 1).pack('a', 'b', [m], real);
    expect(payloads).toHaveLength(1);
    expect(payloads[0]!.fragment).toBe(false);
  });
});

describe('Reassembler', () => {
  const h = (from: string, id: number, index: number, count: number, total: number) => ({ from, id, index, count, total });

  function make(maxBytes = 1000, timeoutMs = 60_000) {
    const discards: string[] = [];
    let now = 0;
    const ra = new Reassembler({ maxBytes, timeoutMs, onDiscard: (reason, from) => discards.push(`${reason}:${from}`), now: () => now });
    return { ra, discards, advance: (ms: number) => (now += ms) };
  }

  it('reassembles interleaved senders', () => {
    const { ra, discards } = make();
    expect(ra.add(h('a', 1, 0, 2, 4), new Uint8Array([1, 2]))).toBeUndefined();
    expect(ra.add(h('b', 1, 0, 2, 3), new Uint8Array([7]))).toBeUndefined();
    expect([...ra.add(h('a', 1, 1, 2, 4), new Uint8Array([3, 4]))!]).toEqual([1, 2, 3, 4]);
    expect([...ra.add(h('b', 1, 1, 2, 3), new Uint8Array([8, 9]))!]).toEqual([7, 8, 9]);
    expect(ra.size).toBe(0);
    expect(ra.reservedBytes).toBe(0);
    expect(discards).toEqual([]);
    ra.close();
  });

  it('discards a message with a gap, and fragments without a start', () => {
    const { ra, discards } = make();
    ra.add(h('a', 1, 0, 3, 6), new Uint8Array(2));
    expect(rejected(() => ra.add(h('a', 1, 2, 3, 6), new Uint8Array(2)))).toBe('fragment-sequence');
    expect(discards).toEqual(['fragment-sequence:a']);
    expect(rejected(() => ra.add(h('a', 2, 1, 2, 4), new Uint8Array(2)))).toBe('fragment-sequence');
    // A new message supersedes an incomplete one.
    ra.add(h('a', 3, 0, 2, 4), new Uint8Array(2));
    expect(ra.add(h('a', 4, 0, 2, 4), new Uint8Array(2))).toBeUndefined();
    expect(discards).toEqual(['fragment-sequence:a', 'fragment-sequence:a']);
    expect(ra.add(h('a', 4, 1, 2, 4), new Uint8Array(2))).toBeDefined();
    ra.close();
  });

  it('rejects fragments that do not add up', () => {
    const { ra } = make();
    ra.add(h('a', 1, 0, 2, 4), new Uint8Array(3));
    expect(rejected(() => ra.add(h('a', 1, 1, 2, 4), new Uint8Array(3)))).toBe('malformed-envelope');
    ra.add(h('a', 2, 0, 2, 4), new Uint8Array(1));
    expect(rejected(() => ra.add(h('a', 2, 1, 2, 4), new Uint8Array(1)))).toBe('malformed-envelope');
    expect(ra.size).toBe(0);
    expect(ra.reservedBytes).toBe(0);
    ra.close();
  });

  it('bounds memory: refuses oversized messages and evicts the oldest', () => {
    const { ra, discards } = make(1000);
    expect(rejected(() => ra.add(h('a', 1, 0, 2, 1001), new Uint8Array(1)))).toBe('fragment-too-large');
    ra.add(h('a', 1, 0, 2, 600), new Uint8Array(1));
    ra.add(h('b', 1, 0, 2, 300), new Uint8Array(1));
    expect(ra.reservedBytes).toBe(900);
    ra.add(h('c', 1, 0, 2, 500), new Uint8Array(1));
    expect(discards).toEqual(['fragment-evicted:a']);
    expect(ra.reservedBytes).toBe(800);
    ra.close();
  });

  it('expires incomplete messages after the timeout', () => {
    const { ra, discards, advance } = make(1000, 100);
    ra.add(h('a', 1, 0, 2, 10), new Uint8Array(1));
    advance(50);
    ra.add(h('b', 1, 0, 2, 10), new Uint8Array(1));
    advance(60);
    ra.expire();
    expect(discards).toEqual(['fragment-timeout:a']);
    expect(ra.size).toBe(1);
    advance(100);
    ra.expire();
    expect(ra.size).toBe(0);
    ra.close();
  });

  it('runs its sweep timer only while something is incomplete', async () => {
    const discards: string[] = [];
    const ra = new Reassembler({ maxBytes: 1000, timeoutMs: 20, onDiscard: (reason) => discards.push(reason) });
    expect(ra.sweeping).toBe(false);
    ra.add(h('a', 1, 0, 2, 10), new Uint8Array(1));
    expect(ra.sweeping).toBe(true);
    // The real timer expires it, without anyone calling expire().
    await expect.poll(() => discards).toEqual(['fragment-timeout']);
    expect(ra.size).toBe(0);
    expect(ra.sweeping).toBe(false);
    ra.add(h('a', 2, 0, 2, 10), new Uint8Array(1));
    ra.add(h('a', 2, 1, 2, 10), new Uint8Array(9));
    expect(ra.sweeping).toBe(false);
    ra.add(h('b', 1, 0, 2, 10), new Uint8Array(1));
    ra.close();
    expect(ra.sweeping).toBe(false);
  });
});
