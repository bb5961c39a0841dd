/**
 * The declarative form of a network: a JSON or YAML document naming components from a registry
 * (code cannot live in JSON). Checked with zod for its shape and then by the same validation as the
 * builder; every problem is reported with its path, e.g. `connections[2].to: unknown port counter.wrds`.
 *
 * ```yaml
 * name: word-count
 * components:
 *   splitter: { partitions: 2 }
 *   counter: { use: counter, partitions: 4, replicas: 3 }
 * connections:
 *   - { from: splitter.words, to: counter.words, grouping: hash }
 * sources:
 *   - { name: lines, to: splitter.lines }
 * sinks:
 *   - { name: counts, from: counter.counts }
 * ```
 */
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import type { Component } from './component.js';
import { NetworkDefinitionError, type DefinitionIssue } from './errors.js';
import { broadcast, custom, hash, random, roundRobin, type Grouping, type GroupingFn } from './grouping.js';
import { buildNetwork, type Network, type NetworkDraft } from './network.js';

const groupingSchema = z.union([
  z.enum(['roundRobin', 'broadcast', 'random', 'hash']),
  z.object({ hash: z.string().min(1) }).strict(),
  z.object({ custom: z.string().min(1) }).strict(),
]);

/** The schema of a declarative network definition (JSON or YAML). */
export const networkDefinitionSchema = z
  .object({
    name: z.string(),
    options: z.object({ maxOutbox: z.number().int(), sinkRetention: z.number().int(), sourceIdleMs: z.number().int() }).partial().strict().optional(),
    components: z.record(
      z.string(),
      z
        .object({
          /** Registered component to use (default: the key). */
          use: z.string().optional(),
          partitions: z.number().int().optional(),
          replicas: z.number().int().optional(),
          stateful: z.boolean().optional(),
        })
        .strict(),
    ),
    connections: z.array(z.object({ from: z.string(), to: z.string(), grouping: groupingSchema.optional() }).strict()).default([]),
    sources: z.array(z.object({ name: z.string(), to: z.string(), grouping: groupingSchema.optional() }).strict()).default([]),
    sinks: z.array(z.object({ name: z.string(), from: z.string() }).strict()).default([]),
  })
  .strict();

/** A declarative network definition. */
export type NetworkDefinition = z.input<typeof networkDefinitionSchema>;

/** What the declarative form's names refer to. */
export interface Registry {
  /** Components by name (or a list: each under its own name). */
  readonly components: Readonly<Record<string, Component>> | readonly Component[];
  /** Custom groupings by name, used as `grouping: { custom: name }`. */
  readonly groupings?: Readonly<Record<string, GroupingFn>>;
}

function pathOf(path: readonly PropertyKey[]): string {
  return path
    .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
    .join('.')
    .replace(/\.\[/g, '[');
}

function groupingFrom(g: unknown, registry: Registry): Grouping | { invalid: string } | undefined {
  if (g === undefined) return undefined;
  if (g === 'roundRobin') return roundRobin();
  if (g === 'broadcast') return broadcast();
  if (g === 'random') return random();
  if (g === 'hash') return hash();
  if (typeof g === 'object' && g !== null) {
    const o = g as Record<string, unknown>;
    if (typeof o.hash === 'string') return hash(o.hash);
    if (typeof o.custom === 'string') {
      const fn = registry.groupings?.[o.custom];
      if (!fn) return { invalid: `unknown custom grouping ${o.custom} (registered: ${Object.keys(registry.groupings ?? {}).join(', ') || 'none'})` };
      return custom(o.custom, fn);
    }
  }
  return { invalid: 'expected roundRobin, broadcast, random, hash, { hash: "<field>" } or { custom: "<name>" }' };
}

const asObject = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * Builds a network from a declarative definition (an object, e.g. parsed JSON). Throws
 * NetworkDefinitionError listing every problem, each with its path.
 */
export function defineNetwork(definition: unknown, registry: Registry): Network {
  const issues: DefinitionIssue[] = [];
  const shape = networkDefinitionSchema.safeParse(definition);
  if (!shape.success) for (const i of shape.error.issues) issues.push({ path: pathOf(i.path), message: i.message });
  const byName = new Map<string, Component>();
  const list = Array.isArray(registry.components) ? (registry.components as Component[]).map((c) => [c.name, c] as const) : Object.entries(registry.components as Record<string, Component>);
  for (const [n, c] of list) byName.set(n, c);

  // Build the draft from whatever is there, so that problems beyond the shape are found too.
  const d = asObject(definition);
  const draft: NetworkDraft = {
    name: d.name,
    ...(d.options !== undefined ? { options: { value: d.options, path: 'options' } } : {}),
    components: Object.entries(asObject(d.components)).map(([name, raw]) => {
      const c = asObject(raw);
      const use = typeof c.use === 'string' ? c.use : name;
      const found = byName.get(use);
      return {
        name,
        component: found ?? { unresolved: `unknown component ${use} (registered: ${[...byName.keys()].join(', ') || 'none'})`, path: `components.${name}${typeof c.use === 'string' ? '.use' : ''}` },
        partitions: c.partitions ?? 1,
        replicas: c.replicas,
        stateful: c.stateful,
        path: `components.${name}`,
      };
    }),
    connections: asArray(d.connections).map((raw, i) => {
      const c = asObject(raw);
      const grouping = groupingFrom(c.grouping, registry);
      return { from: c.from, to: c.to, ...(grouping ? { grouping } : {}), path: `connections[${i}]` };
    }),
    sources: asArray(d.sources).map((raw, i) => {
      const s = asObject(raw);
      const grouping = groupingFrom(s.grouping, registry);
      return { name: s.name, to: s.to, ...(grouping ? { grouping } : {}), path: `sources[${i}]` };
    }),
    sinks: asArray(d.sinks).map((raw, i) => {
      const s = asObject(raw);
      return { name: s.name, from: s.from, path: `sinks[${i}]` };
    }),
  };
  try {
    const net = buildNetwork(draft);
    if (issues.length === 0) return net;
  } catch (err) {
    if (!(err instanceof NetworkDefinitionError)) throw err;
    // The shape check and the semantic check can both see one bad field: report it once.
    for (const i of err.issues) if (!issues.some((x) => x.path === i.path || (x.path.startsWith(i.path + '.') && i.path !== ''))) issues.push(i);
  }
  throw new NetworkDefinitionError(typeof d.name === 'string' ? d.name : '', issues);
}

/** Parses a JSON or YAML document (YAML is a superset of JSON) and builds the network it defines. */
export function parseNetwork(text: string, registry: Registry): Network {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    const e = err as YAMLParseError;
    const where = e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '';
    throw new NetworkDefinitionError('', [{ path: where, message: `not valid YAML/JSON: ${e.message.split('\n')[0]}` }]);
  }
  return defineNetwork(doc, registry);
}
