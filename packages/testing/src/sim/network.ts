import { decodeBatch, encodeBatch, MessageType, type Message, type NodeId, type Transport, type TransportFactory } from '@tessera/raft';
import type { Rng } from './rng.js';
import type { Owner, Scheduler } from './scheduler.js';
import type { Trace } from './trace.js';

/** Network fault settings; probabilities per message. */
export interface NetworkFaults {
  dropRate: number;
  duplicateRate: number;
  /** Per-message latency is uniform in [minDelayMs, maxDelayMs]; distinct delays reorder messages. */
  minDelayMs: number;
  maxDelayMs: number;
  /** Chance of an extra long delay (a message stuck in a queue), and its length. */
  longDelayRate: number;
  longDelayMs: number;
}

export const CALM_NETWORK: NetworkFaults = { dropRate: 0, duplicateRate: 0, minDelayMs: 1, maxDelayMs: 1, longDelayRate: 0, longDelayMs: 0 };

interface Endpoint {
  readonly deliver: (messages: Message[], from: NodeId) => void;
  readonly owner: Owner;
  readonly epoch: number;
}

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(MessageType).map(([k, v]) => [v, k]));

export function describeMessage(m: Message): string {
  let s = `${TYPE_NAMES[m.type]} ${m.from}->${m.to} t${m.term}`;
  switch (m.type) {
    case MessageType.App:
      s += ` prev=${m.index}/${m.logTerm} n=${m.entries.length} commit=${m.commit}`;
      break;
    case MessageType.AppResp:
      s += m.reject ? ` reject idx=${m.index} hint=${m.rejectHint}/${m.logTerm}` : ` idx=${m.index}`;
      break;
    case MessageType.Vote:
    case MessageType.PreVote:
      s += ` last=${m.index}/${m.logTerm}${m.context ? ' transfer' : ''}`;
      break;
    case MessageType.VoteResp:
    case MessageType.PreVoteResp:
      s += m.reject ? ' reject' : ' grant';
      break;
    case MessageType.Heartbeat:
      s += ` commit=${m.commit} ctx=${m.context}`;
      break;
    default:
      if (m.context) s += ` ctx=${m.context}`;
      if (m.index) s += ` idx=${m.index}`;
      if (m.reject) s += ' reject';
  }
  return s;
}

/**
 * A simulated network: per-message drop, duplication, random delay (hence reordering), symmetric and
 * one-way partitions. Messages go through the real wire codec, so decoding is exercised too and no
 * object is shared between nodes.
 */
export class SimNetwork {
  private readonly endpoints = new Map<NodeId, Endpoint>();
  private readonly blocked = new Set<string>();
  faults: NetworkFaults;
  delivered = 0;
  dropped = 0;

  constructor(
    private readonly sched: Scheduler,
    private readonly rng: Rng,
    private readonly trace: Trace,
    faults: NetworkFaults,
    private readonly encode = true,
  ) {
    this.faults = faults;
  }

  /** A transport factory for one incarnation of a node. */
  transport(owner: Owner): TransportFactory {
    return (init) => {
      const net = this;
      const epoch = owner.epoch;
      const t: Transport = {
        nodeId: init.nodeId,
        async start() {
          net.endpoints.set(init.nodeId, { deliver: init.deliver, owner, epoch });
        },
        send(to, messages) {
          if (owner.epoch !== epoch) return;
          net.send(init.nodeId, to, messages);
        },
        async close() {
          const e = net.endpoints.get(init.nodeId);
          if (e && e.epoch === epoch && e.owner === owner) net.endpoints.delete(init.nodeId);
        },
      };
      return t;
    };
  }

  /** Cuts the network into `sides`: nodes in different sides cannot talk. */
  partition(sides: NodeId[][]): void {
    this.blocked.clear();
    for (let i = 0; i < sides.length; i++) {
      for (let j = 0; j < sides.length; j++) {
        if (i === j) continue;
        for (const a of sides[i]!) for (const b of sides[j]!) this.blocked.add(`${a}>${b}`);
      }
    }
    this.trace.add(`t=${this.sched.now} partition ${sides.map((s) => `[${s.join(',')}]`).join(' | ')}`);
  }

  /** Blocks messages from `from` to `to` only. */
  cutOneWay(from: NodeId, to: NodeId): void {
    this.blocked.add(`${from}>${to}`);
    this.trace.add(`t=${this.sched.now} cut ${from}->${to}`);
  }

  heal(): void {
    this.blocked.clear();
    this.trace.add(`t=${this.sched.now} heal`);
  }

  private send(from: NodeId, to: NodeId, messages: Message[]): void {
    const f = this.faults;
    for (const m of messages) {
      if (this.blocked.has(`${from}>${to}`) || this.rng.chance(f.dropRate)) {
        this.dropped++;
        continue;
      }
      const copies = this.rng.chance(f.duplicateRate) ? 2 : 1;
      const wire = this.encode ? encodeBatch(from, to, [m]) : undefined;
      for (let c = 0; c < copies; c++) {
        let delay = this.rng.int(f.minDelayMs, f.maxDelayMs);
        if (this.rng.chance(f.longDelayRate)) delay += this.rng.int(0, f.longDelayMs);
        this.sched.schedule(delay, () => {
          const ep = this.endpoints.get(to);
          if (!ep || ep.owner.epoch !== ep.epoch) return;
          const msg = wire ? decodeBatch(wire).messages[0]! : m;
          this.delivered++;
          this.trace.add(`t=${this.sched.now} ${describeMessage(msg)}`);
          ep.deliver([msg], from);
        });
      }
    }
  }
}
