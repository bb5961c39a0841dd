/**
 * The word-count network of examples/word-count, which `tessera demo` runs: a source of lines, a
 * stateless splitter, a stateful counter with 4 partitions (3 replicas each) keyed by word, and a
 * sink of count updates. The node processes of the demo host it (their configuration names this
 * module); the demo process pushes lines and reads the counts through it.
 *
 * A copy, because a published package cannot depend on the private example package; the test
 * `word-count.test.ts` keeps it identical to the example (fingerprint, handlers, queries, words).
 */
import { component, hash, network } from '@tessera/components';
import { z } from 'zod';

/** The words of a line: lower case, letters and inner apostrophes. The splitter and the verifier both use it. */
export function wordsOf(line: string): string[] {
  const out: string[] = [];
  for (const m of line.toLowerCase().matchAll(/[a-z0-9]+(?:'[a-z]+)*/g)) out.push(m[0]);
  return out;
}

/** Stateless: runs wherever a line enters (in the pushing process); its words go on, keyed by word. */
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

/** Stateful: each partition counts the words hashed to it; every update goes to the sink. */
export const counter = component({
  name: 'counter',
  inputs: { words: z.string() },
  outputs: { counts: z.object({ word: z.string(), count: z.number().int() }) },
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
    /** The count of one word (0 if unseen). */
    count: (state, word: string) => state.get(word) ?? 0,
  },
});

/** The network: lines -> splitter -> counter (hash by word) -> counts. */
export const wordCount = network('word-count', { sinkRetention: 20_000 })
  .add(splitter, { partitions: 2 })
  .add(counter, { partitions: 4, replicas: 3 })
  .connect('splitter.words', 'counter.words', hash())
  .source('lines', 'splitter.lines')
  .sink('counts', 'counter.counts')
  .build();

export default wordCount;
