import { RaftCore, decodeMembership, type CoreConfig, type LogEntry, type Message, type NodeId, type Ready, EMPTY_HARD_STATE } from '../src/index.js';

/**
 * A hand-driven network of bare protocol cores for unit tests: storage is instant (entries are
 * reported persisted as soon as a Ready hands them out, unless a node's disk is "stalled"), and
 * messages move only when the test says so, so every interleaving is explicit.
 */
export class CoreNet {
  readonly cores = new Map<NodeId, RaftCore>();
  /** Messages in flight, in send order. */
  inflight: Message[] = [];
  readonly applied = new Map<NodeId, LogEntry[]>();
  readonly readStates = new Map<NodeId, { ctx: number; index: number }[]>();
  readonly isolated = new Set<NodeId>();
  readonly stalled = new Set<NodeId>();
  private readonly pendingPersist = new Map<NodeId, LogEntry[]>();

  private readonly cfg: Partial<CoreConfig>;

  constructor(
    readonly ids: NodeId[],
    cfg: Partial<CoreConfig> = {},
  ) {
    this.cfg = cfg;
    let seed = 1;
    for (const id of ids) {
      this.cores.set(id, this.makeCore(id, seed++, EMPTY_HARD_STATE, []));
      this.applied.set(id, []);
      this.readStates.set(id, []);
    }
  }

  /** Crash and restart `id`: a new core from its durable term, vote and log; messages to it are lost. */
  crash(id: NodeId): void {
    const old = this.core(id);
    const entries: LogEntry[] = [];
    for (let i = old.log.firstIndex(); i <= old.log.stable; i++) entries.push(old.log.entry(i)!);
    this.cores.set(id, this.makeCore(id, 100 + this.ids.indexOf(id), { term: old.term, vote: old.vote, commit: 0 }, entries));
    this.inflight = this.inflight.filter((m) => m.to !== id && m.from !== id);
    this.applied.set(id, []);
  }

  private makeCore(id: NodeId, seed: number, hardState: { term: number; vote: string; commit: number }, entries: LogEntry[]): RaftCore {
    const ids = this.ids;
    const cfg = this.cfg;
    {
      const s = seed;
      let x = s;
      const random = () => {
        // Math.imul keeps the product exact (a float product above 2^53 loses its low bits).
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        return x / 4294967296;
      };
      return (
        new RaftCore(
          {
            id,
            group: 'g',
            electionTicks: 10,
            heartbeatTicks: 1,
            preVote: true,
            checkQuorum: true,
            maxMsgBytes: 1 << 20,
            maxInflightMsgs: 64,
            maxUncommittedBytes: 1 << 30,
            forwardProposals: true,
            leaseDriftTicks: 2,
            snapshotsEnabled: false,
            random,
            decodeMembership,
            ...cfg,
          },
          { hardState, snapshotIndex: 0, snapshotTerm: 0, entries, membership: { voters: ids, learners: [] } },
        )
      );
    }
  }

  core(id: NodeId): RaftCore {
    return this.cores.get(id)!;
  }

  /** Processes every node's Ready: persist (unless stalled), collect messages, record applies. */
  flush(): void {
    for (const [id, c] of this.cores) {
      while (c.hasReady()) this.handle(id, c, c.ready());
    }
  }

  private handle(id: NodeId, c: RaftCore, rd: Ready): void {
    if (rd.truncateFrom) {
      const p = this.pendingPersist.get(id);
      if (p) this.pendingPersist.set(id, p.filter((e) => e.index < rd.truncateFrom));
    }
    if (rd.entries.length) {
      if (this.stalled.has(id)) {
        const p = this.pendingPersist.get(id) ?? [];
        p.push(...rd.entries);
        this.pendingPersist.set(id, p);
      } else {
        const last = rd.entries[rd.entries.length - 1]!;
        c.persisted(last.index, last.term);
      }
    }
    for (const m of rd.messages) this.inflight.push(m);
    this.applied.get(id)!.push(...rd.committed);
    if (rd.committed.length) c.appliedTo(rd.committed[rd.committed.length - 1]!.index);
    this.readStates.get(id)!.push(...rd.readStates);
  }

  /** Lets a stalled disk finish its writes. */
  unstall(id: NodeId): void {
    this.stalled.delete(id);
    const p = this.pendingPersist.get(id);
    this.pendingPersist.delete(id);
    if (p && p.length) {
      const last = p[p.length - 1]!;
      this.core(id).persisted(last.index, last.term);
    }
  }

  /** Delivers in-flight messages (those matching `filter`), dropping any to or from isolated nodes. */
  deliver(filter: (m: Message) => boolean = () => true): number {
    const now = this.inflight;
    this.inflight = [];
    let n = 0;
    for (const m of now) {
      if (!filter(m)) {
        this.inflight.push(m);
        continue;
      }
      if (this.isolated.has(m.from) || this.isolated.has(m.to)) continue;
      this.core(m.to).step(m);
      n++;
    }
    return n;
  }

  /** Flush and deliver until quiet. */
  stabilize(max = 1000): void {
    for (let i = 0; i < max; i++) {
      this.flush();
      if (this.inflight.length === 0) return;
      this.deliver();
    }
    throw new Error('network did not stabilize');
  }

  tick(id: NodeId, n = 1): void {
    for (let i = 0; i < n; i++) this.core(id).tick();
  }

  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) for (const c of this.cores.values()) c.tick();
  }

  /** Makes `id` campaign (a few times: a first attempt may be at a term the voters already saw) and stabilizes; returns whether it won. */
  elect(id: NodeId): boolean {
    for (let i = 0; i < 5 && this.core(id).role !== 'leader'; i++) {
      this.core(id).campaignNow();
      this.stabilize();
    }
    return this.core(id).role === 'leader';
  }

  /** Wins an election for `id` exchanging only vote messages, then drops everything else it sent. */
  electQuietly(id: NodeId): boolean {
    const votes = (m: Message) => m.type >= 3 && m.type <= 6;
    for (let i = 0; i < 5 && this.core(id).role !== 'leader'; i++) {
      this.core(id).campaignNow();
      for (let j = 0; j < 10; j++) {
        this.flush();
        this.deliver(votes);
      }
    }
    this.flush();
    this.inflight = this.inflight.filter((m) => m.from !== id);
    return this.core(id).role === 'leader';
  }

  /** Ticks every node that is not isolated-and-excluded and stabilizes until `cond` holds (or throws). */
  tickUntil(cond: () => boolean, nodes: NodeId[] = this.ids, max = 500): void {
    for (let i = 0; i < max; i++) {
      if (cond()) return;
      for (const id of nodes) this.core(id).tick();
      this.stabilize();
    }
    if (!cond()) throw new Error('condition not reached');
  }

  leaderAmong(ids: NodeId[]): NodeId | undefined {
    return ids.find((id) => this.core(id).role === 'leader');
  }

  propose(id: NodeId, ...cmds: string[]): number {
    return this.core(id).propose(
      cmds.map((c) => new TextEncoder().encode(c)),
      0,
    );
  }

  /** Commands applied on `id`, as strings (no-ops skipped). */
  appliedData(id: NodeId): string[] {
    return this.applied
      .get(id)!
      .filter((e) => e.type === 0)
      .map((e) => new TextDecoder().decode(e.data));
  }

  logTerms(id: NodeId): number[] {
    const c = this.core(id);
    const out: number[] = [];
    for (let i = c.log.firstIndex(); i <= c.log.lastIndex(); i++) out.push(c.log.term(i));
    return out;
  }
}
