/**
 * Runs the bank on a local 3-node cluster (file storage, TCP on loopback): opens accounts, then
 * runs rounds of random transfers; in each round one node is stopped mid-way and started again.
 * After each round, once nothing is in flight, it checks that the total balance is what was
 * deposited and that every debited transfer was credited exactly once.
 */
import type { TesseraClient } from '@tessera/client';
import { deploy, openSink, openSource, queryAll, status, undeploy } from '@tessera/components';
import { startLocalCluster } from '@tessera/components/local';
import { bank, type Transfer } from './network.js';

export interface RunOptions {
  readonly dir: string;
  readonly accounts?: number;
  readonly rounds?: number;
  readonly transfersPerRound?: number;
  /** Stop and restart one node in each round. Default true. */
  readonly failover?: boolean;
  readonly seed?: number;
  readonly log?: (line: string) => void;
}

export interface RoundReport {
  readonly round: number;
  readonly stopped: string | null;
  readonly total: number;
  readonly debited: number;
  readonly refused: number;
  readonly credited: number;
  readonly ok: boolean;
}

const INITIAL = 1_000;

async function quiescent(client: TesseraClient): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const st = await status(client, bank);
    if (Object.values(st.components).every((c) => c.partitions.every((p) => p.available && p.outbox === 0))) return;
    if (Date.now() > deadline) throw new Error('the network did not become quiescent within 60 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function run(o: RunOptions): Promise<{ rounds: RoundReport[]; outcomes: number; transfers: number }> {
  const log = o.log ?? (() => {});
  const n = o.accounts ?? 50;
  let seed = o.seed ?? 42;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const cluster = await startLocalCluster({ networks: [bank], dir: o.dir, partitions: 8 });
  let client: TesseraClient | undefined;
  try {
    client = await cluster.connect();
    const cl = client;
    if ((await status(cl, bank)).deployment) await undeploy(cl, bank);
    await deploy(cl, bank);
    const opens = openSource(cl, bank, 'opens');
    await Promise.all(Array.from({ length: n }, (_, i) => opens.push({ account: `acct-${i}`, balance: INITIAL })));
    await opens.close();
    log(`opened ${n} accounts with ${INITIAL} each: total ${n * INITIAL}`);

    let outcomes = 0;
    const sink = openSink<{ id: string; ok: boolean }>(cl, bank, 'outcomes', () => void outcomes++);
    await sink.ready;
    const transfers = openSource(cl, bank, 'transfers', { maxInFlight: 128 });
    const reports: RoundReport[] = [];
    let pushed = 0;
    for (let round = 1; round <= (o.rounds ?? 3); round++) {
      const batch: Transfer[] = Array.from({ length: o.transfersPerRound ?? 1_000 }, (_, i) => ({
        id: `r${round}-${i}`,
        from: `acct-${Math.floor(rnd() * n)}`,
        to: `acct-${Math.floor(rnd() * n)}`,
        amount: 1 + Math.floor(rnd() * 400),
      }));
      const victim = o.failover === false ? null : cluster.ids[(round - 1) % cluster.ids.length]!;
      let done = 0;
      let fault: Promise<void> | undefined;
      await Promise.all(
        batch.map((t) =>
          transfers.push(t).then(() => {
            if (++done === Math.floor(batch.length / 3) && victim) {
              fault = (async () => {
                log(`round ${round}: stopping ${victim} with transfers in flight`);
                await cluster.stop(victim);
                await cluster.start(victim);
                log(`round ${round}: ${victim} is back and catching up`);
              })();
            }
          }),
        ),
      );
      pushed += batch.length;
      await fault;
      await quiescent(cl);
      const balances: Record<string, number> = Object.assign({}, ...(await queryAll<Record<string, number>>(cl, bank, 'accounts', 'balances')));
      const ledgers = await queryAll<{ decided: Record<string, string>; credited: Record<string, true> }>(cl, bank, 'accounts', 'ledger');
      const decided = Object.assign({}, ...ledgers.map((l) => l.decided)) as Record<string, string>;
      const credited = Object.assign({}, ...ledgers.map((l) => l.credited)) as Record<string, true>;
      const debitedIds = Object.keys(decided).filter((id) => decided[id] === 'debited');
      const total = Object.values(balances).reduce((a, b) => a + b, 0);
      const ok = total === n * INITIAL && debitedIds.every((id) => credited[id]) && Object.keys(credited).length === debitedIds.length;
      const report = { round, stopped: victim, total, debited: debitedIds.length, refused: Object.keys(decided).length - debitedIds.length, credited: Object.keys(credited).length, ok };
      reports.push(report);
      log(`round ${round}: total ${total} (${ok ? 'invariant holds' : 'INVARIANT BROKEN'}), ${report.debited} transfers debited and credited once, ${report.refused} refused`);
    }
    await transfers.close();
    const until = Date.now() + 5_000;
    while (outcomes < pushed && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    sink.close();
    return { rounds: reports, outcomes, transfers: pushed };
  } finally {
    await client?.close().catch(() => {});
    await cluster.close();
  }
}
