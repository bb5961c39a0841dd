/**
 * Component definitions: named input and output ports (optionally typed by zod schemas), one
 * handler per input port, and optional state. A component is code; where and how many times it
 * runs is decided by the network it is added to (see network.ts).
 */
import { Packr } from 'msgpackr';
import type { z } from 'zod';
import { ComponentDefinitionError } from './errors.js';

/** Ports of a component: port name -> zod schema of its messages, or null for any MessagePack value. */
export type PortSchemas = Record<string, z.ZodType | null>;

/** The message type of port `K` (inferred from its schema; `unknown` without one). */
export type PortMessage<P extends PortSchemas, K extends keyof P> = P[K] extends z.ZodType<infer T> ? T : unknown;

/** How a message arrived, as a handler sees it. */
export interface MessageMeta {
  /**
   * The message's tag, unique in the whole network and the same on every replica and after every
   * re-send: `<origin>@<index>.<emit>` for messages emitted by stateful partitions (log index and
   * emit number), with `.<p>.<n>` appended for each stateless component it went through.
   */
  readonly tag: string;
  /** Who first sent it: `<component>/<partition>` for a stateful partition, `source:<id>` for a source. */
  readonly origin: string;
  /** The input port it arrived on. */
  readonly port: string;
  /** Wall-clock time (ms) at which the source accepted the message this one derives from. */
  readonly createdAt: number;
}

/** Options of `ctx.emit`. */
export interface EmitOptions {
  /** The key of the emitted message (used by `hash()` groupings and shown to the receiver as `ctx.key`). */
  readonly key?: string;
}

/**
 * What a handler receives besides the message. Everything in it is deterministic: the same on
 * every replica of a stateful partition, and the same when a stateless component runs again for a
 * re-sent message.
 */
export interface HandlerContext<S = unknown, O extends PortSchemas = PortSchemas> {
  /** The partition's state (stateful components). Mutate it in place or assign a new value. */
  state: S;
  /** Sends `message` on output port `port` once this handler returns without throwing. */
  emit<K extends keyof O & string>(port: K, message: PortMessage<O, K>, options?: EmitOptions): void;
  /** The message's key, or null. */
  readonly key: string | null;
  readonly meta: MessageMeta;
  /** This component's name in the network. */
  readonly component: string;
  /** The partition handling the message, and how many the component has. */
  readonly partition: number;
  readonly partitions: number;
  /** Log index of the entry that carried the message (stateless components: the origin's index, or the source's sequence number). */
  readonly index: number;
  /** Log time in ms: the proposing leader's clock, monotonic within a partition (stateless: when the source accepted the message this one derives from). */
  readonly time: number;
  /** A pseudo-random number in [0, 1) seeded from the partition, log index and message position. */
  random(): number;
}

/** A handler: synchronous and deterministic (no I/O, no `Date.now()`, no `Math.random()`: use `ctx`). */
export type Handler<M, S, O extends PortSchemas> = (message: M, ctx: HandlerContext<S, O>) => void;

/** State of a stateful component. Without `snapshot`/`restore` the state is encoded with MessagePack (Maps, Sets, Dates and plain objects survive). */
export interface StateSpec<S> {
  /** A fresh state for a new partition. */
  init(): S;
  /** A MessagePack-able image of the state (taken synchronously, so it is consistent). */
  snapshot?(state: S): unknown;
  /** Rebuilds a state from `snapshot`'s image. */
  restore?(image: unknown): S;
}

/** What {@link component} takes. */
export interface ComponentSpec<S, I extends PortSchemas, O extends PortSchemas> {
  /** Name (letters, digits, `_`, `-`); the network uses it unless `add(..., { as })` renames. */
  readonly name: string;
  readonly inputs: I;
  readonly outputs?: O;
  /** One handler per input port. */
  readonly handlers: { readonly [K in keyof I]: Handler<PortMessage<I, K>, S, O> };
  /** Makes the component stateful (partitions replicated on Raft). */
  readonly state?: StateSpec<S>;
  /**
   * Read-only queries on a stateful partition's state, run on one replica (the leader for
   * linearizable reads) by `queryComponent`. Must not change the state.
   */
  readonly queries?: { readonly [name: string]: (state: S, input: any) => unknown };
}

/** A validated component. */
export interface Component<S = any> {
  readonly name: string;
  readonly inputs: ReadonlyMap<string, z.ZodType | null>;
  readonly outputs: ReadonlyMap<string, z.ZodType | null>;
  readonly handlers: ReadonlyMap<string, Handler<any, S, any>>;
  /** Whether it declares state. */
  readonly hasState: boolean;
  readonly state: Required<StateSpec<S>>;
  readonly queries: ReadonlyMap<string, (state: S, input: any) => unknown>;
}

export const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/** The default state codec: MessagePack with structured clone (Maps, Sets, Dates, shared references). */
const stateCodec = new Packr({ structuredClone: true, useRecords: true });

/**
 * Defines a component.
 *
 * ```ts
 * const splitter = component({
 *   name: 'splitter',
 *   inputs: { lines: z.string() },
 *   outputs: { words: z.string() },
 *   handlers: { lines(line, ctx) { for (const w of line.split(/\s+/)) if (w) ctx.emit('words', w, { key: w }); } },
 * });
 * const counter = component({
 *   name: 'counter',
 *   inputs: { words: z.string() },
 *   outputs: { counts: z.object({ word: z.string(), count: z.number() }) },
 *   state: { init: () => new Map<string, number>() },
 *   handlers: { words(w, ctx) { const n = (ctx.state.get(w) ?? 0) + 1; ctx.state.set(w, n); ctx.emit('counts', { word: w, count: n }); } },
 * });
 * ```
 */
export function component<S = undefined, I extends PortSchemas = PortSchemas, O extends PortSchemas = {}>(spec: ComponentSpec<S, I, O>): Component<S> {
  const name = spec?.name;
  if (typeof name !== 'string' || !NAME.test(name)) throw new ComponentDefinitionError('component.name', `expected a name matching ${NAME}, got ${JSON.stringify(name)}`);
  const at = `component(${name})`;
  const ports = (kind: 'inputs' | 'outputs', given: unknown): Map<string, z.ZodType | null> => {
    const out = new Map<string, z.ZodType | null>();
    if (given === undefined && kind === 'outputs') return out;
    if (typeof given !== 'object' || given === null || Array.isArray(given)) throw new ComponentDefinitionError(`${at}.${kind}`, 'expected an object of port name -> zod schema (or null)');
    for (const [port, schema] of Object.entries(given)) {
      if (!NAME.test(port)) throw new ComponentDefinitionError(`${at}.${kind}.${port}`, `port names must match ${NAME}`);
      if (schema !== null && schema !== undefined && typeof (schema as { safeParse?: unknown }).safeParse !== 'function') throw new ComponentDefinitionError(`${at}.${kind}.${port}`, 'expected a zod schema or null');
      out.set(port, (schema as z.ZodType | null | undefined) ?? null);
    }
    return out;
  };
  const inputs = ports('inputs', spec.inputs);
  const outputs = ports('outputs', spec.outputs);
  if (inputs.size === 0) throw new ComponentDefinitionError(`${at}.inputs`, 'a component needs at least one input port');
  const handlers = new Map<string, Handler<any, S, any>>();
  const given = (spec.handlers ?? {}) as Record<string, unknown>;
  for (const [port, h] of Object.entries(given)) {
    if (!inputs.has(port)) throw new ComponentDefinitionError(`${at}.handlers.${port}`, `there is no input port ${port} (inputs: ${[...inputs.keys()].join(', ')})`);
    if (typeof h !== 'function') throw new ComponentDefinitionError(`${at}.handlers.${port}`, 'expected a function');
    handlers.set(port, h as Handler<any, S, any>);
  }
  for (const port of inputs.keys()) if (!handlers.has(port)) throw new ComponentDefinitionError(`${at}.handlers.${port}`, `input port ${port} has no handler`);
  const st = spec.state;
  if (st !== undefined) {
    if (typeof st.init !== 'function') throw new ComponentDefinitionError(`${at}.state.init`, 'expected a function');
    if ((st.snapshot === undefined) !== (st.restore === undefined)) throw new ComponentDefinitionError(`${at}.state`, 'give both snapshot and restore, or neither (the default MessagePack codec)');
  }
  const state: Required<StateSpec<S>> = st
    ? {
        init: st.init,
        snapshot: st.snapshot ?? ((s: S) => stateCodec.pack(s)),
        restore: st.restore ?? ((img: unknown) => stateCodec.unpack(img as Uint8Array) as S),
      }
    : { init: () => undefined as S, snapshot: () => null, restore: () => undefined as S };
  const queries = new Map<string, (state: S, input: any) => unknown>();
  for (const [q, fn] of Object.entries(spec.queries ?? {})) {
    if (typeof fn !== 'function') throw new ComponentDefinitionError(`${at}.queries.${q}`, 'expected a function');
    queries.set(q, fn);
  }
  if (queries.size > 0 && !st) throw new ComponentDefinitionError(`${at}.queries`, 'queries read state; this component has none');
  return Object.freeze({ name, inputs, outputs, handlers, hasState: st !== undefined, state, queries });
}
