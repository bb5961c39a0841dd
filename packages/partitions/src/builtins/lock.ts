import { z } from 'zod';
import { defineResource, type SessionEndContext, type ApplyContext } from '../resource.js';

interface LockState {
  holder: string | null;
  token: number | null;
  /** Sessions waiting, in request order. */
  waiters: string[];
}

function grantNext(s: LockState, ctx: ApplyContext | SessionEndContext): void {
  const next = s.waiters.shift();
  if (next === undefined) return;
  s.holder = next;
  // The index of the entry that hands the lock over: unique and greater than every earlier token.
  s.token = ctx.index;
  ctx.emit({ kind: 'acquired', holder: next, token: ctx.index });
}

function releaseHeld(s: LockState, reason: string, ctx: ApplyContext | SessionEndContext): void {
  const holder = s.holder!;
  const token = s.token!;
  s.holder = null;
  s.token = null;
  ctx.emit({ kind: 'released', holder, token, reason });
  grantNext(s, ctx);
}

/**
 * The built-in `lock`. `acquire {wait}` takes the lock if free (token = the log index) or, with
 * `wait`, joins the line; `release [token]` by the holder; `cancel` leaves the line (releasing if
 * held). A holder's session ending releases the lock. Events: `acquired`, `released`.
 */
export const lockResource = defineResource<LockState>({
  type: 'lock',
  create: () => ({ holder: null, token: null, waiters: [] }),
  commands: {
    acquire: {
      input: z.object({ wait: z.boolean() }).strict(),
      apply(s, { wait }, ctx) {
        if (s.holder === ctx.session) return { acquired: true, token: s.token, holder: s.holder };
        if (s.holder === null) {
          s.holder = ctx.session;
          s.token = ctx.index;
          ctx.emit({ kind: 'acquired', holder: ctx.session, token: ctx.index });
          return { acquired: true, token: ctx.index, holder: ctx.session };
        }
        if (wait && !s.waiters.includes(ctx.session)) s.waiters.push(ctx.session);
        return { acquired: false, token: null, holder: s.holder };
      },
    },
    release: {
      input: z.union([z.number().int(), z.null()]),
      apply(s, token, ctx) {
        if (s.holder !== ctx.session || (token !== null && token !== s.token)) return false;
        releaseHeld(s, 'release', ctx);
        return true;
      },
    },
    cancel: {
      input: z.null(),
      apply(s, _i, ctx) {
        const i = s.waiters.indexOf(ctx.session);
        if (i >= 0) s.waiters.splice(i, 1);
        if (s.holder !== ctx.session) return false;
        releaseHeld(s, 'cancel', ctx);
        return true;
      },
    },
  },
  queries: {
    state: { input: z.null(), run: (s) => ({ holder: s.holder, token: s.token, waiting: s.waiters.length }) },
  },
  describe: (s) => ({ holder: s.holder, token: s.token, waiting: s.waiters.length }),
  sessionEnded(s, session, reason, ctx) {
    const i = s.waiters.indexOf(session);
    if (i >= 0) s.waiters.splice(i, 1);
    if (s.holder === session) releaseHeld(s, reason, ctx);
  },
  snapshot: (s) => [s.holder, s.token, s.waiters],
  restore(img) {
    const [holder, token, waiters] = img as [string | null, number | null, string[]];
    return { holder, token, waiters };
  },
  isEmpty: (s) => s.holder === null && s.waiters.length === 0,
});
