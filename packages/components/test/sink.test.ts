// The sink's bookkeeping against a scripted client: outputs once and in order, missed events read
// back from the partition's retained outputs, losses beyond the retention counted as gaps.
import type { TesseraClient } from '@tessera/client';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { component, network, openSink } from '../src/index.js';
import { OUTPUTS_PAGE, outputsAfter, type SinkOutput } from '../src/partition-state.js';
import { until } from './helpers/wait.js';

const c = component({ name: 'c', inputs: { in: null }, outputs: { out: z.number(), other: z.number() }, state: { init: () => 0 }, handlers: { in: () => {} } });
const net = network('s').add(c).source('in', 'c.in').sink('out', 'c.out').sink('other', 'c.other').build();

/**
 * One partition whose retained outputs the test controls; events go to the subscriber only when the
 * test says. Like a node, a subscription's state holds the newest OUTPUTS_PAGE outputs and the
 * `outputs` query answers a page of OUTPUTS_PAGE.
 */
function fakeClient(retention: number) {
  const ring: SinkOutput[] = [];
  const queries: string[] = [];
  let seq = 0;
  const describe = () => ({ seq, outputs: ring.slice(-OUTPUTS_PAGE) });
  let onEvent: ((e: unknown, i: number) => void) | undefined;
  let onState: ((s: unknown, i: number) => void) | undefined;
  const client = {
    clusterMap: () => ({ partitions: 1 }),
    subscribe: (_p: number, _t: string, _n: string, ev: typeof onEvent, st: typeof onState) => {
      onEvent = ev;
      onState = st;
      queueMicrotask(() => onState!(describe(), 1));
      return { close: () => {} };
    },
    query: async (_p: number, _t: string, _n: string, op: string, input: unknown) => {
      queries.push(op);
      if (op === 'outputs') return { value: { seq, outputs: outputsAfter(ring, input as number, OUTPUTS_PAGE) }, index: 1 };
      return { value: { sinkSeq: seq }, index: 1 };
    },
  };
  const emit = (port: string, value: number, deliver = true) => {
    const o: SinkOutput = [++seq, port, null, value, `c/0@${seq}.0`, 0];
    ring.push(o);
    if (ring.length > retention) ring.shift();
    if (deliver) onEvent!(o, seq);
    return o;
  };
  return {
    client: client as unknown as TesseraClient,
    emit,
    resend: (o: SinkOutput) => onEvent!(o, o[0]),
    /** A re-subscription (another replica): a fresh state. */
    resubscribe: () => onState!(describe(), 1),
    queries,
  };
}

describe('sink', () => {
  it('delivers each output of its port once, in order, and reads back outputs the subscription missed', async () => {
    const f = fakeClient(100);
    const got: number[] = [];
    const sink = openSink<number>(f.client, net, 'out', (m) => got.push(m), { catchUpIntervalMs: 20 });
    await sink.ready;
    f.emit('out', 1);
    const two = f.emit('out', 2);
    f.resend(two); // duplicate after a re-subscription
    f.emit('other', 99); // another sink's port
    f.emit('out', 3, false); // missed by the subscription
    f.emit('out', 4, false);
    f.emit('out', 5); // the jump reveals the missing ones
    await until(() => (got.length === 5 ? true : undefined), 'the missed outputs');
    expect(got).toEqual([1, 2, 3, 4, 5]);
    f.emit('out', 6, false); // a silent tail: found by the periodic check
    await until(() => (got.length === 6 ? true : undefined), 'the silent tail');
    expect(got).toEqual([1, 2, 3, 4, 5, 6]);
    expect(sink.stats()).toMatchObject({ received: 6, gaps: 0 });
    expect(sink.stats().recovered).toBeGreaterThanOrEqual(3);
    sink.close();
  });

  it('counts outputs that fell out of the retention as gaps', async () => {
    const f = fakeClient(2);
    const got: number[] = [];
    const gaps: number[] = [];
    const sink = openSink<number>(f.client, net, 'out', (m) => got.push(m), { catchUpIntervalMs: 0, onGap: (_p, n) => gaps.push(n) });
    await sink.ready;
    f.emit('out', 1);
    for (let i = 2; i <= 5; i++) f.emit('out', i, false);
    f.emit('out', 6);
    await until(() => (got.includes(6) ? true : undefined), 'output 6');
    expect(got).toEqual([1, 5, 6]);
    expect(gaps).toEqual([3]);
    expect(sink.stats()).toMatchObject({ received: 3, gaps: 3 });
    sink.close();
  });

  it('reads a long outage back page by page: from a renewed subscription state, and from an event after a jump', async () => {
    const n = 2 * OUTPUTS_PAGE + 500;
    const f = fakeClient(10 * OUTPUTS_PAGE);
    const got: number[] = [];
    const sink = openSink<number>(f.client, net, 'out', (m) => got.push(m), { catchUpIntervalMs: 0 });
    await sink.ready;
    f.emit('out', 0);
    // The subscription's replica failed: n outputs pass before the client subscribes elsewhere, and
    // the new state holds only the newest page of them.
    for (let i = 1; i <= n; i++) f.emit('out', i, false);
    f.resubscribe();
    await until(() => (got.length === n + 1 ? true : undefined), 'the outage read back');
    expect(got).toEqual(Array.from({ length: n + 1 }, (_, i) => i));
    expect(f.queries.filter((q) => q === 'outputs').length).toBeGreaterThanOrEqual(2);
    // Events missed without a renewed state: the next event shows the jump.
    for (let i = n + 1; i <= 2 * n; i++) f.emit('out', i, false);
    f.emit('out', 2 * n + 1);
    await until(() => (got.length === 2 * n + 2 ? true : undefined), 'the jump read back');
    expect(got).toEqual(Array.from({ length: 2 * n + 2 }, (_, i) => i));
    // Recovered: what neither the events nor the renewed state (the newest page) brought.
    expect(sink.stats()).toEqual({ received: 2 * n + 2, gaps: 0, recovered: 2 * n - OUTPUTS_PAGE });
    sink.close();
  });

  it("'retained' starts with what the partition still holds", async () => {
    const f = fakeClient(3);
    for (let i = 1; i <= 5; i++) f.emit('out', i, false);
    const got: number[] = [];
    const sink = openSink<number>(f.client, net, 'out', (m) => got.push(m), { from: 'retained', catchUpIntervalMs: 0 });
    await sink.ready;
    expect(got).toEqual([3, 4, 5]);
    expect(sink.stats().gaps).toBe(0);
    expect(() => openSink(f.client, net, 'nope', () => {})).toThrow(/no sink nope \(sinks: out, other\)/);
    sink.close();
  });
});
