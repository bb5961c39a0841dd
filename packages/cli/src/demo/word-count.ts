/**
 * The demo's word-count network: a source of lines, a stateless splitter, a stateful counter with
 * 4 partitions (3 replicas each) keyed by word, and a sink of count updates. The node processes of
 * `tessera demo` host it (their configuration names this module), and the demo process pushes
 * lines and reads the counts through it.
 */
import { component, hash, network } from '@tessera/components';
import { z } from 'zod';

/** The words of a line: lower case, letters and inner apostrophes only. Both the network and the verifier use it. */
export function wordsOf(line: string): string[] {
  const out: string[] = [];
  for (const m of line.toLowerCase().matchAll(/[a-z]+(?:'[a-z]+)*/g)) out.push(m[0]);
  return out;
}

export const splitter = component({
  name: 'splitter',
  inputs: { lines: z.string().max(100_000) },
  outputs: { words: z.string() },
  handlers: {
    lines(line, ctx) {
      for (const w of wordsOf(line)) ctx.emit('words', w, { key: w });
    },
  },
});

export const counter = component({
  name: 'counter',
  inputs: { words: z.string() },
  outputs: { counts: z.object({ word: z.string(), count: z.number() }) },
  state: { init: () => new Map<string, number>() },
  handlers: {
    words(word, ctx) {
      const n = (ctx.state.get(word) ?? 0) + 1;
      ctx.state.set(word, n);
      ctx.emit('counts', { word, count: n }, { key: word });
    },
  },
  queries: {
    /** Every word this partition counted, with its count. */
    counts: (state) => Object.fromEntries(state),
  },
});

/** The network: lines -> splitter -> counter (hash by word) -> counts. */
export const wordCount = network('word-count', { sinkRetention: 256 })
  .add(splitter, { partitions: 2 })
  .add(counter, { partitions: 4, replicas: 3 })
  .connect('splitter.words', 'counter.words', hash())
  .source('lines', 'splitter.lines')
  .sink('counts', 'counter.counts')
  .build();

export default wordCount;
