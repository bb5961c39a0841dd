import { describeState, operationRef } from './describe.js';
import { eventsToOperations, validateHistory } from './history.js';
import { search, type DeadEnd } from './search.js';
import type { CheckOptions, CheckResult, HistoryEvent, LinearizabilityFailure, Model, Operation, PartitionResult } from './types.js';

const DEFAULT_MAX_STEPS = 1_000_000;

/**
 * Checks whether a concurrent history is linearizable with respect to a sequential model: whether
 * every operation can be given a point between its call and its return such that applying the
 * operations in that order to the model reproduces every output. Operations with an unknown
 * outcome (`ret = Infinity`) may take effect at any point after their call, or never.
 *
 * The history is first split with `model.partition` (when present) and each part checked on its
 * own. The search is Wing & Gong's with Lowe's just-in-time linearization and memoization, as in
 * porcupine. It is exponential in the worst case, so it runs under a budget (`options`) and answers
 * `unknown` rather than hang. The first illegal partition ends the check.
 *
 * @param history operations, or call/return events (see {@link eventsToOperations}).
 * @throws Error when the history is malformed (e.g. `ret < call`), the options are invalid, or the
 *   model neither hashes nor compares states.
 */
export function checkLinearizability<State, Input, Output>(
  model: Model<State, Input, Output>,
  history: readonly Operation<Input, Output>[] | readonly HistoryEvent<Input, Output>[],
  options: CheckOptions = {},
): CheckResult<Input, Output> {
  const started = performance.now();
  const { maxSteps = DEFAULT_MAX_STEPS, timeoutMs = Infinity } = options;
  if (typeof maxSteps !== 'number' || !(maxSteps > 0) || (Number.isFinite(maxSteps) && !Number.isInteger(maxSteps))) {
    throw new RangeError(`options.maxSteps must be a positive integer or Infinity, got ${String(maxSteps)}`);
  }
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0) {
    throw new RangeError(`options.timeoutMs must be a non-negative number, got ${String(timeoutMs)}`);
  }
  if (model.hash === undefined && model.equal === undefined) {
    throw new Error('linearizability model: provide hash(state) or equal(a, b) so visited states can be memoized');
  }
  const ops = toOperations(history);
  validateHistory(ops);
  const indexOf = new Map<Operation<Input, Output>, number>();
  ops.forEach((op, i) => indexOf.set(op, i));
  const parts = partition(model, ops, indexOf);

  const deadline = started + timeoutMs;
  const partitions: PartitionResult[] = [];
  let steps = 0;
  const finish = (rest: Pick<CheckResult<Input, Output>, 'result' | 'reason' | 'failure'>): CheckResult<Input, Output> => ({
    ...rest,
    operationCount: ops.length,
    partitionCount: parts.length,
    partitions,
    steps,
    elapsedMs: performance.now() - started,
  });

  for (let p = 0; p < parts.length; p++) {
    // Sorting by call makes operation ids, and so reports, follow time.
    const part = parts[p]!.sort((a, b) => ops[a]!.call - ops[b]!.call || a - b).map((i) => ops[i]!);
    const outcome = search(
      model,
      { inputs: part.map((o) => o.input), outputs: part.map((o) => o.output), calls: part.map((o) => o.call), rets: part.map((o) => o.ret) },
      { maxSteps: maxSteps - steps, deadline },
    );
    steps += outcome.steps;
    const base = { index: p, size: part.length, result: outcome.result, steps: outcome.steps };
    if (outcome.result === 'ok') {
      partitions.push({ ...base, linearization: outcome.linearization.map((id) => indexOf.get(part[id]!)!) });
      continue;
    }
    partitions.push(base);
    if (outcome.result === 'unknown') return finish({ result: 'unknown', reason: outcome.reason });
    return finish({ result: 'illegal', failure: explain(model, p, part, indexOf, outcome.deadEnd) });
  }
  return finish({ result: 'ok' });
}

function toOperations<Input, Output>(history: readonly Operation<Input, Output>[] | readonly HistoryEvent<Input, Output>[]): readonly Operation<Input, Output>[] {
  if (!Array.isArray(history)) throw new TypeError('history: expected an array of operations or events');
  const first = history[0] as object | undefined;
  if (first !== undefined && first !== null && 'kind' in first) return eventsToOperations(history as readonly HistoryEvent<Input, Output>[]);
  return history as readonly Operation<Input, Output>[];
}

/** The model's partition as lists of history indices, checked to cover every operation once. */
function partition<State, Input, Output>(model: Model<State, Input, Output>, ops: readonly Operation<Input, Output>[], indexOf: Map<Operation<Input, Output>, number>): number[][] {
  if (model.partition === undefined) return ops.length === 0 ? [] : [ops.map((_, i) => i)];
  const seen = new Uint8Array(ops.length);
  const parts: number[][] = [];
  for (const group of model.partition(ops)) {
    const idx: number[] = [];
    for (const op of group) {
      const i = indexOf.get(op);
      if (i === undefined) throw new Error('model.partition returned an operation that is not in the history (it must return the same objects)');
      if (seen[i] === 1) throw new Error(`model.partition returned history[${i}] twice`);
      seen[i] = 1;
      idx.push(i);
    }
    if (idx.length > 0) parts.push(idx);
  }
  const missing = seen.indexOf(0);
  if (missing !== -1) throw new Error(`model.partition left out history[${missing}]`);
  return parts;
}

function explain<State, Input, Output>(
  model: Model<State, Input, Output>,
  p: number,
  part: readonly Operation<Input, Output>[],
  indexOf: Map<Operation<Input, Output>, number>,
  dead: DeadEnd<State>,
): LinearizabilityFailure<Input, Output> {
  const m = model as Model<unknown, Input, Output>;
  const ref = (id: number) => operationRef(m, part[id]!, indexOf.get(part[id]!)!);
  return {
    partition: p,
    operations: part.map((_, id) => ref(id)),
    longestPrefix: dead.prefix.map(ref),
    stateAfterPrefix: describeState(model as Model<State, unknown, unknown>, dead.state),
    blocking: ref(dead.blocking),
    candidates: dead.candidates.map((id) => ({
      ...ref(id),
      verdict: model.step(dead.state, part[id]!.input, part[id]!.output).ok ? ('dead-end' as const) : ('rejected' as const),
    })),
  };
}
