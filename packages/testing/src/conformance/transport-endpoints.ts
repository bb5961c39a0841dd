/**
 * The endpoints one conformance test created through a harness, with an inbox per endpoint that
 * records what arrived from whom, and checks that nothing is delivered to an endpoint after it closed.
 */
import { MessageType, message, type Message, type NodeId, type Transport } from '@tessera/raft';
import { until } from './transport-wait.js';
import type { TransportHarness } from './transport.js';

/** Group used by warm-up probes; inboxes leave these messages out. */
export const PROBE_GROUP = '__probe';

/** What one endpoint received, in arrival order. */
export class Inbox {
  readonly batches: { from: NodeId; messages: Message[] }[] = [];
  private probes = new Map<NodeId, number>();

  push(from: NodeId, messages: Message[]): void {
    const real: Message[] = [];
    for (const m of messages) {
      if (m.group === PROBE_GROUP) this.probes.set(from, (this.probes.get(from) ?? 0) + 1);
      else real.push(m);
    }
    if (real.length > 0) this.batches.push({ from, messages: real });
  }

  /** Every non-probe message from `from`, in arrival order. */
  from(from: NodeId): Message[] {
    return this.batches.filter((b) => b.from === from).flatMap((b) => b.messages);
  }

  count(from: NodeId): number {
    let n = 0;
    for (const b of this.batches) if (b.from === from) n += b.messages.length;
    return n;
  }

  probesFrom(from: NodeId): number {
    return this.probes.get(from) ?? 0;
  }
}

interface Endpoint {
  readonly id: NodeId;
  readonly transport: Transport;
  readonly inbox: Inbox;
  closed: boolean;
}

/** Tracks the endpoints of one test so that every one is closed afterwards. */
export class Endpoints {
  private readonly live = new Map<NodeId, Endpoint>();
  private readonly all: Endpoint[] = [];
  /** Deliveries that reached an endpoint after its `close()` resolved. */
  readonly lateDeliveries: string[] = [];
  private probeSeq = 0;

  constructor(private readonly harness: TransportHarness) {}

  /** Creates (or re-creates, after close) endpoint `id`. */
  async start(id: NodeId): Promise<Endpoint> {
    if (this.live.has(id)) throw new Error(`suite bug: endpoint ${id} is already running`);
    const inbox = new Inbox();
    const holder: { ep?: Endpoint } = {};
    const transport = await this.harness.create(id, (messages, from) => {
      if (holder.ep?.closed) {
        this.lateDeliveries.push(`${messages.length} message(s) from ${from} delivered to ${id} after close`);
        return;
      }
      inbox.push(from, messages);
    });
    if (transport.nodeId !== id) throw new Error(`harness created endpoint with nodeId ${transport.nodeId}, want ${id}`);
    const ep: Endpoint = { id, transport, inbox, closed: false };
    holder.ep = ep;
    this.live.set(id, ep);
    this.all.push(ep);
    return ep;
  }

  get(id: NodeId): Endpoint {
    const ep = this.live.get(id);
    if (!ep) throw new Error(`suite bug: endpoint ${id} is not running`);
    return ep;
  }

  async close(id: NodeId): Promise<void> {
    const ep = this.get(id);
    this.live.delete(id);
    await ep.transport.close();
    ep.closed = true;
  }

  async closeAll(): Promise<void> {
    const eps = [...this.live.values()];
    this.live.clear();
    await Promise.all(
      eps.map(async (ep) => {
        await ep.transport.close();
        ep.closed = true;
      }),
    );
  }

  /**
   * Makes sure `from` can reach `to`: resends a probe until one arrives. Transports connect lazily,
   * and a send before the link is up may legitimately be dropped, so tests that count every message
   * establish their links first.
   */
  async link(from: NodeId, to: NodeId): Promise<void> {
    const src = this.get(from);
    const dst = () => this.get(to);
    const before = dst().inbox.probesFrom(from);
    await until(
      () => {
        if (dst().inbox.probesFrom(from) > before) return true;
        const m = message(MessageType.Heartbeat, PROBE_GROUP, from, to, 1);
        m.context = ++this.probeSeq;
        src.transport.send(to, [m]);
        return false;
      },
      () => `${from} never reached ${to} (probes are resent every 20 ms)`,
      undefined,
      20,
    );
  }

  /** Links every ordered pair of `ids`. */
  async linkAll(ids: readonly NodeId[]): Promise<void> {
    for (const a of ids) for (const b of ids) if (a !== b) await this.link(a, b);
  }
}
