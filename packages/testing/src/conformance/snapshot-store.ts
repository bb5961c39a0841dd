/**
 * The conformance suite every storage engine's {@link SnapshotStore} runs:
 *
 * ```ts
 * import { snapshotStoreSuite } from '@tessera/testing/snapshot-store';
 * snapshotStoreSuite('file', () => harness);
 * ```
 *
 * It checks chunked writes committed atomically, random-access reads of the latest snapshot, list
 * order, pruning that keeps open readers valid, and that uncommitted or aborted snapshots are never
 * visible; on `persistent` engines also across a reopen.
 */
import { describe, expect, it } from 'vitest';
import type { Membership, SnapshotMeta, SnapshotStore } from '@tessera/raft';
import { expectCode, expectFailure, expectSameBytes, payload, SLOW_TEST_MS, useStorage, type StorageFixture, type StorageHarness } from './storage-harness.js';

export type { StorageHarness } from './storage-harness.js';

const MEMBERS: Membership = { voters: ['n1', 'n2', 'n3'], learners: ['n4'] };

function meta(index: number, term = 1, membership: Membership = MEMBERS): SnapshotMeta {
  return { index, term, membership };
}

/** Writes `image` in chunks of `chunk` bytes and commits; returns the committed size. */
async function put(store: SnapshotStore, m: SnapshotMeta, image: Uint8Array, chunk = 1000): Promise<number> {
  const w = await store.create(m);
  expect(w.meta).toEqual(m);
  for (let off = 0; off < image.byteLength; off += chunk) await w.write(image.subarray(off, off + chunk));
  return w.commit();
}

async function readWhole(store: SnapshotStore): Promise<{ meta: SnapshotMeta; bytes: Uint8Array } | undefined> {
  const r = await store.latest();
  if (!r) return undefined;
  try {
    return { meta: r.meta, bytes: await r.read(0, r.size) };
  } finally {
    await r.close();
  }
}

type SkipContext = { skip: (note?: string) => void };

function requiresPersistent(fx: StorageFixture, ctx: SkipContext): void {
  if (!fx.engine.capabilities.persistent) ctx.skip('engine lacks capability persistent');
}

/** Registers the snapshot store conformance tests for `name` with vitest. */
export function snapshotStoreSuite(name: string, makeHarness: () => StorageHarness | Promise<StorageHarness>): void {
  describe(`snapshot store conformance: ${name}`, () => {
    const fx = useStorage(makeHarness);
    const store = async (group = 'g') => (await fx.group(group)).snapshots;

    it('starts with no snapshot', async () => {
      const s = await store();
      expect(await s.latest()).toBeUndefined();
      expect(await s.list()).toEqual([]);
    });

    it('commits chunks as one image and reads it back at any offset', async () => {
      const s = await store();
      const image = payload(10, 2, 10_000);
      expect(await put(s, meta(10, 2), image, 777)).toBe(10_000);
      const r = (await s.latest())!;
      expect(r.meta).toEqual(meta(10, 2));
      expect(r.size).toBe(10_000);
      expectSameBytes(await r.read(0, 10_000), image, 'whole image');
      expectSameBytes(await r.read(4321, 100), image.subarray(4321, 4421), 'middle');
      expectSameBytes(await r.read(9990, 100), image.subarray(9990), 'short read at the end');
      expect((await r.read(10_000, 10)).byteLength).toBe(0);
      expectSameBytes(await r.read(0, 1), image.subarray(0, 1), 'first byte');
      await r.close();
      expect(await s.list()).toEqual([meta(10, 2)]);
    });

    it('copies chunks: changing a buffer after write does not change the snapshot', async () => {
      const s = await store();
      const w = await s.create(meta(3));
      const buf = new Uint8Array([1, 2, 3, 4]);
      await w.write(buf);
      buf.fill(9);
      await w.write(buf);
      await w.commit();
      expect(Array.from((await readWhole(s))!.bytes)).toEqual([1, 2, 3, 4, 9, 9, 9, 9]);
    });

    it('commits an empty snapshot', async () => {
      const s = await store();
      const w = await s.create(meta(1, 1, { voters: ['solo'], learners: [] }));
      expect(await w.commit()).toBe(0);
      const r = (await s.latest())!;
      expect(r.size).toBe(0);
      expect(r.meta.membership).toEqual({ voters: ['solo'], learners: [] });
      expect((await r.read(0, 10)).byteLength).toBe(0);
      await r.close();
    });

    it('keeps an uncommitted snapshot invisible', async () => {
      const s = await store();
      await put(s, meta(5), payload(5, 1, 100));
      const w = await s.create(meta(9));
      await w.write(payload(9, 1, 500));
      expect(await s.list()).toEqual([meta(5)]);
      expect((await readWhole(s))!.meta).toEqual(meta(5));
      await w.commit();
      expect(await s.list()).toEqual([meta(5), meta(9)]);
      expectSameBytes((await readWhole(s))!.bytes, payload(9, 1, 500), 'committed image');
    });

    it('keeps an aborted snapshot invisible and refuses writes after commit or abort', async () => {
      const s = await store();
      const w = await s.create(meta(4));
      await w.write(payload(4, 1, 100));
      await w.abort();
      expect(await s.list()).toEqual([]);
      expect(await s.latest()).toBeUndefined();
      await expectFailure(() => w.write(new Uint8Array(1)), 'write after abort');
      await expectFailure(() => w.commit(), 'commit after abort');
      const w2 = await s.create(meta(6));
      await w2.commit();
      await expectFailure(() => w2.write(new Uint8Array(1)), 'write after commit');
      expect(await s.list()).toEqual([meta(6)]);
    });

    it('lists oldest first and opens the highest index as latest, whatever the commit order', async () => {
      const s = await store();
      const a = await s.create(meta(20, 3));
      const b = await s.create(meta(10, 2));
      await a.write(payload(20, 3, 300));
      await b.write(payload(10, 2, 200));
      await b.commit();
      await a.commit();
      await put(s, meta(15, 2), payload(15, 2, 150));
      expect((await s.list()).map((m) => m.index)).toEqual([10, 15, 20]);
      const latest = (await readWhole(s))!;
      expect(latest.meta).toEqual(meta(20, 3));
      expectSameBytes(latest.bytes, payload(20, 3, 300), 'latest image');
    });

    it('prunes all but the newest N, and open readers stay valid', async () => {
      const s = await store();
      for (const i of [1, 2, 3, 4, 5]) await put(s, meta(i * 10), payload(i * 10, 1, 5000 + i));
      const old = (await s.latest())!;
      await s.prune(3);
      expect((await s.list()).map((m) => m.index)).toEqual([30, 40, 50]);
      await put(s, meta(60), payload(60, 1, 64));
      await s.prune(1);
      expect((await s.list()).map((m) => m.index)).toEqual([60]);
      // `old` (index 50) was pruned while open: it still reads its image.
      expect(old.meta.index).toBe(50);
      expectSameBytes(await old.read(0, old.size), payload(50, 1, 5005), 'pruned but open reader');
      expectSameBytes(await old.read(5000, 100), payload(50, 1, 5005).subarray(5000), 'pruned reader tail');
      await old.close();
      await s.prune(5);
      expect((await s.list()).map((m) => m.index)).toEqual([60]);
      await expectCode(() => s.prune(0), 'LOG_RANGE', 'prune(0)');
    });

    it(
      'stores multi-megabyte images written in small chunks',
      async () => {
        const s = await store();
        const image = payload(100, 7, 6 * 1024 * 1024 + 11);
        expect(await put(s, meta(100, 7), image, 64 * 1024)).toBe(image.byteLength);
        const r = (await s.latest())!;
        expect(r.size).toBe(image.byteLength);
        for (const off of [0, 1, 65_535, 3 * 1024 * 1024 + 5, image.byteLength - 1]) {
          expectSameBytes(await r.read(off, 100_000), image.subarray(off, off + 100_000), `read at ${off}`);
        }
        await r.close();
      },
      SLOW_TEST_MS,
    );

    it('keeps snapshots of different groups apart', async () => {
      const a = await store('a');
      const b = await store('a/b');
      await put(a, meta(7), payload(7, 1, 70));
      expect(await b.list()).toEqual([]);
      await put(b, meta(3), payload(3, 1, 30));
      expect((await readWhole(a))!.meta.index).toBe(7);
      expect((await readWhole(b))!.meta.index).toBe(3);
    });

    it('[persistent] keeps committed snapshots across reopen and drops uncommitted and aborted ones', async (ctx: SkipContext) => {
      requiresPersistent(fx, ctx);
      let s = await store();
      await put(s, meta(10, 1), payload(10, 1, 1000));
      await put(s, meta(20, 2, { voters: ['x'], learners: [] }), payload(20, 2, 2000));
      const aborted = await s.create(meta(25));
      await aborted.write(payload(25, 1, 100));
      await aborted.abort();
      const open = await s.create(meta(30, 3));
      await open.write(payload(30, 3, 3000));
      // The engine closes with `open` never committed: as if the process died mid-snapshot.
      await fx.reopen();
      s = await store();
      expect(await s.list()).toEqual([meta(10, 1), meta(20, 2, { voters: ['x'], learners: [] })]);
      const latest = (await readWhole(s))!;
      expect(latest.meta.index).toBe(20);
      expectSameBytes(latest.bytes, payload(20, 2, 2000), 'latest after reopen');
      await s.prune(1);
      await fx.reopen();
      s = await store();
      expect((await s.list()).map((m) => m.index)).toEqual([20]);
      await put(s, meta(40, 4), payload(40, 4, 10));
      expect((await readWhole(s))!.meta.index).toBe(40);
    });

    it('[persistent] deleteGroup removes snapshots durably', async (ctx: SkipContext) => {
      requiresPersistent(fx, ctx);
      const g = await fx.group('gone');
      await put(g.snapshots, meta(5), payload(5, 1, 10));
      await g.close();
      await fx.engine.deleteGroup('gone');
      await fx.reopen();
      expect(await (await store('gone')).list()).toEqual([]);
    });
  });
}
