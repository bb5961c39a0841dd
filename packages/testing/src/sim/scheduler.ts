/** One scheduled callback. `owner`/`epoch` let a crash cancel everything a node had scheduled. */
interface Event {
  readonly time: number;
  readonly seq: number;
  readonly fn: () => void;
  readonly owner: Owner | undefined;
  readonly epoch: number;
  cancelled: boolean;
}

/** Something whose scheduled events die with it (a node's incarnation). */
export interface Owner {
  epoch: number;
}

/**
 * Virtual time. Events run one at a time in (time, sequence) order; after each, pending promise
 * callbacks are drained before the next event, so async code behaves as on a real event loop but
 * deterministically.
 */
export class Scheduler {
  now = 0;
  private heap: Event[] = [];
  private seq = 0;
  /** Events executed so far. */
  steps = 0;
  /** Stop running once this many events ran (a runaway event storm is itself a finding). */
  maxSteps = Infinity;
  /** Set when `maxSteps` stopped a run. */
  exhausted = false;

  schedule(delayMs: number, fn: () => void, owner?: Owner): { cancel(): void } {
    const ev: Event = { time: this.now + Math.max(0, delayMs), seq: this.seq++, fn, owner, epoch: owner?.epoch ?? 0, cancelled: false };
    this.push(ev);
    return {
      cancel: () => {
        ev.cancelled = true;
      },
    };
  }

  get pending(): number {
    return this.heap.length;
  }

  /**
   * Runs events until virtual time passes `until` or nothing is left; calls `afterEach` after
   * every event once its promise callbacks have settled (the invariant checks hook in here).
   */
  async run(until: number, afterEach?: () => void, stopWhen?: () => boolean): Promise<void> {
    while (this.heap.length > 0) {
      if (stopWhen?.()) return;
      if (this.steps >= this.maxSteps) {
        this.exhausted = true;
        return;
      }
      const ev = this.heap[0]!;
      if (ev.time > until) break;
      this.pop();
      if (ev.cancelled || (ev.owner && ev.owner.epoch !== ev.epoch)) continue;
      this.now = ev.time;
      this.steps++;
      ev.fn();
      await drainMicrotasks();
      afterEach?.();
    }
    if (this.now < until) this.now = until;
  }

  private push(ev: Event): void {
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && less(h[l]!, h[m]!)) m = l;
      if (r < h.length && less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

function less(a: Event, b: Event): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

/**
 * Lets every queued promise callback (and the callbacks they queue) run. `setImmediate` fires only
 * after the microtask queue is empty, and nothing else in a simulation uses real timers.
 */
export function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
