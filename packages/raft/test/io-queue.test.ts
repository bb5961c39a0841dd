/**
 * The runtime's storage queue: up to two appends handed to the log store at once, completions
 * reported in order and only once their own append resolved, every other write serialized
 * behind the appends before it.
 */
import { describe, expect, it } from 'vitest';
import { IoQueue } from '../src/runtime/io-queue.js';
import type { GroupStorage } from '../src/interfaces/storage-engine.js';
import type { HardState, LogEntry } from '../src/types.js';

interface Call {
  readonly what: string;
  resolve(): void;
  reject(err: Error): void;
}

/** A group storage whose every write waits until the test settles it. */
function manualStorage() {
  const calls: Call[] = [];
  const call = (what: string) =>
    new Promise<void>((resolve, reject) => {
      calls.push({ what, resolve, reject });
    });
  let last = 0;
  const storage = {
    log: {
      firstIndex: () => 1,
      lastIndex: () => last,
      append(entries: readonly LogEntry[]) {
        last = entries[entries.length - 1]!.index;
        return call(`append ${entries[0]!.index}-${last}`);
      },
      truncateSuffix(from: number) {
        last = from - 1;
        return call(`truncate ${from}`);
      },
      compactPrefix: (upTo: number) => call(`compact ${upTo}`),
      entries: () => Promise.resolve([]),
      term: () => Promise.resolve(0),
    },
    hardState: { load: () => Promise.resolve({ term: 0, vote: '', commit: 0 }), save: (hs: HardState) => call(`hs ${hs.term}`) },
    snapshots: {} as GroupStorage['snapshots'],
    close: () => Promise.resolve(),
  } as unknown as GroupStorage;
  return { storage, calls };
}

const entries = (lo: number, hi: number, term = 1): LogEntry[] =>
  Array.from({ length: hi - lo + 1 }, (_, i) => ({ index: lo + i, term, type: 0, data: new Uint8Array(1) }));

/** Lets every pending promise callback run. */
const flush = () => new Promise<void>((r) => setImmediate(r));

function setup() {
  const { storage, calls } = manualStorage();
  const errors: Error[] = [];
  const q = new IoQueue(storage, (e) => errors.push(e));
  const persisted: string[] = [];
  const done = (index: number, term: number) => void persisted.push(`${index}@${term}`);
  return { q, calls, errors, persisted, done };
}

describe('IoQueue', () => {
  it('hands a second append to the store while the first is in flight, and merges the rest behind them', async () => {
    const { q, calls, persisted, done } = setup();
    q.append(entries(1, 2), done);
    await flush();
    q.append(entries(3, 3), done);
    await flush();
    q.append(entries(4, 4), done);
    q.append(entries(5, 6), done);
    await flush();
    expect(calls.map((c) => c.what)).toEqual(['append 1-2', 'append 3-3']);
    // The second resolving first reports nothing: completions go in order.
    calls[1]!.resolve();
    await flush();
    expect(persisted).toEqual([]);
    expect(calls).toHaveLength(2);
    calls[0]!.resolve();
    await flush();
    expect(persisted).toEqual(['2@1', '3@1']);
    expect(calls.map((c) => c.what)).toEqual(['append 1-2', 'append 3-3', 'append 4-6']);
    calls[2]!.resolve();
    await q.idle();
    expect(persisted).toEqual(['2@1', '3@1', '6@1']);
  });

  it('reports an append only after its own call resolved, even when a later one was handed over', async () => {
    const { q, calls, persisted, done } = setup();
    q.append(entries(1, 1), done);
    await flush();
    q.append(entries(2, 2), done);
    await flush();
    calls[0]!.resolve();
    await flush();
    expect(persisted).toEqual(['1@1']);
    calls[1]!.resolve();
    await q.idle();
    expect(persisted).toEqual(['1@1', '2@1']);
  });

  it('runs other writes only after the appends before them, and appends after them only after them', async () => {
    const { q, calls, persisted, done } = setup();
    const hsDone: number[] = [];
    q.append(entries(1, 1), done);
    await flush();
    q.saveHardState({ term: 2, vote: 'a', commit: 0 }, () => hsDone.push(2));
    q.append(entries(2, 2, 2), done);
    await flush();
    expect(calls.map((c) => c.what)).toEqual(['append 1-1']);
    calls[0]!.resolve();
    await flush();
    expect(calls.map((c) => c.what)).toEqual(['append 1-1', 'hs 2']);
    calls[1]!.resolve();
    await flush();
    expect(hsDone).toEqual([2]);
    expect(calls.map((c) => c.what)).toEqual(['append 1-1', 'hs 2', 'append 2-2']);
    calls[2]!.resolve();
    await q.idle();
    expect(persisted).toEqual(['1@1', '2@2']);
  });

  it('a truncation queued behind two appends in flight clips what they report', async () => {
    const { q, calls, persisted, done } = setup();
    q.append(entries(1, 4), done);
    await flush();
    q.append(entries(5, 8), done);
    await flush();
    q.truncate(3);
    q.append(entries(3, 3, 2), done);
    await flush();
    expect(calls.map((c) => c.what)).toEqual(['append 1-4', 'append 5-8']);
    calls[0]!.resolve();
    calls[1]!.resolve();
    await flush();
    // 1-2 stay; 3-8 are about to be removed, so the second call reports nothing.
    expect(persisted).toEqual(['2@1']);
    expect(calls.map((c) => c.what)).toEqual(['append 1-4', 'append 5-8', 'truncate 3']);
    calls[2]!.resolve();
    await flush();
    calls[3]!.resolve();
    await q.idle();
    expect(calls.map((c) => c.what)).toEqual(['append 1-4', 'append 5-8', 'truncate 3', 'append 3-3']);
    expect(persisted).toEqual(['2@1', '3@2']);
  });

  it('a reset drops queued appends and reports none of those in flight', async () => {
    const { q, calls, persisted, done } = setup();
    q.append(entries(1, 2), done);
    await flush();
    q.append(entries(3, 4), done);
    await flush();
    q.append(entries(5, 6), done);
    q.reset(10);
    calls[0]!.resolve();
    calls[1]!.resolve();
    await flush();
    expect(persisted).toEqual([]);
    expect(calls.map((c) => c.what)).toEqual(['append 1-2', 'append 3-4', 'truncate 1']);
    calls[2]!.resolve();
    await flush();
    calls[3]!.resolve();
    await q.idle();
    expect(calls.map((c) => c.what)).toEqual(['append 1-2', 'append 3-4', 'truncate 1', 'compact 10']);
    expect(persisted).toEqual([]);
  });

  it('a failed append is reported once; nothing after it counts as persisted', async () => {
    const { q, calls, errors, persisted, done } = setup();
    q.append(entries(1, 1), done);
    await flush();
    q.append(entries(2, 2), done);
    await flush();
    calls[1]!.resolve();
    calls[0]!.reject(new Error('disk gone'));
    await q.idle();
    expect(errors.map((e) => e.message)).toEqual(['disk gone']);
    expect(persisted).toEqual([]);
    q.append(entries(3, 3), done);
    await flush();
    expect(calls).toHaveLength(2);
  });
});
