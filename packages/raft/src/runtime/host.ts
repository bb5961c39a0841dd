import { systemClock, type Clock, type Timer } from '../interfaces/clock.js';
import { silentLogger, type Logger } from '../interfaces/logger.js';
import type { Transport, TransportFactory } from '../interfaces/transport.js';
import type { GroupObserver } from '../interfaces/observer.js';
import type { GroupId, Message, NodeId } from '../types.js';
import { RaftGroup, type RaftGroupOptions } from './group.js';

export interface RaftHostOptions {
  readonly nodeId: NodeId;
  readonly transport: TransportFactory;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Metrics hooks given to every group on this node (a group's own `observer` option wins). */
  readonly observer?: GroupObserver;
  /**
   * One timer for every group on this node, ticking them all in the same event-loop turn (so their
   * heartbeats leave as one batch per peer). Groups' `tickMs` is set to this. Without it, each
   * group runs its own timer.
   */
  readonly tickMs?: number;
}

/** Group options the host fills in itself. */
export type HostedGroupOptions<R> = Omit<RaftGroupOptions<R>, 'id' | 'send' | 'clock' | 'logger'>;

/**
 * Runs many Raft groups on one node over one transport. Outbound messages of all groups to the same
 * peer within one event-loop turn travel as one batch; inbound batches are routed by group id.
 */
export class RaftHost {
  readonly nodeId: NodeId;
  readonly transport: Transport;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly observer: GroupObserver | undefined;
  private readonly tickMs: number | undefined;
  private ticker: Timer | undefined;
  private readonly groups = new Map<GroupId, RaftGroup<any>>();
  private outbox = new Map<NodeId, Message[]>();
  private flushScheduled = false;
  private closed = false;
  /** Inbound messages for groups not (yet) hosted here. */
  droppedUnknownGroup = 0;

  constructor(opts: RaftHostOptions) {
    this.nodeId = opts.nodeId;
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.observer = opts.observer;
    this.tickMs = opts.tickMs;
    this.transport = opts.transport({ nodeId: opts.nodeId, deliver: (msgs) => this.deliver(msgs), logger: this.logger });
  }

  async start(): Promise<void> {
    await this.transport.start();
    if (this.tickMs !== undefined && !this.ticker) {
      this.ticker = this.clock.setInterval(this.tickMs, () => {
        for (const g of this.groups.values()) g.tick();
      });
    }
  }

  /** Starts a group on this node. */
  async addGroup<R>(opts: HostedGroupOptions<R>): Promise<RaftGroup<R>> {
    if (this.groups.has(opts.group)) throw new Error(`group ${opts.group} already runs on ${this.nodeId}`);
    const shared = this.tickMs !== undefined;
    const config = shared ? { ...opts.config, tickMs: this.tickMs } : opts.config;
    const g = await RaftGroup.start<R>({ observer: this.observer, ...opts, config, externalTicks: shared, id: this.nodeId, send: this.send, clock: this.clock, logger: this.logger });
    this.groups.set(opts.group, g);
    return g;
  }

  group<R = unknown>(id: GroupId): RaftGroup<R> | undefined {
    return this.groups.get(id) as RaftGroup<R> | undefined;
  }

  listGroups(): RaftGroup<unknown>[] {
    return [...this.groups.values()];
  }

  /** Stops a group (its storage stays as is). */
  async removeGroup(id: GroupId): Promise<void> {
    const g = this.groups.get(id);
    if (!g) return;
    this.groups.delete(id);
    await g.stop();
  }

  /** Stops every group, then the transport. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ticker?.cancel();
    await Promise.all([...this.groups.values()].map((g) => g.stop()));
    this.groups.clear();
    this.flush();
    await this.transport.close();
  }

  private readonly send = (to: NodeId, messages: Message[]): void => {
    if (this.closed) return;
    const q = this.outbox.get(to);
    if (q) for (const m of messages) q.push(m);
    else this.outbox.set(to, messages);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.clock.defer(this.flush);
    }
  };

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.outbox.size === 0) return;
    const out = this.outbox;
    this.outbox = new Map();
    for (const [to, msgs] of out) this.transport.send(to, msgs);
  };

  private deliver(messages: Message[]): void {
    if (this.closed) return;
    let group: RaftGroup<any> | undefined;
    let start = 0;
    // Batches usually hold runs of one group; hand each run over in one call.
    for (let i = 0; i <= messages.length; i++) {
      const m = messages[i];
      if (i < messages.length && i > start && m!.group === messages[start]!.group) continue;
      if (i > start) {
        group = this.groups.get(messages[start]!.group);
        if (group) group.receive(start === 0 && i === messages.length ? messages : messages.slice(start, i));
        else this.droppedUnknownGroup += i - start;
      }
      start = i;
    }
  }
}
