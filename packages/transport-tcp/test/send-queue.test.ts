/**
 * The send path's bookkeeping without sockets: the per-peer queue (order, frame sizing, the byte
 * limit, arrays kept as sent) against a plain reference model, and the reuse rules of the write
 * buffers.
 */
import { describe, expect, it } from 'vitest';
import { batchBound, encodeBatch, message, MessageType, type Message } from '@tessera/raft';
import { Peer, wireSize } from '../src/peer.js';
import { WriteBuffers } from '../src/write-buffers.js';
import { rng } from './helpers/fuzz.js';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));


let seq = 0;
function msg(payload: number): Message {
  const m = message(MessageType.App, 'g', 'a', 'b', 1);
  m.index = seq++;
  m.entries = payload < 0 ? [] : [{ index: m.index + 1, term: 1, type: 0, data: new Uint8Array(payload) }];
  return m;
}

function batch(n: number, payload = 100): Message[] {
  return Array.from({ length: n }, () => msg(payload));
}

function sizeOf(ms: readonly Message[]): number {
  return ms.reduce((n, m) => n + wireSize(m), 0);
}

describe('per-peer send queue', () => {
  it('hands back the array it was given when one send makes one frame, and never writes into it', () => {
    const p = new Peer('b');
    const sent = batch(10);
    const copy = [...sent];
    expect(p.enqueue(sent, 1 << 30)).toBe(0);
    const t = p.take(1 << 20)!;
    expect(t.messages).toBe(sent);
    expect(t.bytes).toBe(sizeOf(sent));
    expect(p.queued).toBe(0);
    expect(p.queuedBytes).toBe(0);
    expect(p.take(1 << 20)).toBeUndefined();
    // Several sends in one frame: a new array; the callers' arrays stay as they were.
    const x = batch(3);
    const y = batch(4);
    const xs = [...x];
    p.enqueue(x, 1 << 30);
    p.enqueue(y, 1 << 30);
    const both = p.take(1 << 20)!;
    expect(both.messages).toEqual([...x, ...y]);
    expect(both.messages).not.toBe(x);
    expect(x).toEqual(xs);
    expect(sent).toEqual(copy);
  });

  it('splits a send across frames at the target size, at least one message per frame', () => {
    const p = new Peer('b');
    const sent = batch(50);
    p.enqueue(sent, 1 << 30);
    const one = wireSize(sent[0]!);
    const frames: Message[][] = [];
    for (let t = p.take(one * 7 + 1); t; t = p.take(one * 7 + 1)) {
      expect(t.bytes).toBe(sizeOf(t.messages));
      expect(t.bytes).toBeLessThanOrEqual(one * 7 + 1);
      frames.push(t.messages);
    }
    expect(frames.map((f) => f.length)).toEqual([7, 7, 7, 7, 7, 7, 7, 1]);
    expect(frames.flat()).toEqual(sent);
    // A target below one message still moves one message per frame.
    p.enqueue(batch(3), 1 << 30);
    expect([p.take(1)!.messages.length, p.take(1)!.messages.length, p.take(1)!.messages.length]).toEqual([1, 1, 1]);
    expect(p.take(1)).toBeUndefined();
  });

  it('keeps the longest prefix under the byte limit, and one message even over it when empty', () => {
    const p = new Peer('b');
    const one = wireSize(msg(100));
    expect(p.enqueue(batch(10), one * 4)).toBe(6);
    expect(p.queued).toBe(4);
    expect(p.queuedBytes).toBe(one * 4);
    expect(p.enqueue(batch(1), one * 4)).toBe(1);
    expect(p.clear()).toBe(4);
    expect(p.queuedBytes).toBe(0);
    // An empty queue takes one message larger than the limit (it could never be sent otherwise).
    expect(p.enqueue([msg(10_000)], 100)).toBe(0);
    expect(p.enqueue(batch(2), 100)).toBe(2);
    expect(p.take(1 << 20)!.messages).toHaveLength(1);
    // Over the limit in one send into an empty queue: the first message is kept.
    expect(p.enqueue([msg(10_000), msg(10_000)], 100)).toBe(1);
    expect(p.queued).toBe(1);
  });

  it(`matches a reference queue under random sends, takes and clears (FUZZ_SEED=${SEED})`, () => {
    const r = rng(SEED);
    const p = new Peer('b');
    let model: { m: Message; size: number }[] = [];
    const limit = 40_000;
    for (let step = 0; step < 5_000; step++) {
      const op = r();
      if (op < 0.5) {
        const ms = Array.from({ length: Math.floor(r() * 40) }, () => msg(r() < 0.1 ? -1 : Math.floor(r() * 600)));
        const given = [...ms];
        const dropped = p.enqueue(ms, limit);
        // Reference: messages in order while the total stays within the limit (one into an empty queue).
        let bytes = model.reduce((n, x) => n + x.size, 0);
        let kept = 0;
        for (const m of given) {
          const size = wireSize(m);
          if (bytes + size > limit && model.length > 0) break;
          model.push({ m, size });
          bytes += size;
          kept++;
        }
        expect(dropped, `step ${step}`).toBe(given.length - kept);
      } else if (op < 0.97) {
        const target = 1 + Math.floor(r() * 20_000);
        const t = p.take(target);
        if (model.length === 0) {
          expect(t).toBeUndefined();
          continue;
        }
        let n = 0;
        let bytes = 0;
        while (n < model.length && (n === 0 || bytes + model[n]!.size <= target)) bytes += model[n++]!.size;
        expect(t!.messages, `step ${step}`).toEqual(model.slice(0, n).map((x) => x.m));
        expect(t!.bytes).toBe(bytes);
        model = model.slice(n);
      } else {
        expect(p.clear()).toBe(model.length);
        model = [];
      }
      expect(p.queued).toBe(model.length);
      expect(p.queuedBytes).toBe(model.reduce((n, x) => n + x.size, 0));
    }
  });
});

describe('size estimates', () => {
  it(`wireSize bounds a message's share of the codec's batchBound and its encoded size (FUZZ_SEED=${SEED})`, () => {
    const r = rng(SEED ^ 0x5eed);
    const big = () => (r() < 0.5 ? Math.floor(r() * 200) : Math.floor(r() * 2 ** 53));
    const id = () => 'ü日x'.repeat(Math.floor(r() * 30));
    for (let i = 0; i < 2_000; i++) {
      const type = r() < 0.5 ? MessageType.App : MessageType.Snap;
      const m = message(type, id(), 'a', 'b', big());
      m.logTerm = big();
      m.index = Math.floor(r() * 2 ** 50);
      m.commit = big();
      m.rejectHint = big();
      m.context = big();
      m.entries = Array.from({ length: Math.floor(r() * 4) }, (_, k) => ({ index: m.index + 1 + k, term: big(), type: 0, data: new Uint8Array(Math.floor(r() * 300)) }));
      if (type === MessageType.Snap) {
        m.snapshot = { meta: { index: big(), term: big(), membership: { voters: Array.from({ length: Math.floor(r() * 5) }, id), learners: Array.from({ length: Math.floor(r() * 3) }, id) } }, offset: big(), done: r() < 0.5, data: new Uint8Array(Math.floor(r() * 500)) };
      }
      const share = batchBound('a', 'b', [m]) - batchBound('a', 'b', []);
      expect(wireSize(m), `message ${i}`).toBeGreaterThanOrEqual(share);
      expect(share).toBeGreaterThanOrEqual(encodeBatch('a', 'b', [m]).length - encodeBatch('a', 'b', []).length);
    }
  });
});

describe('write buffers', () => {
  it('reuses a released buffer that is large enough, and allocates past the pool', () => {
    const w = new WriteBuffers(2, 1 << 20);
    const a = w.acquire(10_000);
    expect(a.length).toBeGreaterThanOrEqual(10_000);
    const b = w.acquire(10_000);
    expect(b).not.toBe(a);
    w.release(a);
    expect(w.acquire(a.length)).toBe(a);
    // A released buffer too small for the next frame is dropped for a larger one.
    w.release(a);
    const big = w.acquire(a.length + 1);
    expect(big).not.toBe(a);
    expect(big.length).toBeGreaterThan(a.length);
  });

  it('keeps at most maxPooled buffers, none above maxPooledBytes, and none for small frames', () => {
    const w = new WriteBuffers(2, 128 * 1024);
    const bufs = [w.acquire(10_000), w.acquire(10_000), w.acquire(10_000)];
    for (const b of bufs) w.release(b);
    const again = [w.acquire(10_000), w.acquire(10_000), w.acquire(10_000)];
    expect(again.filter((b) => bufs.includes(b))).toHaveLength(2);
    const huge = w.acquire(1 << 20);
    w.release(huge);
    expect(w.acquire(10_000)).not.toBe(huge);
    // Small frames take exactly their size from Node's slab and are not kept.
    const small = w.acquire(100);
    expect(small.length).toBe(100);
    w.release(small);
    expect(w.acquire(10_000)).not.toBe(small);
  });
});
