import { connect, OperationError, type TesseraClient } from '@tessera/client';
import { afterEach, describe, expect, it } from 'vitest';
import { allLeaders, localCluster, until, type LocalCluster } from './helpers/cluster.js';

let cluster: LocalCluster | undefined;
let client: TesseraClient | undefined;
afterEach(async () => {
  await client?.close();
  await cluster?.close();
  client = undefined;
  cluster = undefined;
});

describe('client against three in-process nodes', () => {
  it('map: set, get, getAndSet, cas, delete, scan across partitions', async () => {
    cluster = await localCluster({ partitions: 8 });
    await allLeaders(cluster);
    client = await connect({ endpoints: [cluster.endpoints()[0]!] });
    const m = client.map<string>('users');
    for (let i = 0; i < 40; i++) await m.set(`u${String(i).padStart(2, '0')}`, `v${i}`);
    expect(await m.get('u07')).toBe('v7');
    expect(await m.get('missing')).toBeNull();
    expect(await m.getAndSet('u07', 'seven')).toBe('v7');
    expect(await m.compareAndSet('u07', 'v7', 'x')).toBe(false);
    expect(await m.compareAndSet('u07', 'seven', 'x')).toBe(true);
    expect(await m.compareAndSet('new', null, 'n')).toBe(true);
    expect(await m.compareAndSet('new', null, 'n2')).toBe(false);
    expect(await m.delete('new')).toBe(true);
    expect(await m.delete('new')).toBe(false);
    const scan = await m.scan('u1');
    expect(scan.map(([k]) => k)).toEqual(['u10', 'u11', 'u12', 'u13', 'u14', 'u15', 'u16', 'u17', 'u18', 'u19']);
    expect(await m.size()).toBe(40);
    // Keys really are spread: every partition holds some.
    const used = new Set(Array.from({ length: 40 }, (_, i) => client!.partitionOf('users', `u${String(i).padStart(2, '0')}`)));
    expect(used.size).toBe(8);
    for (const c of ['linearizable', 'lease', 'sequential'] as const) expect(await m.get('u07', { consistency: c })).toBe('x');
    await until(async () => ((await m.get('u07', { consistency: 'stale' })) === 'x' ? true : undefined), 'stale read converges');
  });

  it('counter and typed errors', async () => {
    cluster = await localCluster({ partitions: 4 });
    await allLeaders(cluster);
    client = await connect({ endpoints: cluster.endpoints() });
    const c = client.counter('hits');
    expect(await c.add(5)).toBe(5);
    expect(await c.increment()).toBe(6);
    expect(await c.compareAndSet(6, 10)).toBe(true);
    expect(await c.get()).toBe(10);
    const err = await client.resource('counter', 'hits').command('add', 'not a number').catch((e) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.retryable).toBe(false);
    const unknown = await client.resource('nope', 'x').command('op', null).catch((e) => e);
    expect(unknown.code).toBe('UNKNOWN_RESOURCE');
  });
});
