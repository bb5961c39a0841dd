import type { Model, StepResult } from '../types.js';

/** A counter operation: add `delta` (may be negative) or read. */
export type CounterInput = { readonly op: 'add'; readonly delta: number } | { readonly op: 'read' };

/** Both operations return the counter's value: `add` the value after adding. */
export type CounterOutput = number;

/** Options for {@link counterModel}. */
export interface CounterModelOptions {
  /** The value before the history starts. Default 0. */
  initial?: number;
}

/**
 * The sequential specification of a linearizable counter whose increment returns the new value.
 * Values are exact as long as they stay within `Number.MAX_SAFE_INTEGER`. An `add` with an unknown
 * outcome is accepted and applies its delta.
 */
export function counterModel(options: CounterModelOptions = {}): Model<number, CounterInput, CounterOutput> {
  const initial = options.initial ?? 0;
  return {
    init: () => initial,
    step(value, input, output): StepResult<number> {
      switch (input.op) {
        case 'add': {
          const next = value + input.delta;
          return { ok: output === undefined || output === next, state: next };
        }
        case 'read':
          return { ok: output === undefined || output === value, state: value };
        default:
          throw new Error(`counterModel: unknown op ${JSON.stringify((input as { op?: unknown }).op)}`);
      }
    },
    hash: (value) => String(value),
    describe(input, output) {
      const out = output === undefined ? '?' : String(output);
      return input.op === 'add' ? `add(${input.delta}) -> ${out}` : `read() -> ${out}`;
    },
  };
}
