import { z } from 'zod';
import { defineResource, type ApplyContext, type SessionEndContext } from '../resource.js';

interface Candidate {
  readonly candidate: string;
  readonly session: string;
}

interface ElectionState {
  term: number;
  leader: Candidate | null;
  queue: Candidate[];
}

function describe(s: ElectionState) {
  return {
    leader: s.leader?.candidate ?? null,
    session: s.leader?.session ?? null,
    term: s.term,
    candidates: [...(s.leader ? [s.leader.candidate] : []), ...s.queue.map((c) => c.candidate)],
  };
}

function handOver(s: ElectionState, ctx: ApplyContext | SessionEndContext): void {
  s.leader = s.queue.shift() ?? null;
  s.term++;
  ctx.emit(s.leader ? { kind: 'elected', leader: s.leader.candidate, session: s.leader.session, term: s.term } : { kind: 'vacant', term: s.term });
}

function leave(s: ElectionState, session: string, ctx: ApplyContext | SessionEndContext): boolean {
  const before = s.queue.length;
  s.queue = s.queue.filter((c) => c.session !== session);
  if (s.leader?.session === session) {
    handOver(s, ctx);
    return true;
  }
  return s.queue.length !== before;
}

/**
 * The built-in `leaderElection` (type `election`). `campaign {candidate}` leads at once if nobody
 * does, else joins the line; `resign` leaves (handing over if leading); the leader's session ending
 * hands over too. `term` increases with every change. Events: `elected`, `vacant`.
 */
export const electionResource = defineResource<ElectionState>({
  type: 'election',
  create: () => ({ term: 0, leader: null, queue: [] }),
  commands: {
    campaign: {
      input: z.object({ candidate: z.string().min(1).max(1024) }).strict(),
      apply(s, { candidate }, ctx) {
        const mine = s.leader?.session === ctx.session || s.queue.some((c) => c.session === ctx.session);
        if (!mine) {
          if (s.leader === null) {
            s.leader = { candidate, session: ctx.session };
            s.term++;
            ctx.emit({ kind: 'elected', leader: candidate, session: ctx.session, term: s.term });
          } else s.queue.push({ candidate, session: ctx.session });
        }
        return describe(s);
      },
    },
    resign: {
      input: z.null(),
      apply: (s, _i, ctx) => leave(s, ctx.session, ctx),
    },
  },
  queries: { leader: { input: z.null(), run: (s) => describe(s) } },
  describe,
  sessionEnded(s, session, _reason, ctx) {
    leave(s, session, ctx);
  },
  snapshot: (s) => [s.term, s.leader ? [s.leader.candidate, s.leader.session] : null, s.queue.map((c) => [c.candidate, c.session])],
  restore(img) {
    const [term, leader, queue] = img as [number, [string, string] | null, [string, string][]];
    return { term, leader: leader ? { candidate: leader[0], session: leader[1] } : null, queue: queue.map(([candidate, session]) => ({ candidate, session })) };
  },
});
