import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Discovery, DiscoveryEvent } from '@tessera/raft';

/**
 * The contract every `Discovery` implementation keeps (`@tessera/testing/discovery`), run with a
 * factory per implementation: the static default in @tessera/testing's own tests, Redis in
 * @tessera/discovery-redis.
 */
export interface DiscoveryHarness {
  /** A new instance; within one test every instance shares one registry. */
  create(): Discovery | Promise<Discovery>;
  /** Releases what the harness holds for the test (instances are closed by the suite). */
  teardown?(): Promise<void>;
}

export interface DiscoveryCapabilities {
  /** Instances share a registry: one instance's registration is seen by the others. */
  readonly shared: boolean;
}

const rec = (id: string, extra: Record<string, unknown> = {}) => ({ id, raftAddress: `127.0.0.1:${7100 + id.charCodeAt(0)}`, ...extra });

async function poll(fn: () => boolean, what: string): Promise<void> {
  await expect.poll(fn, { timeout: 10_000, interval: 10, message: what }).toBe(true);
}

export function discoverySuite(name: string, setup: () => Promise<DiscoveryHarness>, caps: DiscoveryCapabilities): void {
  describe(`Discovery contract: ${name}`, () => {
    let harness: DiscoveryHarness;
    let created: Discovery[];
    const create = async (): Promise<Discovery> => {
      const d = await harness.create();
      created.push(d);
      return d;
    };
    beforeEach(async () => {
      harness = await setup();
      created = [];
    });
    afterEach(async () => {
      for (const d of created) await d.close();
      await harness.teardown?.();
    });

    it('register makes the node resolvable and listed, as a frozen record', async () => {
      const d = await create();
      expect(d.resolve('a')).toBeUndefined();
      await d.register(rec('a', { partitions: ['p1', 'p0'], meta: { zone: 'z1' }, adminAddress: 'http://127.0.0.1:9000' }));
      const got = d.resolve('a');
      expect(got).toEqual(rec('a', { partitions: ['p1', 'p0'], meta: { zone: 'z1' }, adminAddress: 'http://127.0.0.1:9000' }));
      expect(Object.isFrozen(got)).toBe(true);
      expect(Object.isFrozen(got!.partitions)).toBe(true);
      const listed = await d.list();
      expect(listed).toContainEqual(got);
      expect(listed.map((n) => n.id)).toEqual([...listed.map((n) => n.id)].sort());
    });

    it('rejects an invalid record naming the field, and registers nothing', async () => {
      const d = await create();
      await expect(d.register({ id: 'a', raftAddress: 'no port here' })).rejects.toMatchObject({ code: 'CONFIG_INVALID', path: 'nodeRecord.raftAddress' });
      await expect(d.register({ id: '', raftAddress: '127.0.0.1:1' })).rejects.toMatchObject({ code: 'CONFIG_INVALID', path: 'nodeRecord.id' });
      await expect(d.register({ id: 'a', raftAddress: '127.0.0.1:70000' })).rejects.toMatchObject({ path: 'nodeRecord.raftAddress' });
      await expect(d.register({ id: 'a', raftAddress: '127.0.0.1:1', partitions: [''] } as never)).rejects.toMatchObject({ path: 'nodeRecord.partitions[0]' });
      await expect(d.register({ id: 'a', raftAddress: '127.0.0.1:1', color: 'red' } as never)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
      expect(d.resolve('a')).toBeUndefined();
      expect((await d.list()).some((n) => n.id === 'a')).toBe(false);
    });

    it('watch reports join and change once each; unsubscribe stops it; a throwing listener harms no one', async () => {
      const d = await create();
      const events: DiscoveryEvent[] = [];
      d.watch(() => {
        throw new Error('listener bug');
      });
      const stop = d.watch((e) => events.push(e));
      await d.register(rec('a'));
      await poll(() => events.length >= 1, 'join');
      await d.register(rec('a', { partitions: ['p0'] }));
      await poll(() => events.length >= 2, 'change');
      await d.register(rec('a', { partitions: ['p0'] })); // unchanged: no event
      await d.list();
      expect(events.map((e) => [e.type, e.node.id])).toEqual([
        ['join', 'a'],
        ['change', 'a'],
      ]);
      const change = events[1]!;
      expect(change.type === 'change' && change.previous).toEqual(rec('a'));
      expect(change.node.partitions).toEqual(['p0']);
      stop();
      stop();
      await d.register(rec('a', { partitions: ['p1'] }));
      await d.list();
      expect(events).toHaveLength(2);
      expect(d.resolve('a')?.partitions).toEqual(['p1']);
    });

    it('registers one node id per instance', async () => {
      const d = await create();
      await d.register(rec('a'));
      await expect(d.register(rec('b'))).rejects.toMatchObject({ code: 'DISCOVERY_CONFLICT', name: 'DiscoveryConflictError' });
      expect(d.resolve('b')).toBeUndefined();
    });

    it('close is idempotent; afterwards register rejects and the final view still answers', async () => {
      const d = await create();
      await d.register(rec('a'));
      const events: DiscoveryEvent[] = [];
      d.watch((e) => events.push(e));
      await d.close();
      await d.close();
      await expect(d.register(rec('a'))).rejects.toMatchObject({ code: 'DISCOVERY_CLOSED' });
      expect(Array.isArray(await d.list())).toBe(true);
      expect(() => d.resolve('a')).not.toThrow();
      const unsubscribe = d.watch((e) => events.push(e));
      unsubscribe();
      expect(events).toEqual([]);
    });

    if (caps.shared) {
      it('a completed registration is listed by every other instance', async () => {
        const [a, b, c] = [await create(), await create(), await create()];
        await a.register(rec('a'));
        await b.register(rec('b'));
        await c.register(rec('c', { clientAddress: '[::1]:8100' }));
        for (const d of [a, b, c]) expect((await d.list()).map((n) => n.id)).toEqual(['a', 'b', 'c']);
        expect(a.resolve('c')?.clientAddress).toBe('[::1]:8100');
      });

      it('other instances hear join, change and leave', async () => {
        const [a, b] = [await create(), await create()];
        const seen: DiscoveryEvent[] = [];
        b.watch((e) => seen.push(e));
        await b.list();
        await a.register(rec('a'));
        await poll(() => seen.some((e) => e.type === 'join' && e.node.id === 'a'), 'join of a seen by b');
        await a.register(rec('a', { raftAddress: '127.0.0.1:7999' }));
        await poll(() => b.resolve('a')?.raftAddress === '127.0.0.1:7999', 'change of a seen by b');
        await a.close();
        await poll(() => b.resolve('a') === undefined, 'leave of a seen by b');
        expect(seen.map((e) => e.type)).toEqual(['join', 'change', 'leave']);
        expect(seen[2]!.node.raftAddress).toBe('127.0.0.1:7999');
        expect((await b.list()).map((n) => n.id)).toEqual([]);
      });
    }
  });
}
