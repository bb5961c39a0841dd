/**
 * Where component partitions live in the partition layer. Each stateful component partition is
 * a resource instance of type `component.<network>`; the instance name is chosen so that the
 * partition hash puts consecutive component partitions in consecutive cluster partitions (spread
 * over different Raft groups and leaders, instead of wherever the hash happens to drop them):
 *
 *   target(c, i) = (fnv1a32("<network>/<component>") + i) mod P
 *   name(c, i)   = "<component>/<i>" if it hashes to target(c, i), else "<component>/<i>~<s>" for the
 *                  smallest s >= 1 that does
 *
 * Every node, source and client computes the same table from the network and P, without
 * coordination. Changing this moves component state: it is part of the data layout.
 */
import { fnv1a32String, partitionOf } from '@tessera/client/protocol';
import type { Network } from './network.js';

/** The resource type of a network's component partitions. */
export const componentType = (network: string) => `component.${network}`;

/** The resource type of deployment records. */
export const DEPLOYMENT_TYPE = 'components.deployment';

/** Where one component partition lives. */
export interface PartitionPlace {
  readonly component: string;
  readonly partition: number;
  /** The cluster partition (Raft group) hosting it. */
  readonly clusterPartition: number;
  /** The resource instance name. */
  readonly resource: string;
}

/** The placement of a network's stateful partitions on a cluster with `P` partitions. */
export interface NetworkPlacement {
  readonly type: string;
  readonly clusterPartitions: number;
  /** `component -> partition -> place`. */
  readonly places: ReadonlyMap<string, readonly PartitionPlace[]>;
  /** Place of `<component>/<partition>`. */
  of(component: string, partition: number): PartitionPlace;
  /** Component partitions hosted by cluster partition `p`. */
  hostedBy(p: number): readonly PartitionPlace[];
}

/** Parses a resource instance name back into (component, partition). */
export function parseInstanceName(name: string): { component: string; partition: number } | undefined {
  const m = /^([A-Za-z][A-Za-z0-9_-]*)\/(\d+)(?:~\d+)?$/.exec(name);
  return m ? { component: m[1]!, partition: Number(m[2]) } : undefined;
}

export function placeNetwork(net: Network, P: number): NetworkPlacement {
  const places = new Map<string, PartitionPlace[]>();
  const hosted: PartitionPlace[][] = Array.from({ length: P }, () => []);
  for (const c of net.components.values()) {
    if (!c.stateful) continue;
    const base = fnv1a32String(`${net.name}/${c.name}`);
    const list: PartitionPlace[] = [];
    for (let i = 0; i < c.partitions; i++) {
      const target = (base + i) % P;
      let resource = `${c.name}/${i}`;
      for (let s = 1; partitionOf(P, resource) !== target; s++) resource = `${c.name}/${i}~${s}`;
      const place = { component: c.name, partition: i, clusterPartition: target, resource };
      list.push(place);
      hosted[target]!.push(place);
    }
    places.set(c.name, list);
  }
  return {
    type: componentType(net.name),
    clusterPartitions: P,
    places,
    of(component, partition) {
      const p = places.get(component)?.[partition];
      if (!p) throw new RangeError(`network ${net.name} has no stateful partition ${component}/${partition}`);
      return p;
    },
    hostedBy: (p) => hosted[p] ?? [],
  };
}
