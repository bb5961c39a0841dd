/** Locks, elections, subscriptions, user-defined resources and leader balancing, through the client, on three in-process nodes. */
import { connect, type TesseraClient, type LockEvent } from '@tessera/client';
import { Role } from '@tessera/raft';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineResource, ResourceError } from '../src/index.js';
import { allLeaders, localCluster, until, type LocalCluster } from './helpers/cluster.js';

let cluster: LocalCluster | undefined;
const clients: TesseraClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await cluster?.close();
  cluster = undefined;
});

async function client(opts: { sessionTimeoutMs?: number } = {}): Promise<TesseraClient> {
  const c = await connect({ endpoints: cluster!.endpoints(), sessionTimeoutMs: opts.sessionTimeoutMs ?? 30_000, requestTimeoutMs: Math.min(15_000, (opts.sessionTimeoutMs ?? 30_000) - 1) });
  clients.push(c);
  return c;
}

describe('lock', () => {
  it('hands out increasing fencing tokens, queues waiters, and reports events', async () => {
    cluster = await localCluster({ partitions: 4 });
    await allLeaders(cluster);
    const a = await client();
    const b = await client();
    const events: LockEvent['kind'][] = [];
    const watch = a.lock('L').watch((e) => {
      if (e.kind !== 'state') events.push(e.kind);
    });
    const first = await a.lock('L').acquire();
    expect(await b.lock('L').tryAcquire()).toBeUndefined();
    const waiting = b.lock('L').acquire({ timeoutMs: 10_000 });
    await until(async () => ((await a.lock('L').state()).waiting === 1 ? true : undefined), 'b waits in line');
    expect(await first.release()).toBe(true);
    const second = await waiting;
    expect(second.token).toBeGreaterThan(first.token);
    expect(await first.release()).toBe(false); // a stale lease cannot release the new holding
    expect((await a.lock('L').state()).holder).toBe(b.sessionId(b.partitionOf('L')));
    await until(() => (events.length >= 3 ? true : undefined), 'lock events');
    expect(events.slice(0, 3)).toEqual(['acquired', 'released', 'acquired']);
    watch.close();
  });

  it('is released when the holder closes its client, and when its session expires', async () => {
    cluster = await localCluster({ partitions: 2, clockIntervalMs: 50 });
    await allLeaders(cluster);
    const a = await client();
    await a.lock('L1').acquire();
    await a.close();
    const b = await client();
    expect(await b.lock('L1').tryAcquire()).toBeDefined();

    // A client that stops sending keep-alives (simulated by closing its sockets without closing its session).
    const c = await client({ sessionTimeoutMs: 1_000 });
    const held = await c.lock('L2').acquire();
    expect(held.token).toBeGreaterThan(0);
    (c as unknown as { keepAliveTimer: NodeJS.Timeout }).keepAliveTimer && clearInterval((c as unknown as { keepAliveTimer: NodeJS.Timeout }).keepAliveTimer);
    const d = await client();
    const lease = await d.lock('L2').acquire({ timeoutMs: 10_000 });
    expect(lease.token).toBeGreaterThan(held.token);
  });
});

describe('leaderElection', () => {
  it('elects in campaign order, hands over on resign, and raises the term', async () => {
    cluster = await localCluster({ partitions: 3 });
    await allLeaders(cluster);
    const a = await client();
    const b = await client();
    const seen: string[] = [];
    const w = a.leaderElection('E').watch((e) => {
      if (e.kind === 'elected') seen.push(`${e.leader}@${e.term}`);
    });
    const t1 = await a.leaderElection('E').campaign('alpha');
    const bElected = b.leaderElection('E').campaign('beta', { timeoutMs: 10_000 });
    await until(async () => ((await a.leaderElection('E').leader()).candidates.length === 2 ? true : undefined), 'beta in line');
    expect(await a.leaderElection('E').leader()).toMatchObject({ leader: 'alpha', term: t1.term });
    expect(await a.leaderElection('E').resign()).toBe(true);
    const t2 = await bElected;
    expect(t2.term).toBe(t1.term + 1);
    await until(() => (seen.length >= 2 ? true : undefined), 'election events');
    expect(seen).toEqual([`alpha@${t1.term}`, `beta@${t2.term}`]);
    w.close();
  });
});

describe('defineResource', () => {
  const queue = defineResource<{ items: string[] }>({
    type: 'queue',
    create: () => ({ items: [] }),
    commands: {
      push: { input: z.string().max(100), apply: (s, v) => s.items.push(v) },
      pop: {
        input: z.null(),
        apply(s) {
          if (s.items.length === 0) throw new ResourceError('EMPTY', 'queue is empty');
          return s.items.shift();
        },
      },
    },
    queries: { peek: { input: z.null(), run: (s) => s.items[0] ?? null } },
    snapshot: (s) => s.items,
    restore: (img) => ({ items: img as string[] }),
    isEmpty: (s) => s.items.length === 0,
  });

  it('runs user-defined commands and queries with validated inputs and typed errors', async () => {
    cluster = await localCluster({ partitions: 4, resources: [queue] });
    await allLeaders(cluster);
    const c = await client();
    const q = c.resource('queue', 'jobs');
    expect(await q.command('push', 'a')).toBe(1);
    expect(await q.command('push', 'b')).toBe(2);
    expect(await q.query('peek', null)).toBe('a');
    expect(await q.command('pop', null)).toBe('a');
    expect(await q.command('pop', null)).toBe('b');
    await expect(q.command('pop', null)).rejects.toMatchObject({ code: 'EMPTY', retryable: false });
    await expect(q.command('push', 'x'.repeat(101))).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(q.command('nope', null)).rejects.toMatchObject({ code: 'UNKNOWN_OPERATION' });
  });

  it('rejects malformed definitions naming the field', () => {
    expect(() => defineResource({ type: '9bad', create: () => 0, commands: {}, snapshot: () => 0, restore: () => 0 })).toThrow(/resource.type/);
    expect(() => defineResource({ type: 'ok', create: () => 0, commands: { x: { input: null as never, apply: () => 0 } }, snapshot: () => 0, restore: () => 0 })).toThrow(/commands.x.input/);
  });
});

describe('leader balancing', () => {
  it('moves every partition to its preferred leader, and back after the preferred node returns', async () => {
    cluster = await localCluster({ partitions: 6, balancerIntervalMs: 50 });
    const preferredEverywhere = () => {
      for (const n of cluster!.nodes) for (const s of n.status()) if (s.leader !== s.preferredLeader) return undefined;
      return true;
    };
    await until(preferredEverywhere, 'leaders on their preferred nodes');
    const leadersPerNode = cluster.nodes.map((n) => n.status().filter((s) => s.role === Role.Leader).length);
    expect(leadersPerNode).toEqual([2, 2, 2]);

    // n1 drops off the network: its partitions elect leaders elsewhere, and writes keep working.
    cluster.net.disconnect('n1');
    await until(() => {
      const others = cluster!.nodes.slice(1);
      return others.every((n) => n.status().every((s) => s.leader !== undefined && s.leader !== 'n1')) ? true : undefined;
    }, 'new leaders without n1');
    cluster.net.reconnect('n1');
    await until(preferredEverywhere, 'leadership back on n1 after it returned', 30_000);
  });
});
