import { describe, expect, it } from 'vitest';
import { keyspace } from '../src/index.js';
import { discovery, freshClusterId, rawClient, record, redisServer, until } from './helpers.js';

/** Counts of the active handle types that a discovery could leave behind. */
function resources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) if (r === 'TCPSocketWrap' || r === 'Timeout' || r === 'TCPWRAP') out[r] = (out[r] ?? 0) + 1;
  return out;
}

/** Handle types counted now beyond what `baseline` had (other code's timers may come and go, so fewer is fine). */
function extra(baseline: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(resources())) if (n > (baseline[k] ?? 0)) out[k] = n - (baseline[k] ?? 0);
  return out;
}

/**
 * Waits (briefly) until nothing beyond `baseline` is active. close() waits for its sockets to
 * close, so this allows only a few turns of the event loop: a timer left to run out by itself
 * (even one that does no harm when it fires) fails the test. Polls on setImmediate rather than with
 * a timer, so the poll itself adds no Timeout to what it counts.
 */
async function settlesTo(baseline: Record<string, number>, timeoutMs = 250): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (Object.keys(extra(baseline)).length > 0 && performance.now() < deadline) await new Promise((r) => setImmediate(r));
  expect(extra(baseline)).toEqual({});
}

describe('close', () => {
  it('deregisters and releases every timer and socket', async () => {
    const redis = await redisServer();
    const cluster = freshClusterId();
    const raw = rawClient(redis);
    await raw.ping();
    const baseline = resources();

    const a = discovery(redis, cluster, { ttlMs: 300 });
    const b = discovery(redis, cluster, { ttlMs: 300 });
    a.watch(() => {});
    await a.register(record('a'));
    await b.register(record('b'));
    await until(() => a.status().refreshes >= 2 && a.status().syncs >= 2);
    expect(extra(baseline)).toMatchObject({ TCPSocketWrap: 4 }); // two connections per instance
    const pending = a.list(); // a read in flight while closing must settle, not hang or reject
    await Promise.all([a.close(), b.close()]);
    await expect(pending).resolves.toBeInstanceOf(Array);
    await settlesTo(baseline);
    // Deregistered at once, not left to expire.
    expect(await raw.smembers(keyspace('tessera', cluster).index)).toEqual([]);
    expect(await raw.exists(keyspace('tessera', cluster).node('a'), keyspace('tessera', cluster).node('b'))).toBe(0);
  });

  it('closes promptly and cleanly while Redis is down', async () => {
    const redis = await redisServer();
    const baseline = resources();
    const a = discovery(redis, freshClusterId(), { reconnect: { initialMs: 20, maxMs: 50 } });
    await a.register(record('a'));
    await redis.kill();
    await until(() => !a.status().connected && a.status().connectionErrors >= 2);
    const t0 = performance.now();
    await a.close();
    expect(performance.now() - t0).toBeLessThan(1_000);
    await settlesTo(baseline);
  });

  it('closes cleanly when Redis was never reachable', async () => {
    const redis = await redisServer();
    await redis.kill();
    const baseline = resources();
    const a = discovery(redis, freshClusterId(), { connectTimeoutMs: 5_000 });
    const registering = a.register(record('a'));
    // Attach the expectation before close() rejects the pending registration, so the rejection
    // always has a handler (attached afterwards it races the unhandled-rejection check).
    const refused = expect(registering).rejects.toMatchObject({ code: 'DISCOVERY_CLOSED' });
    await until(() => a.status().connectionErrors >= 1);
    await a.close();
    await refused;
    await settlesTo(baseline);
  });
});
