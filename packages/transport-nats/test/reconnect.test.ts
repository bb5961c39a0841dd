import { afterEach, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServer } from '@tessera/testing/servers';
import { natsTransport } from '../src/index.js';
import { endpoint, heartbeat, type Endpoint } from './helpers.js';

const fastReconnect = { timeWaitMs: 50, jitterMs: 0 };
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});
async function server(): Promise<NatsServer> {
  const s = await startNatsServer();
  cleanup.push(() => s.stop());
  return s;
}
async function ep(id: string, s: NatsServer, extra: Record<string, unknown> = {}): Promise<Endpoint> {
  const e = await endpoint(id, { servers: s.url, clusterId: 'rc', reconnect: fastReconnect, ...extra });
  cleanup.push(() => e.t.close());
  return e;
}

/** Resends heartbeats from `a` to `b` until one arrives; returns its context. */
async function resendUntilDelivered(a: Endpoint, b: Endpoint, to: string): Promise<void> {
  const before = b.messages().length;
  let n = 0;
  await expect
    .poll(
      () => {
        a.t.send(to, [heartbeat(a.t.nodeId, to, 10_000 + n++)]);
        return b.messages().length > before;
      },
      { timeout: 15_000, interval: 20 },
    )
    .toBe(true);
}

describe('NATS server restart', () => {
  it('survives a SIGKILL of the server and a restart on the same port', async () => {
    const nats = await server();
    const a = await ep('a', nats);
    const b = await ep('b', nats);
    a.t.send('b', [heartbeat('a', 'b', 1)]);
    await b.waitFor(1);

    await nats.kill('SIGKILL');
    // Each client notices the loss on its own: wait for both.
    await expect.poll(() => a.t.stats().connected || b.t.stats().connected).toBe(false);
    a.t.send('b', [heartbeat('a', 'b', 2), heartbeat('a', 'b', 3)]);
    expect(a.t.stats().reasons.disconnected).toBe(2);

    await nats.restart();
    await expect.poll(() => a.t.stats().connected && b.t.stats().connected, { timeout: 15_000 }).toBe(true);
    expect(a.t.stats().reconnects).toBe(1);
    await resendUntilDelivered(a, b, 'b');
    await resendUntilDelivered(b, a, 'a');

    // Steady state again: a burst arrives complete and in order.
    const base = b.messages().length;
    for (let i = 0; i < 200; i++) a.t.send('b', [heartbeat('a', 'b', 100 + i)]);
    const got = (await b.waitFor(base + 200)).slice(base);
    expect(got.map((m) => m.context)).toEqual(Array.from({ length: 200 }, (_, i) => 100 + i));
    // Messages sent while the server was down were dropped, never delivered late.
    expect(b.messages().some((m) => m.context === 2 || m.context === 3)).toBe(false);
  });

  it('survives repeated restarts', async () => {
    const nats = await server();
    const a = await ep('a', nats);
    const b = await ep('b', nats);
    for (let round = 0; round < 3; round++) {
      await nats.kill(round % 2 === 0 ? 'SIGKILL' : 'SIGTERM');
      await nats.restart();
      await resendUntilDelivered(a, b, 'b');
    }
    expect(a.t.stats().reconnects).toBeGreaterThanOrEqual(3);
  });

  it('fails start() with a TransportError when no server is reachable', async () => {
    const nats = await server();
    await nats.kill();
    const t = natsTransport({ servers: nats.url, clusterId: 'rc', connectTimeoutMs: 2_000 })({ nodeId: 'x', deliver: () => {} });
    const err = await t.start().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TRANSPORT', name: 'TransportError' });
    expect((err as Error).message).toContain(`cannot connect to NATS at ${nats.url}`);
    await t.close();
  });

  it('with waitOnFirstConnect, start() waits for the server to come up', async () => {
    const nats = await server();
    await nats.kill();
    let started = false;
    const inbox: number[] = [];
    const t = natsTransport({ servers: nats.url, clusterId: 'rc', reconnect: { ...fastReconnect, waitOnFirstConnect: true } })({
      nodeId: 'late',
      deliver: (ms) => inbox.push(...ms.map((m) => m.context)),
    });
    cleanup.push(() => t.close());
    const starting = t.start().then(() => (started = true));
    // A negative check needs a bound: several reconnect intervals (50 ms) pass without start() settling.
    await new Promise((r) => setTimeout(r, 300));
    expect(started).toBe(false);
    await nats.restart();
    await starting;
    const b = await ep('b', nats);
    await expect
      .poll(
        () => {
          b.t.send('late', [heartbeat('b', 'late', 5)]);
          return inbox.length > 0;
        },
        { timeout: 15_000, interval: 20 },
      )
      .toBe(true);
  }, 30_000);
});

describe('close while the server is down', () => {
  it('returns without waiting for the drain timeout', async () => {
    const nats = await server();
    const a = await ep('a', nats, { drainTimeoutMs: 20_000 });
    await nats.kill('SIGKILL');
    await expect.poll(() => a.t.stats().connected).toBe(false);
    a.t.send('b', [heartbeat('a', 'b', 1)]);
    const t0 = performance.now();
    await a.t.close();
    // Far below drainTimeoutMs: close() did not try to drain a dead connection.
    expect(performance.now() - t0).toBeLessThan(5_000);
  });
});
