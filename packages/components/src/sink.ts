/**
 * Sinks: subscribe to what a stateful component emits on an output port. Each partition keeps its
 * last `sinkRetention` outputs in its replicated state, numbered; a sink subscribes to every
 * partition (served by one replica, the leader when known) and receives each output once, in
 * order per partition.
 *
 * A subscription can miss events: the serving replica fails and the client subscribes elsewhere,
 * or the replica catches up by installing a snapshot (which emits no events). The sink notices by
 * the output numbers (a jump) and, for a silent tail, by asking each partition for its latest
 * number every `catchUpIntervalMs`; it then reads the missing outputs from the partition's
 * retained ones. Outputs that fell out of the retention meanwhile are counted as `gaps`.
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

    state(s: Retained | null): void {
      const outputs = s?.outputs ?? [];
      if (this.last === undefined) {
        if (options.from === 'retained') this.last = outputs.length > 0 ? outputs[0]![0] - 1 : (s?.seq ?? 0);
        else this.last = s?.seq ?? 0;
      }
      this.absorb(s);
      if (this.first) {
        this.first = false;
        if (++readyCount === comp.partitions) markReady();
      }
    }

    /** Takes the retained outputs beyond `last`; outputs older than the retention are counted missed. */
    private absorb(s: Retained | null): void {
      if (!s || this.last === undefined) return;
      for (const o of s.outputs) {
        if (o[0] <= this.last) continue;
        if (o[0] > this.last + 1) this.miss(o[0] - this.last - 1);
        this.deliver(o);
        if (this.repairing) counts.recovered++;
      }
      if (s.seq > this.last) this.miss(s.seq - this.last, s.seq);
    }

    private miss(n: number, upTo = this.last! + n): void {
      counts.gaps += n;
      options.onGap?.(this.p, n);
      this.last = upTo;
    }

    /** Reads the outputs after `last` from the partition (they are retained there) and delivers them in order. */
    async repair(upTo: number): Promise<void> {
      if (this.repairing || closed) return;
      this.repairing = true;
      try {
        for (let attempt = 0; !closed && this.last !== undefined && this.last < upTo; attempt++) {
          try {
            const a = await client.query(this.place.clusterPartition, placement.type, this.place.resource, 'outputs', this.last, null, { timeoutMs: 5_000 });
            this.absorb(a.value as Retained);
          } catch {
            if (attempt >= 5) break; // the subscription or the next round will try again
            await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
          }
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
