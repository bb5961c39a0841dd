/**
 * Where emitted messages go: each emit on an output port becomes one message per connection of
 * that port and per partition its grouping picks. Stateless components run here, inside the
 * sender (a source or the leader of the upstream stateful partition): their output is routed on
 * at once, tagged from the input's tag, until every message has reached a stateful partition.
 */
import { fnv1a32String } from '@tessera/client/protocol';
import type { z } from 'zod';
import type { EmitOptions, HandlerContext, MessageMeta } from './component.js';
import { InvalidMessageError } from './errors.js';
import { targets } from './grouping.js';
import type { Connection, Network, NetworkComponent } from './network.js';
import type { WireMessage } from './outbox.js';
import { seededRandom, tagKey, type Tag } from './tags.js';

/** A message bound for a stateful partition. */
export interface Delivery {
  readonly component: NetworkComponent;
  readonly partition: number;
  readonly message: WireMessage;
}

export function checkMessage(schema: z.ZodType | null, message: unknown, where: string): unknown {
  if (schema === null) return message;
  const r = schema.safeParse(message);
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  throw new InvalidMessageError(where, `${i.path.length ? i.path.join('.') + ': ' : ''}${i.message}`);
}

/** A 32-bit seed from a string (FNV-1a). */
export const seedOf = (s: string): number => fnv1a32String(s);

/**
 * Routes one emitted message over the connections of `port`: validates it against the output
 * port's schema and each receiver's input schema, picks partitions with each connection's
 * grouping, and returns `(connection, partition, tag)` for each copy. `nextTag` gives the tag of
 * each copy (one per connection: two connections to the same component must not share a tag).
 */
export function routeEmit(
  from: NetworkComponent,
  net: Network,
  port: string,
  message: unknown,
  key: string | null,
  nextTag: () => Tag,
  seqOf: (conn: Connection, tag: Tag) => number,
): { conn: Connection; to: NetworkComponent; partitions: readonly number[]; tag: Tag; message: unknown }[] {
  if (!from.component.outputs.has(port)) throw new InvalidMessageError(`${from.name}.${port}`, `${from.name} has no output port ${port} (outputs: ${[...from.component.outputs.keys()].join(', ') || 'none'})`);
  if (key !== null && typeof key !== 'string') throw new InvalidMessageError(`${from.name}.${port}`, 'a key must be a string');
  const msg = checkMessage(from.component.outputs.get(port)!, message, `${from.name}.${port}`);
  const conns = from.outgoing.get(port);
  if (!conns) return [];
  const out = [];
  for (const conn of conns) {
    const to = net.components.get(conn.to.component)!;
    const m = checkMessage(to.component.inputs.get(conn.to.port)!, msg, `${to.name}.${conn.to.port}`);
    const tag = nextTag();
    const partitions = targets(conn.grouping, m, { key, partitions: to.partitions, seq: seqOf(conn, tag), random: seededRandom(seedOf(tagKey(tag))) });
    out.push({ conn, to, partitions, tag, message: m });
  }
  return out;
}

/** Thrown out of a stateless handler, with where it happened. */
export class StatelessHandlerError extends Error {
  constructor(
    readonly where: string,
    cause: unknown,
  ) {
    super(`${where}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'StatelessHandlerError';
  }
}

/**
 * Runs stateless component `comp` (partition `partition`) on a message and everything its output
 * reaches through further stateless components; returns the messages for stateful partitions.
 * Deterministic: the same input (and tag) always gives the same deliveries with the same tags.
 */
export function runStateless(net: Network, comp: NetworkComponent, partition: number, port: string, payload: unknown, key: string | null, tag: Tag, origin: string, createdAt: number, out: Delivery[]): void {
  const emits: { port: string; message: unknown; key: string | null }[] = [];
  const random = seededRandom(seedOf(`${origin}@${tagKey(tag)}`));
  const meta: MessageMeta = { tag: `${origin}@${tagKey(tag)}`, origin, port, createdAt };
  const ctx: HandlerContext<undefined> = {
    get state() {
      return undefined;
    },
    set state(_v: undefined) {
      throw new TypeError(`${comp.name} is stateless: it has no state to set`);
    },
    emit(p: string, message: unknown, options?: EmitOptions) {
      emits.push({ port: p, message, key: options?.key ?? null });
    },
    key,
    meta,
    component: comp.name,
    partition,
    partitions: comp.partitions,
    index: tag[0]!,
    time: createdAt,
    random,
  };
  try {
    comp.component.handlers.get(port)!(payload, ctx);
  } catch (err) {
    throw new StatelessHandlerError(`${comp.name}.${port}`, err);
  }
  let n = 0;
  const seqBase = tag.reduce((a, b) => a + b, 0);
  for (const e of emits) {
    let routed;
    try {
      routed = routeEmit(comp, net, e.port, e.message, e.key, () => [...tag, partition, n++], (_conn, t) => seqBase + t[t.length - 1]!);
    } catch (err) {
      throw new StatelessHandlerError(`${comp.name}.${e.port}`, err);
    }
    for (const r of routed) {
      for (const p of r.partitions) {
        if (r.to.stateful) out.push({ component: r.to, partition: p, message: [r.tag, r.conn.to.port, e.key, r.message, createdAt] });
        else runStateless(net, r.to, p, r.conn.to.port, r.message, e.key, r.tag, origin, createdAt, out);
      }
    }
  }
}
