import { dominates } from './bitset.js';
import type { Model } from './types.js';

/**
 * The memoization table of Lowe's algorithm, extended with dominance. A configuration is the set
 * of linearized operations plus the model state. Reaching a configuration already explored cannot
 * succeed where the first visit failed, so the search prunes it. More generally a configuration B
 * is pruned when a recorded A has the same state and the same linearized completed operations and
 * linearized a subset of B's unknown-outcome operations: whatever B can still do, A can too, since
 * unknown-outcome operations never have to be linearized and never constrain others.
 *
 * Keys combine a hash of the completed part of the set with the model's state hash; entries keep a
 * copy of the set, so a hash collision costs a comparison, never a wrong answer.
 */
export interface VisitedSet<State> {
  /** Records the configuration; false when a recorded one dominates it. */
  add(words: Uint32Array, completedHash: number, state: State): boolean;
}

/** A table for `model`, using `model.hash` when present, else `model.equal`. `free` marks unknown-outcome operations. */
export function visitedSet<State, Input, Output>(model: Model<State, Input, Output>, free: Uint32Array): VisitedSet<State> {
  const { hash, equal } = model;
  if (hash !== undefined) {
    const table = new Map<string, Uint32Array | Uint32Array[]>();
    return {
      add(words, completedHash, state) {
        const key = `${completedHash}:${hash.call(model, state)}`;
        const found = table.get(key);
        if (found === undefined) {
          table.set(key, words.slice());
          return true;
        }
        if (found instanceof Uint32Array) {
          if (dominates(found, words, free)) return false;
          table.set(key, [found, words.slice()]);
          return true;
        }
        for (const w of found) if (dominates(w, words, free)) return false;
        found.push(words.slice());
        return true;
      },
    };
  }
  if (equal !== undefined) {
    const table = new Map<number, { words: Uint32Array; state: State }[]>();
    return {
      add(words, completedHash, state) {
        let bucket = table.get(completedHash);
        if (bucket === undefined) table.set(completedHash, (bucket = []));
        for (const e of bucket) if (dominates(e.words, words, free) && equal.call(model, e.state, state)) return false;
        bucket.push({ words: words.slice(), state });
        return true;
      },
    };
  }
  throw new Error('linearizability model: provide hash(state) or equal(a, b) so visited states can be memoized');
}

/** State equivalence as the memoization sees it. */
export function sameState<State, Input, Output>(model: Model<State, Input, Output>): (a: State, b: State) => boolean {
  const { hash, equal } = model;
  if (hash !== undefined) return (a, b) => a === b || hash.call(model, a) === hash.call(model, b);
  return (a, b) => a === b || equal!.call(model, a, b);
}
