import { Role, type LogEntry, type NodeId, type RaftCore } from '@tessera/raft';

/** Per-node cache of the log as last observed, with a hash chain over it. */
interface NodeView {
  /** `ents[i]` is the entry object last seen at index i. */
  ents: (LogEntry | undefined)[];
  /** `hash[i]` covers entries 1..i (a hash chain), or -1 when unknown. */
  hash: number[];
  /** Term of the entry `hash[i]` ends with. */
  terms: number[];
}

/**
 * Checks Raft's safety properties (Raft paper Figure 3) against the live cores after every step:
 * - Election Safety: at most one leader per term;
 * - Log Matching: two logs with an entry of the same index and term are identical up to it
 *   (checked through a hash chain: same (index, term) must mean the same chain hash);
 * - Leader Completeness: a leader holds every entry committed in an earlier term;
 * - State Machine Safety: no two nodes apply different commands at the same index (`onApply`),
 *   and no node's committed prefix differs from another's.
 * Work per step is proportional to what changed, so it can run after every event.
 */
export class SafetyChecker {
  readonly violations: string[] = [];
  private readonly leaders = new Map<number, NodeId>();
  private readonly views = new Map<NodeId, NodeView>();
  /** (index:term) -> chain hash. */
  private readonly chainByIndexTerm = new Map<string, number>();
  /** Committed index -> chain hash, as first observed. */
  private readonly committedChain = new Map<number, number>();
  /** For each observer term, the highest committed index seen by a node in that term, with its hash. */
  private readonly commitsByTerm = new Map<number, { index: number; hash: number }>();
  private readonly applied = new Map<number, string>();
  private readonly limit: number;

  constructor(limit = 20) {
    this.limit = limit;
  }

  get ok(): boolean {
    return this.violations.length === 0;
  }

  private violate(msg: string): void {
    if (this.violations.length < this.limit) this.violations.push(msg);
  }

  /** Records that `node` applied `command` at `index` (State Machine Safety). */
  onApply(node: NodeId, index: number, command: Uint8Array, previousIndex = 0): void {
    if (index <= previousIndex) this.violate(`exactly-once apply: ${node} applied index ${index} after ${previousIndex}`);
    const key = Buffer.from(command.buffer, command.byteOffset, command.byteLength).toString('latin1');
    const prev = this.applied.get(index);
    if (prev === undefined) this.applied.set(index, key);
    else if (prev !== key) this.violate(`state machine safety: ${node} applied a different command at index ${index}`);
  }

  /**
   * Checks a state restored from a snapshot against a replay of the commands applied at indices
   * up to `lastApplied` (the model): a snapshot must capture exactly the state at its index. A
   * running replica must never restore an image older than what it already applied
   * (`previouslyApplied`): that would roll acknowledged state back.
   */
  checkRestoredState(node: NodeId, data: ReadonlyMap<string, string>, lastApplied: number, previouslyApplied: number, replay: (commands: Uint8Array[]) => Map<string, string>): void {
    if (lastApplied < previouslyApplied) this.violate(`snapshot restore: ${node} rolled its state back from index ${previouslyApplied} to ${lastApplied}`);
    const cmds: Uint8Array[] = [];
    for (let i = 1; i <= lastApplied; i++) {
      const c = this.applied.get(i);
      if (c !== undefined) cmds.push(Buffer.from(c, 'latin1'));
    }
    const model = replay(cmds);
    const a = JSON.stringify([...data].sort());
    const b = JSON.stringify([...model].sort());
    if (a !== b) this.violate(`snapshot restore: ${node} restored a state at index ${lastApplied} that differs from replaying the log`);
  }

  /** Observes one live node after a step. */
  observe(node: NodeId, core: RaftCore): void {
    if (core.role === Role.Leader) {
      const l = this.leaders.get(core.term);
      if (l === undefined) this.leaders.set(core.term, node);
      else if (l !== node) this.violate(`election safety: ${l} and ${node} both leaders in term ${core.term}`);
    }
    const view = this.updateChain(node, core);
    const log = core.log;
    const c = log.committed;
    if (c > 0 && c >= log.snapIndex) {
      const h = view.hash[c];
      if (h !== undefined && h !== -1) {
        const prev = this.committedChain.get(c);
        if (prev === undefined) this.committedChain.set(c, h);
        else if (prev !== h) this.violate(`committed prefix differs: ${node} at commit ${c} disagrees with an earlier committed log`);
        const rec = this.commitsByTerm.get(core.term);
        if (!rec || rec.index < c) this.commitsByTerm.set(core.term, { index: c, hash: h });
      }
    }
    if (core.role === Role.Leader) {
      for (const [t, rec] of this.commitsByTerm) {
        if (t >= core.term || rec.index <= log.snapIndex) continue;
        if (log.lastIndex() < rec.index) {
          this.violate(`leader completeness: ${node} leads term ${core.term} with last index ${log.lastIndex()} but ${rec.index} was committed in term ${t}`);
          continue;
        }
        const h = view.hash[rec.index];
        if (h !== undefined && h !== -1 && h !== rec.hash) {
          this.violate(`leader completeness: ${node} leads term ${core.term} without the entry committed at ${rec.index} by term ${t}`);
        }
      }
    }
  }

  private updateChain(node: NodeId, core: RaftCore): NodeView {
    let v = this.views.get(node);
    if (!v) {
      v = { ents: [], hash: [0], terms: [0] };
      this.views.set(node, v);
    }
    const log = core.log;
    const last = log.lastIndex();
    const snap = log.snapIndex;
    // Find the first index whose entry object differs from what we saw: the log changes only at its tail.
    let i = Math.min(last, v.ents.length - 1);
    while (i > snap && log.entry(i) !== v.ents[i]) i--;
    const from = Math.max(i, snap) + 1;
    // Base of the chain at from-1.
    let base: number;
    if (from - 1 === snap && snap > 0 && !(v.terms[snap] === log.snapTerm && v.hash[snap] !== undefined && v.hash[snap] !== -1 && v.ents[snap] !== undefined)) {
      base = this.chainByIndexTerm.get(`${snap}:${log.snapTerm}`) ?? -1;
      v.hash[snap] = base;
      v.terms[snap] = log.snapTerm;
    } else {
      base = v.hash[from - 1] ?? -1;
    }
    for (let j = from; j <= last; j++) {
      const e = log.entry(j)!;
      v.ents[j] = e;
      v.terms[j] = e.term;
      const h = base === -1 ? -1 : chain(base, e);
      v.hash[j] = h;
      base = h;
      if (h !== -1) {
        const key = `${j}:${e.term}`;
        const prev = this.chainByIndexTerm.get(key);
        if (prev === undefined) this.chainByIndexTerm.set(key, h);
        else if (prev !== h) this.violate(`log matching: ${node} has a different log up to index ${j} term ${e.term} than another node`);
      }
    }
    v.ents.length = last + 1;
    v.hash.length = last + 1;
    v.terms.length = last + 1;
    return v;
  }
}

/** FNV-1a over the previous hash, the entry's term and type, and its data. */
function chain(prev: number, e: LogEntry): number {
  let h = (prev ^ 0x811c9dc5) >>> 0;
  h = Math.imul(h ^ (e.term & 0xffff), 16777619);
  h = Math.imul(h ^ (e.term >>> 16), 16777619);
  h = Math.imul(h ^ e.type, 16777619);
  const d = e.data;
  for (let k = 0; k < d.length; k++) h = Math.imul(h ^ d[k]!, 16777619);
  return h >>> 0;
}
