/**
 * Sinks: subscribe to what a stateful component emits on an output port. Each partition keeps its
 * last `sinkRetention` outputs in its replicated state, numbered; a sink subscribes to every
 * partition (served by one replica, the leader when known) and receives each output once, in
 * order per partition. When the serving replica fails, the client subscribes elsewhere, receives
 * the retained outputs again and the sink skips those it had delivered; outputs that fell out of
 * the retention while the sink was away are counted as `gaps`.
 */
import type { Subscription, TesseraClient } from '@tessera/client';
import type { Network, SinkDef } from './network.js';
import type { SinkOutput } from './partition-state.js';
import { placeNetwork } from './placement.js';

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
  /** Called when outputs were missed (a partition emitted more than its retention while the sink was away). */
  readonly onGap?: (partition: number, missed: number) => void;
}

/** A live sink: see {@link openSink}. */
export interface Sink {
  /** Outputs delivered, and outputs known missed. */
  stats(): { received: number; gaps: number };
  /** Resolves once every partition's subscription delivered its first state. */
  readonly ready: Promise<void>;
  close(): void;
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
  let received = 0;
  let gaps = 0;
  let readyCount = 0;
  let markReady!: () => void;
  const ready = new Promise<void>((r) => (markReady = r));
  for (let p = 0; p < comp.partitions; p++) {
    const place = placement.of(comp.name, p);
    let last: number | undefined;
    let first = true;
    const deliver = (o: SinkOutput) => {
      const [seq, port, key, message, tag, createdAt] = o;
      if (last !== undefined && seq <= last) return;
      if (last !== undefined && seq > last + 1) {
        gaps += seq - last - 1;
        options.onGap?.(p, seq - last - 1);
      }
      last = seq;
      if (port !== def.from.port) return;
      received++;
      handler(message as T, { component: comp.name, partition: p, port, key, tag, seq, createdAt });
    };
    subs.push(
      client.subscribe(
        place.clusterPartition,
        placement.type,
        place.resource,
        (event) => deliver(event as SinkOutput),
        (state) => {
          const s = state as { seq: number; outputs: SinkOutput[] } | null;
          const outputs = s?.outputs ?? [];
          if (last === undefined && options.from !== 'retained') last = s?.seq ?? 0;
          else {
            if (last === undefined) last = outputs.length > 0 ? outputs[0]![0] - 1 : (s?.seq ?? 0);
            for (const o of outputs) deliver(o);
            // Outputs beyond the retained ones that the sink never saw.
            if (s && s.seq > last) {
              gaps += s.seq - last;
              options.onGap?.(p, s.seq - last);
              last = s.seq;
            }
          }
          if (first) {
            first = false;
            if (++readyCount === comp.partitions) markReady();
          }
        },
      ),
    );
  }
  return {
    ready,
    stats: () => ({ received, gaps }),
    close: () => {
      for (const s of subs) s.close();
    },
  };
}
