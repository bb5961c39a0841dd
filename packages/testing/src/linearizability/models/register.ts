import type { Model, StepResult } from '../types.js';

/** A value a register holds: compared with `===`. */
export type RegisterValue = string | number | boolean | null;

/** A register operation: read it, overwrite it, or compare-and-set it. */
export type RegisterInput<V extends RegisterValue = RegisterValue> =
  | { readonly op: 'read' }
  | { readonly op: 'write'; readonly value: V }
  | { readonly op: 'cas'; readonly expected: V; readonly next: V };

/** `read` returns the value; `write` returns nothing (any output is ignored); `cas` whether it swapped. */
export type RegisterOutput<V extends RegisterValue = RegisterValue> = V | boolean | undefined;

/** Options for {@link registerModel}. */
export interface RegisterModelOptions<V extends RegisterValue> {
  /** The value before the history starts. Default `null`. */
  initial?: V;
}

/**
 * The sequential specification of a single linearizable register. An operation with an unknown
 * outcome is accepted and applies its effect.
 */
export function registerModel<V extends RegisterValue = RegisterValue>(options: RegisterModelOptions<V> = {}): Model<V, RegisterInput<V>, RegisterOutput<V>> {
  const initial = (options.initial ?? null) as V;
  return {
    init: () => initial,
    step(value, input, output): StepResult<V> {
      switch (input.op) {
        case 'read':
          return { ok: output === undefined || output === value, state: value };
        case 'write':
          return { ok: true, state: input.value };
        case 'cas': {
          const swapped = value === input.expected;
          return { ok: output === undefined || output === swapped, state: swapped ? input.next : value };
        }
        default:
          throw new Error(`registerModel: unknown op ${JSON.stringify((input as { op?: unknown }).op)}`);
      }
    },
    hash: (value) => `${typeof value}:${String(value)}`,
    describeState: (value) => JSON.stringify(value),
    describe(input, output) {
      const out = output === undefined ? '?' : JSON.stringify(output);
      switch (input.op) {
        case 'read':
          return `read() -> ${out}`;
        case 'write':
          return `write(${JSON.stringify(input.value)})`;
        case 'cas':
          return `cas(${JSON.stringify(input.expected)}, ${JSON.stringify(input.next)}) -> ${out}`;
        default:
          return JSON.stringify(input);
      }
    },
  };
}
