/**
 * Networks: components wired port to port. `network(name)` is a builder; `build()` validates the
 * whole definition at once and returns an immutable {@link Network}, or throws a
 * NetworkDefinitionError listing every problem with its path. The declarative form (JSON/YAML,
 * definition.ts) produces the same draft and goes through the same validation.
 */
import { fnv1a32String } from '@tessera/client/protocol';
import { NAME, type Component } from './component.js';
import { NetworkDefinitionError, type DefinitionIssue } from './errors.js';
import { roundRobin, type Grouping } from './grouping.js';

/** Settings of a component inside a network. */
export interface AddOptions {
  /** The component's name in this network (default: the component's own name). */
  readonly as?: string;
  /** Partitions (stateful: independent replicated state machines; stateless: the range of `ctx.partition`). Default 1. */
  readonly partitions?: number;
  /** Replicas of each stateful partition; must equal the cluster's replication factor at deploy time (default: the cluster's). */
  readonly replicas?: number;
  /** Whether partitions are replicated on Raft. Default: whether the component declares state. */
  readonly stateful?: boolean;
}

/** Network-wide settings. */
export interface NetworkOptions {
  /**
   * A stateful partition refuses messages from outside its cycle (sources, upstream components)
   * while this many of its emitted messages are not yet acknowledged downstream: backpressure.
   */
  readonly maxOutbox?: number;
  /**
   * Outputs kept per partition for sinks that reconnect (they catch up from these). Default 10,000.
   * Cover what a partition emits during the longest outage a sink should bridge (a failover takes
   * an election timeout plus a round trip); older outputs a sink missed are reported as gaps.
   */
  readonly sinkRetention?: number;
  /** A source silent this long (log time) is forgotten by the partitions' duplicate filters. */
  readonly sourceIdleMs?: number;
}

/** A port reference. */
export interface PortRef {
  readonly component: string;
  readonly port: string;
}

/** A component in a network. */
export interface NetworkComponent {
  readonly name: string;
  readonly component: Component;
  readonly partitions: number;
  readonly replicas: number | undefined;
  readonly stateful: boolean;
  /** Connections leaving each output port. */
  readonly outgoing: ReadonlyMap<string, readonly Connection[]>;
  /** Output ports read by sinks. */
  readonly sinkPorts: ReadonlySet<string>;
  /** Strongly connected component id: messages between components with the same id are never refused for backpressure (a cycle could deadlock). */
  readonly cycle: number;
}

export interface Connection {
  readonly index: number;
  readonly from: PortRef;
  readonly to: PortRef;
  readonly grouping: Grouping;
}

export interface SourceDef {
  readonly name: string;
  readonly to: PortRef;
  readonly grouping: Grouping;
}

export interface SinkDef {
  readonly name: string;
  readonly from: PortRef;
}

/** A validated, immutable network. */
export interface Network {
  readonly name: string;
  /** Hash of the definition (names, ports, partitions, connections, groupings, options); deploy checks that nodes run the same. */
  readonly fingerprint: string;
  readonly components: ReadonlyMap<string, NetworkComponent>;
  readonly connections: readonly Connection[];
  readonly sources: ReadonlyMap<string, SourceDef>;
  readonly sinks: ReadonlyMap<string, SinkDef>;
  readonly options: Required<NetworkOptions>;
}

export const DEFAULT_OPTIONS: Required<NetworkOptions> = { maxOutbox: 10_000, sinkRetention: 10_000, sourceIdleMs: 10 * 60_000 };

/** @internal The unified draft that both the builder and the declarative form produce. */
export interface NetworkDraft {
  name: unknown;
  options?: { value: unknown; path: string };
  components: { name: unknown; component: Component | { unresolved: string; path: string }; partitions?: unknown; replicas?: unknown; stateful?: unknown; path: string }[];
  connections: { from: unknown; to: unknown; grouping?: Grouping | { invalid: string }; path: string }[];
  sources: { name: unknown; to: unknown; grouping?: Grouping | { invalid: string }; path: string }[];
  sinks: { name: unknown; from: unknown; path: string }[];
}

/** Builds a network. Every method returns the builder; `build()` validates. */
export class NetworkBuilder {
  private readonly draft: NetworkDraft;

  /** @internal use {@link network}. */
  constructor(name: string, options?: NetworkOptions) {
    this.draft = { name, components: [], connections: [], sources: [], sinks: [], ...(options ? { options: { value: options, path: 'options' } } : {}) };
  }

  /** Adds a component. */
  add(component: Component, options: AddOptions = {}): this {
    const name = options.as ?? component?.name;
    this.draft.components.push({
      name,
      component,
      partitions: options.partitions ?? 1,
      replicas: options.replicas,
      stateful: options.stateful,
      path: typeof name === 'string' && NAME.test(name) ? `components.${name}` : `components[${this.draft.components.length}]`,
    });
    return this;
  }

  /** Connects output port `from` ("component.port") to input port `to`, choosing partitions with `grouping` (default round robin). */
  connect(from: string, to: string, grouping?: Grouping): this {
    this.draft.connections.push({ from, to, ...(grouping ? { grouping } : {}), path: `connections[${this.draft.connections.length}]` });
    return this;
  }

  /** A source: messages pushed from outside through the client enter at input port `to`. */
  source(name: string, to: string, options: { grouping?: Grouping } = {}): this {
    this.draft.sources.push({ name, to, ...(options.grouping ? { grouping: options.grouping } : {}), path: `sources[${this.draft.sources.length}]` });
    return this;
  }

  /** A sink: clients subscribe to what a stateful component emits on output port `from`. */
  sink(name: string, from: string): this {
    this.draft.sinks.push({ name, from, path: `sinks[${this.draft.sinks.length}]` });
    return this;
  }

  /** Validates the definition; throws NetworkDefinitionError naming every problem. */
  build(): Network {
    return buildNetwork(this.draft);
  }
}

/**
 * Starts a network definition.
 *
 * ```ts
 * const wordCount = network('word-count')
 *   .add(splitter, { partitions: 2 })
 *   .add(counter, { partitions: 4, replicas: 3 })
 *   .connect('splitter.words', 'counter.words', hash())
 *   .source('lines', 'splitter.lines')
 *   .sink('counts', 'counter.counts')
 *   .build();
 * ```
 */
export function network(name: string, options?: NetworkOptions): NetworkBuilder {
  return new NetworkBuilder(name, options);
}

function isGrouping(g: unknown): g is Grouping {
  return typeof g === 'object' && g !== null && typeof (g as Grouping).route === 'function' && typeof (g as Grouping).description === 'string';
}

function isComponent(c: unknown): c is Component {
  return typeof c === 'object' && c !== null && (c as Component).handlers instanceof Map && (c as Component).inputs instanceof Map;
}

const intIn = (v: unknown, min: number, max: number) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/** @internal Validates a draft (collecting every issue) and freezes it into a Network. */
export function buildNetwork(draft: NetworkDraft): Network {
  const issues: DefinitionIssue[] = [];
  const issue = (path: string, message: string) => issues.push({ path, message });
  const name = typeof draft.name === 'string' ? draft.name : '';
  if (typeof draft.name !== 'string' || !NAME.test(draft.name)) issue('name', `expected a name matching ${NAME}, got ${JSON.stringify(draft.name)}`);

  const options = { ...DEFAULT_OPTIONS };
  if (draft.options !== undefined) {
    const o = draft.options.value;
    if (typeof o !== 'object' || o === null) issue(draft.options.path, 'expected an object');
    else {
      for (const [k, v] of Object.entries(o)) {
        if (k === 'maxOutbox') intIn(v, 1, 10_000_000) ? (options.maxOutbox = v as number) : issue(`${draft.options.path}.maxOutbox`, 'expected an integer from 1 to 10000000');
        else if (k === 'sinkRetention') intIn(v, 0, 1_000_000) ? (options.sinkRetention = v as number) : issue(`${draft.options.path}.sinkRetention`, 'expected an integer from 0 to 1000000');
        else if (k === 'sourceIdleMs') intIn(v, 1_000, 30 * 24 * 3600_000) ? (options.sourceIdleMs = v as number) : issue(`${draft.options.path}.sourceIdleMs`, 'expected an integer number of ms, at least 1000');
        else issue(`${draft.options.path}.${k}`, 'unknown option (expected maxOutbox, sinkRetention, sourceIdleMs)');
      }
    }
  }

  interface Mutable {
    name: string;
    component: Component;
    partitions: number;
    replicas: number | undefined;
    stateful: boolean;
    outgoing: Map<string, Connection[]>;
    sinkPorts: Set<string>;
    cycle: number;
  }
  const comps = new Map<string, Mutable>();
  for (const c of draft.components) {
    let ok = true;
    if (typeof c.name !== 'string' || !NAME.test(c.name)) {
      issue(`${c.path}.name`, `expected a name matching ${NAME}, got ${JSON.stringify(c.name)}`);
      ok = false;
    } else if (comps.has(c.name)) {
      issue(c.path, `component ${c.name} is added twice (use add(component, { as: 'other-name' }))`);
      ok = false;
    }
    const comp = c.component;
    if (!isComponent(comp)) {
      if (comp && typeof comp === 'object' && 'unresolved' in comp) issue(comp.path, comp.unresolved);
      else issue(c.path, 'expected a component(...) definition');
      ok = false;
    }
    if (!intIn(c.partitions, 1, 4096)) {
      issue(`${c.path}.partitions`, `expected an integer from 1 to 4096, got ${JSON.stringify(c.partitions)}`);
      ok = false;
    }
    if (c.replicas !== undefined && !intIn(c.replicas, 1, 15)) issue(`${c.path}.replicas`, `expected an integer from 1 to 15, got ${JSON.stringify(c.replicas)}`);
    if (c.stateful !== undefined && typeof c.stateful !== 'boolean') issue(`${c.path}.stateful`, 'expected true or false');
    if (!ok) continue;
    const component = comp as Component;
    const stateful = typeof c.stateful === 'boolean' ? c.stateful : component.hasState;
    if (!stateful && component.hasState) issue(`${c.path}.stateful`, `component ${component.name} keeps state; it cannot run stateless`);
    if (!stateful && c.replicas !== undefined) issue(`${c.path}.replicas`, 'only stateful components have replicas');
    comps.set(c.name as string, {
      name: c.name as string,
      component,
      partitions: c.partitions as number,
      replicas: c.replicas as number | undefined,
      stateful,
      outgoing: new Map(),
      sinkPorts: new Set(),
      cycle: -1,
    });
  }
  const known = draft.components.every((c) => typeof c.name === 'string' && comps.has(c.name));

  /** Resolves "component.port"; reports a problem at `path` unless it names a port of the right kind. */
  const port = (ref: unknown, path: string, kind: 'input' | 'output'): PortRef | undefined => {
    if (typeof ref !== 'string' || !/^[^.]+\.[^.]+$/.test(ref)) {
      issue(path, `expected "component.port", got ${JSON.stringify(ref)}`);
      return undefined;
    }
    const [cn, pn] = ref.split('.') as [string, string];
    const c = comps.get(cn);
    if (!c) {
      // A component that failed validation was already reported; do not pile up consequences.
      if (known || !draft.components.some((d) => d.name === cn)) issue(path, `unknown component ${cn} (components: ${[...comps.keys()].join(', ') || 'none'})`);
      return undefined;
    }
    const ports = kind === 'input' ? c.component.inputs : c.component.outputs;
    if (!ports.has(pn)) {
      const other = kind === 'input' ? c.component.outputs : c.component.inputs;
      const hint = other.has(pn) ? ` (${pn} is an ${kind === 'input' ? 'output' : 'input'} port)` : ` (${kind} ports of ${cn}: ${[...ports.keys()].join(', ') || 'none'})`;
      issue(path, `unknown port ${ref}${hint}`);
      return undefined;
    }
    return { component: cn, port: pn };
  };
  const groupingOf = (g: Grouping | { invalid: string } | undefined, path: string): Grouping | undefined => {
    if (g === undefined) return roundRobin();
    if (isGrouping(g)) return g;
    issue(path, 'invalid' in (g as object) ? (g as { invalid: string }).invalid : 'expected a grouping: roundRobin(), hash(...), broadcast(), random() or custom(name, fn)');
    return undefined;
  };

  const connections: Connection[] = [];
  draft.connections.forEach((c, i) => {
    const from = port(c.from, `${c.path}.from`, 'output');
    const to = port(c.to, `${c.path}.to`, 'input');
    const grouping = groupingOf(c.grouping, `${c.path}.grouping`);
    if (!from || !to || !grouping) return;
    const dup = connections.find((x) => x.from.component === from.component && x.from.port === from.port && x.to.component === to.component && x.to.port === to.port);
    if (dup) {
      issue(c.path, `${c.from as string} is already connected to ${c.to as string} (connections[${dup.index}])`);
      return;
    }
    const conn: Connection = { index: i, from, to, grouping };
    connections.push(conn);
    const src = comps.get(from.component)!;
    const list = src.outgoing.get(from.port) ?? [];
    list.push(conn);
    src.outgoing.set(from.port, list);
  });

  const sources = new Map<string, SourceDef>();
  for (const s of draft.sources) {
    if (typeof s.name !== 'string' || !NAME.test(s.name)) issue(`${s.path}.name`, `expected a name matching ${NAME}, got ${JSON.stringify(s.name)}`);
    else if (sources.has(s.name)) issue(`${s.path}.name`, `source ${s.name} is defined twice`);
    const to = port(s.to, `${s.path}.to`, 'input');
    const grouping = groupingOf(s.grouping, `${s.path}.grouping`);
    if (typeof s.name === 'string' && NAME.test(s.name) && !sources.has(s.name) && to && grouping) sources.set(s.name, { name: s.name, to, grouping });
  }
  const sinks = new Map<string, SinkDef>();
  for (const s of draft.sinks) {
    if (typeof s.name !== 'string' || !NAME.test(s.name)) issue(`${s.path}.name`, `expected a name matching ${NAME}, got ${JSON.stringify(s.name)}`);
    else if (sinks.has(s.name)) issue(`${s.path}.name`, `sink ${s.name} is defined twice`);
    const from = port(s.from, `${s.path}.from`, 'output');
    if (from && !comps.get(from.component)!.stateful) {
      issue(`${s.path}.from`, `${from.component} is stateless; sinks read the replicated outputs of stateful components (add a stateful component in between)`);
      continue;
    }
    if (typeof s.name === 'string' && NAME.test(s.name) && !sinks.has(s.name) && from) {
      sinks.set(s.name, { name: s.name, from });
      comps.get(from.component)!.sinkPorts.add(from.port);
    }
  }

  // Strongly connected components (Tarjan). A cycle made only of stateless components would run
  // forever inside one delivery; cycles through a stateful component are fine (each hop is logged).
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  let sccId = 0;
  const succ = (n: string) => [...comps.get(n)!.outgoing.values()].flat().map((c) => c.to.component);
  const strong = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of succ(v)) {
      if (!index.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const members: string[] = [];
      for (;;) {
        const w = stack.pop()!;
        onStack.delete(w);
        comps.get(w)!.cycle = sccId;
        members.push(w);
        if (w === v) break;
      }
      const cyclic = members.length > 1 || succ(v).includes(v);
      if (cyclic && members.every((m) => !comps.get(m)!.stateful)) {
        const c = connections.find((x) => members.includes(x.from.component) && members.includes(x.to.component))!;
        issue(`connections[${c.index}]`, `closes a cycle of stateless components (${members.join(' -> ')}); a cycle needs a stateful component`);
      }
      sccId++;
    }
  };
  for (const n of comps.keys()) if (!index.has(n)) strong(n);

  if (issues.length > 0) throw new NetworkDefinitionError(name, issues);

  const components = new Map<string, NetworkComponent>();
  for (const [n, c] of comps) components.set(n, Object.freeze({ ...c, outgoing: new Map([...c.outgoing].map(([k, v]) => [k, Object.freeze(v)])) }));
  const canonical = JSON.stringify([
    name,
    [...components.values()].map((c) => [c.name, c.component.name, c.partitions, c.replicas ?? null, c.stateful, [...c.component.inputs.keys()].sort(), [...c.component.outputs.keys()].sort()]),
    connections.map((c) => [`${c.from.component}.${c.from.port}`, `${c.to.component}.${c.to.port}`, c.grouping.description]),
    [...sources.values()].map((s) => [s.name, `${s.to.component}.${s.to.port}`, s.grouping.description]),
    [...sinks.values()].map((s) => [s.name, `${s.from.component}.${s.from.port}`]),
    [options.maxOutbox, options.sinkRetention, options.sourceIdleMs],
  ]);
  const fingerprint = fnv1a32String(canonical).toString(16).padStart(8, '0') + fnv1a32String(canonical + '#').toString(16).padStart(8, '0');
  return Object.freeze({ name, fingerprint, components, connections: Object.freeze(connections), sources, sinks, options: Object.freeze(options) });
}
