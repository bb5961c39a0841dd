/**
 * A clock for a node hosting many groups: every group's tick interval of the same length runs off
 * one shared timer, so all groups tick in the same event-loop turn and their heartbeats to a peer
 * leave in one transport batch; deferred work of all groups runs in one macrotask. Injected into
 * the RaftHost; the groups do not know.
 */
import { systemClock, type Clock, type Timer } from '@tessera/raft';

export interface CoalescingClock extends Clock {
  /** Number of distinct underlying interval timers (one per tick length in use). */
  readonly timerCount: number;
}

export function coalescingClock(base: Clock = systemClock): CoalescingClock {
  const intervals = new Map<number, { timer: Timer; fns: Set<() => void> }>();
  let deferred: (() => void)[] = [];
  let scheduled = false;
  const runDeferred = () => {
    scheduled = false;
    const fns = deferred;
    deferred = [];
    for (const fn of fns) {
      try {
        fn();
      } catch (err) {
        // One group's failure must not stop the others' work; surface it like an uncaught timer error.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  };
  return {
    now: () => base.now(),
    setTimer: (ms, fn) => base.setTimer(ms, fn),
    setInterval(ms, fn) {
      let slot = intervals.get(ms);
      if (!slot) {
        const fns = new Set<() => void>();
        slot = {
          fns,
          timer: base.setInterval(ms, () => {
            for (const f of [...fns]) f();
          }),
        };
        intervals.set(ms, slot);
      }
      const entry = () => fn();
      slot.fns.add(entry);
      const s = slot;
      return {
        cancel() {
          s.fns.delete(entry);
          if (s.fns.size === 0 && intervals.get(ms) === s) {
            s.timer.cancel();
            intervals.delete(ms);
          }
        },
      };
    },
    defer(fn) {
      deferred.push(fn);
      if (!scheduled) {
        scheduled = true;
        base.defer(runDeferred);
      }
    },
    get timerCount() {
      return intervals.size;
    },
  };
}
