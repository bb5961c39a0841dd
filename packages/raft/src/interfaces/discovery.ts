import { z } from 'zod';
import { parseConfig } from '../config.js';
import { TesseraError } from '../errors.js';
import { silentLogger, type Logger } from './logger.js';
import type { NodeId } from '../types.js';

/**
 * Discovery: how nodes and clients find each other. A node registers a {@link NodeRecord} (its id,
 * addresses and hosted partitions); everyone reads the current set of records, looks one up
 * synchronously by id (so a transport's peer resolver can ask on every dial), and hears about
 * joins, leaves and changes. The static implementation in this file is the default; a shared
 * registry (e.g. `@tessera/discovery-redis`) lets nodes come and go without reconfiguring anyone.
 */

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/;
const URL_LIKE = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/\S+$/;

/** `host:port` (IPv6 hosts in brackets, port 1..65535) or a URL such as `http://10.0.0.5:8080`. */
export const nodeAddressSchema = z
  .string()
  .min(1)
  .max(1024)
  .refine((s) => {
    if (URL_LIKE.test(s)) return true;
    const m = HOST_PORT.exec(s);
    return m !== null && Number(m[2]) >= 1 && Number(m[2]) <= 65535;
  }, 'expected host:port (IPv6 hosts in brackets, port 1..65535) or a URL');

/**
 * What a node publishes about itself. Validated whenever it crosses a boundary: when registered,
 * when listed in a static configuration and when read back from a shared registry.
 */
export const nodeRecordSchema = z
  .object({
    /** The node's id (the `nodeId` its transport and Raft groups use). */
    id: z.string().min(1).max(255),
    /** Where peers reach this node's Raft transport, e.g. `10.0.0.5:7000` for the TCP transport. */
    raftAddress: nodeAddressSchema,
    /** Where clients send requests, if the node serves clients. */
    clientAddress: nodeAddressSchema.optional(),
    /** Where the node serves `/status`, `/metrics` and `/health`. */
    adminAddress: nodeAddressSchema.optional(),
    /** Partitions (Raft groups) this node hosts a replica of. A hint for routing, not a source of truth. */
    partitions: z.array(z.string().min(1).max(255)).max(100_000).optional(),
    /** Free-form labels (zone, version, ...). */
    meta: z.record(z.string().min(1).max(255), z.string().max(4096)).optional(),
  })
  .strict();

/** A validated node record. Records handed out by a {@link Discovery} are frozen; do not mutate them. */
export type NodeRecord = z.output<typeof nodeRecordSchema>;
/** A node record as passed to {@link Discovery.register} or {@link staticDiscovery}. */
export type NodeRecordInput = z.input<typeof nodeRecordSchema>;

/** A change of the set of known nodes, as seen by one {@link Discovery} instance. */
export type DiscoveryEvent =
  /** A node that was not known appeared. */
  | { readonly type: 'join'; readonly node: NodeRecord }
  /** A known node left: it deregistered, or its registration expired. `node` is its last record. */
  | { readonly type: 'leave'; readonly node: NodeRecord }
  /** A known node published a different record (new address, partitions, meta). */
  | { readonly type: 'change'; readonly node: NodeRecord; readonly previous: NodeRecord };

export type DiscoveryListener = (event: DiscoveryEvent) => void;

/**
 * Finds the nodes of one cluster. One instance serves one process; it registers at most one node
 * (the process's own) and keeps a local view of every node it knows.
 *
 * The local view is what {@link resolve}, {@link watch} and (when the registry cannot be reached)
 * {@link list} answer from. It is eventually consistent: a shared registry updates it from
 * notifications and periodic refreshes, and keeps it as it is while the registry is unreachable,
 * so a node that loses its registry keeps talking to the peers it knows.
 */
export interface Discovery {
  /**
   * Publishes this process's node record and keeps it published (a shared registry refreshes its
   * time-to-live in the background) until {@link close}. Resolves once the record is in the
   * registry (for the static implementation: in the local view), so another instance's
   * {@link list} sees it from then on. Registering again with the same id replaces the record
   * (watchers see a `change`).
   *
   * Rejects with a `ConfigError` naming the field (`nodeRecord.raftAddress: ...`) for an invalid
   * record, `DiscoveryConflictError` for a second id on the same instance, `DiscoveryClosedError`
   * after `close()`, and `DiscoveryUnavailableError` (retryable) when the registry cannot be
   * reached. A rejected call changes nothing: a record registered earlier stays registered.
   */
  register(self: NodeRecordInput): Promise<void>;

  /**
   * Every node currently registered, this process's own included, sorted by id. Reads the registry
   * when it can (so it sees registrations that completed before the call) and updates the local
   * view from the answer. When the registry cannot be reached it returns the local view instead;
   * it rejects with `DiscoveryUnavailableError` only if it never had a view to fall back on.
   */
  list(): Promise<NodeRecord[]>;

  /**
   * The record of node `id` from the local view, or `undefined` if the node is not known.
   * Synchronous, never throws and does no I/O: safe to call on every connection attempt
   * (see {@link raftAddressResolver}).
   */
  resolve(id: NodeId): NodeRecord | undefined;

  /**
   * Calls `listener` for every later change of the local view: `join`, `leave`, `change`, in the
   * order they are applied, at most once per change, synchronously from the update (never from
   * inside `watch` itself). Events are not replayed: to build a complete view, call `watch` first
   * and then {@link list} (a `join` for a node already listed is harmless). A listener that throws
   * is logged and does not affect other listeners. Returns a function that unsubscribes
   * (idempotent). No events are delivered after {@link close}.
   */
  watch(listener: DiscoveryListener): () => void;

  /**
   * Stops refreshing, deregisters this process's node from a shared registry (best effort: if the
   * registry is unreachable the registration simply expires) and releases every timer and
   * connection. Idempotent. Afterwards `resolve` and `list` answer from the final local view,
   * `register` rejects with `DiscoveryClosedError`, and listeners hear nothing more.
   */
  close(): Promise<void>;
}

/** The discovery was closed; nothing can be registered with it any more. */
export class DiscoveryClosedError extends TesseraError {
  constructor() {
    super('DISCOVERY_CLOSED', 'discovery is closed');
  }
}

/** The registry could not be reached (or did not answer in time). Retry later. */
export class DiscoveryUnavailableError extends TesseraError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DISCOVERY_UNAVAILABLE', message, { ...options, retryable: true });
  }
}

/** A registration conflicts with another: a second node id on one instance, or a node id held by another live process. */
export class DiscoveryConflictError extends TesseraError {
  constructor(message: string) {
    super('DISCOVERY_CONFLICT', message);
  }
}

/** Validates a record to register, throwing a `ConfigError` naming the field under `nodeRecord`. */
export function parseNodeRecord(input: unknown): NodeRecord {
  return freezeRecord(parseConfig(nodeRecordSchema, input, 'nodeRecord'));
}

/**
 * A record's canonical JSON: fields in schema order and `meta` keys sorted, so two records are
 * equal exactly when their canonical JSON is.
 */
export function canonicalNodeRecord(r: NodeRecord): string {
  const meta = r.meta === undefined ? undefined : Object.fromEntries(Object.keys(r.meta).sort().map((k) => [k, r.meta![k]]));
  return JSON.stringify({
    id: r.id,
    raftAddress: r.raftAddress,
    clientAddress: r.clientAddress,
    adminAddress: r.adminAddress,
    partitions: r.partitions,
    meta,
  });
}

/** Freezes a record (and its array and map) so it can be handed to many callers without copies. */
export function freezeRecord(r: NodeRecord): NodeRecord {
  if (r.partitions) Object.freeze(r.partitions);
  if (r.meta) Object.freeze(r.meta);
  return Object.freeze(r);
}

/**
 * A peer resolver for a transport: node id -> its registered `raftAddress`, from the local view.
 *
 * @example
 * tcpTransport({ listen, clusterId, peers: raftAddressResolver(discovery) })
 */
export function raftAddressResolver(discovery: Pick<Discovery, 'resolve'>): (id: NodeId) => string | undefined {
  return (id) => discovery.resolve(id)?.raftAddress;
}

/** Options of {@link staticDiscovery}. */
export const staticDiscoveryOptionsSchema = z
  .object({
    /** Every node of the cluster. Ids must be unique. */
    nodes: z.array(nodeRecordSchema).superRefine((nodes, ctx) => {
      const seen = new Set<string>();
      nodes.forEach((n, i) => {
        if (seen.has(n.id)) ctx.addIssue({ code: 'custom', message: `duplicate node id ${JSON.stringify(n.id)}`, path: [i, 'id'] });
        seen.add(n.id);
      });
    }),
    /** Where listener failures are reported. */
    logger: z
      .custom<Logger>((v) => typeof v === 'object' && v !== null && ['debug', 'info', 'warn', 'error'].every((k) => typeof (v as Record<string, unknown>)[k] === 'function'), 'expected a logger with debug/info/warn/error')
      .optional(),
  })
  .strict();

export type StaticDiscoveryOptions = z.input<typeof staticDiscoveryOptionsSchema>;

/**
 * The default {@link Discovery}: a fixed list of nodes given at startup (like etcd's
 * `--initial-cluster`). `register` only updates this process's local view (there is nobody to
 * tell), so every process must be given the same list; nothing ever expires.
 * Options are validated at once: a bad field throws a `ConfigError` naming it
 * (`staticDiscovery.nodes[1].raftAddress: ...`).
 *
 * @example
 * const discovery = staticDiscovery({ nodes: [
 *   { id: 'n1', raftAddress: '10.0.0.1:7000' },
 *   { id: 'n2', raftAddress: '10.0.0.2:7000' },
 *   { id: 'n3', raftAddress: '10.0.0.3:7000' },
 * ] });
 */
export function staticDiscovery(options: StaticDiscoveryOptions): Discovery {
  const opts = parseConfig(staticDiscoveryOptionsSchema, options, 'staticDiscovery');
  return new StaticDiscovery(opts.nodes.map(freezeRecord), opts.logger ?? silentLogger);
}

class StaticDiscovery implements Discovery {
  private readonly view = new Map<NodeId, NodeRecord>();
  private readonly listeners = new Set<DiscoveryListener>();
  private selfId: NodeId | undefined;
  private closed = false;

  constructor(nodes: readonly NodeRecord[], private readonly logger: Logger) {
    for (const n of nodes) this.view.set(n.id, n);
  }

  async register(self: NodeRecordInput): Promise<void> {
    if (this.closed) throw new DiscoveryClosedError();
    const record = parseNodeRecord(self);
    if (this.selfId !== undefined && this.selfId !== record.id) {
      throw new DiscoveryConflictError(`this discovery already registered node ${this.selfId}; cannot also register ${record.id}`);
    }
    this.selfId = record.id;
    const previous = this.view.get(record.id);
    if (previous && canonicalNodeRecord(previous) === canonicalNodeRecord(record)) return;
    this.view.set(record.id, record);
    this.emit(previous ? { type: 'change', node: record, previous } : { type: 'join', node: record });
  }

  async list(): Promise<NodeRecord[]> {
    return [...this.view.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  resolve(id: NodeId): NodeRecord | undefined {
    return this.view.get(id);
  }

  watch(listener: DiscoveryListener): () => void {
    if (this.closed) return () => {};
    // Wrap so that the same function subscribed twice gets two independent subscriptions.
    const entry: DiscoveryListener = (e) => listener(e);
    this.listeners.add(entry);
    return () => void this.listeners.delete(entry);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
  }

  private emit(event: DiscoveryEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch (err) {
        this.logger.error({ err, event: event.type, node: event.node.id }, 'discovery listener threw');
      }
    }
  }
}
