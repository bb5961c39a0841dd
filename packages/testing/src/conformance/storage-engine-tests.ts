/**
 * Hard state and engine conformance tests, plus the optional ones picked by `engine.capabilities`:
 * `persistent` (reopen keeps what was made durable) and `sharedAcrossGroups` (many groups in one store).
 * An optional test on an engine without the capability is reported as skipped.
 */
import { expect, it } from 'vitest';
import { EMPTY_HARD_STATE, type GroupStorage, type LogEntry, type StorageCapabilities } from '@tessera/raft';
import { entries, entry, expectFailure, expectSameEntries, readAll, SLOW_TEST_MS, type StorageFixture } from './storage-harness.js';

/** Group ids that an escaping or key-prefix bug would make collide. */
const AWKWARD_GROUPS = ['a', 'ab', 'a/b', 'a\\b', '..', '.', 'with space', 'ünïcødé-组', '%2F', 'A', '1', '10', 'a\u0000b', 'x'.repeat(200)];

function requires(fx: StorageFixture, cap: keyof StorageCapabilities, skip: (note?: string) => void): void {
  if (!fx.engine.capabilities[cap]) skip(`engine lacks capability ${cap}`);
}

type SkipContext = { skip: (note?: string) => void };

export function hardStateTests(fx: StorageFixture): void {
  it('loads the empty hard state from a new group', async () => {
    const { hardState } = await fx.group();
    expect(await hardState.load()).toEqual(EMPTY_HARD_STATE);
  });

  it('saves and loads hard state, the latest save winning', async () => {
    const { hardState } = await fx.group();
    await hardState.save({ term: 1, vote: 'n1', commit: 0 });
    expect(await hardState.load()).toEqual({ term: 1, vote: 'n1', commit: 0 });
    await hardState.save({ term: 2 ** 40, vote: 'nöde-é/2', commit: 2 ** 40 - 1 });
    expect(await hardState.load()).toEqual({ term: 2 ** 40, vote: 'nöde-é/2', commit: 2 ** 40 - 1 });
    await hardState.save({ term: 7, vote: '', commit: 3 });
    expect(await hardState.load()).toEqual({ term: 7, vote: '', commit: 3 });
  });

  it('keeps each group’s hard state apart', async () => {
    const a = await fx.group('a');
    const b = await fx.group('ab');
    await a.hardState.save({ term: 3, vote: 'x', commit: 1 });
    expect(await b.hardState.load()).toEqual(EMPTY_HARD_STATE);
    await b.hardState.save({ term: 9, vote: 'y', commit: 2 });
    expect(await a.hardState.load()).toEqual({ term: 3, vote: 'x', commit: 1 });
  });
}

export function engineTests(fx: StorageFixture): void {
  it('refuses to open a group twice, and reopens it after close with its data', async () => {
    const g = await fx.group('g');
    await g.log.append(entries(1, 3, 1));
    await g.hardState.save({ term: 1, vote: 'a', commit: 2 });
    await expectFailure(() => fx.engine.openGroup('g'), 'second openGroup of an open group');
    await g.close();
    const again = await fx.group('g');
    expect(again.log.lastIndex()).toBe(3);
    expectSameEntries(await again.log.entries(1, 4), entries(1, 3, 1));
    expect(await again.hardState.load()).toEqual({ term: 1, vote: 'a', commit: 2 });
  });

  it('keeps groups with awkward ids apart', async () => {
    const opened: GroupStorage[] = [];
    for (let i = 0; i < AWKWARD_GROUPS.length; i++) {
      const g = await fx.group(AWKWARD_GROUPS[i]!);
      await g.log.append(entries(1, i + 1, i + 1));
      await g.hardState.save({ term: i + 1, vote: AWKWARD_GROUPS[i]!, commit: i });
      opened.push(g);
    }
    for (let i = 0; i < AWKWARD_GROUPS.length; i++) {
      const g = opened[i]!;
      expect(g.log.lastIndex(), AWKWARD_GROUPS[i]).toBe(i + 1);
      expectSameEntries(await readAll(g.log), entries(1, i + 1, i + 1), `group ${JSON.stringify(AWKWARD_GROUPS[i])}`);
      expect(await g.hardState.load()).toEqual({ term: i + 1, vote: AWKWARD_GROUPS[i]!, commit: i });
    }
    expect((await fx.engine.listGroups()).sort()).toEqual([...AWKWARD_GROUPS].sort());
  });

  it('lists groups and deletes one without touching the others', async () => {
    const a = await fx.group('a');
    const b = await fx.group('b');
    await a.log.append(entries(1, 5, 1));
    await a.hardState.save({ term: 1, vote: 'n', commit: 5 });
    await b.log.append(entries(1, 2, 1));
    expect((await fx.engine.listGroups()).sort()).toEqual(['a', 'b']);
    await expectFailure(() => fx.engine.deleteGroup('a'), 'deleteGroup of an open group');
    await a.close();
    await fx.engine.deleteGroup('a');
    expect(await fx.engine.listGroups()).toEqual(['b']);
    await fx.engine.deleteGroup('never-existed');
    const fresh = await fx.group('a');
    expect([fresh.log.firstIndex(), fresh.log.lastIndex()]).toEqual([1, 0]);
    expect(await fresh.hardState.load()).toEqual(EMPTY_HARD_STATE);
    expect(await fresh.snapshots.list()).toEqual([]);
    expectSameEntries(await b.log.entries(1, 3), entries(1, 2, 1), 'the other group');
  });

  it('closes every open group when the engine closes, so a reopened engine can open them again', async () => {
    const g = await fx.group('g');
    await g.log.append(entries(1, 2, 1));
    await fx.reopen();
    const again = await fx.group('g');
    expect(again.log.firstIndex()).toBe(1);
    expect(again.log.lastIndex()).toBe(fx.engine.capabilities.persistent ? 2 : again.log.lastIndex());
  });
}

export function persistentTests(fx: StorageFixture): void {
  it('[persistent] keeps appended, truncated and compacted log state across reopen', async (ctx: SkipContext) => {
    requires(fx, 'persistent', ctx.skip);
    let g = await fx.group('p');
    await g.log.append(entries(1, 30, 1, 200));
    await g.log.truncateSuffix(21);
    await g.log.append(entries(21, 25, 2, 200));
    await g.log.compactPrefix(10);
    const expected = [...entries(11, 20, 1, 200), ...entries(21, 25, 2, 200)];
    await fx.reopen();
    g = await fx.group('p');
    expect([g.log.firstIndex(), g.log.lastIndex()]).toEqual([11, 25]);
    expectSameEntries(await g.log.entries(11, 26), expected, 'after reopen');
    expect(await g.log.term(21)).toBe(2);
    await g.log.append(entries(26, 27, 3));
    await fx.reopen();
    g = await fx.group('p');
    expectSameEntries(await readAll(g.log), [...expected, ...entries(26, 27, 3)], 'after second reopen');
  });

  it('[persistent] keeps an empty log compacted beyond its end, and continues it after reopen', async (ctx: SkipContext) => {
    requires(fx, 'persistent', ctx.skip);
    let g = await fx.group('p');
    await g.log.append(entries(1, 10, 1));
    await g.log.compactPrefix(100);
    await fx.reopen();
    g = await fx.group('p');
    expect([g.log.firstIndex(), g.log.lastIndex()]).toEqual([101, 100]);
    await g.log.append(entries(101, 103, 5));
    await fx.reopen();
    g = await fx.group('p');
    expect([g.log.firstIndex(), g.log.lastIndex()]).toEqual([101, 103]);
    expectSameEntries(await g.log.entries(101, 104), entries(101, 103, 5));
  });

  it('[persistent] keeps a log truncated to empty across reopen', async (ctx: SkipContext) => {
    requires(fx, 'persistent', ctx.skip);
    let g = await fx.group('p');
    await g.log.append(entries(1, 10, 1));
    await g.log.compactPrefix(4);
    await g.log.truncateSuffix(5);
    await fx.reopen();
    g = await fx.group('p');
    expect([g.log.firstIndex(), g.log.lastIndex()]).toEqual([5, 4]);
    await g.log.append(entries(5, 6, 2));
    expectSameEntries(await g.log.entries(5, 7), entries(5, 6, 2));
  });

  it('[persistent] keeps hard state and the group list across reopen; deletion is durable', async (ctx: SkipContext) => {
    requires(fx, 'persistent', ctx.skip);
    const a = await fx.group('a');
    const b = await fx.group('b/c');
    await a.hardState.save({ term: 4, vote: 'n2', commit: 17 });
    await a.hardState.save({ term: 5, vote: 'n3', commit: 18 });
    await b.log.append(entries(1, 1, 1));
    await b.close();
    await fx.engine.deleteGroup('b/c');
    const c = await fx.group('c');
    await c.log.append(entries(1, 1, 1));
    await fx.reopen();
    expect((await fx.engine.listGroups()).sort()).toEqual(['a', 'c']);
    const a2 = await fx.group('a');
    expect(await a2.hardState.load()).toEqual({ term: 5, vote: 'n3', commit: 18 });
    const b2 = await fx.group('b/c');
    expect(b2.log.lastIndex()).toBe(0);
  });

  it(
    '[persistent] keeps large entries across reopen',
    async (ctx: SkipContext) => {
      requires(fx, 'persistent', ctx.skip);
      let g = await fx.group('big');
      const big = [entry(1, 1, 4 * 1024 * 1024), ...entries(2, 50, 1, 1000), entry(51, 2, 6 * 1024 * 1024 + 3)];
      await g.log.append(big.slice(0, 1));
      await g.log.append(big.slice(1, 50));
      await g.log.append(big.slice(50));
      await fx.reopen();
      g = await fx.group('big');
      expectSameEntries(await readAll(g.log), big, 'large entries after reopen');
    },
    SLOW_TEST_MS,
  );
}

export function sharedTests(fx: StorageFixture): void {
  it(
    '[sharedAcrossGroups] serves many groups written concurrently from one store',
    async (ctx: SkipContext) => {
      requires(fx, 'sharedAcrossGroups', ctx.skip);
      const n = 64;
      const groups: GroupStorage[] = [];
      for (let i = 0; i < n; i++) groups.push(await fx.group(`group-${i}`));
      const expected: LogEntry[][] = groups.map(() => []);
      // Rounds of concurrent appends to every group, then per-group truncation and compaction.
      for (let round = 0; round < 5; round++) {
        await Promise.all(
          groups.map((g, i) => {
            const lo = g.log.lastIndex() + 1;
            const batch = entries(lo, lo + (i % 7), round + 1, 10 + i);
            expected[i]!.push(...batch);
            return g.log.append(batch);
          }),
        );
      }
      await Promise.all(
        groups.map(async (g, i) => {
          if (i % 3 === 0) {
            const from = g.log.lastIndex() - 1;
            await g.log.truncateSuffix(from);
            expected[i]!.length = from - 1;
          } else if (i % 3 === 1) {
            await g.log.compactPrefix(2);
            expected[i]!.splice(0, 2);
          }
        }),
      );
      for (let i = 0; i < n; i++) expectSameEntries(await readAll(groups[i]!.log), expected[i]!, `group-${i}`);
      expect((await fx.engine.listGroups()).length).toBe(n);
      await groups[5]!.close();
      await fx.engine.deleteGroup('group-5');
      expect((await fx.engine.listGroups()).length).toBe(n - 1);
      for (const i of [4, 6]) expectSameEntries(await readAll(groups[i]!.log), expected[i]!, `group-${i} after deleting group-5`);
      if (fx.engine.capabilities.persistent) {
        await fx.reopen();
        for (let i = 0; i < n; i++) {
          if (i === 5) continue;
          const g = await fx.group(`group-${i}`);
          expectSameEntries(await readAll(g.log), expected[i]!, `group-${i} after reopen`);
        }
      }
    },
    SLOW_TEST_MS,
  );

  it('[sharedAcrossGroups] compaction and truncation of one group leave key-adjacent groups intact', async (ctx: SkipContext) => {
    requires(fx, 'sharedAcrossGroups', ctx.skip);
    const names = ['a', 'a\u0000', 'a\u0001', 'aa', 'b', 'a\uffff'];
    const gs: GroupStorage[] = [];
    for (const name of names) {
      const g = await fx.group(name);
      await g.log.append(entries(1, 20, 1));
      gs.push(g);
    }
    await gs[0]!.log.compactPrefix(1000);
    await gs[3]!.log.truncateSuffix(1);
    await gs[4]!.log.compactPrefix(10);
    for (const i of [1, 2, 5]) expectSameEntries(await readAll(gs[i]!.log), entries(1, 20, 1), `group ${JSON.stringify(names[i])}`);
    expect(gs[0]!.log.lastIndex()).toBe(1000);
    expect(gs[3]!.log.lastIndex()).toBe(0);
    expectSameEntries(await readAll(gs[4]!.log), entries(11, 20, 1));
    await gs[1]!.close();
    await fx.engine.deleteGroup('a\u0000');
    for (const i of [0, 2, 3]) expect(gs[i]!.log.firstIndex()).toBeGreaterThan(0);
    expectSameEntries(await readAll(gs[2]!.log), entries(1, 20, 1), 'neighbour after deleteGroup');
  });
}
