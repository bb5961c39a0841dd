/** A cancellable timer handle. */
export interface Timer {
  cancel(): void;
}

/**
 * Time and scheduling, injected so the simulation can run every group on virtual time.
 * The runtime never calls `Date.now`, `setTimeout` or `setImmediate` directly.
 */
export interface Clock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds. */
  setTimer(ms: number, fn: () => void): Timer;
  /** Calls `fn` every `ms` milliseconds until cancelled. */
  setInterval(ms: number, fn: () => void): Timer;
  /** Calls `fn` soon, after pending I/O callbacks (a macrotask), so work arriving meanwhile is batched. */
  defer(fn: () => void): void;
}

/** The real clock: `performance.now`, Node timers and `setImmediate`. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
  setInterval(ms, fn) {
    const t = setInterval(fn, ms);
    return { cancel: () => clearInterval(t) };
  },
  defer(fn) {
    setImmediate(fn);
  },
};
