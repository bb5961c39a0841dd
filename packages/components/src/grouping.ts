/**
 * Groupings: how a connection picks the partition(s) of the receiving component for a message.
 * Every grouping is a deterministic function of the message, its key and the routing context, so a
 * re-sent message goes where it went the first time (a prerequisite of exactly-once: a message
 * applied by partition 2 must not be re-sent to partition 3 after a failover).
 */
import { fnv1a32String } from '@tessera/client/protocol';

/** What a grouping sees besides the message. */
export interface GroupingContext {
  /** The message's key, or null. */
  readonly key: string | null;
  /** Partitions of the receiving component. */
  readonly partitions: number;
  /**
   * A per-connection counter for round robin: kept in the replicated state of a stateful sender,
   * counted by a source, and derived from the message tag for stateless senders.
   */
  readonly seq: number;
  /** Deterministic pseudo-random number in [0, 1) (seeded from the message tag). */
  random(): number;
}

/** A custom grouping: returns one partition or several (each in `0 .. partitions-1`). */
export type GroupingFn = (message: unknown, ctx: GroupingContext) => number | readonly number[];

/** A grouping, as `connect(from, to, grouping)` takes it. */
export interface Grouping {
  readonly kind: 'roundRobin' | 'hash' | 'broadcast' | 'random' | 'custom';
  /** A stable description (part of the network's fingerprint), e.g. `hash(field:word)`. */
  readonly description: string;
  /** Partitions the message goes to. */
  route(message: unknown, ctx: GroupingContext): number | readonly number[];
}

/** Cycles through the receiving partitions. */
export function roundRobin(): Grouping {
  return { kind: 'roundRobin', description: 'roundRobin', route: (_m, ctx) => ctx.seq % ctx.partitions };
}

/** Every partition of the receiving component gets a copy. */
export function broadcast(): Grouping {
  return { kind: 'broadcast', description: 'broadcast', route: (_m, ctx) => Array.from({ length: ctx.partitions }, (_, i) => i) };
}

/** A pseudo-random partition, derived deterministically from the message's tag. */
export function random(): Grouping {
  return { kind: 'random', description: 'random', route: (_m, ctx) => Math.floor(ctx.random() * ctx.partitions) % ctx.partitions };
}

/** The partition for a string key: FNV-1a (the same hash as resources) modulo the partitions. */
export function partitionForKey(key: string, partitions: number): number {
  return fnv1a32String(key) % partitions;
}

function fieldOf(message: unknown, path: string[]): unknown {
  let v = message;
  for (const p of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

/**
 * Messages with the same key go to the same partition: `fnv1a32(key) mod partitions`.
 * - `hash()`: the key the sender gave (`emit(port, msg, { key })` or `push(msg, { key })`);
 * - `hash('from')` / `hash('account.id')`: a field of the message (dotted path);
 * - `hash((msg) => msg.user)`: a function of the message.
 * A message without a key fails (the handler's emit throws; a source's push rejects).
 */
export function hash(by?: string | ((message: any) => string | number)): Grouping {
  if (by === undefined) {
    return {
      kind: 'hash',
      description: 'hash(key)',
      route: (_m, ctx) => {
        if (ctx.key === null) throw new TypeError('hash() grouping: the message has no key (emit it with { key })');
        return partitionForKey(ctx.key, ctx.partitions);
      },
    };
  }
  if (typeof by === 'string') {
    const path = by.split('.');
    return {
      kind: 'hash',
      description: `hash(field:${by})`,
      route: (m, ctx) => {
        const v = fieldOf(m, path);
        if (typeof v !== 'string' && typeof v !== 'number') throw new TypeError(`hash('${by}') grouping: the message has no string or number field ${by}`);
        return partitionForKey(String(v), ctx.partitions);
      },
    };
  }
  if (typeof by !== 'function') throw new TypeError('hash(): expected nothing, a field path or a function');
  return {
    kind: 'hash',
    description: 'hash(fn)',
    route: (m, ctx) => {
      const k = by(m);
      if (typeof k !== 'string' && typeof k !== 'number') throw new TypeError('hash(fn) grouping: the function must return a string or a number');
      return partitionForKey(String(k), ctx.partitions);
    },
  };
}

/** A grouping computed by your function (it must be deterministic). `name` identifies it in definitions and fingerprints. */
export function custom(name: string, fn: GroupingFn): Grouping {
  if (typeof fn !== 'function') throw new TypeError('custom(): expected a function');
  return { kind: 'custom', description: `custom:${name}`, route: fn };
}

/**
 * Resolves a grouping's answer into a list of valid partitions; throws for answers out of range
 * (a custom grouping's bug must not send messages nowhere).
 */
export function targets(g: Grouping, message: unknown, ctx: GroupingContext): readonly number[] {
  const r = g.route(message, ctx);
  const list = typeof r === 'number' ? [r] : r;
  for (const p of list) {
    if (!Number.isInteger(p) || p < 0 || p >= ctx.partitions) throw new RangeError(`grouping ${g.description} chose partition ${String(p)}; expected an integer in 0..${ctx.partitions - 1}`);
  }
  return list;
}
