/**
 * The component runtime of a node: for every component partition whose cluster partition this
 * node leads, it sends the outbox to the receivers (running stateless components on the way) and
 * acknowledges what they applied. It runs in every node process next to the partition node; only
 * leaders send. After a failover the new leader starts from the replicated outbox, so whatever
 * the old leader had not seen acknowledged is sent again (and dropped by the receivers if it had
 * arrived).
 */
import { connect, type TesseraClient } from '@tessera/client';
import { createNode, type NodeOptions, type PartitionNode } from '@tessera/partitions';
import { Role, silentLogger, type Logger } from '@tessera/raft';
import type { Network } from './network.js';
import type { WireMessage } from './outbox.js';
import { outboxWatermarkFor, originOf, type PartitionState } from './partition-state.js';
import { placeNetwork, type NetworkPlacement, type PartitionPlace } from './placement.js';
import { componentResources, reportOf, type PartitionReport } from './resources.js';
import { runStateless, StatelessHandlerError, type Delivery } from './routing.js';
import { Sender } from './sender.js';

/** Options of {@link startComponentRuntime}. */
export interface RuntimeOptions {
  /** The partition node (created with `componentResources(networks, runtime hook)` among its resources). */
  readonly node: PartitionNode;
  readonly networks: readonly Network[];
  /** How often every hosted partition is looked at (leadership changes, retries). Default 50 ms. */
  readonly scanIntervalMs?: number;
  /** Outbox messages of one partition handed to the sender at once (its in-flight window). Default 4096. */
  readonly maxInFlight?: number;
  /** Messages per deliver command. Default 256. */
  readonly maxBatch?: number;
  /** Deliver commands in flight per receiving partition. Default 4. */
  readonly window?: number;
  readonly logger?: Logger;
}

/** A component partition as the node sees it. */
export interface LocalPartitionStatus extends PartitionReport {
  readonly network: string;
  readonly component: string;
  readonly partition: number;
  readonly clusterPartition: number;
  readonly role: Role;
  readonly leader: string | undefined;
  /** Leader only: how far the slowest follower's log is behind the leader's (entries). */
  readonly replicationLag: number | undefined;
  /** Leader only: outbox messages being sent right now. */
  readonly sending: number;
}

interface Dispatch {
  /** The deployment it sends for (`deployedAt`); a redeployment starts a new dispatch. */
  readonly epoch: number;
  readonly sender: Sender;
  /** Next outbox sequence number to hand to the sender, per receiver. */
  readonly next: Map<string, number>;
  handed: number;
  acks: [string, number][];
  acking: boolean;
  closed: boolean;
}

interface Hosted {
  readonly net: Network;
  readonly placement: NetworkPlacement;
  readonly place: PartitionPlace;
  dispatch: Dispatch | undefined;
  scheduled: boolean;
}

/** Counters of a runtime. */
export interface RuntimeStats {
  /** Outbox messages given up (receiver not deployed, or a stateless handler that always fails). */
  dropped: number;
  /** Leaderships taken over (dispatch started). */
  takeovers: number;
  /** Ack commands proposed. */
  acks: number;
}

/** See {@link startComponentRuntime}. */
export class ComponentRuntime {
  private readonly hosted = new Map<string, Hosted>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly logger: Logger;
  private readonly maxInFlight: number;
  readonly stats: RuntimeStats = { dropped: 0, takeovers: 0, acks: 0 };

  /** @internal use {@link startComponentRuntime}. */
  constructor(
    private readonly opts: RuntimeOptions,
    private readonly client: TesseraClient,
  ) {
    this.logger = opts.logger ?? silentLogger;
    this.maxInFlight = opts.maxInFlight ?? 4096;
    const node = opts.node;
    const P = node.placement.partitions;
    for (const net of opts.networks) {
      const placement = placeNetwork(net, P);
      for (let p = 0; p < P; p++) {
        if (!node.group(p)) continue;
        for (const place of placement.hostedBy(p)) this.hosted.set(`${placement.type}\u0000${place.resource}`, { net, placement, place, dispatch: undefined, scheduled: false });
      }
    }
    this.timer = setInterval(() => this.scanAll(), opts.scanIntervalMs ?? 50);
    this.timer.unref();
  }

  /** @internal The resources' apply hook: a partition changed; if this node leads it, send soon. */
  applied(network: string, instance: string): void {
    if (this.closed) return;
    const h = this.hosted.get(`component.${network}\u0000${instance}`);
    if (h) this.schedule(h);
  }

  private schedule(h: Hosted): void {
    if (h.scheduled) return;
    h.scheduled = true;
    // After the whole entry (a batch of commands) is applied, not in the middle of it.
    setImmediate(() => {
      h.scheduled = false;
      this.scan(h);
    });
  }

  private scanAll(): void {
    if (this.closed) return;
    for (const h of this.hosted.values()) this.scan(h);
  }

  private localState(h: Hosted): PartitionState | undefined {
    const sm = this.opts.node.stateMachine(h.place.clusterPartition);
    if (!sm) return undefined;
    const st = sm.query(h.placement.type, h.place.resource, 'local', null, null) as PartitionState;
    return st.deployed ? st : undefined;
  }

  private scan(h: Hosted): void {
    if (this.closed) return;
    const group = this.opts.node.group(h.place.clusterPartition);
    const st = group && group.role === Role.Leader ? this.localState(h) : undefined;
    if (!st) {
      if (h.dispatch) this.stop(h);
      return;
    }
    let d = h.dispatch;
    if (d && d.epoch !== st.deployedAt) {
      this.stop(h);
      d = undefined;
    }
    if (!d) {
      d = h.dispatch = this.startDispatch(h, st);
      this.stats.takeovers++;
    }
    for (const [dest, q] of st.outbox) {
      let seq = Math.max(d.next.get(dest) ?? q.base, q.base);
      while (seq < q.end && d.handed < this.maxInFlight) {
        if (!q.isAcked(seq)) this.hand(h, d, dest, seq, q.at(seq)!);
        seq++;
      }
      d.next.set(dest, seq);
      if (d.handed >= this.maxInFlight) break;
    }
  }

  private startDispatch(h: Hosted, st: PartitionState): Dispatch {
    const origin = originOf(h.place.component, h.place.partition);
    const sender = new Sender({
      client: this.client,
      placement: h.placement,
      origin,
      originComponent: h.place.component,
      // Read from the live local state: acknowledgements applied meanwhile raise it.
      watermark: (dest) => outboxWatermarkFor(this.localState(h) ?? st, h.net, dest),
      ...(this.opts.maxBatch !== undefined ? { maxBatch: this.opts.maxBatch } : {}),
      ...(this.opts.window !== undefined ? { window: this.opts.window } : {}),
    });
    return { epoch: st.deployedAt, sender, next: new Map(), handed: 0, acks: [], acking: false, closed: false };
  }

  private stop(h: Hosted): void {
    const d = h.dispatch!;
    h.dispatch = undefined;
    d.closed = true;
    d.sender.close();
  }

  /** Hands one outbox message to the sender; acknowledges it once every receiver applied it. */
  private hand(h: Hosted, d: Dispatch, dest: string, seq: number, msg: WireMessage): void {
    const slash = dest.lastIndexOf('/');
    const comp = h.net.components.get(dest.slice(0, slash))!;
    const partition = Number(dest.slice(slash + 1));
    let deliveries: Delivery[];
    if (comp.stateful) deliveries = [{ component: comp, partition, message: msg }];
    else {
      deliveries = [];
      try {
        runStateless(h.net, comp, partition, msg[1], msg[3], msg[2], msg[0], originOf(h.place.component, h.place.partition), msg[4], deliveries);
      } catch (err) {
        // Deterministic: it would fail again on every re-send. Give the message up.
        if (!(err instanceof StatelessHandlerError)) throw err;
        this.stats.dropped++;
        this.logger.warn({ network: h.net.name, dest, err: err.message }, 'stateless handler failed; message dropped');
        this.ack(h, d, dest, seq);
        return;
      }
    }
    if (deliveries.length === 0) {
      this.ack(h, d, dest, seq);
      return;
    }
    d.handed++;
    let left = deliveries.length;
    let failed: unknown;
    for (const x of deliveries) {
      d.sender.send(x.component.name, x.partition, x.message, (err) => {
        if (err !== undefined && failed === undefined) failed = err;
        if (--left > 0) return;
        d.handed--;
        if (d.closed) return;
        if (failed !== undefined) {
          // Refused for good (e.g. the receiver is not deployed): do not block the outbox forever.
          this.stats.dropped++;
          this.logger.warn({ network: h.net.name, dest, err: (failed as Error).message }, 'message given up');
        }
        this.ack(h, d, dest, seq);
        if (d.handed === this.maxInFlight - 1) this.schedule(h);
      });
    }
  }

  private ack(h: Hosted, d: Dispatch, dest: string, seq: number): void {
    d.acks.push([dest, seq]);
    if (!d.acking) {
      d.acking = true;
      setImmediate(() => this.flushAcks(h, d));
    }
  }

  private flushAcks(h: Hosted, d: Dispatch): void {
    const acks = d.acks;
    d.acks = [];
    if (d.closed || acks.length === 0) {
      d.acking = false;
      return;
    }
    this.stats.acks++;
    this.client.command(h.place.clusterPartition, h.placement.type, h.place.resource, 'ack', [d.epoch, acks], null).then(
      () => {
        if (d.acks.length > 0) setImmediate(() => this.flushAcks(h, d));
        else d.acking = false;
      },
      (err: Error) => {
        // Acknowledgements are idempotent: retry while this node still leads; a new leader re-sends and re-acknowledges.
        this.logger.debug({ network: h.net.name, partition: h.place.resource, err: err.message }, 'ack failed; retrying');
        d.acks = acks.concat(d.acks);
        setTimeout(() => this.flushAcks(h, d), 50).unref();
      },
    );
  }

  /** Every component partition this node holds a replica of, with Raft role, leader and replication lag. */
  status(): LocalPartitionStatus[] {
    const out: LocalPartitionStatus[] = [];
    for (const h of this.hosted.values()) {
      const group = this.opts.node.group(h.place.clusterPartition);
      const sm = this.opts.node.stateMachine(h.place.clusterPartition);
      if (!group || !sm) continue;
      const st = sm.query(h.placement.type, h.place.resource, 'local', null, null) as PartitionState;
      const gs = group.status();
      const lags = Object.values(gs.followers).map((f) => f.lag);
      out.push({
        network: h.net.name,
        component: h.place.component,
        partition: h.place.partition,
        clusterPartition: h.place.clusterPartition,
        role: gs.role,
        leader: gs.leader,
        replicationLag: gs.role === Role.Leader ? Math.max(0, ...lags) : undefined,
        sending: h.dispatch?.handed ?? 0,
        ...reportOf(st),
      });
    }
    return out;
  }

  /** Stops sending (the node keeps running; close it separately). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const h of this.hosted.values()) if (h.dispatch) this.stop(h);
    await this.client.close();
  }
}

/**
 * A hook for `componentResources` that forwards to a runtime started later (the resources must
 * exist before the node, the runtime needs the node).
 */
export function runtimeHook(): { hook: (network: string, instance: string) => void; bind(runtime: ComponentRuntime): void } {
  let rt: ComponentRuntime | undefined;
  return {
    hook: (network, instance) => rt?.applied(network, instance),
    bind: (runtime) => {
      rt = runtime;
    },
  };
}

/** Starts the runtime of a node: connects a client to the node's own client port and begins dispatching. */
export async function startComponentRuntime(opts: RuntimeOptions & { readonly hook?: ReturnType<typeof runtimeHook> }): Promise<ComponentRuntime> {
  const address = opts.node.clientAddress;
  if (!address) throw new TypeError('the node serves no clients (client: false); the component runtime sends through the client protocol');
  const client = await connect({ endpoints: [address], requestTimeoutMs: 10_000, attemptTimeoutMs: 2_000, sessionTimeoutMs: 60_000, retry: { initialMs: 5, maxMs: 200 } });
  const rt = new ComponentRuntime(opts, client);
  opts.hook?.bind(rt);
  return rt;
}

/** A partition node with the component runtime. */
export interface ComponentNode {
  readonly node: PartitionNode;
  readonly runtime: ComponentRuntime;
  /** Stops the runtime, then the node. Storage is left open (the caller owns it). */
  close(): Promise<void>;
}

/**
 * Creates a partition node that hosts these networks' components and starts its runtime. Every
 * node of the cluster must be given the same networks.
 *
 * ```ts
 * const { node, close } = await createComponentNode({
 *   id: 'n1', members, partitions: { count: 16, replicationFactor: 3 },
 *   storage: await fileStorage({ dir }), transport: tcpTransport({...}),
 *   networks: [wordCount],
 * });
 * ```
 */
export async function createComponentNode(options: NodeOptions & { networks: readonly Network[]; runtime?: Omit<RuntimeOptions, 'node' | 'networks'> }): Promise<ComponentNode> {
  const { networks, runtime: rtOpts, ...nodeOptions } = options;
  const hook = runtimeHook();
  const node = await createNode({ ...nodeOptions, resources: [...(nodeOptions.resources ?? []), ...componentResources(networks, hook.hook)] });
  let runtime: ComponentRuntime;
  try {
    runtime = await startComponentRuntime({ ...rtOpts, node, networks, hook, ...(nodeOptions.logger ? { logger: nodeOptions.logger } : {}) });
  } catch (err) {
    await node.close();
    throw err;
  }
  return {
    node,
    runtime,
    close: async () => {
      await runtime.close();
      await node.close();
    },
  };
}
