import { describe, expect, it } from 'vitest';
import { raftAddressResolver, staticDiscovery, type DiscoveryEvent } from '@tessera/raft';
import { discoverySuite } from '../src/conformance/discovery.js';

const seeds = [
  { id: 'n1', raftAddress: '10.0.0.1:7000', clientAddress: '10.0.0.1:7001' },
  { id: 'n2', raftAddress: '[fd00::2]:7000', partitions: ['p0', 'p1'] },
  { id: 'n3', raftAddress: '10.0.0.3:7000', meta: { zone: 'b' } },
];

// The default implementation keeps the same contract, minus sharing (there is nobody to tell).
discoverySuite('static', async () => ({ create: () => staticDiscovery({ nodes: [{ id: 'seed', raftAddress: '10.0.0.9:7000' }] }) }), { shared: false });

describe('staticDiscovery', () => {
  it('lists and resolves the configured nodes', async () => {
    const d = staticDiscovery({ nodes: [seeds[2]!, seeds[0]!, seeds[1]!] });
    expect(await d.list()).toEqual(seeds);
    expect(d.resolve('n2')).toEqual(seeds[1]);
    expect(d.resolve('nope')).toBeUndefined();
    const peers = raftAddressResolver(d);
    expect(peers('n2')).toBe('[fd00::2]:7000');
    expect(peers('nope')).toBeUndefined();
  });

  it('register of a listed node: same record is silent, a different one is a change', async () => {
    const d = staticDiscovery({ nodes: seeds });
    const events: DiscoveryEvent[] = [];
    d.watch((e) => events.push(e));
    await d.register(seeds[0]!);
    expect(events).toEqual([]);
    await d.register({ ...seeds[0]!, adminAddress: '10.0.0.1:9090' });
    expect(events).toEqual([{ type: 'change', node: { ...seeds[0], adminAddress: '10.0.0.1:9090' }, previous: seeds[0] }]);
  });

  it('rejects bad options naming the field', () => {
    const bad: [unknown, string][] = [
      [{ nodes: [seeds[0], { ...seeds[1], id: 'n1' }] }, 'staticDiscovery.nodes[1].id'],
      [{ nodes: [{ id: 'x', raftAddress: 'x' }] }, 'staticDiscovery.nodes[0].raftAddress'],
      [{ nodes: [{ id: 'x', raftAddress: '1.2.3.4:5', adminAddress: 'a b:1' }] }, 'staticDiscovery.nodes[0].adminAddress'],
      [{ nodes: 'n1,n2' }, 'staticDiscovery.nodes'],
      [{ nodes: [], logger: {} }, 'staticDiscovery.logger'],
      [{}, 'staticDiscovery.nodes'],
    ];
    for (const [input, path] of bad) {
      expect(() => staticDiscovery(input as never), path).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', path }));
    }
  });

  it('does not change when the caller mutates what it passed in', async () => {
    const nodes = [{ id: 'n1', raftAddress: '10.0.0.1:7000', partitions: ['p0'] }];
    const d = staticDiscovery({ nodes });
    nodes[0]!.partitions.push('p9');
    nodes[0]!.raftAddress = 'changed:1';
    expect(d.resolve('n1')).toEqual({ id: 'n1', raftAddress: '10.0.0.1:7000', partitions: ['p0'] });
  });
});
