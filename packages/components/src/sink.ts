/**
 * Sinks: subscribe to what a stateful component emits on an output port. Each partition keeps its
 * last `sinkRetention` outputs in its replicated state, numbered; a sink subscribes to every
 * partition (served by one replica, the leader when known) and receives each output once, in
 * order per partition.
 *
 * A subscription can miss events: the serving replica fails and the client subscribes at the new
 * leader, or the replica installs a snapshot (which emits no events) and ends the subscription. The
 * sink notices by the output numbers (a jump, or a renewed state that does not reach back to its
 * last output) and, for a silent tail, by asking each partition for its latest number every
 * `catchUpIntervalMs`; it then reads the missing outputs from the partition's retained ones, page
 * by page. Outputs that fell out of the retention meanwhile are counted as `gaps`.
 */
import type { Subscription, TesseraClient } from '@tessera/client';
import type { Network, SinkDef } from './network.js';
import type { SinkOutput } from './partition-state.js';
import { placeNetwork, type PartitionPlace } from './placement.js';

/** What a sink's handler receives besides the message. */
export interface SinkMeta {
  readonly component: string;
  readonly partition: number;
  readonly port: string;
  readonly key: string | null;
  /** The output's tag (unique in the network). */
  readonly tag: string;
  /** The partition's output sequence number (increasing by one per output of any sinked port). */
  readonly seq: number;
  /** When the source accepted the message this output derives from (wall clock, ms). */
  readonly createdAt: number;
}

/** Options of {@link openSink}. */
export interface SinkOptions {
  /** `'now'` (default): only outputs after subscribing; `'retained'`: first the outputs each partition still retains. */
  readonly from?: 'now' | 'retained';
  /** Called when outputs were missed for good (a partition emitted more than its retention while the sink could not read). */
  readonly onGap?: (partition: number, missed: number) => void;
  /** How often each partition is asked for its latest output number, to find outputs the subscription missed. Default 1000 ms; 0 turns it off. */
  readonly catchUpIntervalMs?: number;
}

/** A live sink: see {@link openSink}. */
export interface Sink {
  /** Outputs delivered, outputs known missed for good, and outputs recovered from the retention after the subscription missed them. */
  stats(): { received: number; gaps: number; recovered: number };
  /** Resolves once every partition's subscription delivered its first state. */
  readonly ready: Promise<void>;
  close(): void;
}

/** The retained outputs of one partition, as its `describe` and `outputs` query give them. */
interface Retained {
  seq: number;
  outputs: SinkOutput[];
}

/**
 * Subscribes to sink `name` of a deployed network.
 *
 * ```ts
 * const counts = openSink(client, wordCount, 'counts', (c) => console.log(c.word, c.count));
 * ```
 */
export function openSink<T = unknown>(client: TesseraClient, net: Network, name: string, handler: (message: T, meta: SinkMeta) => void, options: SinkOptions = {}): Sink {
  const def: SinkDef | undefined = net.sinks.get(name);
  if (!def) throw new TypeError(`network ${net.name} has no sink ${name} (sinks: ${[...net.sinks.keys()].join(', ') || 'none'})`);
  const comp = net.components.get(def.from.component)!;
  const placement = placeNetwork(net, client.clusterMap().partitions);
  const subs: Subscription[] = [];
  const counts = { received: 0, gaps: 0, recovered: 0 };
  let closed = false;
  let readyCount = 0;
  let markReady!: () => void;
  const ready = new Promise<void>((r) => (markReady = r));
  const partitions: PartitionReader[] = [];

  class PartitionReader {
    /** The last output number delivered (or skipped as missed); undefined until the first state. */
    last: number | undefined;
    /** Outputs that arrived after a jump, waiting for the missing ones. */
    private pending: SinkOutput[] = [];
    private repairing = false;
    private first = true;
    /** Starting at the oldest retained output: the first hole is not a loss. */
    private fromOldest = false;

    constructor(
      readonly p: number,
      readonly place: PartitionPlace,
    ) {}

    /** Delivers `o` if it is the next output; buffers it and repairs if outputs are missing before it. */
    offer(o: SinkOutput): void {
      if (this.last === undefined || o[0] <= this.last) return;
      if (o[0] > this.last + 1 || this.repairing) {
        this.pending.push(o);
        void this.repair(o[0]);
        return;
      }
      this.deliver(o);
    }

    private deliver(o: SinkOutput): void {
      const [seq, port, key, message, tag, createdAt] = o;
      this.last = seq;
      if (port !== def!.from.port) return;
      counts.received++;
      handler(message as T, { component: comp.name, partition: this.p, port, key, tag, seq, createdAt });
    }

    /**
     * A subscription's (first or renewed) state: the partition's output number and its newest
     * outputs. If they do not reach back to `last`, the older ones are read page by page.
     */
    state(s: Retained | null): void {
      const seq = s?.seq ?? 0;
      let caughtUp: Promise<void> | undefined;
      if (this.last === undefined) {
        this.last = options.from === 'retained' ? Math.max(0, seq - net.options.sinkRetention) : seq;
        // 'retained' starts at the oldest output still held, whatever left the retention before.
        this.fromOldest = options.from === 'retained';
      }
      if (s && seq > this.last) {
        if (s.outputs.length > 0 && s.outputs[0]![0] <= this.last + 1) this.absorb(s);
        else {
          this.pending.push(...s.outputs);
          caughtUp = this.repair(seq);
        }
      }
      if (this.first) {
        this.first = false;
        // Ready once the first state's outputs (those of 'retained') are delivered.
        void (caughtUp ?? Promise.resolve()).then(() => {
          if (++readyCount === comp.partitions) markReady();
        });
      }
    }

    /**
     * Takes retained outputs beyond `last`, oldest first (a page of them, or the newest when they
     * reach back to `last`). A hole before the first means those outputs left the retention: missed.
     */
    private absorb(s: Retained): void {
      if (this.last === undefined) return;
      // What the subscription brought since its jump waits in `pending`: from there on, nothing is read back.
      let firstPending = Infinity;
      for (const x of this.pending) if (x[0] < firstPending) firstPending = x[0];
      for (const o of s.outputs) {
        if (o[0] <= this.last) continue;
        if (this.fromOldest) this.last = o[0] - 1;
        this.fromOldest = false;
        if (o[0] > this.last + 1) this.miss(o[0] - this.last - 1);
        this.deliver(o);
        if (this.repairing && o[0] < firstPending) counts.recovered++;
      }
      // Nothing retained at all (retention 0): everything since `last` is gone.
      if (s.outputs.length === 0 && s.seq > this.last) this.miss(s.seq - this.last, s.seq);
    }

    private miss(n: number, upTo = this.last! + n): void {
      counts.gaps += n;
      options.onGap?.(this.p, n);
      this.last = upTo;
    }

    /** Reads the outputs after `last` from the partition (they are retained there), page by page, and delivers them in order. */
    async repair(upTo: number): Promise<void> {
      if (this.repairing || closed) return;
      this.repairing = true;
      try {
        let failures = 0;
        while (!closed && this.last !== undefined && this.last < upTo) {
          const before = this.last;
          let progressed = false;
          try {
            const a = await client.query(this.place.clusterPartition, placement.type, this.place.resource, 'outputs', this.last, null, { timeoutMs: 5_000 });
            this.absorb(a.value as Retained);
            progressed = this.last !== before;
          } catch {
            // unavailable for now
          }
          if (progressed) continue;
          // A failure, or an answer from a replica behind ours: back off; after a few, the
          // subscription or the next poll tries again.
          if (++failures > 5) break;
          await new Promise((r) => setTimeout(r, 50 * failures));
        }
      } finally {
        this.repairing = false;
      }
      const waiting = this.pending.sort((a, b) => a[0] - b[0]);
      this.pending = [];
      for (const o of waiting) this.offer(o);
    }

    /** A silent partition: compare its latest output number with ours. */
    async poll(): Promise<void> {
      if (this.repairing || this.last === undefined || closed) return;
      try {
        const a = await client.query(this.place.clusterPartition, placement.type, this.place.resource, 'status', null, null, { timeoutMs: 2_000 });
        const seq = (a.value as { sinkSeq: number }).sinkSeq;
        if (this.last !== undefined && seq > this.last) await this.repair(seq);
      } catch {
        // unavailable for now; the next round asks again
      }
    }
  }

  for (let p = 0; p < comp.partitions; p++) {
    const reader = new PartitionReader(p, placement.of(comp.name, p));
    partitions.push(reader);
    subs.push(
      client.subscribe(
        reader.place.clusterPartition,
        placement.type,
        reader.place.resource,
        (event) => reader.offer(event as SinkOutput),
        (state) => reader.state(state as Retained | null),
      ),
    );
  }
  const interval = options.catchUpIntervalMs ?? 1_000;
  const timer = interval > 0 ? setInterval(() => partitions.forEach((r) => void r.poll()), interval) : undefined;
  timer?.unref();
  return {
    ready,
    stats: () => ({ ...counts }),
    close: () => {
      closed = true;
      if (timer) clearInterval(timer);
      for (const s of subs) s.close();
    },
  };
}
