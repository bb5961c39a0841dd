/**
 * Log store conformance tests (required of every backend). Registered inside a `describe` whose
 * fixture opens a fresh engine per test.
 */
import { expect, it } from 'vitest';
import { EntryType, type LogEntry } from '@tessera/raft';
import {
  entries,
  entry,
  expectCode,
  expectSameEntries,
  readAll,
  SLOW_TEST_MS,
  type StorageFixture,
} from './storage-harness.js';
import { ModelLog } from './storage-model.js';
import { seededRandom } from '../sim/rng.js';

const LOG_RANGE = 'LOG_RANGE';
const LOG_COMPACTED = 'LOG_COMPACTED';
const MiB = 1024 * 1024;

export function logStoreTests(fx: StorageFixture): void {
  it('a new log is empty: firstIndex 1, lastIndex 0', async () => {
    const { log } = await fx.group();
    expect(log.firstIndex()).toBe(1);
    expect(log.lastIndex()).toBe(0);
    expect(await log.entries(1, 1)).toEqual([]);
    await expectCode(() => log.entries(1, 2), LOG_RANGE, 'entries(1, 2) on an empty log');
    await expectCode(() => log.term(1), LOG_RANGE, 'term(1) on an empty log');
    await log.append([]);
    expect(log.lastIndex()).toBe(0);
  });

  it('appends and reads back any range, keeping index, term, type and bytes', async () => {
    const { log } = await fx.group();
    const all: LogEntry[] = [
      entry(1, 1, 0, EntryType.Noop),
      entry(2, 1, 100),
      entry(3, 1, 1, EntryType.Config),
      ...entries(4, 20, 2, 37),
      entry(21, 3, 0),
      entry(22, 3, 4096),
    ];
    await log.append(all.slice(0, 3));
    expect(log.lastIndex()).toBe(3);
    await log.append(all.slice(3, 10));
    await log.append(all.slice(10));
    expect(log.firstIndex()).toBe(1);
    expect(log.lastIndex()).toBe(22);
    expectSameEntries(await log.entries(1, 23), all, 'whole log');
    for (const [lo, hi] of [
      [1, 2],
      [5, 9],
      [20, 23],
      [22, 23],
      [7, 7],
      [23, 23],
    ] as const) {
      expectSameEntries(await log.entries(lo, hi), all.slice(lo - 1, hi - 1), `entries(${lo}, ${hi})`);
    }
  });

  it('bounds reads by maxBytes of entry data, always returning at least one entry', async () => {
    const { log } = await fx.group();
    const all = entries(1, 10, 1, 100);
    await log.append(all);
    expectSameEntries(await log.entries(1, 11, 250), all.slice(0, 3), 'maxBytes 250');
    expectSameEntries(await log.entries(1, 11, 300), all.slice(0, 3), 'maxBytes 300');
    expectSameEntries(await log.entries(1, 11, 301), all.slice(0, 4), 'maxBytes 301');
    expectSameEntries(await log.entries(4, 11, 1), all.slice(3, 4), 'maxBytes 1');
    expectSameEntries(await log.entries(4, 11, 0), all.slice(3, 4), 'maxBytes 0');
    expectSameEntries(await log.entries(1, 11, 10 * MiB), all, 'maxBytes larger than the range');
    expect(await log.entries(5, 5, 1)).toEqual([]);
    // Paging through with a small bound yields the whole log, in order.
    expectSameEntries(await readAll(log, 350), all, 'paged read');
  });

  it('reports the term of every held index and rejects others', async () => {
    const { log } = await fx.group();
    await log.append([...entries(1, 3, 1), ...entries(4, 6, 5), ...entries(7, 7, 9)]);
    const terms = [];
    for (let i = 1; i <= 7; i++) terms.push(await log.term(i));
    expect(terms).toEqual([1, 1, 1, 5, 5, 5, 9]);
    await expectCode(() => log.term(8), LOG_RANGE, 'term beyond lastIndex');
    await log.compactPrefix(3);
    await expectCode(() => log.term(3), LOG_COMPACTED, 'term of a compacted index');
    await expectCode(() => log.term(0), LOG_COMPACTED, 'term(0)');
    expect(await log.term(4)).toBe(5);
  });

  it('rejects out-of-bounds and reversed ranges with typed errors', async () => {
    const { log } = await fx.group();
    await log.append(entries(1, 10, 1));
    await log.compactPrefix(4);
    await expectCode(() => log.entries(4, 6), LOG_COMPACTED, 'entries below firstIndex');
    await expectCode(() => log.entries(1, 3), LOG_COMPACTED, 'entries wholly below firstIndex');
    await expectCode(() => log.entries(5, 12), LOG_RANGE, 'entries beyond lastIndex + 1');
    await expectCode(() => log.entries(8, 6), LOG_RANGE, 'reversed range');
    expectSameEntries(await log.entries(5, 11), entries(5, 10, 1));
  });

  it('rejects gapped, overlapping and out-of-order appends with LogRangeError and no side effect', async () => {
    const { log } = await fx.group();
    await expectCode(() => log.append(entries(2, 3, 1)), LOG_RANGE, 'first append not at index 1');
    await log.append(entries(1, 5, 1));
    const cases: [string, LogEntry[]][] = [
      ['gap', entries(7, 8, 1)],
      ['overlap', entries(5, 7, 1)],
      ['rewrite', entries(1, 2, 2)],
      ['out of order within the batch', [entry(6, 1), entry(8, 1), entry(7, 1)]],
      ['duplicate within the batch', [entry(6, 1), entry(6, 1)]],
      ['gap within the batch', [entry(6, 1), entry(7, 1), entry(9, 1)]],
    ];
    for (const [what, batch] of cases) {
      await expectCode(() => log.append(batch), LOG_RANGE, what);
      expect(log.lastIndex(), `${what}: lastIndex unchanged`).toBe(5);
    }
    expectSameEntries(await log.entries(1, 6), entries(1, 5, 1), 'log after rejected appends');
    await log.append(entries(6, 8, 1));
    expectSameEntries(await log.entries(1, 9), entries(1, 8, 1), 'log after a valid append');
  });

  it('truncates a suffix and appends after it', async () => {
    const { log } = await fx.group();
    await log.append(entries(1, 10, 1));
    await log.truncateSuffix(7);
    expect(log.firstIndex()).toBe(1);
    expect(log.lastIndex()).toBe(6);
    await expectCode(() => log.entries(6, 8), LOG_RANGE, 'read of a truncated index');
    await expectCode(() => log.term(7), LOG_RANGE, 'term of a truncated index');
    await expectCode(() => log.append(entries(8, 9, 2)), LOG_RANGE, 'append leaving a gap after truncation');
    await log.append(entries(7, 12, 2));
    expectSameEntries(await log.entries(1, 13), [...entries(1, 6, 1), ...entries(7, 12, 2)]);
    // Truncating at lastIndex + 1 (or beyond) changes nothing.
    await log.truncateSuffix(13);
    await log.truncateSuffix(100);
    expect(log.lastIndex()).toBe(12);
    // Truncating at firstIndex empties the log but keeps firstIndex.
    await log.truncateSuffix(1);
    expect(log.firstIndex()).toBe(1);
    expect(log.lastIndex()).toBe(0);
    await log.append(entries(1, 3, 3));
    expectSameEntries(await log.entries(1, 4), entries(1, 3, 3));
  });

  it('rejects truncation below firstIndex', async () => {
    const { log } = await fx.group();
    await log.append(entries(1, 10, 1));
    await log.compactPrefix(5);
    await expectCode(() => log.truncateSuffix(5), LOG_RANGE, 'truncateSuffix below firstIndex');
    expect(log.firstIndex()).toBe(6);
    expect(log.lastIndex()).toBe(10);
    await log.truncateSuffix(6);
    expect(log.lastIndex()).toBe(5);
    expect(log.firstIndex()).toBe(6);
    await log.append(entries(6, 7, 2));
    expectSameEntries(await log.entries(6, 8), entries(6, 7, 2));
  });

  it('compacts a prefix: reads below firstIndex fail with LogCompactedError', async () => {
    const { log } = await fx.group();
    await log.append(entries(1, 20, 1));
    await log.compactPrefix(8);
    expect(log.firstIndex()).toBe(9);
    expect(log.lastIndex()).toBe(20);
    await expectCode(() => log.entries(8, 10), LOG_COMPACTED, 'entries straddling firstIndex');
    expectSameEntries(await log.entries(9, 21), entries(9, 20, 1));
    // Compacting at or below firstIndex - 1 is a no-op.
    await log.compactPrefix(3);
    await log.compactPrefix(8);
    expect(log.firstIndex()).toBe(9);
    await log.append(entries(21, 25, 2));
    await log.compactPrefix(22);
    expect(log.firstIndex()).toBe(23);
    expectSameEntries(await log.entries(23, 26), entries(23, 25, 2));
  });

  it('compacts exactly up to lastIndex: the log is empty and the next append continues it', async () => {
    const { log } = await fx.group();
    await log.append(entries(1, 10, 1));
    await log.compactPrefix(10);
    expect(log.firstIndex()).toBe(11);
    expect(log.lastIndex()).toBe(10);
    expect(await log.entries(11, 11)).toEqual([]);
    await expectCode(() => log.term(10), LOG_COMPACTED, 'term(lastIndex) after full compaction');
    await log.append(entries(11, 12, 2));
    expectSameEntries(await log.entries(11, 13), entries(11, 12, 2));
  });

  it('compacts beyond lastIndex: the log is empty with firstIndex = upTo + 1 and appends must start there', async () => {
    const { log } = await fx.group();
    await log.append(entries(1, 10, 1));
    await log.compactPrefix(50);
    expect(log.firstIndex()).toBe(51);
    expect(log.lastIndex()).toBe(50);
    await expectCode(() => log.entries(10, 11), LOG_COMPACTED, 'read of a compacted entry');
    await expectCode(() => log.append(entries(11, 12, 2)), LOG_RANGE, 'append at the old lastIndex + 1');
    await expectCode(() => log.append(entries(52, 53, 2)), LOG_RANGE, 'append past upTo + 1');
    expect(log.lastIndex()).toBe(50);
    await log.append(entries(51, 60, 2));
    expect(log.firstIndex()).toBe(51);
    expect(log.lastIndex()).toBe(60);
    expectSameEntries(await log.entries(51, 61), entries(51, 60, 2));
    expect(await log.term(51)).toBe(2);
  });

  it('updates firstIndex and lastIndex as soon as each call is made', async () => {
    const { log } = await fx.group();
    const states: [number, number][] = [];
    const note = () => states.push([log.firstIndex(), log.lastIndex()]);
    const pending: Promise<void>[] = [];
    pending.push(log.append(entries(1, 10, 1)));
    note();
    pending.push(log.truncateSuffix(8));
    note();
    pending.push(log.append(entries(8, 15, 2)));
    note();
    pending.push(log.compactPrefix(5));
    note();
    pending.push(log.compactPrefix(20));
    note();
    pending.push(log.append(entries(21, 21, 3)));
    note();
    await Promise.all(pending);
    expect(states).toEqual([
      [1, 10],
      [1, 7],
      [1, 15],
      [6, 15],
      [21, 20],
      [21, 21],
    ]);
    expectSameEntries(await log.entries(21, 22), [entry(21, 3)]);
  });

  it('executes calls made without awaiting the previous one in call order', async () => {
    const { log } = await fx.group();
    const order: string[] = [];
    const track = (name: string, p: Promise<void>) =>
      p.then(() => {
        order.push(name);
      });
    const ps = [
      track('append 1-10', log.append(entries(1, 10, 1))),
      track('truncate 6', log.truncateSuffix(6)),
      track('append 6-12', log.append(entries(6, 12, 2))),
      track('compact 3', log.compactPrefix(3)),
      track('append 13-40', log.append(entries(13, 40, 3, 300))),
      track('truncate 30', log.truncateSuffix(30)),
      track('append 30-31', log.append(entries(30, 31, 4))),
    ];
    // A read made after the calls observes all of them, even before they resolve.
    const read = log.entries(4, 32);
    const term = log.term(31);
    await Promise.all(ps);
    expect(order).toEqual([
      'append 1-10',
      'truncate 6',
      'append 6-12',
      'compact 3',
      'append 13-40',
      'truncate 30',
      'append 30-31',
    ]);
    const expected = [...entries(4, 5, 1), ...entries(6, 12, 2), ...entries(13, 29, 3, 300), ...entries(30, 31, 4)];
    expectSameEntries(await read, expected, 'read issued before the writes resolved');
    expect(await term).toBe(4);
    expectSameEntries(await log.entries(4, 32), expected, 'read after the writes resolved');
  });

  it(
    'stores and returns entries of several megabytes',
    async () => {
      const { log } = await fx.group();
      const big = [entry(1, 1, 5 * MiB), entry(2, 1, 1), entry(3, 1, 3 * MiB + 7), entry(4, 2, 0)];
      await log.append(big.slice(0, 2));
      await log.append(big.slice(2));
      expectSameEntries(await log.entries(1, 5), big, 'large entries');
      expectSameEntries(await log.entries(1, 5, 1), big.slice(0, 1), 'large entries with maxBytes 1');
      expectSameEntries(await log.entries(2, 5, 2), big.slice(1, 3), 'large entries with maxBytes 2');
      await log.truncateSuffix(3);
      await log.append([entry(3, 3, 2 * MiB)]);
      expectSameEntries(await log.entries(3, 4), [entry(3, 3, 2 * MiB)], 'large entry after truncation');
    },
    SLOW_TEST_MS,
  );

  it(
    'holds thousands of entries across many appends',
    async () => {
      const { log } = await fx.group();
      const all: LogEntry[] = [];
      let next = 1;
      for (const size of [1, 7, 64, 500, 1000, 2000, 3, 1]) {
        const batch = entries(next, next + size - 1, 1 + (next % 3), 40 + (next % 50));
        await log.append(batch);
        all.push(...batch);
        next += size;
      }
      expect(log.lastIndex()).toBe(all.length);
      expectSameEntries(await readAll(log), all, 'whole log');
      expectSameEntries(await readAll(log, 4096), all, 'paged log');
      expectSameEntries(await log.entries(1234, 1240), all.slice(1233, 1239), 'middle range');
    },
    SLOW_TEST_MS,
  );

  // More seeds for a long run: TESSERA_STORAGE_MODEL_SEEDS=500.
  const seeds = Math.max(1, Number(process.env.TESSERA_STORAGE_MODEL_SEEDS) || 3);
  for (let seed = 1; seed <= seeds; seed++) {
    it(
      `matches the reference model under a random mix of operations (seed ${seed})`,
      async () => {
        await randomOps(fx, seed);
      },
      SLOW_TEST_MS,
    );
  }
}

/**
 * Random appends, truncations, compactions and reads against {@link ModelLog}, some issued without
 * awaiting; on persistent backends the engine is also reopened now and then. Prints the seed and
 * step on failure.
 */
async function randomOps(fx: StorageFixture, seed: number): Promise<void> {
  const rand = seededRandom(seed);
  const pick = (n: number) => Math.floor(rand() * n);
  const model = new ModelLog();
  let g = await fx.group('random');
  let term = 1;
  const steps = 250;
  let step = 0;
  const where = () => `seed ${seed}, step ${step}`;
  try {
    for (; step < steps; step++) {
      const op = rand();
      const pending: Promise<void>[] = [];
      const burst = 1 + pick(3);
      for (let b = 0; b < burst; b++) {
        const r = rand();
        if (r < 0.6) {
          const n = 1 + pick(rand() < 0.2 ? 200 : 8);
          const lo = model.lastIndex() + 1;
          if (rand() < 0.1) term++;
          const batch = entries(lo, lo + n - 1, term, pick(300));
          model.append(batch);
          pending.push(g.log.append(batch));
        } else if (r < 0.8) {
          if (model.lastIndex() < model.first) continue;
          const from = model.first + pick(model.lastIndex() - model.first + 2);
          model.truncateSuffix(from);
          pending.push(g.log.truncateSuffix(from));
        } else {
          const upTo = model.first - 1 + pick(model.lastIndex() - model.first + (rand() < 0.1 ? 20 : 2));
          model.compactPrefix(upTo);
          pending.push(g.log.compactPrefix(upTo));
        }
        expect([g.log.firstIndex(), g.log.lastIndex()], `bounds after call (${where()})`).toEqual([model.first, model.lastIndex()]);
      }
      await Promise.all(pending);
      if (op < 0.3 && model.lastIndex() >= model.first) {
        const lo = model.first + pick(model.lastIndex() - model.first + 1);
        const hi = lo + pick(model.lastIndex() - lo + 2);
        expectSameEntries(await g.log.entries(lo, hi), model.slice(lo, hi), `entries(${lo}, ${hi}) (${where()})`);
        if (hi > lo) expect(await g.log.term(hi - 1), `term(${hi - 1}) (${where()})`).toBe(model.slice(hi - 1, hi)[0]!.term);
      }
      if (fx.engine.capabilities.persistent && op > 0.96) {
        await fx.reopen();
        g = await fx.group('random');
        expect([g.log.firstIndex(), g.log.lastIndex()], `bounds after reopen (${where()})`).toEqual([model.first, model.lastIndex()]);
      }
    }
    expectSameEntries(await readAll(g.log), model.ents, `final log (${where()})`);
  } catch (err) {
    (err as Error).message = `[replay with seed ${seed}, failed at step ${step}] ${(err as Error).message}`;
    throw err;
  }
}
