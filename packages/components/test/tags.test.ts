import { describe, expect, it } from 'vitest';
import { OutboxQueue, type WireMessage } from '../src/outbox.js';
import { belowWatermark, SeenSet, seededRandom } from '../src/tags.js';

const msg = (tag: number[]): WireMessage => [tag, 'in', null, 'payload', 0];

describe('tags and the seen-set', () => {
  it('orders tags lexicographically on (index, emit) against the watermark', () => {
    expect(belowWatermark([4, 9], 5, 0)).toBe(true);
    expect(belowWatermark([5, 0], 5, 1)).toBe(true);
    expect(belowWatermark([5, 1], 5, 1)).toBe(false);
    expect(belowWatermark([5, 1, 0, 3], 5, 1)).toBe(false);
    expect(belowWatermark([6], 5, 1)).toBe(false);
  });

  it('accepts a tag once and drops every re-send', () => {
    const s = new SeenSet(false);
    expect(s.add([10, 0])).toBe(true);
    expect(s.add([10, 1])).toBe(true);
    expect(s.add([10, 0])).toBe(false);
    expect(s.add([10, 0, 1, 0])).toBe(true); // derived by a stateless component: a different message
    expect(s.add([10, 0, 1, 0])).toBe(false);
    expect(s.size).toBe(3);
  });

  it('forgets tags below the watermark but still drops them, and never lowers the watermark', () => {
    const s = new SeenSet(false);
    for (let i = 1; i <= 100; i++) s.add([i, 0]);
    s.advance(51, 0);
    expect(s.size).toBe(50);
    expect(s.add([7, 0])).toBe(false); // below the watermark: applied long ago
    s.advance(10, 0); // a stale sender's watermark
    expect(s.w0).toBe(51);
    expect(s.add([7, 0])).toBe(false);
    expect(s.add([60, 0])).toBe(false);
    expect(s.add([101, 0])).toBe(true);
  });

  it('a tag applied out of order is forgotten once the tags before it are', () => {
    const s = new SeenSet(false);
    s.add([5, 0]);
    s.add([3, 0]);
    s.advance(4, 0);
    expect(s.size).toBe(2); // [5,0] heads the order and is live
    s.advance(6, 0);
    expect(s.size).toBe(0);
  });

  it('survives its snapshot image', () => {
    const s = new SeenSet(true);
    for (let i = 1; i <= 20; i++) s.add([i, 2, 0, i % 3]);
    s.advance(8, 0);
    s.lastSeen = 1234;
    const r = SeenSet.fromImage(JSON.parse(JSON.stringify(s.image())));
    expect(r.size).toBe(s.size);
    expect(r.isSource).toBe(true);
    expect(r.lastSeen).toBe(1234);
    expect([r.w0, r.w1]).toEqual([8, 0]);
    for (let i = 1; i <= 20; i++) expect(r.add([i, 2, 0, i % 3])).toBe(false);
    expect(r.add([21, 0])).toBe(true);
  });

  it('seededRandom is deterministic and in [0, 1)', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    for (let i = 0; i < 100; i++) {
      const x = a();
      expect(x).toBe(b());
      expect(x >= 0 && x < 1).toBe(true);
    }
    expect(seededRandom(43)()).not.toBe(seededRandom(42)());
  });
});

describe('outbox queue', () => {
  it('numbers messages from base and leaves only in order', () => {
    const q = new OutboxQueue('counter/0');
    for (let i = 0; i < 5; i++) q.push(msg([i + 1, 0]));
    expect([q.base, q.end, q.length]).toEqual([0, 5, 5]);
    expect(q.ack(2)).toBe(0); // out of order: remembered
    expect(q.isAcked(2)).toBe(true);
    expect(q.first()![0]).toEqual([1, 0]);
    expect(q.ack(0)).toBe(1);
    expect(q.ack(1)).toBe(2); // 1 and the remembered 2
    expect([q.base, q.length]).toEqual([3, 2]);
    expect(q.at(3)![0]).toEqual([4, 0]);
    expect(q.at(2)).toBeUndefined();
    expect(q.ack(1)).toBe(0); // a duplicate acknowledgement changes nothing
    expect(q.ack(99)).toBe(0);
  });

  it('survives its snapshot image', () => {
    const q = new OutboxQueue('accounts/3');
    for (let i = 0; i < 4; i++) q.push(msg([i + 1, 0]));
    q.ack(0);
    q.ack(2);
    const r = OutboxQueue.fromImage(JSON.parse(JSON.stringify(q.image())));
    expect([r.dest, r.base, r.length]).toEqual(['accounts/3', 1, 3]);
    expect(r.isAcked(2)).toBe(true);
    expect(r.ack(1)).toBe(2);
    expect(r.first()![0]).toEqual([4, 0]);
  });
});
