/**
 * Client sessions of one partition: the dedup table that makes a retried command apply at most
 * once, and expiry in log time.
 *
 * Each command carries (session, seq, ackBelow). `seq` is unique per client; `ackBelow` promises
 * that the client has its answers for every seq below it, so those results can be forgotten and a
 * late duplicate below it is refused rather than applied. Results of seqs at or above `ackBelow`
 * are kept and returned again for a duplicate. A session expires when the log time passes its
 * last activity plus its timeout: decided only from times stamped in the log, so every replica
 * expires the same sessions at the same index.
 */

/** A command's outcome as stored for duplicates and returned to the proposer. */
export type Outcome =
  | { readonly ok: true; readonly value: unknown; readonly index: number }
  | { readonly ok: false; readonly code: string; readonly message: string; readonly index: number };

export interface Session {
  readonly id: string;
  lastSeen: number;
  timeoutMs: number;
  /** Every seq below this was acknowledged by the client. */
  floor: number;
  /** Outcomes of seqs >= floor, in (roughly) seq order. */
  readonly results: Map<number, Outcome>;
}

/** How often (in log time) all sessions are checked for expiry; a touched session is checked at once. */
export const SWEEP_INTERVAL_MS = 1_000;

export class SessionTable {
  readonly sessions = new Map<string, Session>();
  nextSweep = 0;

  get size(): number {
    return this.sessions.size;
  }

  get(id: string): Session | undefined {
    return this.sessions.get(id);
  }

  open(id: string, time: number, timeoutMs: number): Session {
    const s: Session = { id, lastSeen: time, timeoutMs, floor: 0, results: new Map() };
    this.sessions.set(id, s);
    return s;
  }

  static expired(s: Session, time: number): boolean {
    return s.lastSeen + s.timeoutMs <= time;
  }

  /** Sessions expired at `time`, removed from the table (only every {@link SWEEP_INTERVAL_MS} of log time). */
  sweep(time: number): Session[] {
    if (time < this.nextSweep) return [];
    this.nextSweep = time + SWEEP_INTERVAL_MS;
    let out: Session[] | undefined;
    for (const s of this.sessions.values()) {
      if (SessionTable.expired(s, time)) (out ??= []).push(s);
    }
    if (!out) return [];
    for (const s of out) this.sessions.delete(s.id);
    return out;
  }

  remove(id: string): void {
    this.sessions.delete(id);
  }

  /** Forgets results the client acknowledged (seq < ackBelow). */
  static acknowledge(s: Session, ackBelow: number): void {
    if (ackBelow <= s.floor) return;
    s.floor = ackBelow;
    // Results are inserted in about seq order: drop from the front until the first kept one.
    // Stragglers behind it go once they reach the front.
    for (const seq of s.results.keys()) {
      if (seq >= ackBelow) break;
      s.results.delete(seq);
    }
  }
}
