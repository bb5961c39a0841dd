/**
 * Resource types: named, typed replicated state machines multiplexed into partitions. A resource
 * type declares its commands (replicated, applied on every replica in log order), its queries
 * (read-only, run on one replica), and how to snapshot and restore its state.
 */
import { ConfigError } from '@tessera/raft';
import type { z } from 'zod';

/**
 * What a command's `apply` sees besides its state and input. Valid during the `apply` call only:
 * the state machine refills one context object for every command, so keep the fields you need,
 * not the context.
 */
export interface ApplyContext {
  /** Name of the resource instance. */
  readonly name: string;
  /** The entry's key for keyed resources (e.g. a map's key), else null. */
  readonly key: string | null;
  /** Log index of the command: unique and increasing within the partition (a good fencing token). */
  readonly index: number;
  /**
   * Log time in milliseconds: the leader's wall clock when it proposed the command, made monotonic
   * within the partition. The same on every replica, so safe to use in `apply`.
   */
  readonly time: number;
  /** The session (client) that issued the command. */
  readonly session: string;
  /** Sends an event to the resource's subscribers (on every replica that has some). */
  emit(event: unknown): void;
}

/** What a session-ended hook sees. */
export interface SessionEndContext {
  readonly name: string;
  readonly index: number;
  readonly time: number;
  emit(event: unknown): void;
}

/** What a query sees. */
export interface QueryContext {
  readonly name: string;
  readonly key: string | null;
  /** Index of the last command applied on this replica. */
  readonly appliedIndex: number;
}

export interface CommandSpec<S, I> {
  /** Validates the input at the node that receives the request, before it is replicated. */
  readonly input: z.ZodType<I>;
  /**
   * Applies the command and returns its result (any MessagePack value). Must be deterministic
   * (use `ctx.time`, never `Date.now()`). To fail, throw before changing the state: the error's
   * `code` (default `RESOURCE_ERROR`) and message reach the client, the same on every replica.
   */
  apply(state: S, input: I, ctx: ApplyContext): unknown;
}

export interface QuerySpec<S, I> {
  readonly input: z.ZodType<I>;
  /** Computes the answer without changing the state. */
  run(state: S, input: I, ctx: QueryContext): unknown;
}

/** What {@link defineResource} takes. */
export interface ResourceSpec<S> {
  /** The type name clients use (`client.resource(type, name)`). Part of the log format: never rename. */
  readonly type: string;
  /**
   * Keyed resources are spread over all partitions by (name, key): each partition holds one
   * instance with the keys hashed to it, and every operation names a key (except fan-out queries).
   */
  readonly keyed?: boolean;
  /** A fresh, empty state. */
  create(): S;
  readonly commands: { readonly [op: string]: CommandSpec<S, any> };
  readonly queries?: { readonly [op: string]: QuerySpec<S, any> };
  /** A MessagePack-able image of the state (taken synchronously, so it is consistent). */
  snapshot(state: S): unknown;
  /** Rebuilds a state from {@link snapshot}'s image. */
  restore(image: unknown): S;
  /** The current state as a new subscriber first sees it. Default: no subscriptions. */
  describe?(state: S): unknown;
  /** A session ended (expired or closed): release what it held. Deterministic, like `apply`. */
  sessionEnded?(state: S, session: string, reason: 'expired' | 'closed', ctx: SessionEndContext): void;
  /** Whether the state is empty, so the instance can be forgotten. Default: never. */
  isEmpty?(state: S): boolean;
  /**
   * `apply` never keeps a `Uint8Array` of its input as is (it copies or converts what it keeps).
   * Inputs may then be views into the received log entry rather than copies: a copy per binary
   * value costs about 2 µs of allocation and GC on every replica. Default: false (inputs are copies).
   */
  readonly copiesBinaryInputs?: boolean;
}

/** A validated resource type, ready to register with a node. */
export interface ResourceDefinition<S = any> extends ResourceSpec<S> {
  readonly keyed: boolean;
  readonly queries: { readonly [op: string]: QuerySpec<S, any> };
}

const TYPE_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;

/**
 * Declares a resource type. Register it on every node (`createNode({ resources: [...] })`) and use
 * it from clients with `client.resource(type, name)`.
 *
 * ```ts
 * const registers = defineResource({
 *   type: 'register',
 *   create: () => ({ value: null as string | null }),
 *   commands: { write: { input: z.string(), apply: (s, v) => { const prev = s.value; s.value = v; return prev; } } },
 *   queries: { read: { input: z.null(), run: (s) => s.value } },
 *   snapshot: (s) => s.value,
 *   restore: (img) => ({ value: img as string | null }),
 * });
 * ```
 */
export function defineResource<S>(spec: ResourceSpec<S>): ResourceDefinition<S> {
  if (typeof spec.type !== 'string' || !TYPE_NAME.test(spec.type)) throw new ConfigError('resource.type', `expected a name matching ${TYPE_NAME}, got ${JSON.stringify(spec.type)}`);
  for (const f of ['create', 'snapshot', 'restore'] as const) {
    if (typeof spec[f] !== 'function') throw new ConfigError(`resource(${spec.type}).${f}`, 'expected a function');
  }
  const check = (kind: 'commands' | 'queries', ops: Record<string, unknown> | undefined, fn: 'apply' | 'run') => {
    for (const [op, s] of Object.entries(ops ?? {})) {
      const o = s as Record<string, unknown>;
      if (!o || typeof o[fn] !== 'function') throw new ConfigError(`resource(${spec.type}).${kind}.${op}.${fn}`, 'expected a function');
      if (!o.input || typeof (o.input as { safeParse?: unknown }).safeParse !== 'function') throw new ConfigError(`resource(${spec.type}).${kind}.${op}.input`, 'expected a zod schema');
    }
  };
  check('commands', spec.commands, 'apply');
  check('queries', spec.queries, 'run');
  return Object.freeze({ ...spec, keyed: spec.keyed ?? false, queries: spec.queries ?? {} });
}

/**
 * An error a resource throws on purpose; its `code` reaches the client as an
 * `OperationError` with that code.
 */
export class ResourceError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'ResourceError';
  }
}
