/**
 * The bank network: one stateful component, `accounts`, partitioned by account id (4 partitions,
 * 3 replicas). A transfer enters at the partition of the debited account; if the balance allows, it
 * debits and emits a credit message, which goes (hash by the credited account) to that account's
 * partition. A debit and its credit are two log entries in two Raft groups, yet money is neither
 * created nor destroyed: the credit sits in the debiting partition's replicated outbox until the
 * crediting partition applied it, and is applied exactly once there whatever fails in between.
 */
import { component, hash, network } from '@tessera/components';
import { z } from 'zod';

export const openAccount = z.object({ account: z.string().min(1), balance: z.number().int().nonnegative() });
export const transfer = z.object({ id: z.string().min(1), from: z.string().min(1), to: z.string().min(1), amount: z.number().int().positive() });
export type Transfer = z.infer<typeof transfer>;

/** An account partition's state: balances, and for each transfer whether it was debited, refused or credited here. */
export interface Accounts {
  balances: Record<string, number>;
  /** Transfer id -> 'debited' | 'refused' (at the debited account's partition). */
  decided: Record<string, 'debited' | 'refused'>;
  /** Transfer ids credited (at the credited account's partition). */
  credited: Record<string, true>;
}

export const accounts = component({
  name: 'accounts',
  inputs: { open: openAccount, transfer, credit: transfer },
  outputs: { credits: transfer, outcomes: z.object({ id: z.string(), ok: z.boolean(), reason: z.string().optional() }) },
  state: { init: (): Accounts => ({ balances: {}, decided: {}, credited: {} }) },
  handlers: {
    open(m, ctx) {
      ctx.state.balances[m.account] = (ctx.state.balances[m.account] ?? 0) + m.balance;
    },
    transfer(t, ctx) {
      const s = ctx.state;
      const balance = s.balances[t.from];
      // A transfer id is decided once: a client that pushes the same transfer again (say after a
      // timeout left the outcome unknown) cannot move the money twice.
      const reason = s.decided[t.id] ? 'duplicate transfer id' : balance === undefined ? 'no such account' : t.from === t.to ? 'same account' : balance < t.amount ? 'insufficient funds' : undefined;
      if (reason) {
        if (!s.decided[t.id]) s.decided[t.id] = 'refused';
        ctx.emit('outcomes', { id: t.id, ok: false, reason }, { key: t.id });
        return;
      }
      s.balances[t.from] = balance! - t.amount;
      s.decided[t.id] = 'debited';
      ctx.emit('credits', t, { key: t.to });
      ctx.emit('outcomes', { id: t.id, ok: true }, { key: t.id });
    },
    credit(t, ctx) {
      const s = ctx.state;
      s.balances[t.to] = (s.balances[t.to] ?? 0) + t.amount;
      s.credited[t.id] = true;
    },
  },
  queries: {
    balances: (s) => s.balances,
    ledger: (s) => ({ decided: s.decided, credited: s.credited }),
  },
});

/** accounts.credits -> accounts.credit, hashed by the credited account; sources hash by account. */
export const bank = network('bank', { maxOutbox: 5_000 })
  .add(accounts, { partitions: 4, replicas: 3 })
  .connect('accounts.credits', 'accounts.credit', hash('to'))
  .source('opens', 'accounts.open', { grouping: hash('account') })
  .source('transfers', 'accounts.transfer', { grouping: hash('from') })
  .sink('outcomes', 'accounts.outcomes')
  .build();

export default bank;
