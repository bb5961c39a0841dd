import { describe, expect, it } from 'vitest';
import type { Clock } from '@tessera/raft';
import { coalescingClock } from '../src/clock.js';

/** A base clock whose deferred callbacks run only when the test says so. */
function manualBase() {
  const queue: (() => void)[] = [];
  const base: Clock = {
    now: () => 0,
    setTimer: () => ({ cancel() {} }),
    setInterval: () => ({ cancel() {} }),
    defer: (fn) => void queue.push(fn),
  };
  return { base, queue, step: () => queue.shift()?.() };
}

describe('coalescingClock', () => {
  it('runs everything deferred in one turn with one base callback, in order, never synchronously', () => {
    const m = manualBase();
    const clock = coalescingClock(m.base);
    const log: string[] = [];
    clock.defer(() => log.push('a'));
    clock.defer(() => log.push('b'));
    expect(log).toEqual([]);
    expect(m.queue.length).toBe(1);
    m.step();
    expect(log).toEqual(['a', 'b']);
    expect(m.queue.length).toBe(0);
  });

  it('runs work deferred by deferred work in the same turn, a bounded number of rounds deep', () => {
    const m = manualBase();
    const clock = coalescingClock(m.base);
    const log: number[] = [];
    const chain = (n: number) => () => {
      log.push(n);
      if (n < 10) clock.defer(chain(n + 1));
    };
    clock.defer(chain(1));
    m.step();
    // Four rounds in the first turn, then it yields (one more base callback) and goes on.
    expect(log).toEqual([1, 2, 3, 4]);
    expect(m.queue.length).toBe(1);
    m.step();
    expect(log).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    m.step();
    expect(log.length).toBe(10);
    expect(m.queue.length).toBe(0);
    // Idle again: the next defer schedules a new turn.
    clock.defer(() => log.push(11));
    expect(m.queue.length).toBe(1);
  });

  it('keeps running the other callbacks when one throws', async () => {
    const m = manualBase();
    const clock = coalescingClock(m.base);
    const log: string[] = [];
    const thrown: unknown[] = [];
    const onError = (err: unknown) => thrown.push(err);
    process.on('uncaughtException', onError);
    try {
      clock.defer(() => {
        throw new Error('boom');
      });
      clock.defer(() => log.push('after'));
      m.step();
      expect(log).toEqual(['after']);
      await new Promise((r) => setImmediate(r));
      expect(thrown.map((e) => (e as Error).message)).toEqual(['boom']);
    } finally {
      process.off('uncaughtException', onError);
    }
  });
});
