/**
 * The partition state machine on its own: session dedup (a retried command applies once), ack
 * pruning, expiry in log time (deterministic), resource multiplexing, and snapshot/restore of all
 * of it, including the dedup table.
 */
import { describe, expect, it } from 'vitest';
import { builtinResources } from '../src/node.js';
import { encodeBatch, encodeClock, encodeClose, encodeCommand, encodeKeepAlive, encodeRuns, type BatchedCommand } from '../src/envelope.js';
import { defineResource } from '../src/resource.js';
import { z } from 'zod';
import type { ResourceDefinition } from '../src/resource.js';
import type { Outcome } from '../src/sessions.js';
import { PartitionStateMachine } from '../src/state-machine.js';

const registry = new Map<string, ResourceDefinition>(builtinResources.map((d) => [d.type, d]));

function sm(events?: unknown[][]) {
  return new PartitionStateMachine({ partition: 0, resources: registry, onEvent: events ? (type, name, event, index) => events.push([type, name, event, index]) : undefined });
}

async function image(m: PartitionStateMachine): Promise<Buffer> {
  const src = m.snapshot();
  const parts: Uint8Array[] = [];
  for await (const c of src.chunks()) parts.push(c);
  return Buffer.concat(parts);
}

async function restored(m: PartitionStateMachine, events?: unknown[][]): Promise<PartitionStateMachine> {
  const img = await image(m);
  const r = sm(events);
  await r.restore((async function* () {
    yield img.subarray(0, 3);
    yield img.subarray(3);
  })());
  return r;
}

/** A tiny log driver: feeds entries with increasing indices. */
class Log {
  index = 0;
  constructor(readonly machines: PartitionStateMachine[]) {}
  apply(entry: Uint8Array): Outcome[] {
    this.index++;
    return this.machines.map((m) => m.apply(entry, this.index));
  }
  one(entry: Uint8Array): Outcome {
    return this.apply(entry)[0]!;
  }
}

const T = 30_000;
const cmd = (time: number, session: string, seq: number, ack: number, open: boolean, type: string, name: string, op: string, input: unknown, key: string | null = null) =>
  encodeCommand(time, T, session, seq, ack, open, type, name, op, input, key);

describe('partition state machine', () => {
  it('applies a retried command once and returns the first outcome', () => {
    const log = new Log([sm()]);
    const first = log.one(cmd(1000, 's1', 1, 1, true, 'counter', 'c', 'add', 5));
    expect(first).toEqual({ ok: true, value: 5, index: 1 });
    // The same (session, seq) again, e.g. resent to a new leader after a crash: not applied again.
    const dup = log.one(cmd(1001, 's1', 1, 1, true, 'counter', 'c', 'add', 5));
    expect(dup).toEqual(first);
    expect(log.machines[0]!.query('counter', 'c', 'get', null, null)).toBe(5);
    expect(log.one(cmd(1002, 's1', 2, 1, false, 'counter', 'c', 'add', 1))).toMatchObject({ ok: true, value: 6 });
  });

  it('forgets acknowledged results and refuses a stale duplicate instead of applying it', () => {
    const m = sm();
    const log = new Log([m]);
    for (let seq = 1; seq <= 5; seq++) log.one(cmd(1000, 's', seq, 1, true, 'counter', 'c', 'add', 1));
    expect(m.sessions.get('s')!.results.size).toBe(5);
    log.one(cmd(1000, 's', 6, 4, false, 'counter', 'c', 'add', 1)); // client has answers for 1..3
    expect([...m.sessions.get('s')!.results.keys()]).toEqual([4, 5, 6]);
    const stale = log.one(cmd(1000, 's', 2, 4, false, 'counter', 'c', 'add', 1));
    expect(stale).toMatchObject({ ok: false, code: 'STALE_REQUEST' });
    expect(m.query('counter', 'c', 'get', null, null)).toBe(6);
  });

  it('needs an open flag for an unknown session', () => {
    const log = new Log([sm()]);
    expect(log.one(cmd(1000, 'nobody', 1, 1, false, 'counter', 'c', 'add', 1))).toMatchObject({ ok: false, code: 'SESSION_EXPIRED' });
    expect(log.one(encodeKeepAlive(1000, T, 'nobody', false))).toMatchObject({ ok: false, code: 'SESSION_EXPIRED' });
    expect(log.one(encodeKeepAlive(1000, T, 'nobody', true))).toMatchObject({ ok: true });
  });

  it('expires sessions in log time only, releasing their locks, identically on every replica', () => {
    const ev1: unknown[][] = [];
    const ev2: unknown[][] = [];
    const log = new Log([sm(ev1), sm(ev2)]);
    const [a] = log.apply(cmd(1_000, 'holder', 1, 1, true, 'lock', 'L', 'acquire', { wait: false }));
    expect(a).toMatchObject({ ok: true, value: { acquired: true, token: 1 } });
    const [b] = log.apply(cmd(2_000, 'waiter', 1, 1, true, 'lock', 'L', 'acquire', { wait: true }));
    expect(b).toMatchObject({ ok: true, value: { acquired: false } });
    // The waiter keeps its session alive; the holder goes silent. Nothing expires before the log says so.
    log.apply(encodeKeepAlive(20_000, T, 'waiter', false));
    expect(log.machines[0]!.query('lock', 'L', 'state', null, null)).toMatchObject({ holder: 'holder' });
    log.apply(encodeClock(31_000)); // 1000 + 30000 passed
    for (const m of log.machines) {
      expect(m.query('lock', 'L', 'state', null, null)).toEqual({ holder: 'waiter', token: 4, waiting: 0 });
      expect(m.sessions.get('holder')).toBeUndefined();
    }
    expect(ev1).toEqual(ev2);
    expect(ev1.map((e) => (e[2] as { kind: string }).kind)).toEqual(['acquired', 'released', 'acquired']);
    // A command from the expired session is refused (its outcome stays unknown to that client).
    expect(log.apply(cmd(31_001, 'holder', 2, 2, false, 'counter', 'c', 'add', 1))[0]).toMatchObject({ ok: false, code: 'SESSION_EXPIRED' });
  });

  it('log time never goes backwards (a new leader with a slower clock)', () => {
    const m = sm();
    const log = new Log([m]);
    log.one(cmd(50_000, 's', 1, 1, true, 'counter', 'c', 'add', 1));
    log.one(encodeClock(10_000));
    expect(m.logTime).toBe(50_000);
  });

  it('closing a session releases what it held at once', () => {
    const events: unknown[][] = [];
    const log = new Log([sm(events)]);
    log.one(cmd(1000, 'a', 1, 1, true, 'election', 'e', 'campaign', { candidate: 'alpha' }));
    log.one(cmd(1000, 'b', 1, 1, true, 'election', 'e', 'campaign', { candidate: 'beta' }));
    expect(log.machines[0]!.query('election', 'e', 'leader', null, null)).toMatchObject({ leader: 'alpha', term: 1, candidates: ['alpha', 'beta'] });
    log.one(encodeClose(1001, 'a'));
    expect(log.machines[0]!.query('election', 'e', 'leader', null, null)).toMatchObject({ leader: 'beta', term: 2 });
  });

  it('keeps resources of different types and names apart and drops empty instances', () => {
    const m = sm();
    const log = new Log([m]);
    log.one(cmd(1, 's', 1, 1, true, 'map', 'm1', 'set', 'x', 'k'));
    log.one(cmd(1, 's', 2, 1, true, 'map', 'm2', 'set', 'y', 'k'));
    log.one(cmd(1, 's', 3, 1, true, 'counter', 'm1', 'add', 3));
    expect(m.query('map', 'm1', 'get', null, 'k')).toBe('x');
    expect(m.query('map', 'm2', 'get', null, 'k')).toBe('y');
    expect(m.instanceCount).toBe(3);
    log.one(cmd(1, 's', 4, 1, true, 'map', 'm1', 'delete', null, 'k'));
    expect(m.instanceCount).toBe(2);
    expect(log.one(cmd(1, 's', 5, 1, true, 'nope', 'x', 'op', null))).toMatchObject({ ok: false, code: 'UNKNOWN_RESOURCE' });
    expect(log.one(cmd(1, 's', 6, 1, true, 'map', 'm1', 'set', 'x', null))).toMatchObject({ ok: false, code: 'INVALID_INPUT' });
  });

  it('snapshot and restore carry state, sessions and the dedup table: a retry after restore is not applied again', async () => {
    const m = sm();
    const log = new Log([m]);
    for (let i = 0; i < 50; i++) log.one(cmd(1000 + i, 'c1', i + 1, 1, true, 'map', 'm', 'getAndSet', `v${i}`, `k${i % 7}`));
    log.one(cmd(2000, 'c2', 1, 1, true, 'lock', 'L', 'acquire', { wait: false }));
    const before = log.one(cmd(2001, 'c1', 51, 1, false, 'counter', 'n', 'add', 10));
    const r = await restored(m);
    expect(r.appliedIndex).toBe(m.appliedIndex);
    expect(r.logTime).toBe(m.logTime);
    expect(await image(r)).toEqual(await image(m));
    // The client did not hear back for seq 51 and resends it to a replica restored from the snapshot.
    const relog = new Log([r]);
    relog.index = log.index;
    expect(relog.one(cmd(2002, 'c1', 51, 1, false, 'counter', 'n', 'add', 10))).toEqual(before);
    expect(r.query('counter', 'n', 'get', null, null)).toBe(10);
    expect(r.query('lock', 'L', 'state', null, null)).toMatchObject({ holder: 'c2' });
    expect(r.query('map', 'm', 'get', null, 'k0')).toBe('v49');
  });

  it('restore refuses an image of another partition or version', async () => {
    const m = sm();
    new Log([m]).one(cmd(1, 's', 1, 1, true, 'counter', 'c', 'add', 1));
    const img = await image(m);
    const other = new PartitionStateMachine({ partition: 1, resources: registry });
    await expect(other.restore((async function* () { yield img; })())).rejects.toThrow(/partition 0/);
  });

  it('a batch entry applies each command with its own dedup and outcome', () => {
    const m = sm();
    const log = new Log([m]);
    const batch = encodeBatch(1000, [
      [T, 'a', 1, 1, true, 'counter', 'c', 'add', 2],
      [T, 'b', 1, 1, true, 'counter', 'c', 'add', 3],
      [T, 'a', 1, 1, true, 'counter', 'c', 'add', 2], // the same command twice in one batch (a quick retry)
      [T, 'a', 2, 1, true, 'nope', 'x', 'op', null],
    ].map((c) => [...c, null]) as never);
    const out = log.one(batch);
    expect(out.ok).toBe(true);
    const outs = (out as { value: Outcome[] }).value;
    expect(outs.map((o) => (o.ok ? o.value : o.code))).toEqual([2, 5, 2, 'UNKNOWN_RESOURCE']);
    expect(m.query('counter', 'c', 'get', null, null)).toBe(5);
    // The batch's commands are deduplicated later too, one by one.
    expect(log.one(cmd(1001, 'b', 1, 1, false, 'counter', 'c', 'add', 3))).toEqual(outs[1]);
  });

  it('a runs entry (kind 6) applies like the same commands in a batch entry', async () => {
    const cmds: BatchedCommand[] = [
      [T, 'a', 1, 1, true, 'map', 'm', 'set', new Uint8Array([1, 2, 3]), 'k1'],
      [T, 'a', 2, 1, true, 'map', 'm', 'set', { nested: [new Uint8Array([4])] }, 'k2'],
      [T, 'a', 3, 2, true, 'map', 'm', 'getAndSet', 'text', 'k1'],
      [T, 'b', 1, 1, true, 'counter', 'c', 'add', 2, null],
      [T, 'a', 4, 2, true, 'map', 'm', 'set', new Uint8Array([9]), 'k3'],
      [T, 'a', 4, 2, true, 'map', 'm', 'set', new Uint8Array([9]), 'k3'], // a retry in the same entry
    ];
    const viaRuns = sm();
    const viaBatch = sm();
    const runs = encodeRuns(1000, cmds);
    const outRuns = new Log([viaRuns]).one(runs);
    const outBatch = new Log([viaBatch]).one(encodeBatch(1000, cmds));
    expect(outRuns).toEqual(outBatch);
    const values = (outRuns as { value: Outcome[] }).value.map((o) => (o.ok ? o.value : o.code));
    expect(values).toEqual([null, null, new Uint8Array([1, 2, 3]), 2, null, null]);
    // State kept from a runs entry shares no bytes with the entry: scribbling over it changes nothing.
    runs.fill(0);
    expect(await image(viaRuns)).toEqual(await image(viaBatch));
    expect(viaRuns.query('map', 'm', 'get', null, 'k2')).toEqual({ nested: [new Uint8Array([4])] });
    expect(viaRuns.query('map', 'm', 'get', null, 'k3')).toEqual(new Uint8Array([9]));
    expect(viaRuns.query('map', 'm', 'get', null, 'k1')).toBe('text');
    // compare-and-set compares bytes by value.
    const log = new Log([viaRuns]);
    expect(log.one(cmd(1001, 'a', 5, 5, false, 'map', 'm', 'cas', [new Uint8Array([9]), 'next'], 'k3'))).toMatchObject({ ok: true, value: true });
    expect(viaRuns.query('map', 'm', 'get', null, 'k3')).toBe('next');
  });

  it('a resource that keeps its input as is gets copies of byte strings from a runs entry', () => {
    const keeper = defineResource<{ kept: unknown[] }>({
      type: 'keeper',
      create: () => ({ kept: [] }),
      commands: { keep: { input: z.unknown(), apply: (s, v) => void s.kept.push(v) } },
      queries: { all: { input: z.null(), run: (s) => s.kept } },
      snapshot: (s) => s.kept,
      restore: (img) => ({ kept: img as unknown[] }),
    });
    const m = new PartitionStateMachine({ partition: 0, resources: new Map([...registry, ['keeper', keeper]]) });
    const runs = encodeRuns(1000, [
      [T, 'a', 1, 1, true, 'keeper', 'k', 'keep', new Uint8Array([7, 7]), null],
      [T, 'a', 2, 1, true, 'keeper', 'k', 'keep', [{ b: new Uint8Array([8]) }], null],
    ]);
    new Log([m]).one(runs);
    runs.fill(0);
    expect(m.query('keeper', 'k', 'all', null, null)).toEqual([new Uint8Array([7, 7]), [{ b: new Uint8Array([8]) }]]);
  });

  it('malformed entries fail deterministically without changing state', () => {
    const m = sm();
    const log = new Log([m]);
    expect(log.one(new Uint8Array([0xc1]))).toMatchObject({ ok: false, code: 'MALFORMED_ENTRY' });
    expect(m.appliedIndex).toBe(1);
  });
});
