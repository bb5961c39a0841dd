import { describe, expect, it } from 'vitest';
import { MessageType, NotLeaderError, ProposalDroppedError, TesseraError } from '../src/index.js';
import { CoreNet } from './core-net.js';

const ids3 = ['a', 'b', 'c'];
const ids5 = ['a', 'b', 'c', 'd', 'e'];

describe('elections', () => {
  it('a single voter elects itself', () => {
    const net = new CoreNet(['a']);
    expect(net.elect('a')).toBe(true);
    expect(net.core('a').term).toBe(1);
  });

  it('three voters elect exactly one leader and commit its no-op', () => {
    const net = new CoreNet(ids3);
    expect(net.elect('a')).toBe(true);
    expect(net.core('b').lead).toBe('a');
    expect(net.core('c').lead).toBe('a');
    expect(net.core('a').log.committed).toBe(1);
    expect(net.logTerms('b')).toEqual([1]);
  });

  it('randomized timeouts elect a leader from ticks alone', () => {
    const net = new CoreNet(ids5);
    for (let i = 0; i < 100 && ![...net.cores.values()].some((c) => c.role === 'leader'); i++) {
      net.tickAll();
      net.stabilize();
    }
    expect([...net.cores.values()].filter((c) => c.role === 'leader')).toHaveLength(1);
  });

  it('a vote is refused to a candidate whose log is behind (election restriction)', () => {
    const net = new CoreNet(ids3);
    net.elect('a');
    net.isolated.add('c');
    net.propose('a', 'x');
    net.stabilize();
    net.isolated.clear();
    // c missed "x"; a and b refuse it even after leases lapse.
    net.isolated.add('a');
    net.tickAll(30);
    net.flush();
    net.inflight = [];
    net.core('c').campaignNow();
    net.stabilize();
    expect(net.core('c').role).not.toBe('leader');
    expect(net.core('b').vote).not.toBe('c');
  });

  it('with the planted voteIgnoresLog bug, a stale candidate wins', () => {
    const net = new CoreNet(ids3, { unsafe: { voteIgnoresLog: true }, preVote: false, checkQuorum: false });
    net.elect('a');
    net.isolated.add('c');
    net.propose('a', 'x');
    net.stabilize();
    net.isolated.clear();
    net.isolated.add('a');
    net.core('c').campaignNow();
    net.stabilize();
    expect(net.core('c').role).toBe('leader');
  });
});

describe('pre-vote and check-quorum', () => {
  it('a partitioned node does not raise its term, and rejoining does not disrupt the leader', () => {
    const net = new CoreNet(ids3);
    net.elect('a');
    const term = net.core('a').term;
    net.isolated.add('c');
    for (let i = 0; i < 50; i++) {
      net.tickAll();
      net.stabilize();
    }
    // c kept pre-campaigning but never won a pre-vote, so its term is unchanged.
    expect(net.core('c').term).toBe(term);
    net.isolated.clear();
    for (let i = 0; i < 5; i++) {
      net.tickAll();
      net.stabilize();
    }
    expect(net.core('a').role).toBe('leader');
    expect(net.core('a').term).toBe(term);
    expect(net.core('c').lead).toBe('a');
  });

  it('without pre-vote the same partition forces a new election (the behaviour pre-vote prevents)', () => {
    const net = new CoreNet(ids3, { preVote: false, checkQuorum: false });
    net.elect('a');
    const term = net.core('a').term;
    net.isolated.add('c');
    for (let i = 0; i < 50; i++) {
      net.tickAll();
      net.stabilize();
    }
    expect(net.core('c').term).toBeGreaterThan(term);
    net.isolated.clear();
    net.tickUntil(() => net.core('a').term > term);
    expect(net.core('a').term).toBeGreaterThan(term);
  });

  it('a leader cut off from the quorum steps down after an election timeout', () => {
    const net = new CoreNet(ids3);
    net.elect('a');
    net.isolated.add('a');
    for (let i = 0; i < 25; i++) net.tick('a');
    net.flush();
    expect(net.core('a').role).toBe('follower');
  });

  it('a follower hearing from its leader ignores vote requests (leases)', () => {
    const net = new CoreNet(ids3, { preVote: false });
    net.elect('a');
    const term = net.core('a').term;
    // b times out in isolation and campaigns at a higher term, but a and c are in lease.
    net.isolated.add('b');
    net.tick('b', 30);
    net.flush();
    net.isolated.clear();
    net.deliver((m) => m.type === MessageType.Vote);
    expect(net.core('c').vote).not.toBe('b');
    expect(net.core('c').term).toBe(term);
  });
});

describe('replication and commit', () => {
  it('commits and applies proposals in order on every replica', () => {
    const net = new CoreNet(ids3);
    net.elect('a');
    net.propose('a', 'x', 'y');
    net.stabilize();
    net.propose('a', 'z');
    net.stabilize();
    // Heartbeats carry the final commit index to followers.
    net.tick('a');
    net.stabilize();
    for (const id of ids3) expect(net.appliedData(id)).toEqual(['x', 'y', 'z']);
  });

  it('followers acknowledge only what storage made durable', () => {
    const net = new CoreNet(ids3);
    net.elect('a');
    net.stalled.add('b');
    net.stalled.add('c');
    net.propose('a', 'x');
    net.stabilize();
    expect(net.core('a').log.committed).toBe(1); // only the no-op
    net.unstall('b');
    net.stabilize();
    expect(net.core('a').log.committed).toBe(2);
  });

  it('with the planted ackBeforePersist bug, followers acknowledge unsynced entries', () => {
    const net = new CoreNet(ids3, { unsafe: { ackBeforePersist: true } });
    net.elect('a');
    net.stalled.add('b');
    net.stalled.add('c');
    net.propose('a', 'x');
    net.stabilize();
    expect(net.core('a').log.committed).toBe(2);
  });

  it('a stale leader rejoining steps down and its uncommitted entries are overwritten', () => {
    const net = new CoreNet(ids3);
    net.elect('a');
    net.isolated.add('a');
    net.propose('a', 'lost1', 'lost2');
    net.flush();
    net.inflight = [];
    net.tickUntil(() => net.leaderAmong(['b', 'c']) !== undefined, ['b', 'c']);
    const newLeader = net.leaderAmong(['b', 'c'])!;
    expect(newLeader).toBeDefined();
    net.propose(newLeader, 'kept');
    net.stabilize();
    net.isolated.clear();
    net.tick(newLeader);
    net.stabilize();
    net.tick(newLeader);
    net.stabilize();
    expect(net.core('a').role).toBe('follower');
    expect(net.core('a').term).toBe(net.core(newLeader).term);
    expect(net.logTerms('a')).toEqual(net.logTerms(newLeader));
    expect(net.appliedData('a')).toEqual(['kept']);
  });

  it('finds the match point after a long conflicting suffix in few round trips (fast back-off)', () => {
    const net = new CoreNet(ids3);
    net.elect('a');
    net.isolated.add('a');
    for (let i = 0; i < 50; i++) net.propose('a', `stale${i}`);
    net.flush();
    net.inflight = [];
    net.tickUntil(() => net.leaderAmong(['b', 'c']) !== undefined, ['b', 'c']);
    const leader = net.leaderAmong(['b', 'c'])!;
    for (let i = 0; i < 50; i++) net.propose(leader, `new${i}`);
    net.stabilize();
    net.isolated.clear();
    let rejects = 0;
    net.tick(leader);
    for (let i = 0; i < 100; i++) {
      net.flush();
      rejects += net.inflight.filter((m) => m.type === MessageType.AppResp && m.reject).length;
      if (net.inflight.length === 0) break;
      net.deliver();
    }
    expect(net.logTerms('a')).toEqual(net.logTerms(leader));
    // One term of conflict: one rejection is enough to jump over all 50 stale entries.
    expect(rejects).toBeLessThanOrEqual(2);
  });

  it('a lost AppendEntries in a full pipeline is recovered through heartbeats', () => {
    const net = new CoreNet(ids3, { maxInflightMsgs: 1, maxMsgBytes: 1 });
    net.elect('a');
    net.propose('a', 'x');
    net.flush();
    // Drop everything a sends to c once.
    net.inflight = net.inflight.filter((m) => !(m.from === 'a' && m.to === 'c'));
    net.stabilize();
    for (let i = 0; i < 5; i++) {
      net.tick('a');
      net.stabilize();
    }
    expect(net.core('c').log.lastIndex()).toBe(net.core('a').log.lastIndex());
  });
});

/**
 * The Raft paper's Figure 8: a leader must not commit an entry from an earlier term by counting
 * replicas, because a later leader may still overwrite it.
 */
describe('Figure 8', () => {
  /**
   * (a) S1 leads term 1; index 2 reaches S2 only. (b) S1 crashes; S5 wins term 2 with S3 and S4 and
   * writes its own index 2, which reaches no one. (c) S5 crashes; S1 wins term 3 with S2 and S3 and
   * replicates, one entry per message. Returns every commit advance S1 makes in term 3.
   */
  function figure8(unsafe: boolean) {
    const net = new CoreNet(ids5, { preVote: false, checkQuorum: false, maxMsgBytes: 1, unsafe: unsafe ? { commitPriorTermByCount: true } : undefined });
    const only = (...up: string[]) => {
      net.isolated.clear();
      for (const id of ids5) if (!up.includes(id)) net.isolated.add(id);
    };
    expect(net.elect('a')).toBe(true);
    if (unsafe) {
      // The buggy leader appends no no-op; put a term-1 entry at index 1 everywhere instead.
      net.propose('a', 'base');
      net.stabilize();
    }
    only('a', 'b');
    net.propose('a', 'from-a'); // index 2, term 1: S1 and S2
    net.stabilize();
    net.crash('a');
    only('e', 'c', 'd');
    expect(net.electQuietly('e')).toBe(true); // term 2
    if (unsafe) net.propose('e', 'from-e'); // index 2, term 2 (the correct leader's no-op is there already)
    net.flush();
    net.inflight = [];
    net.crash('e');
    only('a', 'b', 'c');
    expect(net.electQuietly('a')).toBe(true);
    const a = net.core('a');
    const advances: { index: number; term: number }[] = [];
    let last = a.log.committed;
    for (let i = 0; i < 200; i++) {
      net.flush();
      if (net.inflight.length === 0) {
        net.tick('a');
        continue;
      }
      // One message at a time, so every intermediate commit index is observed.
      const [m] = net.inflight.splice(0, 1);
      if (!net.isolated.has(m!.to) && !net.isolated.has(m!.from)) net.core(m!.to).step(m!);
      if (a.log.committed !== last) {
        last = a.log.committed;
        advances.push({ index: last, term: a.log.term(last) });
      }
      if (last >= 2) break;
    }
    return { net, advances, term: a.term };
  }

  it('correct Raft: S1 never commits by counting replicas of an earlier-term entry', () => {
    const { advances, term } = figure8(false);
    expect(advances.length).toBeGreaterThan(0);
    for (const adv of advances) expect(adv.term).toBe(term);
  });

  it('planted bug: S1 commits the term-1 entry, and S5 later overwrites that committed entry', () => {
    const { net, advances } = figure8(true);
    expect(advances[advances.length - 1]).toEqual({ index: 2, term: 1 });
    // (d) S1 crashes before anything of term 3 spreads; S5 wins with S2, S3, S4 (its last term 2 beats their 1).
    net.crash('a');
    net.isolated.clear();
    net.isolated.add('a');
    expect(net.elect('e')).toBe(true);
    net.stabilize();
    for (const id of ['b', 'c', 'd', 'e']) expect(net.core(id).log.term(2)).toBe(2);
  });
});

describe('proposals on followers', () => {
  it('are forwarded to the leader and answered with the assigned index', () => {
    const net = new CoreNet(ids3);
    net.elect('a');
    net.core('b').propose([new TextEncoder().encode('fw')], 7);
    net.stabilize();
    const rd = net.core('b');
    expect(net.appliedData('a')).toContain('fw');
    void rd;
  });

  it('a duplicated forwarded proposal is appended once', () => {
    const net = new CoreNet(ids3);
    net.elect('a');
    net.core('b').propose([new TextEncoder().encode('once')], 42);
    net.flush();
    const prop = net.inflight.find((m) => m.type === MessageType.Prop)!;
    net.inflight.push({ ...prop });
    net.stabilize();
    net.tick('a');
    net.stabilize();
    expect(net.appliedData('a').filter((d) => d === 'once')).toHaveLength(1);
  });

  it('a forwarded proposal refused once is refused again when the network delivers it again', () => {
    const net = new CoreNet(ids3);
    net.elect('a');
    net.core('b').propose([new TextEncoder().encode('refused')], 43);
    net.flush();
    const prop = net.inflight.find((m) => m.type === MessageType.Prop)!;
    // Refused while a leadership transfer is in progress: the follower reports NOT_LEADER.
    net.isolated.add('c');
    net.core('a').transferLeadership('c');
    net.flush();
    net.deliver((m) => m.type === MessageType.Prop);
    net.flush();
    expect(net.inflight.some((m) => m.type === MessageType.PropResp && m.context === 43 && m.reject)).toBe(true);
    net.stabilize();
    // The transfer gives up; then a late copy of the same request arrives.
    net.tickUntil(() => net.core('a').leadTransferee === '', ['a']);
    net.isolated.delete('c');
    expect(net.core('a').role).toBe('leader');
    net.inflight.push({ ...prop });
    net.stabilize();
    net.tick('a');
    net.stabilize();
    expect(net.appliedData('a')).not.toContain('refused');
  });

  it('a forwarded proposal sent in an earlier term is refused', () => {
    const net = new CoreNet(ids3);
    net.elect('a');
    net.core('b').propose([new TextEncoder().encode('old')], 44);
    net.flush();
    const prop = net.inflight.find((m) => m.type === MessageType.Prop)!;
    net.inflight.length = 0;
    // Two leadership transfers: a leads again, two terms later.
    net.core('a').transferLeadership('c');
    net.stabilize();
    net.core('c').transferLeadership('a');
    net.stabilize();
    expect(net.core('a').role).toBe('leader');
    expect(net.core('a').term).toBeGreaterThan(prop.term);
    net.inflight.push({ ...prop });
    net.stabilize();
    net.tick('a');
    net.stabilize();
    expect(net.appliedData('a')).not.toContain('old');
  });

  it('are rejected with NotLeaderError carrying the leader when forwarding is off', () => {
    const net = new CoreNet(ids3, { forwardProposals: false });
    net.elect('a');
    let err: unknown;
    try {
      net.propose('b', 'x');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NotLeaderError);
    expect((err as NotLeaderError).leader).toBe('a');
    expect(TesseraError.isInstance(err) && err.code).toBe('NOT_LEADER');
  });
});

describe('flow control', () => {
  it('refuses proposals beyond the uncommitted-bytes cap', () => {
    const net = new CoreNet(ids3, { maxUncommittedBytes: 100 });
    net.elect('a');
    net.isolated.add('b');
    net.isolated.add('c');
    net.propose('a', 'x'.repeat(80));
    expect(net.core('a').canAccept(80)).toBe(false);
    expect(() => net.propose('a', 'y'.repeat(80))).toThrow(ProposalDroppedError);
  });

  it('bounds the AppendEntries in flight per follower', () => {
    const net = new CoreNet(ids3, { maxInflightMsgs: 4, maxMsgBytes: 1 });
    net.elect('a');
    for (let i = 0; i < 20; i++) net.propose('a', `e${i}`);
    net.flush();
    const toB = net.inflight.filter((m) => m.to === 'b' && m.type === MessageType.App);
    expect(toB.length).toBeLessThanOrEqual(4);
    net.stabilize();
    expect(net.core('b').log.lastIndex()).toBe(21);
  });
});

describe('linearizable reads', () => {
  it('ReadIndex answers only after a quorum confirms leadership', () => {
    const net = new CoreNet(ids3);
    net.elect('a');
    net.core('a').readIndex(5);
    net.flush();
    expect(net.readStates.get('a')).toEqual([]);
    net.stabilize();
    expect(net.readStates.get('a')).toEqual([{ ctx: 5, index: 1 }]);
  });

  it('an isolated leader cannot answer a read', () => {
    const net = new CoreNet(ids3);
    net.elect('a');
    net.isolated.add('a');
    net.core('a').readIndex(1);
    net.stabilize();
    expect(net.readStates.get('a')).toEqual([]);
  });

  it('with the planted readWithoutQuorum bug, an isolated leader answers reads', () => {
    const net = new CoreNet(ids3, { unsafe: { readWithoutQuorum: true } });
    net.elect('a');
    net.isolated.add('a');
    net.core('a').readIndex(1);
    net.stabilize();
    expect(net.readStates.get('a')).toHaveLength(1);
  });

  it('followers get a read index from the leader', () => {
    const net = new CoreNet(ids3);
    net.elect('a');
    net.propose('a', 'x');
    net.stabilize();
    net.core('c').readIndex(9);
    net.stabilize();
    expect(net.readStates.get('c')).toEqual([{ ctx: 9, index: 2 }]);
  });

  it('a new leader defers reads until it commits an entry of its term', () => {
    const net = new CoreNet(ids3, { preVote: false });
    net.core('a').campaignNow();
    net.flush();
    net.deliver(); // vote requests
    net.flush();
    net.deliver(); // votes
    net.flush(); // a is leader, its no-op not committed yet
    expect(net.core('a').role).toBe('leader');
    expect(net.core('a').log.committed).toBe(0);
    net.core('a').readIndex(3);
    net.flush();
    expect(net.readStates.get('a')).toEqual([]);
    net.stabilize();
    expect(net.readStates.get('a')).toEqual([{ ctx: 3, index: 1 }]);
  });

  it('lease reads are served locally while the lease holds and not after isolation', () => {
    const net = new CoreNet(ids3);
    net.elect('a');
    net.tick('a');
    net.stabilize();
    expect(net.core('a').leaseValid()).toBe(true);
    net.core('a').readIndex(4, true);
    net.flush();
    expect(net.readStates.get('a')).toEqual([{ ctx: 4, index: 1 }]);
    net.isolated.add('a');
    for (let i = 0; i < 9; i++) net.tick('a');
    expect(net.core('a').leaseValid()).toBe(false);
  });
});

describe('leadership transfer', () => {
  it('hands leadership to an up-to-date follower and refuses proposals meanwhile', () => {
    const net = new CoreNet(ids3);
    net.elect('a');
    net.propose('a', 'x');
    net.stabilize();
    net.core('a').transferLeadership('c');
    expect(() => net.propose('a', 'y')).toThrow(ProposalDroppedError);
    net.stabilize();
    expect(net.core('c').role).toBe('leader');
    expect(net.core('a').lead).toBe('c');
  });
});
