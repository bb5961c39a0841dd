import type { Model, Operation, OperationRef } from './types.js';

/** JSON where possible, so strings are quoted and `null` is visible; `String` otherwise. */
export function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Renders an operation with the model's `describe`, or as `input -> output` (`?` when unknown). */
export function describeOperation<Input, Output>(model: Model<unknown, Input, Output>, op: Operation<Input, Output>): string {
  if (model.describe !== undefined) return model.describe(op.input, op.output);
  return `${show(op.input)} -> ${op.ret === Infinity ? '?' : show(op.output)}`;
}

/** Renders a state with the model's `describeState`, else its `hash`, else as JSON. */
export function describeState<State>(model: Model<State, unknown, unknown>, state: State): string {
  if (model.describeState !== undefined) return model.describeState(state);
  if (model.hash !== undefined) return model.hash(state);
  return show(state);
}

/** A report entry for history operation `index`. */
export function operationRef<Input, Output>(model: Model<unknown, Input, Output>, op: Operation<Input, Output>, index: number): OperationRef<Input, Output> {
  return { index, operation: op, description: describeOperation(model, op) };
}
