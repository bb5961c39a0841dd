/**
 * One operation of a concurrent history: a client invoked `input` at time `call` and received
 * `output` at time `ret`. Times are any numbers on one clock (virtual or real); only their order
 * matters.
 *
 * An operation whose outcome is unknown (the client timed out, crashed or lost its connection)
 * has `ret = Infinity` and `output` undefined: it may or may not have taken effect, at any point
 * after `call`. The checker never requires it to take effect, and when it does take effect the
 * model's {@link Model.step} is called with `output` undefined.
 */
export interface Operation<Input, Output> {
  /** Who issued the operation. Only used for reports; clients may have overlapping operations. */
  readonly clientId: number | string;
  /** What the client asked for. */
  readonly input: Input;
  /** What the client got back; undefined when the outcome is unknown (`ret === Infinity`). */
  readonly output: Output | undefined;
  /** When the client invoked the operation. Must be finite. */
  readonly call: number;
  /** When the client received the response, `>= call`; `Infinity` when the outcome is unknown. */
  readonly ret: number;
}

/**
 * A history as a list of call and return events, the form a recorder that sees invocations and
 * responses separately produces. `id` pairs a return with its call. Without `time`, the position
 * in the list is the time. A call without a return is an operation with an unknown outcome.
 */
export type HistoryEvent<Input, Output> =
  | { readonly kind: 'call'; readonly id: number | string; readonly clientId: number | string; readonly input: Input; readonly time?: number }
  | { readonly kind: 'return'; readonly id: number | string; readonly output: Output; readonly time?: number };

/** What {@link Model.step} answers: whether the operation is legal in `state`, and the state after it. */
export interface StepResult<State> {
  readonly ok: boolean;
  /** The state after the operation; ignored when `ok` is false. */
  readonly state: State;
}

/**
 * A sequential specification: the behaviour a linearizable object must be indistinguishable from.
 *
 * States are values: `step` must not mutate the state it is given (the checker keeps old states to
 * backtrack to) and must be deterministic. The checker memoizes visited (linearized set, state)
 * pairs, so a model provides `hash` (preferred: a string that is equal exactly when two states are
 * equivalent) or `equal`.
 */
export interface Model<State, Input, Output> {
  /** The state before any operation. */
  init(): State;
  /**
   * Applies one operation. Returns `ok: false` when `output` is impossible for `input` in `state`.
   * `output` is undefined when the operation's outcome is unknown: the model must then return
   * `ok: true` and the state the input produces (the checker decides whether it took effect at
   * all). A model that returns `ok: false` for an unknown outcome only forbids it from taking
   * effect at that point.
   */
  step(state: State, input: Input, output: Output | undefined): StepResult<State>;
  /** A canonical string for a state: equal strings mean interchangeable states. */
  hash?(state: State): string;
  /** Whether two states are interchangeable; used when `hash` is absent. */
  equal?(a: State, b: State): boolean;
  /**
   * Splits a history into sub-histories that can be checked independently (P-compositionality),
   * e.g. by key for a map whose keys do not interact. Must return every operation of `history`
   * exactly once, as the same objects. Without it the whole history is one partition.
   */
  partition?(history: readonly Operation<Input, Output>[]): Operation<Input, Output>[][];
  /** Renders an operation for reports, e.g. `put("k", "v") -> null`; `output` is undefined when unknown. */
  describe?(input: Input, output: Output | undefined): string;
  /** Renders a state for reports. */
  describeState?(state: State): string;
}

/** Search budget for {@link checkLinearizability}. */
export interface CheckOptions {
  /**
   * Wall-clock limit for the whole check, in milliseconds. Default: no limit. Prefer `maxSteps` in
   * deterministic tests: a time limit makes the verdict depend on the machine.
   */
  timeoutMs?: number;
  /**
   * Limit on search steps for the whole check, shared by all partitions. A step is one iteration
   * of the search: trying one operation, skipping it or undoing one. Default 1,000,000, which
   * bounds both time (about a second) and the memoization table's memory (at most one entry per
   * step).
   */
  maxSteps?: number;
}

/** The verdict: linearizable, provably not linearizable, or undecided within the budget. */
export type Verdict = 'ok' | 'illegal' | 'unknown';

/** An operation in a report, with its position in the checked history and a rendering. */
export interface OperationRef<Input, Output> {
  /** Index in the history as given (for an event list: in call order of the converted operations). */
  readonly index: number;
  readonly operation: Operation<Input, Output>;
  /** `model.describe` of the operation, or a JSON rendering. */
  readonly description: string;
}

/** An operation that could have been linearized next at the point the search got stuck. */
export interface Candidate<Input, Output> extends OperationRef<Input, Output> {
  /**
   * `rejected`: the model says this output is impossible in that state. `dead-end`: the model
   * accepts it, but no way of continuing from there linearizes the rest of the partition.
   */
  readonly verdict: 'rejected' | 'dead-end';
}

/**
 * Why a partition is not linearizable, from the deepest point the search reached: the longest
 * sequence of operations it could linearize before some completed operation had to have taken
 * effect and could not. It is one witness, not the only one: other orders fail too, elsewhere.
 */
export interface LinearizabilityFailure<Input, Output> {
  /** Index of the failing partition in the model's partition order. */
  readonly partition: number;
  /** All operations of that partition, by call time. */
  readonly operations: readonly OperationRef<Input, Output>[];
  /**
   * The longest linearizable prefix found, in linearization order: the one covering the most
   * completed operations and, among those, the fewest unknown-outcome ones.
   */
  readonly longestPrefix: readonly OperationRef<Input, Output>[];
  /** The model state after that prefix, rendered. */
  readonly stateAfterPrefix: string;
  /** The completed operation whose response arrived before it could be linearized. */
  readonly blocking: OperationRef<Input, Output>;
  /** Every operation that could have been linearized next, and what happened when it was tried. */
  readonly candidates: readonly Candidate<Input, Output>[];
}

/** The outcome of checking one partition. */
export interface PartitionResult {
  /** Position in the model's partition order. */
  readonly index: number;
  /** Number of operations in the partition. */
  readonly size: number;
  readonly result: Verdict;
  /** Search steps spent on this partition. */
  readonly steps: number;
  /**
   * For `ok`: history indices in a valid linearization order. Operations with an unknown outcome
   * that are absent did not take effect.
   */
  readonly linearization?: readonly number[];
}

/** What {@link checkLinearizability} returns. */
export interface CheckResult<Input, Output> {
  /**
   * `ok`: every partition is linearizable. `illegal`: at least one is not (see `failure`).
   * `unknown`: the budget ran out before a verdict (see `reason`); nothing was found wrong in what
   * was checked, but that is no evidence of correctness.
   */
  readonly result: Verdict;
  /** For `unknown`: which budget ran out. */
  readonly reason?: 'maxSteps' | 'timeout';
  /** For `illegal`: the explanation. */
  readonly failure?: LinearizabilityFailure<Input, Output>;
  /** Operations in the history. */
  readonly operationCount: number;
  /** Partitions the model split the history into (empty ones dropped). */
  readonly partitionCount: number;
  /** Partitions that were checked, in order; the check stops at the first illegal or undecided one. */
  readonly partitions: readonly PartitionResult[];
  /** Search steps spent in total. */
  readonly steps: number;
  /** Wall time spent, in milliseconds. */
  readonly elapsedMs: number;
}
