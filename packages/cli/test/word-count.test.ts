/**
 * `tessera demo` runs the word-count network of examples/word-count. The CLI keeps its own copy
 * (a published package cannot depend on a private example); this test keeps the two identical.
 */
import * as example from '@tessera/example-word-count';
import { describe, expect, it } from 'vitest';
// The built module, as the demo's node processes load it (and compiled like the example's).
import * as cli from '../dist/demo/word-count.js';

describe('the demo network', () => {
  it('is the network of examples/word-count', () => {
    expect(cli.wordCount.name).toBe(example.wordCount.name);
    // Names, ports, partitions, replicas, groupings, sources, sinks and options.
    expect(cli.wordCount.fingerprint).toBe(example.wordCount.fingerprint);
    // The code: handlers and queries compile to the same functions.
    for (const [mine, theirs] of [
      [cli.splitter, example.splitter],
      [cli.counter, example.counter],
    ] as const) {
      expect([...mine.handlers].map(([k, f]) => [k, f.toString()])).toEqual([...theirs.handlers].map(([k, f]) => [k, f.toString()]));
      expect([...mine.queries].map(([k, f]) => [k, f.toString()])).toEqual([...theirs.queries].map(([k, f]) => [k, f.toString()]));
      expect(mine.state.init.toString()).toBe(theirs.state.init.toString());
    }
    for (const line of ["In the beginning God created the heaven and the earth.", "1 And Sarah's son, 12 o'clock -- ISN'T it?", '']) {
      expect(cli.wordsOf(line)).toEqual(example.wordsOf(line));
    }
  });
});
