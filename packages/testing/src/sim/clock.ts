import type { Clock, Timer } from '@tessera/raft';
import type { Owner, Scheduler } from './scheduler.js';

/**
 * A node's view of virtual time. `rate` models clock drift: the node's timers run `rate` times
 * slower (rate > 1) or faster (rate < 1) than virtual time. Everything scheduled dies with the
 * node's incarnation (`owner.epoch`).
 */
export class SimClock implements Clock {
  constructor(
    private readonly sched: Scheduler,
    private readonly owner: Owner,
    private readonly rate = 1,
  ) {}

  now(): number {
    return this.sched.now / this.rate;
  }

  setTimer(ms: number, fn: () => void): Timer {
    return this.sched.schedule(ms * this.rate, fn, this.owner);
  }

  setInterval(ms: number, fn: () => void): Timer {
    let cancelled = false;
    let handle: Timer;
    const tick = () => {
      if (cancelled) return;
      handle = this.sched.schedule(ms * this.rate, tick, this.owner);
      fn();
    };
    handle = this.sched.schedule(ms * this.rate, tick, this.owner);
    return {
      cancel: () => {
        cancelled = true;
        handle.cancel();
      },
    };
  }

  defer(fn: () => void): void {
    this.sched.schedule(0, fn, this.owner);
  }
}
