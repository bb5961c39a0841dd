/**
 * The replicated state of one stateful component partition and the deterministic operations on
 * it (run inside the partition layer's `apply`, on every replica, in log order):
 *
 * - `deliver`: messages from one origin. Each is checked against the origin's seen-set; a new one
 *   runs its input port's handler, and what the handler emits goes to the outbox (for stateful or
 *   stateless receivers) and to the sink buffer (for sinks).
 * - `ack`: the leader's dispatcher reports outbox messages the receivers applied; they leave.
 * - `forget`: a closed source's seen-set is dropped.
 */
import type { EmitOptions, HandlerContext, MessageMeta } from './component.js';
import type { Network, NetworkComponent } from './network.js';
import { OutboxQueue, type WireMessage } from './outbox.js';
import { routeEmit, seedOf } from './routing.js';
import { SeenSet, seededRandom, tagKey, type Tag } from './tags.js';

/** Snapshot image version of a component partition. */
export const PARTITION_IMAGE_VERSION = 2;

/** An output kept for sinks: `[seq, port, key, message, tag, createdAt]`. */
export type SinkOutput = [seq: number, port: string, key: string | null, message: unknown, tag: string, createdAt: number];

/** Counters of a partition (replicated, so every replica reports the same). */
export interface PartitionCounters {
  /** Messages whose handler ran. */
  applied: number;
  /** Messages dropped because their tag was already applied. */
  duplicates: number;
  /** Handlers that threw (their emits were discarded). */
  errors: number;
  /** Messages put in the outbox. */
  emitted: number;
}

/** The state of one component partition (a resource instance in the partition layer). */
export interface PartitionState {
  deployed: boolean;
  /**
   * Log index of the deploy command: identifies this deployment, so that acknowledgements from a
   * dispatcher of an earlier deployment (undeployed since) cannot remove messages of this one.
   */
  deployedAt: number;
  component: string;
  partition: number;
  fingerprint: string;
  user: unknown;
  counters: PartitionCounters;
  lastError: string | null;
  /** Log index of the last entry that carried a message; emit numbers restart with each entry. */
  lastIndex: number;
  emitNo: number;
  msgNo: number;
  /** Round-robin counters per connection index. */
  rr: number[];
  /**
   * Per receiving partition. A queue is kept when it empties: its sequence numbers must never
   * start over, or a late acknowledgement of an old message would remove a new one.
   */
  outbox: Map<string, OutboxQueue>;
  outboxSize: number;
  seen: Map<string, SeenSet>;
  sinkSeq: number;
  sinkRing: SinkOutput[];
  /** Log time of the next sweep for idle sources. */
  nextSweep: number;
}

/** What the partition layer's apply context provides. */
export interface ApplyInfo {
  readonly index: number;
  readonly time: number;
  emit(event: unknown): void;
}

export function emptyState(): PartitionState {
  return {
    deployed: false,
    deployedAt: 0,
    component: '',
    partition: 0,
    fingerprint: '',
    user: undefined,
    counters: { applied: 0, duplicates: 0, errors: 0, emitted: 0 },
    lastError: null,
    lastIndex: 0,
    emitNo: 0,
    msgNo: 0,
    rr: [],
    outbox: new Map(),
    outboxSize: 0,
    seen: new Map(),
    sinkSeq: 0,
    sinkRing: [],
    nextSweep: 0,
  };
}

/** Origin name of a stateful partition. */
export const originOf = (component: string, partition: number) => `${component}/${partition}`;

/** The last `keep` outputs (the ring holds up to twice that between trims). */
export function retainedOutputs(st: PartitionState, keep: number): SinkOutput[] {
  return keep <= 0 ? [] : st.sinkRing.length <= keep ? st.sinkRing : st.sinkRing.slice(st.sinkRing.length - keep);
}

/** Most sink outputs in one answer (a subscription's first state, a page of `outputs`). */
export const OUTPUTS_PAGE = 1_000;

/**
 * The first `limit` of `retained` numbered above `after`. The ring holds consecutive numbers (every
 * sinked output is pushed, trimming drops the oldest), so the start is found by arithmetic.
 */
export function outputsAfter(retained: readonly SinkOutput[], after: number, limit: number): SinkOutput[] {
  if (retained.length === 0) return [];
  const start = Math.min(retained.length, Math.max(0, after - retained[0]![0] + 1));
  return retained.slice(start, start + limit);
}

/** A deterministic refusal: thrown before anything changes, the same on every replica. */
export class Refusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** `[origin, originComponent | null, w0, w1, messages]`: a batch of messages from one origin. */
export type DeliverInput = [origin: string, originComponent: string | null, w0: number, w1: number, messages: WireMessage[]];

/** The watermark of a partition's outbox: the smallest unacknowledged tag, or the next index if all are acknowledged. */
export function outboxWatermark(st: PartitionState): [number, number] {
  return smallestPending(st, () => true);
}

/** The smallest unacknowledged tag among the outbox queues `include` selects (the next index if none). */
function smallestPending(st: PartitionState, include: (dest: string) => boolean): [number, number] {
  let w0 = st.lastIndex + 1;
  let w1 = 0;
  for (const q of st.outbox.values()) {
    if (!include(q.dest)) continue;
    const f = q.first();
    if (!f) continue;
    const t = f[0];
    if (t[0]! < w0 || (t[0] === w0 && (t[1] ?? 0) < w1)) {
      w0 = t[0]!;
      w1 = t[1] ?? 0;
    }
  }
  return [w0, w1];
}

/**
 * The context a stateful handler gets. One object per message with plain fields; the tag string
 * and the random generator are made only when asked for (most handlers use neither).
 */
class StatefulContext implements HandlerContext<unknown> {
  emits: { port: string; message: unknown; key: string | null }[] | undefined;
  private rnd: (() => number) | undefined;
  private metaObj: MessageMeta | undefined;
  readonly component: string;
  readonly partition: number;
  readonly partitions: number;

  constructor(
    private readonly st: PartitionState,
    me: NetworkComponent,
    private readonly origin: string,
    private readonly tag: Tag,
    private readonly port: string,
    readonly key: string | null,
    private readonly createdAt: number,
    readonly index: number,
    readonly time: number,
    private readonly msgNo: number,
  ) {
    this.component = me.name;
    this.partition = st.partition;
    this.partitions = me.partitions;
  }

  get state(): unknown {
    return this.st.user;
  }

  set state(v: unknown) {
    this.st.user = v;
  }

  get meta(): MessageMeta {
    return (this.metaObj ??= { tag: `${this.origin}@${tagKey(this.tag)}`, origin: this.origin, port: this.port, createdAt: this.createdAt });
  }

  emit(port: string, message: unknown, options?: EmitOptions): void {
    (this.emits ??= []).push({ port, message, key: options?.key ?? null });
  }

  random(): number {
    this.rnd ??= seededRandom(seedOf(`${this.st.component}/${this.st.partition}:${this.index}:${this.msgNo}`));
    return this.rnd();
  }
}

/**
 * The watermark a partition states to receiving partition `dest` (`component/partition`): the
 * smallest unacknowledged tag among the queues whose messages can reach `dest` — its own queue and
 * the queues of stateless components (whose outputs may go anywhere) — or the next index. A slow
 * receiver then holds back only its own watermark, not everybody's.
 */
export function outboxWatermarkFor(st: PartitionState, net: Network, dest: string): [number, number] {
  return smallestPending(st, (d) => d === dest || net.components.get(d.slice(0, d.lastIndexOf('/')))?.stateful === false);
}

/** The deterministic operations of one network's partitions. */
export class PartitionLogic {
  constructor(readonly net: Network) {}

  deploy(st: PartitionState, component: string, partition: number, fingerprint: string, index: number): 'deployed' | 'already' {
    if (fingerprint !== this.net.fingerprint) throw new Refusal('DEFINITION_MISMATCH', `this node runs network ${this.net.name} with fingerprint ${this.net.fingerprint}, the deployment has ${fingerprint}: deploy the network the nodes run`);
    const c = this.net.components.get(component);
    if (!c || !c.stateful) throw new Refusal('UNKNOWN_COMPONENT', `network ${this.net.name} has no stateful component ${component}`);
    if (partition >= c.partitions) throw new Refusal('UNKNOWN_COMPONENT', `${component} has ${c.partitions} partitions, not ${partition + 1}`);
    if (st.deployed) return 'already';
    st.deployed = true;
    st.deployedAt = index;
    st.component = component;
    st.partition = partition;
    st.fingerprint = fingerprint;
    st.user = c.component.state.init();
    return 'deployed';
  }

  private comp(st: PartitionState): NetworkComponent {
    return this.net.components.get(st.component)!;
  }

  deliver(st: PartitionState, input: DeliverInput, info: ApplyInfo): [applied: number, duplicates: number] {
    if (!st.deployed) throw new Refusal('NOT_DEPLOYED', `network ${this.net.name} is not deployed here`);
    const [origin, originComponent, w0, w1, messages] = input;
    const me = this.comp(st);
    // Messages from inside this partition's cycle are always taken: refusing them could deadlock the cycle.
    const inCycle = originComponent !== null && this.net.components.get(originComponent)?.cycle === me.cycle;
    if (!inCycle && st.outboxSize >= this.net.options.maxOutbox) throw new Refusal('OUTBOX_FULL', `${originOf(st.component, st.partition)}: ${st.outboxSize} emitted messages wait for acknowledgement (maxOutbox ${this.net.options.maxOutbox})`);
    if (info.index !== st.lastIndex) {
      st.lastIndex = info.index;
      st.emitNo = 0;
      st.msgNo = 0;
    }
    let seen = st.seen.get(origin);
    if (!seen) st.seen.set(origin, (seen = new SeenSet(originComponent === null)));
    seen.lastSeen = info.time;
    seen.advance(w0, w1);
    let applied = 0;
    let dups = 0;
    for (const m of messages) {
      if (!seen.add(m[0])) {
        dups++;
        continue;
      }
      applied++;
      this.handle(st, me, origin, m, info);
    }
    st.counters.duplicates += dups;
    if (info.time >= st.nextSweep) this.sweep(st, info.time);
    return [applied, dups];
  }

  private handle(st: PartitionState, me: NetworkComponent, origin: string, m: WireMessage, info: ApplyInfo): void {
    const [tag, port, key, payload, createdAt] = m;
    const handler = me.component.handlers.get(port);
    st.counters.applied++;
    const msgNo = st.msgNo++;
    if (!handler) {
      st.counters.errors++;
      st.lastError = `${me.name} has no input port ${port}`;
      return;
    }
    const ctx = new StatefulContext(st, me, origin, tag, port, key, createdAt, info.index, info.time, msgNo);
    try {
      handler(payload, ctx);
      const emits = ctx.emits;
      if (emits === undefined) return;
      // Route everything before committing anything: a bad emit fails the whole handler.
      const routed = emits.map((e) => ({ e, r: routeEmit(me, this.net, e.port, e.message, e.key, (): Tag => [info.index, st.emitNo++], (conn) => (st.rr[conn.index] = (st.rr[conn.index] ?? 0) + 1)) }));
      for (const { e, r } of routed) {
        for (const x of r) {
          for (const p of x.partitions) this.enqueue(st, `${x.to.name}/${p}`, [x.tag, x.conn.to.port, e.key, x.message, createdAt]);
        }
        if (me.sinkPorts.has(e.port)) {
          const out: SinkOutput = [++st.sinkSeq, e.port, e.key, e.message, `${originOf(st.component, st.partition)}@${info.index}.${st.emitNo++}`, createdAt];
          const keep = this.net.options.sinkRetention;
          if (keep > 0) {
            st.sinkRing.push(out);
            // Trimmed in bulk once twice the retention (a splice per output would move the whole ring every time).
            if (st.sinkRing.length >= 2 * keep) st.sinkRing.splice(0, st.sinkRing.length - keep);
          }
          info.emit(out);
        }
      }
    } catch (err) {
      st.counters.errors++;
      st.lastError = `${ctx.meta.tag} on ${me.name}.${port}: ${(err as Error)?.message ?? String(err)}`;
    }
  }

  private enqueue(st: PartitionState, dest: string, m: WireMessage): void {
    let q = st.outbox.get(dest);
    if (!q) st.outbox.set(dest, (q = new OutboxQueue(dest)));
    q.push(m);
    st.outboxSize++;
    st.counters.emitted++;
  }

  /**
   * Acknowledgements `[dest, seq]...` from the dispatcher of deployment `epoch` (its `deployedAt`);
   * returns how many messages left the outbox. Acknowledgements of another deployment are ignored.
   */
  ack(st: PartitionState, epoch: number, acks: [string, number][]): number {
    if (!st.deployed || epoch !== st.deployedAt) return 0;
    let n = 0;
    for (const [dest, seq] of acks) {
      const q = st.outbox.get(dest);
      if (q) n += q.ack(seq);
    }
    st.outboxSize -= n;
    return n;
  }

  forget(st: PartitionState, origin: string): boolean {
    return st.seen.delete(origin);
  }

  /** Sources idle for `sourceIdleMs` of log time are forgotten (a live source keeps sending, and retries within its request timeout). */
  private sweep(st: PartitionState, now: number): void {
    st.nextSweep = now + 1_000;
    const idle = this.net.options.sourceIdleMs;
    for (const [origin, s] of st.seen) if (s.isSource && now - s.lastSeen >= idle) st.seen.delete(origin);
  }

  // ------------------------------------------------------------------ snapshots

  image(st: PartitionState): unknown {
    if (!st.deployed) return [PARTITION_IMAGE_VERSION, false];
    const c = this.comp(st);
    return [
      PARTITION_IMAGE_VERSION,
      true,
      st.deployedAt,
      st.component,
      st.partition,
      st.fingerprint,
      c.component.state.snapshot(st.user),
      [st.counters.applied, st.counters.duplicates, st.counters.errors, st.counters.emitted],
      st.lastError,
      st.lastIndex,
      st.emitNo,
      st.msgNo,
      st.rr,
      [...st.outbox.values()].map((q) => q.image()),
      [...st.seen].map(([o, s]) => [o, s.image()]),
      st.sinkSeq,
      st.sinkRing,
      st.nextSweep,
    ];
  }

  restore(image: unknown): PartitionState {
    const img = image as unknown[];
    if (img[0] !== PARTITION_IMAGE_VERSION) throw new Error(`component partition image version ${String(img[0])} is not supported (expected ${PARTITION_IMAGE_VERSION})`);
    const st = emptyState();
    if (!img[1]) return st;
    const [, , deployedAt, component, partition, fingerprint, user, counters, lastError, lastIndex, emitNo, msgNo, rr, outbox, seen, sinkSeq, sinkRing, nextSweep] = img as [
      number, boolean, number, string, number, string, unknown, number[], string | null, number, number, number, number[], unknown[][], [string, unknown[]][], number, SinkOutput[], number,
    ];
    const c = this.net.components.get(component);
    if (!c) throw new Error(`snapshot holds component ${component}, which network ${this.net.name} on this node does not have`);
    st.deployed = true;
    st.deployedAt = deployedAt;
    st.component = component;
    st.partition = partition;
    st.fingerprint = fingerprint;
    st.user = c.component.state.restore(user);
    st.counters = { applied: counters[0]!, duplicates: counters[1]!, errors: counters[2]!, emitted: counters[3]! };
    st.lastError = lastError;
    st.lastIndex = lastIndex;
    st.emitNo = emitNo;
    st.msgNo = msgNo;
    st.rr = rr;
    for (const q of outbox) {
      const oq = OutboxQueue.fromImage(q);
      st.outbox.set(oq.dest, oq);
      st.outboxSize += oq.length;
    }
    for (const [o, s] of seen) st.seen.set(o, SeenSet.fromImage(s));
    st.sinkSeq = sinkSeq;
    st.sinkRing = sinkRing;
    st.nextSweep = nextSweep;
    return st;
  }
}
