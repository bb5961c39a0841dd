// Stateless components run inside the sender; their outputs' tags derive from the input's tag, so
// running them again for a re-sent message yields the same messages with the same tags (which the
// next stateful hop then drops).
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { component } from '../src/component.js';
import { broadcast, hash, roundRobin } from '../src/grouping.js';
import { network } from '../src/network.js';
import { runStateless, StatelessHandlerError, type Delivery } from '../src/routing.js';

const split = component({
  name: 'split',
  inputs: { in: z.string() },
  outputs: { out: z.string() },
  handlers: {
    in(line, ctx) {
      if (line === 'fail') throw new Error('cannot split');
      for (const w of line.split(' ')) ctx.emit('out', `${w}:${Math.floor(ctx.random() * 1e6)}`, { key: w });
    },
  },
});
const upper = component({ name: 'upper', inputs: { in: z.string() }, outputs: { out: z.string() }, handlers: { in: (s, ctx) => ctx.emit('out', s.toUpperCase(), { key: ctx.key ?? s }) } });
const sinkish = component({ name: 'store', inputs: { in: z.string() }, state: { init: () => [] as string[] }, handlers: { in: (s, ctx) => void ctx.state.push(s) } });
const net = network('r')
  .add(split, { partitions: 2 })
  .add(upper, { partitions: 3 })
  .add(sinkish, { partitions: 4 })
  .connect('split.out', 'upper.in', broadcast())
  .connect('upper.out', 'store.in', hash())
  .connect('split.out', 'store.in', roundRobin())
  .source('lines', 'split.in')
  .build();

const run = (line: string, tag: number[]) => {
  const out: Delivery[] = [];
  runStateless(net, net.components.get('split')!, 1, 'in', line, null, tag, 'source:x', 1_000, out);
  return out.map((d) => [d.component.name, d.partition, d.message]);
};

describe('stateless routing', () => {
  it('is deterministic: the same input and tag give the same deliveries, tags and random numbers', () => {
    const a = run('a b c', [7]);
    expect(run('a b c', [7])).toEqual(a);
    expect(run('a b c', [8])).not.toEqual(a); // another message: other tags and random numbers
    // 3 words x (broadcast to 3 upper partitions + 1 direct) = 12 deliveries to store
    expect(a).toHaveLength(12);
    const tags = a.map((d) => (d[2] as unknown[])[0] as number[]);
    expect(new Set(tags.map((t) => t.join('.'))).size).toBe(12); // every copy has its own tag
    for (const t of tags) expect(t.slice(0, 3)).toEqual([7, 1, t[2]]); // derived from the input's tag and this partition
    // broadcast copies differ by the upper partition that handled them
    const viaUpper = tags.filter((t) => t.length === 5);
    expect(new Set(viaUpper.map((t) => t[3])).size).toBe(3);
  });

  it('reports a failing handler with where it failed', () => {
    expect(() => run('fail', [1])).toThrow(StatelessHandlerError);
    expect(() => run('fail', [1])).toThrow(/split\.in: cannot split/);
  });
});
