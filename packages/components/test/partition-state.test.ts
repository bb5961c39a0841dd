import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { component } from '../src/component.js';
import { hash } from '../src/grouping.js';
import { network } from '../src/network.js';
import type { WireMessage } from '../src/outbox.js';
import { OutboxQueue } from '../src/outbox.js';
import { emptyState, outboxWatermark, outboxWatermarkFor, PartitionLogic, Refusal, retainedOutputs, type ApplyInfo, type DeliverInput, type PartitionState } from '../src/partition-state.js';
import { partitionForKey } from '../src/grouping.js';

// The partition layer stores snapshot images with this codec (packages/partitions/src/envelope.ts).
const codec = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, variableMapSize: true, int64AsType: 'number', copyBuffers: true });
const logCodec = { pack: (v: unknown) => codec.pack(v).toString('hex'), unpack: (hex: string) => codec.unpack(Buffer.from(hex, 'hex')) };

const counter = component({
  name: 'counter',
  inputs: { words: z.string() },
  outputs: { counts: z.object({ word: z.string(), count: z.number() }), totals: z.number() },
  state: { init: () => new Map<string, number>() },
  handlers: {
    words(w, ctx) {
      if (w === 'boom') {
        ctx.emit('counts', { word: w, count: -1 });
        throw new Error('boom');
      }
      if (w === 'badly-typed') ctx.emit('counts', { word: w, count: 'many' } as never);
      const n = (ctx.state.get(w) ?? 0) + 1;
      ctx.state.set(w, n);
      ctx.emit('counts', { word: w, count: n }, { key: w });
      ctx.emit('totals', Math.floor(ctx.random() * 1000) + ctx.time, { key: 'all' });
    },
  },
});
const totals = component({ name: 'totals', inputs: { in: z.number() }, state: { init: () => ({ sum: 0 }) }, handlers: { in: (n, ctx) => void (ctx.state.sum += n) } });
const net = network('t', { maxOutbox: 5, sinkRetention: 3 })
  .add(counter, { partitions: 2 })
  .add(totals, { partitions: 3 })
  .connect('counter.totals', 'totals.in', hash())
  .source('words', 'counter.words', { grouping: hash() })
  .sink('counts', 'counter.counts')
  .build();

function replica(): { logic: PartitionLogic; st: PartitionState; events: unknown[]; info(index: number, time?: number): ApplyInfo } {
  const logic = new PartitionLogic(net);
  const st = emptyState();
  logic.deploy(st, 'counter', 1, net.fingerprint, 1);
  const events: unknown[] = [];
  return { logic, st, events, info: (index, time = 1_000 + index) => ({ index, time, emit: (e) => events.push(e) }) };
}
const fromSource = (seq: number, word: string): WireMessage => [[seq], 'words', word, word, 500];
const batch = (origin: string, w0: number, msgs: WireMessage[]): DeliverInput => [origin, null, w0, 0, msgs];

describe('component partition state', () => {
  it('refuses a deployment of another definition or an unknown partition', () => {
    const logic = new PartitionLogic(net);
    expect(() => logic.deploy(emptyState(), 'counter', 0, 'ffff', 1)).toThrow(Refusal);
    expect(() => logic.deploy(emptyState(), 'counter', 2, net.fingerprint, 1)).toThrow(/2 partitions/);
    expect(() => logic.deploy(emptyState(), 'nope', 0, net.fingerprint, 1)).toThrow(/no stateful component nope/);
    const st = emptyState();
    expect(logic.deploy(st, 'counter', 0, net.fingerprint, 3)).toBe('deployed');
    expect(st.deployedAt).toBe(3);
    expect(logic.deploy(st, 'counter', 0, net.fingerprint, 4)).toBe('already');
    expect(st.deployedAt).toBe(3);
  });

  it('runs the handler once per tag, tags emits with (log index, emit number), routes them and feeds sinks', () => {
    const r = replica();
    expect(r.logic.deliver(r.st, batch('source:a', 1, [fromSource(1, 'the'), fromSource(2, 'fox'), fromSource(1, 'the')]), r.info(7))).toEqual([2, 1]);
    expect(r.st.user).toEqual(new Map([['the', 1], ['fox', 1]]));
    expect(r.st.counters).toMatchObject({ applied: 2, duplicates: 1, errors: 0, emitted: 2 });
    const queue = [...r.st.outbox.values()];
    expect(queue).toHaveLength(1); // key 'all' hashes every total to one totals partition
    expect(queue[0]!.dest).toBe(`totals/${partitionForKey('all', 3)}`);
    // per message: the totals message (emit 0), then the sink output (emit 1); the second message continues the numbering
    expect(queue[0]!.items.map((m) => m[0])).toEqual([[7, 0], [7, 2]]);
    expect(r.events.map((e) => (e as unknown[])[4])).toEqual(['counter/1@7.1', 'counter/1@7.3']);
    expect(r.events.map((e) => (e as unknown[])[3])).toEqual([{ word: 'the', count: 1 }, { word: 'fox', count: 1 }]);
    // a later entry restarts the emit numbers
    r.logic.deliver(r.st, batch('source:a', 1, [fromSource(3, 'the')]), r.info(9));
    expect(queue[0]!.items.at(-1)![0]).toEqual([9, 0]);
    // a re-send after a failover (same tags) changes nothing
    const outboxBefore = r.st.outboxSize;
    expect(r.logic.deliver(r.st, batch('source:a', 1, [fromSource(1, 'the'), fromSource(2, 'fox'), fromSource(3, 'the')]), r.info(10))).toEqual([0, 3]);
    expect(r.st.user).toEqual(new Map([['the', 2], ['fox', 1]]));
    expect(r.st.outboxSize).toBe(outboxBefore);
    expect(r.events).toHaveLength(3);
  });

  it('replicas applying the same log compute the same state (time and randomness come from the entry)', () => {
    const a = replica();
    const b = replica();
    for (const r of [a, b]) {
      r.logic.deliver(r.st, batch('source:a', 1, [fromSource(1, 'a'), fromSource(2, 'b')]), r.info(3, 10_000));
      r.logic.deliver(r.st, batch('source:b', 1, [fromSource(1, 'a')]), r.info(4, 10_050));
    }
    expect(logCodec.pack(a.logic.image(a.st))).toEqual(logCodec.pack(b.logic.image(b.st)));
    expect(a.events).toEqual(b.events);
    const t = [...a.st.outbox.values()][0]!.items.map((m) => m[3] as number);
    expect(t.every((x) => x >= 10_000)).toBe(true); // ctx.time is the log time
  });

  it('a handler that throws counts an error and emits nothing; an emit that breaks its schema fails the handler', () => {
    const r = replica();
    r.logic.deliver(r.st, batch('source:a', 1, [fromSource(1, 'boom'), fromSource(2, 'badly-typed')]), r.info(5));
    expect(r.st.counters).toMatchObject({ applied: 2, errors: 2, emitted: 0 });
    expect(r.st.lastError).toMatch(/counts: count: /);
    expect(r.events).toEqual([]);
    expect(r.st.outbox.size).toBe(0);
  });

  it('acknowledgements empty the outbox and raise the watermark', () => {
    const r = replica();
    r.logic.deliver(r.st, batch('source:a', 1, [fromSource(1, 'x'), fromSource(2, 'y')]), r.info(11));
    expect(outboxWatermark(r.st)).toEqual([11, 0]);
    const dest = [...r.st.outbox.keys()][0]!;
    expect(r.logic.ack(r.st, 99, [[dest, 0]])).toBe(0); // another deployment's dispatcher
    expect(r.logic.ack(r.st, 1, [[dest, 0]])).toBe(1);
    expect(outboxWatermark(r.st)).toEqual([11, 2]);
    expect(r.logic.ack(r.st, 1, [[dest, 1], [dest, 1], ['nobody/0', 0]])).toBe(1);
    expect(r.st.outboxSize).toBe(0);
    expect(outboxWatermark(r.st)).toEqual([12, 0]);
    // an emptied queue keeps its numbering: a late acknowledgement of message 0 must not remove the next message
    r.logic.deliver(r.st, batch('source:a', 1, [fromSource(3, 'z')]), r.info(12));
    const q = r.st.outbox.get(dest)!;
    expect([q.base, q.end]).toEqual([2, 3]);
    expect(r.logic.ack(r.st, 1, [[dest, 0], [dest, 1]])).toBe(0);
    expect(r.st.outboxSize).toBe(1);
  });

  it('states to each receiver the watermark of the queues that can reach it', () => {
    const echo = component({ name: 'echo', inputs: { in: z.number() }, outputs: { out: z.number() }, handlers: { in: (n, ctx) => ctx.emit('out', n) } });
    const n2 = network('w').add(counter).add(echo).add(totals, { partitions: 3 }).connect('counter.totals', 'totals.in', hash()).connect('counter.totals', 'echo.in').connect('echo.out', 'totals.in').build();
    const st = emptyState();
    st.lastIndex = 50;
    const queue = (dest: string, tag: number[]) => {
      const q = new OutboxQueue(dest);
      q.push([tag, 'in', null, 1, 0]);
      st.outbox.set(dest, q);
    };
    queue('totals/0', [10, 0]); // a slow receiver
    queue('totals/1', [30, 1]);
    expect(outboxWatermark(st)).toEqual([10, 0]);
    expect(outboxWatermarkFor(st, n2, 'totals/1')).toEqual([30, 1]); // not held back by totals/0
    expect(outboxWatermarkFor(st, n2, 'totals/2')).toEqual([51, 0]);
    queue('echo/0', [20, 0]); // a stateless component's output can reach every totals partition
    expect(outboxWatermarkFor(st, n2, 'totals/1')).toEqual([20, 0]);
    expect(outboxWatermarkFor(st, n2, 'totals/2')).toEqual([20, 0]);
    expect(outboxWatermarkFor(st, n2, 'totals/0')).toEqual([10, 0]);
  });

  it('refuses messages from outside while the outbox is full (backpressure), changing nothing', () => {
    const r = replica();
    for (let i = 1; i <= 5; i++) r.logic.deliver(r.st, batch('source:a', 1, [fromSource(i, `w${i}`)]), r.info(i));
    expect(r.st.outboxSize).toBe(5);
    const before = logCodec.pack(r.logic.image(r.st));
    try {
      r.logic.deliver(r.st, batch('source:a', 1, [fromSource(6, 'late')]), r.info(6));
      throw new Error('expected a refusal');
    } catch (err) {
      expect(err).toBeInstanceOf(Refusal);
      expect((err as Refusal).code).toBe('OUTBOX_FULL');
    }
    expect(logCodec.pack(r.logic.image(r.st))).toEqual(before);
    r.logic.ack(r.st, 1, [[[...r.st.outbox.keys()][0]!, 0]]);
    expect(r.logic.deliver(r.st, batch('source:a', 1, [fromSource(6, 'late')]), r.info(7))).toEqual([1, 0]);
  });

  it('survives a snapshot through the log codec: state, outbox, seen-set, sinks; duplicates still dropped after restore', () => {
    const r = replica();
    r.logic.deliver(r.st, batch('source:a', 1, [fromSource(2, 'fox')]), r.info(20));
    r.logic.deliver(r.st, [ 'totals/0', 'totals', 0, 0, [[[3, 0], 'words', 'the', 'the', 1]] ], r.info(21));
    r.logic.deliver(r.st, batch('source:a', 1, [fromSource(3, 'dog'), fromSource(4, 'cat')]), r.info(22));
    const bytes = logCodec.pack(r.logic.image(r.st));
    const restored = new PartitionLogic(net).restore(new Packr({ useRecords: false, mapsAsObjects: true }).unpack(Buffer.from(bytes, 'hex')));
    expect(restored.user).toEqual(r.st.user);
    expect(restored.counters).toEqual(r.st.counters);
    expect(restored.outboxSize).toBe(r.st.outboxSize);
    expect(outboxWatermark(restored)).toEqual(outboxWatermark(r.st));
    expect(restored.sinkRing).toEqual(r.st.sinkRing);
    expect(retainedOutputs(restored, 3)).toHaveLength(3); // sinkRetention
    expect(retainedOutputs(restored, 3).map((o) => o[0])).toEqual([2, 3, 4]);
    expect(logCodec.pack(new PartitionLogic(net).image(restored))).toEqual(bytes);
    // the seen-set came back: the same messages again are dropped
    const info = { index: 30, time: 2_000, emit: () => {} };
    expect(new PartitionLogic(net).deliver(restored, batch('source:a', 1, [fromSource(2, 'fox'), fromSource(4, 'cat')]), info)).toEqual([0, 2]);
    expect(new PartitionLogic(net).deliver(restored, ['totals/0', 'totals', 0, 0, [[[3, 0], 'words', 'the', 'the', 1]]], info)).toEqual([0, 1]);
    // and both continue identically
    const next = batch('source:a', 1, [fromSource(5, 'new')]);
    r.logic.deliver(r.st, batch('source:a', 1, [fromSource(2, 'fox'), fromSource(4, 'cat')]), info);
    r.logic.deliver(r.st, ['totals/0', 'totals', 0, 0, [[[3, 0], 'words', 'the', 'the', 1]]], info);
    r.logic.deliver(r.st, next, { ...info, index: 31 });
    new PartitionLogic(net).deliver(restored, next, { ...info, index: 31 });
    expect(logCodec.pack(new PartitionLogic(net).image(restored))).toEqual(logCodec.pack(r.logic.image(r.st)));
    expect(new PartitionLogic(net).restore(logCodec.unpack(logCodec.pack(new PartitionLogic(net).image(emptyState()))))).toMatchObject({ deployed: false });
  });

  it('refuses a snapshot of another image version or of a component this network lacks', () => {
    expect(() => new PartitionLogic(net).restore([99, true])).toThrow(/version 99/);
    const r = replica();
    const img = r.logic.image(r.st) as unknown[];
    img[3] = 'ghost';
    expect(() => new PartitionLogic(net).restore(img)).toThrow(/ghost/);
  });

  it('forgets sources closed or idle for sourceIdleMs of log time', () => {
    const r = replica();
    r.logic.deliver(r.st, batch('source:a', 1, [fromSource(1, 'a')]), r.info(1, 1_000));
    r.logic.deliver(r.st, batch('source:b', 1, [fromSource(1, 'b')]), r.info(2, 1_000));
    expect(r.logic.forget(r.st, 'source:a')).toBe(true);
    expect([...r.st.seen.keys()]).toEqual(['source:b']);
    r.logic.deliver(r.st, batch('source:c', 1, [fromSource(1, 'c')]), r.info(3, 1_000 + net.options.sourceIdleMs));
    expect([...r.st.seen.keys()]).toEqual(['source:c']);
  });
});
