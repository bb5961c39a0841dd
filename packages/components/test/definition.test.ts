import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { component } from '../src/component.js';
import { defineNetwork, parseNetwork } from '../src/definition.js';
import { ComponentDefinitionError, NetworkDefinitionError } from '../src/errors.js';
import { custom, hash } from '../src/grouping.js';
import { network } from '../src/network.js';

const splitter = component({
  name: 'splitter',
  inputs: { lines: z.string() },
  outputs: { words: z.string() },
  handlers: { lines: (l, ctx) => l.split(' ').forEach((w) => ctx.emit('words', w, { key: w })) },
});
const counter = component({
  name: 'counter',
  inputs: { words: z.string() },
  outputs: { counts: z.object({ word: z.string(), count: z.number() }) },
  state: { init: () => new Map<string, number>() },
  handlers: { words: (w, ctx) => void ctx.state.set(w, (ctx.state.get(w) ?? 0) + 1) },
});
const registry = { components: [splitter, counter], groupings: { first: () => 0 } };

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(NetworkDefinitionError);
    const e = err as NetworkDefinitionError;
    expect(e.code).toBe('NETWORK_INVALID');
    // The message names every problem, one per line.
    for (const i of e.issues) expect(e.message).toContain(`${i.path}: ${i.message}`);
    return e.issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected the definition to be rejected');
}

const good = {
  name: 'word-count',
  components: { splitter: { partitions: 2 }, counter: { partitions: 4, replicas: 3 } },
  connections: [{ from: 'splitter.words', to: 'counter.words', grouping: 'hash' }],
  sources: [{ name: 'lines', to: 'splitter.lines' }],
  sinks: [{ name: 'counts', from: 'counter.counts' }],
};

describe('declarative network definitions', () => {
  it('builds the same network as the builder (same fingerprint)', () => {
    const a = defineNetwork(good, registry);
    const b = network('word-count').add(splitter, { partitions: 2 }).add(counter, { partitions: 4, replicas: 3 }).connect('splitter.words', 'counter.words', hash()).source('lines', 'splitter.lines').sink('counts', 'counter.counts').build();
    expect(a.fingerprint).toBe(b.fingerprint);
    expect(a.components.get('counter')).toMatchObject({ partitions: 4, replicas: 3, stateful: true });
    expect(a.components.get('splitter')).toMatchObject({ partitions: 2, stateful: false });
  });

  it('reads YAML and JSON text', () => {
    const yaml = `
name: word-count
components:
  splitter: { partitions: 2 }
  counter: { use: counter, partitions: 4, replicas: 3 }
connections:
  - { from: splitter.words, to: counter.words, grouping: hash }
sources:
  - { name: lines, to: splitter.lines }
sinks:
  - { name: counts, from: counter.counts }
`;
    expect(parseNetwork(yaml, registry).fingerprint).toBe(defineNetwork(good, registry).fingerprint);
    expect(parseNetwork(JSON.stringify(good), registry).fingerprint).toBe(defineNetwork(good, registry).fingerprint);
  });

  it('rejects a definition with several errors, naming each with its path', () => {
    const bad = {
      name: 'word-count',
      components: { splitter: { partitions: 2 }, counter: { partitions: 4, replicas: 3, colour: 'red' }, summer: {}, extra: { use: 'splitter', partitions: 0 } },
      connections: [
        { from: 'splitter.words', to: 'counter.words', grouping: 'hash' },
        { from: 'splitter.lines', to: 'counter.words' },
        { from: 'counter.counts', to: 'counter.wrds' },
        { from: 'counter.counts', to: 'counter.words', grouping: { custom: 'nope' } },
      ],
      sources: [{ name: 'lines', to: 'splitter.lines', grouping: 'sideways' }],
      sinks: [{ name: 'counts', from: 'nowhere.counts' }],
    };
    const issues = issuesOf(() => defineNetwork(bad, registry));
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^components\.extra\.partitions: expected an integer from 1 to 4096, got 0/),
        expect.stringMatching(/^components\.counter: Unrecognized key.*colour/),
        expect.stringMatching(/^components\.summer: unknown component summer \(registered: splitter, counter\)/),
        expect.stringMatching(/^connections\[1\]\.from: unknown port splitter\.lines \(lines is an input port\)/),
        expect.stringMatching(/^connections\[2\]\.to: unknown port counter\.wrds/),
        expect.stringMatching(/^connections\[3\]\.grouping: unknown custom grouping nope \(registered: first\)/),
        expect.stringMatching(/^sources\[0\]\.grouping/),
        expect.stringMatching(/^sinks\[0\]\.from: unknown component nowhere/),
      ]),
    );
    expect(issues.length).toBe(8);
  });

  it('reports a missing name, a wrong type and invalid YAML with their place', () => {
    expect(issuesOf(() => defineNetwork({ components: {} }, registry))).toEqual(expect.arrayContaining([expect.stringMatching(/^name: /)]));
    expect(issuesOf(() => defineNetwork({ name: 'x', components: { counter: { partitions: 'four' } } }, registry))).toEqual(expect.arrayContaining([expect.stringMatching(/^components\.counter\.partitions: /)]));
    expect(issuesOf(() => parseNetwork('name: [unclosed', registry))[0]).toMatch(/line \d+, column \d+: not valid YAML/);
  });

  it('resolves custom groupings from the registry', () => {
    const net = defineNetwork({ ...good, connections: [{ from: 'splitter.words', to: 'counter.words', grouping: { custom: 'first' } }] }, registry);
    expect(net.connections[0]!.grouping.description).toBe('custom:first');
  });
});

describe('network builder validation', () => {
  it('collects every problem of a built network', () => {
    const issues = issuesOf(() =>
      network('bad name!')
        .add(splitter)
        .add(splitter)
        .add(counter, { partitions: 2, replicas: 0 })
        .add(splitter, { as: 'worker', replicas: 3 })
        .connect('splitter.words', 'counter.words')
        .connect('splitter.words', 'counter.words')
        .connect('counter.words', 'splitter.lines')
        .source('in', 'counter.counts')
        .sink('out', 'splitter.words')
        .build(),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^name: expected a name/),
        expect.stringMatching(/^components\.splitter: component splitter is added twice/),
        expect.stringMatching(/^components\.counter\.replicas: expected an integer from 1 to 15/),
        expect.stringMatching(/^components\.worker\.replicas: only stateful components have replicas/),
        expect.stringMatching(/^connections\[1\]: splitter\.words is already connected to counter\.words/),
        expect.stringMatching(/^connections\[2\]\.from: unknown port counter\.words \(words is an input port\)/),
        expect.stringMatching(/^sources\[0\]\.to: unknown port counter\.counts \(counts is an output port\)/),
        expect.stringMatching(/^sinks\[0\]\.from: splitter is stateless/),
      ]),
    );
  });

  it('refuses a cycle of stateless components but allows one through a stateful component', () => {
    const echo = component({ name: 'echo', inputs: { in: null }, outputs: { out: null }, handlers: { in: (m, ctx) => ctx.emit('out', m) } });
    expect(issuesOf(() => network('loop').add(echo).add(echo, { as: 'echo2' }).connect('echo.out', 'echo2.in').connect('echo2.out', 'echo.in').build())[0]).toMatch(/cycle of stateless components/);
    const keeper = component({ name: 'keeper', inputs: { in: null }, outputs: { out: null }, state: { init: () => 0 }, handlers: { in: (m, ctx) => ctx.emit('out', m) } });
    const net = network('loop').add(echo).add(keeper).connect('echo.out', 'keeper.in').connect('keeper.out', 'echo.in').build();
    expect(net.components.get('echo')!.cycle).toBe(net.components.get('keeper')!.cycle);
  });

  it('a stateful component cannot run stateless; options are checked', () => {
    expect(issuesOf(() => network('n').add(counter, { stateful: false }).build())[0]).toMatch(/^components\.counter\.stateful: component counter keeps state/);
    expect(issuesOf(() => network('n', { maxOutbox: 0, colour: 1 } as never).add(counter).build())).toEqual([
      expect.stringMatching(/^options\.maxOutbox: /),
      expect.stringMatching(/^options\.colour: unknown option/),
    ]);
  });

  it('the fingerprint changes with the definition', () => {
    const base = () => network('wc').add(splitter).add(counter, { partitions: 4 }).connect('splitter.words', 'counter.words', hash());
    expect(base().build().fingerprint).toBe(base().build().fingerprint);
    expect(network('wc').add(splitter).add(counter, { partitions: 5 }).connect('splitter.words', 'counter.words', hash()).build().fingerprint).not.toBe(base().build().fingerprint);
    expect(network('wc').add(splitter).add(counter, { partitions: 4 }).connect('splitter.words', 'counter.words', custom('c', () => 0)).build().fingerprint).not.toBe(base().build().fingerprint);
  });
});

describe('component definitions', () => {
  it('checks names, ports, handlers and state', () => {
    const bad = (spec: object) => () => component(spec as never);
    expect(bad({ name: '1x', inputs: { a: null }, handlers: { a() {} } })).toThrow(/component\.name/);
    expect(bad({ name: 'x', inputs: {}, handlers: {} })).toThrow(/component\(x\)\.inputs: a component needs at least one input port/);
    expect(bad({ name: 'x', inputs: { a: null }, handlers: {} })).toThrow(/component\(x\)\.handlers\.a: input port a has no handler/);
    expect(bad({ name: 'x', inputs: { a: null }, handlers: { a() {}, b() {} } })).toThrow(/handlers\.b: there is no input port b/);
    expect(bad({ name: 'x', inputs: { a: 'string' }, handlers: { a() {} } })).toThrow(/inputs\.a: expected a zod schema/);
    expect(bad({ name: 'x', inputs: { a: null }, handlers: { a() {} }, state: { init: () => 0, snapshot: (s: number) => s } })).toThrow(/give both snapshot and restore/);
    expect(bad({ name: 'x', inputs: { a: null }, handlers: { a() {} }, queries: { q: () => 1 } })).toThrow(/queries read state/);
    expect(bad({ name: 'x', inputs: { a: null }, handlers: { a() {} } })).not.toThrow();
    try {
      component({ name: 'x', inputs: {}, handlers: {} } as never);
    } catch (err) {
      expect(err).toBeInstanceOf(ComponentDefinitionError);
      expect((err as ComponentDefinitionError).code).toBe('COMPONENT_INVALID');
    }
  });

  it('the default state codec keeps Maps, Sets and Dates', () => {
    const c = component({ name: 'x', inputs: { a: null }, handlers: { a() {} }, state: { init: () => ({ m: new Map([['a', 1]]), s: new Set([1, 2]), d: new Date(5) }) } });
    const img = c.state.snapshot(c.state.init());
    expect(c.state.restore(img)).toEqual({ m: new Map([['a', 1]]), s: new Set([1, 2]), d: new Date(5) });
  });
});
