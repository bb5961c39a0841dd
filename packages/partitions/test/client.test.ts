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
  it('a malformed frame closes only that connection; invalid requests get INVALID_REQUEST', async () => {
    cluster = await localCluster({ partitions: 2 });
    await allLeaders(cluster);
    const { connect: tcp } = await import('node:net');
    const { encodeFrame, FrameDecoder } = await import('@tessera/client/protocol');
    const [host, port] = cluster.endpoints()[0]!.split(':');
    const talk = (bytes: Buffer) =>
      new Promise<{ closed: boolean; msgs: unknown[] }>((resolve) => {
        const s = tcp({ host: host!, port: Number(port) });
        const d = new FrameDecoder();
        const msgs: unknown[] = [];
        s.on('connect', () => s.write(bytes));
        s.on('data', (c: Buffer) => d.push(c, (m) => {
          msgs.push(...m);
          s.destroy();
          resolve({ closed: false, msgs });
        }));
        s.on('close', () => resolve({ closed: true, msgs }));
      });
    const garbage = Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1]);
    expect((await talk(garbage)).closed).toBe(true);
    const bad = await talk(encodeFrame([[5, 'cmd', 0, '', 1]]));
    expect((bad.msgs[0] as unknown[])[1]).toBe(1);
    expect(((bad.msgs[0] as unknown[])[2] as { code: string }).code).toBe('INVALID_REQUEST');
    // The node still serves.
    client = await connect({ endpoints: cluster.endpoints() });
    await client.counter('c').add(1);
    expect(await client.counter('c').get()).toBe(1);
  });

  it("a 'cmds' run: each command validated on its own, the successes of one entry answered in one message", async () => {
    // No leader balancing: the raw connection talks to one leader throughout (a transfer between the
    // two runs answered the retried one with NOT_LEADER, once in CI).
    cluster = await localCluster({ partitions: 1, balancer: false });
    await allLeaders(cluster);
    const leader = cluster.nodes.find((n) => n.group(0)?.role === 'leader')!;
    const { connect: tcp } = await import('node:net');
    const { encodeFrame, FrameDecoder, ResponseKind } = await import('@tessera/client/protocol');
    const [host, port] = leader.clientAddress!.split(':');
    const msgs: unknown[][] = [];
    const s = tcp({ host: host!, port: Number(port) });
    const d = new FrameDecoder();
    s.on('data', (c: Buffer) => d.push(c, (m) => msgs.push(...(m as unknown[][]))));
    try {
      await new Promise((r) => s.once('connect', r));
      // ids 10..12; the middle input is null, which map.set refuses.
      s.write(encodeFrame([[10, 'cmds', 0, 'raw-session', true, 30_000, 1, 'map', 'm', 'set', [10, 11, 12], [1, 2, 3], ['x', null, 'z'], ['a', 'b', 'c']]]));
      const answered = () => msgs.flatMap((m) => (m[1] === ResponseKind.OkMany ? (m[2] as number[]) : [m[0] as number]));
      await until(() => (answered().length >= 3 ? true : undefined), 'answers to the run');
      const err = msgs.find((m) => m[1] === ResponseKind.Error)!;
      expect(err[0]).toBe(11);
      expect((err[2] as { code: string }).code).toBe('INVALID_INPUT');
      const ok = msgs.find((m) => m[1] === ResponseKind.OkMany)!;
      expect(ok[2]).toEqual([10, 12]);
      expect(ok[3]).toEqual([null, null]);
      expect(ok[4]).toBeGreaterThan(0);
      // The same run again (a retry under new request ids): answered from the dedup table, with the
      // index the commands were first applied at, not the index of the entry that carried the retry.
      msgs.length = 0;
      s.write(encodeFrame([[20, 'cmds', 0, 'raw-session', false, 30_000, 1, 'map', 'm', 'set', [20, 21, 22], [1, 2, 3], ['x', null, 'z'], ['a', 'b', 'c']]]));
      await until(() => (answered().length >= 3 ? true : undefined), 'answers to the retried run');
      const again = msgs.filter((m) => m[1] === ResponseKind.Ok).map((m) => [m[0], m[3]]);
      expect(again).toEqual([
        [20, ok[4]],
        [22, ok[4]],
      ]);
    } finally {
      s.destroy();
    }
    client = await connect({ endpoints: cluster.endpoints() });
    const m = client.map<string>('m');
    expect([await m.get('a'), await m.get('b'), await m.get('c')]).toEqual(['x', null, 'z']);
  });

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
    const err = (await client.resource('counter', 'hits').command('add', 'not a number').catch((e) => e)) as OperationError;
    expect(err).toBeInstanceOf(OperationError);
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.retryable).toBe(false);
    const unknown = (await client.resource('nope', 'x').command('op', null).catch((e) => e)) as OperationError;
    expect(unknown.code).toBe('UNKNOWN_RESOURCE');
  });

  it('subscriptions: a follower refuses them naming the leader; a replica that restores a snapshot ends them and the client subscribes again', async () => {
    cluster = await localCluster({ partitions: 1, balancer: false });
    await allLeaders(cluster);
    const { connect: tcp } = await import('node:net');
    const { encodeFrame, FrameDecoder } = await import('@tessera/client/protocol');
    const subAt = (address: string) =>
      new Promise<unknown[]>((resolve, reject) => {
        const [host, port] = address.split(':');
        const s = tcp({ host: host!, port: Number(port) });
        const d = new FrameDecoder();
        s.on('connect', () => s.write(encodeFrame([[7, 'sub', 0, 'lock', 'l']])));
        s.on('data', (c: Buffer) => d.push(c, (m) => {
          s.destroy();
          resolve(m[0] as unknown[]);
        }));
        s.on('error', reject);
      });
    // A follower at the time of asking (should it have just become leader, ask again).
    const answer = await until(async () => {
      const follower = cluster!.nodes.find((n) => n.status()[0]!.role === 'follower' && n.status()[0]!.leader);
      if (!follower) return undefined;
      const a = await subAt(follower.clientAddress!);
      return a[1] === 1 ? a : undefined;
    }, 'an answer from a follower');
    expect(answer[1]).toBe(1);
    expect(answer[2]).toMatchObject({ code: 'NOT_LEADER' });

    client = await connect({ endpoints: cluster.endpoints() });
    const states: unknown[] = [];
    const events: { kind: string }[] = [];
    const sub = client.lock('l').watch((e) => (e.kind === 'state' ? states.push(e) : events.push(e)));
    await until(() => (states.length === 1 ? true : undefined), 'the first state');
    const lease = await client.lock('l').acquire();
    await until(() => (events.length === 1 ? true : undefined), 'the acquire event');
    // The serving replica replaces its state with a snapshot (here: of itself), skipping whatever
    // events the image covers: it ends the subscription, and the client makes it again. Every
    // replica does it, so the test does not depend on which one serves the subscription.
    for (const n of cluster.nodes) {
      const sm = n.stateMachine(0)!;
      await sm.restore(sm.snapshot().chunks());
    }
    await until(() => (states.length === 2 ? true : undefined), 'a renewed state after the restore');
    await client.lock('l').release(lease.token);
    await until(() => (events.length === 2 ? true : undefined), 'the release event on the renewed subscription');
    expect(events.map((e) => e.kind)).toEqual(['acquired', 'released']);
    sub.close();
  });
});
