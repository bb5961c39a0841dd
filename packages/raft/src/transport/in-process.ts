import { systemClock, type Clock } from '../interfaces/clock.js';
import type { Transport, TransportFactory, TransportInit } from '../interfaces/transport.js';
import type { Message, NodeId } from '../types.js';

/**
 * A network of transports inside one process, for tests and single-process deployments. Messages
 * are handed over by reference (no encoding) on a later macrotask, in order per sender and peer.
 * `disconnect` / `reconnect` cut a node off to test faults.
 */
export class InProcessNetwork {
  private readonly nodes = new Map<NodeId, InProcessTransport>();
  private readonly cut = new Set<NodeId>();
  readonly clock: Clock;
  /** Messages dropped because the peer was unknown, closed or cut off. */
  dropped = 0;

  constructor(opts: { clock?: Clock } = {}) {
    this.clock = opts.clock ?? systemClock;
  }

  /** A factory to hand to a node (`RaftHost`). */
  readonly transport: TransportFactory = (init: TransportInit) => {
    const t = new InProcessTransport(this, init);
    return t;
  };

  /** Isolates `node` in both directions until `reconnect`. */
  disconnect(node: NodeId): void {
    this.cut.add(node);
  }

  reconnect(node: NodeId): void {
    this.cut.delete(node);
  }

  /** @internal */
  register(t: InProcessTransport): void {
    if (this.nodes.has(t.nodeId)) throw new Error(`node ${t.nodeId} already on this network`);
    this.nodes.set(t.nodeId, t);
  }

  /** @internal */
  unregister(t: InProcessTransport): void {
    if (this.nodes.get(t.nodeId) === t) this.nodes.delete(t.nodeId);
  }

  /** @internal */
  route(from: NodeId, to: NodeId, messages: Message[]): void {
    const peer = this.nodes.get(to);
    if (!peer || this.cut.has(from) || this.cut.has(to)) {
      this.dropped += messages.length;
      return;
    }
    peer.enqueue(from, messages);
  }
}

class InProcessTransport implements Transport {
  readonly nodeId: NodeId;
  private inbox: { from: NodeId; messages: Message[] }[] = [];
  private scheduled = false;
  private started = false;
  private closed = false;

  constructor(
    private readonly net: InProcessNetwork,
    private readonly init: TransportInit,
  ) {
    this.nodeId = init.nodeId;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.net.register(this);
  }

  send(to: NodeId, messages: Message[]): void {
    if (this.closed || !this.started) return;
    this.net.route(this.nodeId, to, messages);
  }

  enqueue(from: NodeId, messages: Message[]): void {
    if (this.closed) return;
    this.inbox.push({ from, messages });
    if (!this.scheduled) {
      this.scheduled = true;
      this.net.clock.defer(this.drain);
    }
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    const batch = this.inbox;
    this.inbox = [];
    for (const b of batch) {
      if (this.closed) return;
      this.init.deliver(b.messages, b.from);
    }
  };

  async close(): Promise<void> {
    this.closed = true;
    this.inbox = [];
    this.net.unregister(this);
  }
}
