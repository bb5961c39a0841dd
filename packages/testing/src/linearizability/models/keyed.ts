import { partitionByKey } from '../history.js';
import type { Model, StepResult } from '../types.js';

/**
 * Lifts a model of one object to a map of independent objects, one per key: the state is a map
 * from key to the inner model's state (a key never touched is in `inner.init()`), each operation
 * is applied to its key's object, and the history is partitioned by key so each key is checked on
 * its own. Use it whenever operations on different keys cannot affect each other.
 */
export function keyedModel<State, Input, Output>(
  inner: Model<State, Input, Output>,
  keyOf: (input: Input) => string,
): Model<ReadonlyMap<string, State>, Input, Output> {
  const initial = inner.init();
  const innerHash = inner.hash;
  const innerEqual = inner.equal;
  const get = (s: ReadonlyMap<string, State>, key: string): State => (s.has(key) ? s.get(key)! : initial);
  const model: Model<ReadonlyMap<string, State>, Input, Output> = {
    init: () => new Map(),
    step(state, input, output): StepResult<ReadonlyMap<string, State>> {
      const key = keyOf(input);
      const r = inner.step(get(state, key), input, output);
      if (!r.ok) return { ok: false, state };
      const next = new Map(state);
      next.set(key, r.state);
      return { ok: true, state: next };
    },
    partition: (history) => partitionByKey(history, keyOf),
    describeState(state) {
      const keys = [...state.keys()].sort();
      const show = (s: State): string => (inner.describeState ? inner.describeState(s) : innerHash ? innerHash.call(inner, s) : JSON.stringify(s));
      return keys.length === 0 ? '{}' : `{ ${keys.map((k) => `${JSON.stringify(k)}: ${show(state.get(k)!)}`).join(', ')} }`;
    },
  };
  if (inner.describe !== undefined) model.describe = (input, output) => inner.describe!(input, output);
  if (innerHash !== undefined) {
    const initialHash = innerHash.call(inner, initial);
    // Canonical: keys in order, a key in its initial state hashes as if absent, and
    // length-prefixed parts so no key or inner hash can be mistaken for a separator.
    model.hash = (state) => {
      let out = '';
      const keys = state.size > 1 ? [...state.keys()].sort() : state.keys();
      for (const k of keys) {
        const h = innerHash.call(inner, state.get(k)!);
        if (h !== initialHash) out += `${k.length}:${k}${h.length}:${h}`;
      }
      return out;
    };
  } else if (innerEqual !== undefined) {
    model.equal = (a, b) => {
      for (const k of a.keys()) if (!innerEqual.call(inner, a.get(k)!, get(b, k))) return false;
      for (const k of b.keys()) if (!a.has(k) && !innerEqual.call(inner, initial, b.get(k)!)) return false;
      return true;
    };
  }
  return model;
}
