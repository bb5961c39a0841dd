import type { Model, StepResult } from '../types.js';
import { keyedModel } from './keyed.js';

/**
 * A key/value store operation, as the simulation's KV state machine takes them:
 * `put k v`, `get k`, `del k`, `cas k expected next` (`expected: null` means "absent").
 */
export type KvInput =
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'del'; readonly key: string }
  | { readonly op: 'cas'; readonly key: string; readonly expected: string | null; readonly next: string };

/**
 * A KV response: `get` the value or null; `put` and `del` the previous value or null; `cas`
 * whether it swapped.
 */
export type KvOutput = string | null | boolean;

/** The KV model's state: key to value; absent keys have no value. */
export type KvState = ReadonlyMap<string, string | null>;

/** Options for {@link kvModel}. */
export interface KvModelOptions {
  /** Contents of the store before the history starts. Default empty. */
  initial?: Readonly<Record<string, string>>;
}

/**
 * The sequential specification of a linearizable key/value map with get, put, del and cas, where
 * keys are independent: the history is checked one key at a time. An operation with an unknown
 * outcome (output undefined) is accepted and applies its effect.
 */
export function kvModel(options: KvModelOptions = {}): Model<KvState, KvInput, KvOutput> {
  const initial = options.initial ?? {};
  const base = keyedModel<string | null, KvInput, KvOutput>(registerOf, (i) => i.key);
  const seeded = new Map<string, string | null>(Object.entries(initial));
  return { ...base, init: () => seeded };
}

/** One key of the store. */
const registerOf: Model<string | null, KvInput, KvOutput> = {
  init: () => null,
  step(value, input, output): StepResult<string | null> {
    switch (input.op) {
      case 'get':
        return { ok: output === undefined || output === value, state: value };
      case 'put':
        return { ok: output === undefined || output === value, state: input.value };
      case 'del':
        return { ok: output === undefined || output === value, state: null };
      case 'cas': {
        const swapped = value === input.expected;
        return { ok: output === undefined || output === swapped, state: swapped ? input.next : value };
      }
      default:
        throw new Error(`kvModel: unknown op ${JSON.stringify((input as { op?: unknown }).op)}`);
    }
  },
  hash: (value) => (value === null ? 'null' : `"${value}`),
  describeState: (value) => JSON.stringify(value),
  describe(input, output) {
    const out = output === undefined ? '?' : JSON.stringify(output);
    const k = JSON.stringify(input.key);
    switch (input.op) {
      case 'get':
        return `get(${k}) -> ${out}`;
      case 'put':
        return `put(${k}, ${JSON.stringify(input.value)}) -> ${out}`;
      case 'del':
        return `del(${k}) -> ${out}`;
      case 'cas':
        return `cas(${k}, ${JSON.stringify(input.expected)}, ${JSON.stringify(input.next)}) -> ${out}`;
      default:
        return JSON.stringify(input);
    }
  },
};
