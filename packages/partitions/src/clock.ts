/**
 * A clock for a node hosting many groups: every group's tick interval of the same length runs off
 * one shared timer, so all groups tick in the same event-loop turn and their heartbeats to a peer
 * leave in one transport batch; deferred work of all groups runs in one macrotask (including what
 * that work defers in turn, up to {@link MAX_ROUNDS} rounds). Injected into the RaftHost; the
 * groups do not know.
 */
import { systemClock, type Clock, type Timer } from '@tessera/raft';

export interface CoalescingClock extends Clock {
  /** Number of distinct underlying interval timers (one per tick length in use). */
  readonly timerCount: number;
}

/**
 * Rounds of deferred work one macrotask runs: work deferred while deferred work runs (a group's
 * Ready handling deferring the host's send flush, which queues the messages on the transport) runs
 * in the same macrotask instead of one event-loop iteration later, a few rounds deep, then yields
 * to I/O.
 */
const MAX_ROUNDS = 4;

export function coalescingClock(base: Clock = systemClock): CoalescingClock {
  const intervals = new Map<number, { timer: Timer; fns: Set<() => void> }>();
  let deferred: (() => void)[] = [];
  let scheduled = false;
  const runDeferred = () => {
    for (let round = 0; round < MAX_ROUNDS && deferred.length > 0; round++) {
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
    }
    if (deferred.length > 0) base.defer(runDeferred);
    else scheduled = false;
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
