import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { keyspace } from '../src/index.js';
import { childNode, discovery, freshClusterId, killChild, memoryLogger, onCleanup, rawClient, record, recorder, redisServer, until } from './helpers.js';

const ids = (d: { list(): Promise<{ id: string }[]> }) => d.list().then((ns) => ns.map((n) => n.id));

describe('Redis goes away', () => {
  it('nodes keep the peers they know while Redis is down and re-register when it returns', async () => {
    const redis = await redisServer();
    const cluster = freshClusterId();
    const ttlMs = 800;
    const logA = memoryLogger();
    const a = discovery(redis, cluster, { ttlMs, connectTimeoutMs: 300, logger: logA });
    const b = discovery(redis, cluster, { ttlMs });
    const c = discovery(redis, cluster, { ttlMs });
    await a.register(record('a'));
    await b.register(record('b'));
    await c.register(record('c', { partitions: ['p0'] }));
    // d is a node in another process; it dies while Redis is down and never comes back.
    const dChild = await childNode(redis, cluster, 'd', ttlMs);
    for (const n of [a, b, c]) await until(async () => (await ids(n)).join() === 'a,b,c,d');
    const seen = [a, b, c].map(recorder);

    await redis.kill('SIGKILL');
    await until(() => [a, b, c].every((n) => !n.status().connected));
    await killChild(dChild);
    // Stay down well past the TTL, with reconnect attempts failing meanwhile.
    const downAt = performance.now();
    await until(() => performance.now() - downAt > 2.5 * ttlMs && a.status().connectionErrors >= 3);

    for (const n of [a, b, c]) {
      expect(await ids(n)).toEqual(['a', 'b', 'c', 'd']); // the local view, still whole
      expect(n.resolve('b')?.raftAddress).toBe(record('b').raftAddress);
      expect(n.resolve('c')?.partitions).toEqual(['p0']);
    }
    // A change cannot be published now: it is refused, and the old registration stands.
    await expect(a.register(record('a', { partitions: ['p9'] }))).rejects.toMatchObject({ code: 'DISCOVERY_UNAVAILABLE', retryable: true });
    expect(a.resolve('a')?.partitions).toBeUndefined();
    expect(a.status()).toMatchObject({ registered: true, connected: false });
    // The outage was logged, but not once per failed attempt.
    const outageLines = logA.lines.filter((l) => /unreachable/.test(l.msg));
    expect(outageLines.length).toBeGreaterThanOrEqual(1);
    expect(outageLines.length).toBeLessThan(a.status().connectionErrors);

    // Redis comes back empty (no persistence): everyone alive registers again.
    await redis.restart();
    const raw = rawClient(redis);
    const k = keyspace('tessera', cluster);
    await until(async () => (await raw.smembers(k.index)).sort().join() === 'a,b,c');
    for (const n of [a, b, c]) {
      await until(() => n.status().connected && n.status().reregistrations >= 1);
      // d did not come back: it leaves once the grace period (one TTL) is over.
      await until(async () => (await ids(n)).join() === 'a,b,c');
    }
    expect(logA.lines.some((l) => /reachable again/.test(l.msg))).toBe(true);
    // Nobody flapped: the only event anyone saw is d leaving.
    for (const s of seen) expect(s.events.map((e) => `${e.type} ${e.node.id}`)).toEqual(['leave d']);
    // And the registry works as before.
    await a.register(record('a', { partitions: ['p9'] }));
    await until(() => b.resolve('a')?.partitions?.[0] === 'p9');
  }, 60_000);

  it('a node that starts while Redis is down fails to register, then succeeds once it is back', async () => {
    const redis = await redisServer();
    const cluster = freshClusterId();
    await redis.kill();
    // No periodic reads to speak of: what a hears, it hears through its subscription, which was
    // requested while Redis was down.
    const a = discovery(redis, cluster, { connectTimeoutMs: 300, syncIntervalMs: 600_000 });
    await expect(a.register(record('a'))).rejects.toMatchObject({ code: 'DISCOVERY_UNAVAILABLE', name: 'DiscoveryUnavailableError' });
    await expect(a.list()).rejects.toMatchObject({ code: 'DISCOVERY_UNAVAILABLE' });
    expect(a.status().registered).toBe(false);
    await redis.restart();
    await until(() => a.status().connected);
    await a.register(record('a'));
    await until(() => a.status().subscribed);
    await a.list();
    const heard = a.status().notifications;
    const b = discovery(redis, cluster);
    expect(await ids(b)).toEqual(['a']);
    await b.register(record('b'));
    await until(() => a.resolve('b') !== undefined, 5_000);
    expect(a.status().notifications).toBe(heard + 1);
  });

  it('a node cut off longer than its TTL is dropped by the others, and rejoins when it can refresh again', async () => {
    const redis = await redisServer();
    const cluster = freshClusterId();
    const ttlMs = 500;
    const proxy = await tcpProxy(redis.port);
    const a = discovery(redis, cluster, { ttlMs });
    // b reaches Redis only through the proxy, so it can be cut off while Redis stays up for a.
    const b = discovery(redis, cluster, { ttlMs, url: `redis://127.0.0.1:${proxy.port}` });
    await a.register(record('a'));
    await b.register(record('b'));
    await until(() => a.resolve('b') !== undefined);
    const seen = recorder(a);
    const seenByB = recorder(b);

    proxy.cut();
    await until(() => a.resolve('b') === undefined);
    // b itself keeps its view of a meanwhile.
    expect(b.resolve('a')).toBeDefined();
    expect(b.status().connected).toBe(false);

    proxy.heal();
    await until(() => a.resolve('b') !== undefined);
    expect(seen.of('b')).toEqual(['leave', 'join']);
    // (b learns that its write succeeded a moment after a hears about it.)
    await until(() => b.status().reregistrations >= 1);
    // b never lost a from its view.
    expect(seenByB.events).toEqual([]);
  });
});

/** A TCP proxy to a local port that can drop every connection (and refuse new ones) until healed. */
async function tcpProxy(targetPort: number): Promise<{ port: number; cut(): void; heal(): void }> {
  const pairs = new Set<Socket>();
  let cut = false;
  const server = createServer((client) => {
    if (cut) return void client.destroy();
    const upstream = connect(targetPort, '127.0.0.1');
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      pairs.add(from);
      from.pipe(to);
      from.on('error', () => to.destroy());
      from.on('close', () => {
        pairs.delete(from);
        to.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(async () => {
    for (const s of pairs) s.destroy();
    await new Promise((r) => server.close(r));
  });
  return {
    port: (server.address() as AddressInfo).port,
    cut() {
      cut = true;
      for (const s of pairs) s.destroy();
    },
    heal() {
      cut = false;
    },
  };
}
