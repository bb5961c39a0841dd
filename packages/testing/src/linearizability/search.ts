import { Bitset, zobrist } from './bitset.js';
import { buildEntryList, lift, unlift, type Entry } from './entries.js';
import type { Model } from './types.js';
import { sameState, visitedSet } from './visited.js';

/** One partition in the arrays the search works on; operation ids are indices. */
export interface SearchInput<Input, Output> {
  readonly inputs: readonly Input[];
  readonly outputs: readonly (Output | undefined)[];
  readonly calls: readonly number[];
  readonly rets: readonly number[];
}

/** The budget left for this search. */
export interface SearchBudget {
  /** Steps this search may take. */
  readonly maxSteps: number;
  /** `performance.now()` value after which the search gives up. */
  readonly deadline: number;
}

/** The deepest point a failed search reached, counted in completed operations linearized. */
export interface DeadEnd<State> {
  /** Operation ids linearized, in order. */
  readonly prefix: number[];
  /** Model state after the prefix. */
  readonly state: State;
  /** The completed operation whose return entry stopped the search. */
  readonly blocking: number;
  /** Operations that could have been linearized next. */
  readonly candidates: number[];
}

export type SearchOutcome<State> =
  | { readonly result: 'ok'; readonly steps: number; readonly linearization: number[] }
  | { readonly result: 'illegal'; readonly steps: number; readonly deadEnd: DeadEnd<State> }
  | { readonly result: 'unknown'; readonly steps: number; readonly reason: 'maxSteps' | 'timeout' };

/** How many steps pass between clock reads. */
const CLOCK_EVERY = 1024;

/**
 * Wing & Gong's search with Lowe's improvements, over the entry list: depth-first, linearizing any
 * call entry before the first return entry; a return entry reached means the operations
 * linearized so far cannot be extended, so the last one is undone. Configurations (linearized
 * set, state) already explored, or dominated by one explored, are pruned (see {@link VisitedSet}).
 *
 * Operations with an unknown outcome (`ret = Infinity`) need more care, because each may or may not
 * take effect, which multiplies the configurations:
 * - Their return entries sort after every completed operation's, so the search succeeds once every
 *   completed operation is linearized: the unknown ones not linearized by then never took effect.
 * - At each point completed operations are tried first, so an unknown one is only made to take
 *   effect when a later observation needs it.
 * - Call a run of unknown operations linearized back to back a chain, starting at configuration X.
 *   Appending unknown operation q to a chain is pruned when the resulting state equals X's state,
 *   or equals the state q alone produces from X: X, or X + q, which the search tries from X
 *   anyway, reaches the same state having used fewer unknown operations, so it dominates. This
 *   is what keeps a history with many timed-out writes from exploring every subset of them.
 * Completeness: if some linearization exists, walking along it from the deepest explored
 * configuration that can still reach it, every pruned step has an explored dominator that can take
 * the same next step, so the search cannot finish with `illegal`.
 */
export function search<State, Input, Output>(model: Model<State, Input, Output>, part: SearchInput<Input, Output>, budget: SearchBudget): SearchOutcome<State> {
  const { inputs, outputs, rets } = part;
  const n = inputs.length;
  const unknown = new Uint8Array(n);
  const free = new Uint32Array((n + 31) >>> 5);
  let completedLeft = 0;
  for (let i = 0; i < n; i++) {
    if (rets[i] === Infinity) {
      unknown[i] = 1;
      free[i >>> 5] |= 1 << (i & 31);
    } else completedLeft++;
  }
  if (completedLeft === 0) return { result: 'ok', steps: 0, linearization: [] };
  const hasUnknown = completedLeft < n;

  const head = buildEntryList(part.calls, rets);
  const bits = new Bitset(n);
  let completedHash = 0;
  const visited = visitedSet(model, free);
  const same = sameState(model);
  const stack: { entry: Entry; state: State; chainStart: State }[] = [];
  let state = model.init();
  // The state after the last completed operation linearized: where the current chain started.
  let chainStart = state;
  let entry = head.next!;
  // Phase 0 tries completed operations, phase 1 the unknown ones (only when there are any).
  let phase = 0;
  let steps = 0;
  let best: DeadEnd<State> | undefined;
  let bestCompleted = -1;
  const completedTotal = completedLeft;

  for (;;) {
    if (steps >= budget.maxSteps) return { result: 'unknown', steps, reason: 'maxSteps' };
    steps++;
    if (steps % CLOCK_EVERY === 0 && performance.now() > budget.deadline) return { result: 'unknown', steps, reason: 'timeout' };

    if (entry.match !== null) {
      const id = entry.id;
      const isUnknown = unknown[id] === 1;
      if (hasUnknown && (isUnknown ? 1 : 0) !== phase) {
        entry = entry.next!;
        continue;
      }
      const r = model.step(state, inputs[id]!, outputs[id]);
      if (r.ok && !(isUnknown && dominatedInChain(r.state, id))) {
        bits.set(id);
        if (!isUnknown) completedHash ^= zobrist(id);
        if (visited.add(bits.words, completedHash, r.state)) {
          stack.push({ entry, state, chainStart });
          state = r.state;
          lift(entry);
          if (!isUnknown) {
            chainStart = state;
            if (--completedLeft === 0) return { result: 'ok', steps, linearization: stack.map((s) => s.entry.id) };
          }
          entry = head.next!;
          phase = 0;
          continue;
        }
        bits.clear(id);
        if (!isUnknown) completedHash ^= zobrist(id);
      }
      entry = entry.next!;
      continue;
    }

    // A return entry: its operation must have taken effect by now and could not.
    if (hasUnknown && phase === 0) {
      phase = 1;
      entry = head.next!;
      continue;
    }
    // The best explanation linearizes the most completed operations, and the fewest unknown ones.
    const completedDone = completedTotal - completedLeft;
    if (best === undefined || completedDone > bestCompleted || (completedDone === bestCompleted && stack.length < best.prefix.length)) {
      bestCompleted = completedDone;
      const candidates: number[] = [];
      for (let e = head.next!; e !== entry; e = e.next!) if (e.match !== null) candidates.push(e.id);
      best = { prefix: stack.map((s) => s.entry.id), state, blocking: entry.id, candidates };
    }
    const top = stack.pop();
    if (top === undefined) return { result: 'illegal', steps, deadEnd: best };
    state = top.state;
    chainStart = top.chainStart;
    const id = top.entry.id;
    bits.clear(id);
    unlift(top.entry);
    if (unknown[id] === 0) {
      completedHash ^= zobrist(id);
      completedLeft++;
    }
    phase = unknown[id]!;
    entry = top.entry.next!;
  }

  /** Whether appending unknown operation `id`, reaching `next`, is dominated (see above). */
  function dominatedInChain(next: State, id: number): boolean {
    if (same(next, chainStart)) return true;
    if (state === chainStart) return false;
    const alone = model.step(chainStart, inputs[id]!, outputs[id]);
    return alone.ok && same(next, alone.state);
  }
}
