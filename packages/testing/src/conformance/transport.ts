/**
 * The conformance suite every {@link Transport} implementation runs:
 *
 * ```ts
 * import { transportSuite } from '@tessera/testing/transport';
 * transportSuite('my transport', async () => ({ create: ..., destroy: ... }));
 * ```
 *
 * It checks what the interface promises: every field of every message type survives the trip, one
 * transport serves many groups with per-peer order kept, multi-megabyte messages pass, a restarted
 * peer is reached again without help, a dead or unknown peer neither throws nor holds up the others,
 * and `close()` leaves nothing running. Waits poll with a deadline; nothing sleeps a fixed time.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Message, NodeId, Transport } from '@tessera/raft';
import { Endpoints } from './transport-endpoints.js';
import { assertSameMessages, bigAppend, bigSnapshotChunk, everyKindOfMessage, seqMessage } from './transport-messages.js';
import { activeResources, extraResources, until } from './transport-wait.js';

/** Creates endpoints that can all reach one another; one harness per test. */
export interface TransportHarness {
  /** Creates and starts endpoint `nodeId`, reachable by (and able to reach) every other endpoint this harness created. Creating the same nodeId again after closing it models a restart. */
  create(nodeId: string, deliver: (messages: Message[], from: string) => void): Promise<Transport>;
  /** Stops anything the harness itself started (servers, temp dirs). Endpoints are closed by the suite. */
  destroy(): Promise<void>;
}

/** What the implementation under test supports; selects and sizes optional checks. */
export interface TransportCapabilities {
  /** max message bytes the suite may send (default 8 MiB) */
  maxMessageBytes?: number;
}

const MiB = 1024 * 1024;
const TEST_TIMEOUT_MS = 90_000;

/** Registers the transport conformance tests for `name` with vitest. */
export function transportSuite(
  name: string,
  makeHarness: () => TransportHarness | Promise<TransportHarness>,
  capabilities: TransportCapabilities = {},
): void {
  const maxMessageBytes = capabilities.maxMessageBytes ?? 8 * MiB;
  // Encoding overhead allowance so that "max-size" messages stay within the limit once framed.
  const maxPayload = Math.max(1024, maxMessageBytes - Math.min(64 * 1024, Math.floor(maxMessageBytes / 8)));

  describe(`transport conformance: ${name}`, () => {
    let harness: TransportHarness | undefined;
    let eps: Endpoints;
    let baseline: Map<string, number>;

    beforeEach(async () => {
      harness = await makeHarness();
      eps = new Endpoints(harness);
      baseline = activeResources();
    });

    afterEach(async () => {
      try {
        await eps.closeAll();
      } finally {
        await harness?.destroy();
        harness = undefined;
      }
      expect(eps.lateDeliveries, 'deliveries after close').toEqual([]);
    });

    it(
      'delivers every field of every message type, in both directions',
      async () => {
        await eps.start('a');
        await eps.start('b');
        await eps.linkAll(['a', 'b']);
        const a = eps.get('a').transport;
        const b = eps.get('b').transport;
        a.send('b', []);
        a.send('b', everyKindOfMessage('a', 'b', 'group-1'));
        b.send('a', everyKindOfMessage('b', 'a', 'grüppe/2'));
        const want = everyKindOfMessage('a', 'b', 'group-1');
        await until(
          () => eps.get('b').inbox.count('a') >= want.length && eps.get('a').inbox.count('b') >= want.length,
          () => `b has ${eps.get('b').inbox.count('a')} from a, a has ${eps.get('a').inbox.count('b')} from b; want ${want.length} each`,
        );
        assertSameMessages(eps.get('b').inbox.from('a'), want, 'a -> b');
        assertSameMessages(eps.get('a').inbox.from('b'), everyKindOfMessage('b', 'a', 'grüppe/2'), 'b -> a');
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'delivers between every pair of three endpoints, naming the sender',
      async () => {
        const ids = ['n1', 'n2', 'n3'];
        for (const id of ids) await eps.start(id);
        await eps.linkAll(ids);
        const batch = (from: NodeId, to: NodeId) => Array.from({ length: 10 }, (_, i) => seqMessage(from, to, `g-${from}-${to}`, i));
        for (const from of ids) for (const to of ids) if (from !== to) eps.get(from).transport.send(to, batch(from, to));
        await until(
          () => ids.every((to) => ids.every((from) => from === to || eps.get(to).inbox.count(from) >= 10)),
          () => ids.map((to) => `${to}: ${ids.filter((f) => f !== to).map((f) => `${eps.get(to).inbox.count(f)} from ${f}`).join(', ')}`).join('; '),
        );
        for (const to of ids) {
          for (const b of eps.get(to).inbox.batches) {
            for (const m of b.messages) expect(m.from, `deliver(from=${b.from}) carried a message from ${m.from}`).toBe(b.from);
          }
          for (const from of ids) if (from !== to) assertSameMessages(eps.get(to).inbox.from(from), batch(from, to), `${from} -> ${to}`);
        }
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'carries many groups interleaved, keeping each sender\'s order',
      async () => {
        for (const id of ['a', 'b', 'c']) await eps.start(id);
        await eps.link('a', 'b');
        await eps.link('c', 'b');
        const groups = 50;
        const sends = 200;
        const perSend = 10;
        const total = sends * perSend;
        const build = (from: NodeId) => {
          const out: Message[][] = [];
          let seq = 0;
          for (let s = 0; s < sends; s++) {
            const batch: Message[] = [];
            for (let j = 0; j < perSend; j++) batch.push(seqMessage(from, 'b', `g${(s * 7 + j * 13) % groups}`, seq++));
            out.push(batch);
          }
          return out;
        };
        const fromA = build('a');
        const fromC = build('c');
        for (let s = 0; s < sends; s++) {
          eps.get('a').transport.send('b', fromA[s]!);
          eps.get('c').transport.send('b', fromC[s]!);
          // Let deliveries interleave with sends, as they do in a running node.
          if (s % 20 === 19) await new Promise((r) => setImmediate(r));
        }
        const inbox = eps.get('b').inbox;
        await until(
          () => inbox.count('a') >= total && inbox.count('c') >= total,
          () => `b has ${inbox.count('a')} from a and ${inbox.count('c')} from c; want ${total} each`,
        );
        assertSameMessages(inbox.from('a'), build('a').flat(), 'a -> b');
        assertSameMessages(inbox.from('c'), build('c').flat(), 'c -> b');
        const senders = new Set(inbox.batches.map((b) => b.from));
        expect([...senders].sort()).toEqual(['a', 'c']);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      `carries large messages (up to ${(maxPayload / MiB).toFixed(1)} MiB) in order with small ones`,
      async () => {
        await eps.start('a');
        await eps.start('b');
        await eps.linkAll(['a', 'b']);
        const half = Math.floor(maxPayload / 2);
        const quarter = Math.floor(maxPayload / 4);
        const plan = (from: NodeId, to: NodeId): Message[][] => [
          [seqMessage(from, to, 'g', 0)],
          [bigSnapshotChunk(from, to, 'g', maxPayload, 1)],
          [bigAppend(from, to, 'g', half, 64, 2)],
          // Two big messages in one send: the transport must not lose either to framing limits.
          [bigSnapshotChunk(from, to, 'h', half - 4096, 3), bigAppend(from, to, 'h', quarter, 3, 4)],
          [seqMessage(from, to, 'g', 1)],
        ];
        for (const batch of plan('a', 'b')) eps.get('a').transport.send('b', batch);
        for (const batch of plan('b', 'a')) eps.get('b').transport.send('a', batch);
        const want = plan('a', 'b').flat().length;
        await until(
          () => eps.get('b').inbox.count('a') >= want && eps.get('a').inbox.count('b') >= want,
          () => `b has ${eps.get('b').inbox.count('a')}/${want} from a, a has ${eps.get('a').inbox.count('b')}/${want} from b`,
          30_000,
        );
        assertSameMessages(eps.get('b').inbox.from('a'), plan('a', 'b').flat(), 'a -> b');
        assertSameMessages(eps.get('a').inbox.from('b'), plan('b', 'a').flat(), 'b -> a');
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'reaches a restarted peer again without intervention, whichever side restarts',
      async () => {
        await eps.start('a');
        await eps.start('b');
        await eps.linkAll(['a', 'b']);
        eps.get('a').transport.send('b', [seqMessage('a', 'b', 'g', 0)]);
        await until(() => eps.get('b').inbox.count('a') >= 1, () => 'first message never arrived');

        // b restarts; a keeps sending meanwhile, which must not throw.
        await eps.close('b');
        for (let i = 0; i < 20; i++) eps.get('a').transport.send('b', [seqMessage('a', 'b', 'g', 1000 + i)]);
        await eps.start('b');
        await resendUntilDelivered(eps, 'a', 'b');
        await resendUntilDelivered(eps, 'b', 'a');

        // Now a restarts.
        await eps.close('a');
        eps.get('b').transport.send('a', [seqMessage('b', 'a', 'g', 1)]);
        await eps.start('a');
        await resendUntilDelivered(eps, 'b', 'a');
        await resendUntilDelivered(eps, 'a', 'b');
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'sending to an unknown or dead peer neither throws nor holds up other peers',
      async () => {
        for (const id of ['a', 'b', 'c']) await eps.start(id);
        await eps.linkAll(['a', 'b', 'c']);
        await eps.close('c');
        const a = eps.get('a').transport;
        const rounds = 100;
        for (let i = 0; i < rounds; i++) {
          expect(() => a.send('nobody', [seqMessage('a', 'nobody', 'g', i)])).not.toThrow();
          expect(() => a.send('c', [seqMessage('a', 'c', 'g', i), ...(i % 25 === 0 ? [bigAppend('a', 'c', 'g', Math.min(MiB, maxPayload), 4, i)] : [])])).not.toThrow();
          a.send('b', [seqMessage('a', 'b', 'g', i)]);
          if (i % 10 === 9) await new Promise((r) => setImmediate(r));
        }
        const inbox = eps.get('b').inbox;
        await until(() => inbox.count('a') >= rounds, () => `b has ${inbox.count('a')}/${rounds} from a`);
        assertSameMessages(inbox.from('a'), Array.from({ length: rounds }, (_, i) => seqMessage('a', 'b', 'g', i)), 'a -> b');
        // b -> a still flows too.
        eps.get('b').transport.send('a', [seqMessage('b', 'a', 'g', 7)]);
        await until(() => eps.get('a').inbox.count('b') >= 1, () => 'b -> a stopped');
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'closes cleanly: close is idempotent, send afterwards is a no-op, no handles are left',
      async () => {
        const ids = ['a', 'b', 'c'];
        for (const id of ids) await eps.start(id);
        await eps.linkAll(ids);
        for (const from of ids) for (const to of ids) if (from !== to) eps.get(from).transport.send(to, [bigAppend(from, to, 'g', 256 * 1024, 4, 1)]);

        const a = eps.get('a').transport;
        await eps.close('a');
        await a.close();
        expect(() => a.send('b', [seqMessage('a', 'b', 'after-close', 1)])).not.toThrow();
        // A marker from c that b receives after a's late send was issued. (Messages a sent before
        // closing may still arrive; the one sent after must not.)
        await resendUntilDelivered(eps, 'c', 'b');
        expect(eps.get('b').inbox.from('a').filter((m) => m.group === 'after-close'), 'b received what a sent after closing').toEqual([]);

        const others: Transport[] = ['b', 'c'].map((id) => eps.get(id).transport);
        await Promise.all(['b', 'c'].map((id) => eps.close(id)));
        await Promise.all(others.map((t) => t.close()));
        for (const t of [a, ...others]) expect(() => t.send('b', [seqMessage(t.nodeId, 'b', 'g', 2)])).not.toThrow();
        await until(
          () => extraResources(baseline).length === 0,
          () => `active resources above the baseline after close: ${extraResources(baseline).join(', ')}`,
          5_000,
        );
      },
      TEST_TIMEOUT_MS,
    );
  });
}

/** Resends one message from `from` to `to` until one arrives (a peer may be reconnecting). */
async function resendUntilDelivered(eps: Endpoints, from: NodeId, to: NodeId): Promise<void> {
  const before = eps.get(to).inbox.count(from);
  let seq = 0;
  await until(
    () => {
      if (eps.get(to).inbox.count(from) > before) return true;
      eps.get(from).transport.send(to, [seqMessage(from, to, 'retry', seq++)]);
      return false;
    },
    () => `${from} never reached ${to} after ${seq} attempts`,
    undefined,
    25,
  );
}

export { assertSameMessages, diffMessage, everyKindOfMessage, seqMessage, bigAppend, bigSnapshotChunk, patternBytes } from './transport-messages.js';
export { until, activeResources, extraResources } from './transport-wait.js';
