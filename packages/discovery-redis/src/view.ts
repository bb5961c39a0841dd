import { canonicalNodeRecord, type DiscoveryEvent, type NodeRecord } from '@tessera/raft';
import type { RegistrySnapshot } from './messages.js';

interface Entry {
  readonly record: NodeRecord;
  readonly canon: string;
  token: string;
  /** Registry revision this entry reflects; 0 = unknown (carried over from an earlier epoch). */
  rev: number;
}

/** Epochs remembered as retired, so a late notification from before a Redis restart cannot win. */
const RETIRED_EPOCHS = 16;

/**
 * The local view of the registry, fed by notifications (`up`, `down`) and full snapshots that
 * arrive on two different connections and so in no particular order relative to each other. The
 * registry numbers every change with a revision; the view applies a piece of information only if
 * it is newer than what it has for that node, remembering deletions as tombstones until a
 * snapshot at least as new has been seen. Revisions restart when Redis loses its data; the
 * registry's `epoch` says so, and information from a new epoch beats anything from the old one.
 *
 * Pure logic: no I/O and no clock, so every ordering can be tested directly.
 */
export class NodeView {
  private epoch: string | undefined;
  private readonly retired: string[] = [];
  private readonly entries = new Map<string, Entry>();
  private readonly tombstones = new Map<string, number>();

  constructor(private readonly emit: (event: DiscoveryEvent) => void) {}

  get size(): number {
    return this.entries.size;
  }

  get(id: string): NodeRecord | undefined {
    return this.entries.get(id)?.record;
  }

  /** The token under which `id` is registered, as far as this view knows. */
  tokenOf(id: string): string | undefined {
    return this.entries.get(id)?.token;
  }

  /** Every known record, sorted by id. */
  records(): NodeRecord[] {
    return [...this.entries.values()].map((e) => e.record).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Node `record.id` is registered under `token` as of revision `rev`. */
  up(epoch: string, rev: number, token: string, record: NodeRecord): void {
    if (!this.enter(epoch)) return;
    const tomb = this.tombstones.get(record.id);
    if (tomb !== undefined && tomb >= rev) return;
    const cur = this.entries.get(record.id);
    if (cur && cur.rev >= rev) return;
    this.tombstones.delete(record.id);
    const canon = canonicalNodeRecord(record);
    if (cur && cur.canon === canon) {
      cur.rev = rev;
      cur.token = token;
      return;
    }
    this.entries.set(record.id, { record, canon, token, rev });
    this.emit(cur ? { type: 'change', node: record, previous: cur.record } : { type: 'join', node: record });
  }

  /** Node `id` deregistered at revision `rev`. */
  down(epoch: string, rev: number, id: string): void {
    if (!this.enter(epoch)) return;
    this.tombstones.set(id, Math.max(rev, this.tombstones.get(id) ?? 0));
    const cur = this.entries.get(id);
    if (!cur || cur.rev > rev) return;
    this.entries.delete(id);
    this.emit({ type: 'leave', node: cur.record });
  }

  /**
   * The registry as of revision `snapshot.rev`. Nodes missing from it have expired or left, unless
   * the view heard of them after that revision or `keepMissing(id)` says to hold on to them.
   */
  apply(snapshot: RegistrySnapshot, keepMissing: (id: string) => boolean): void {
    if (!this.enter(snapshot.epoch)) return;
    const present = new Set<string>();
    for (const e of snapshot.entries) {
      present.add(e.id);
      this.up(snapshot.epoch, e.rev, e.token, e.record);
    }
    for (const [id, cur] of [...this.entries]) {
      if (present.has(id) || cur.rev > snapshot.rev || keepMissing(id)) continue;
      this.entries.delete(id);
      this.emit({ type: 'leave', node: cur.record });
    }
    for (const [id, rev] of [...this.tombstones]) if (rev <= snapshot.rev) this.tombstones.delete(id);
  }

  /** Moves to `epoch` if it is new; false if it is a retired one (the information is stale). */
  private enter(epoch: string): boolean {
    if (epoch === this.epoch) return true;
    if (this.retired.includes(epoch)) return false;
    if (this.epoch !== undefined) {
      this.retired.push(this.epoch);
      if (this.retired.length > RETIRED_EPOCHS) this.retired.shift();
      for (const e of this.entries.values()) e.rev = 0;
    }
    this.tombstones.clear();
    this.epoch = epoch;
    return true;
  }
}
