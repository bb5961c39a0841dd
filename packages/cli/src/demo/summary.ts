/**
 * The demo's result and how it is printed.
 */
import type { FailoverReport } from './failover.js';

/** Integers with thousands separators. */
export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** The demo's result (`--json` prints it). */
export interface DemoSummary {
  readonly text: string;
  readonly lines: number;
  readonly words: number;
  readonly distinctWords: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  readonly failover: FailoverReport | null;
  readonly lost: number;
  readonly doubleCounted: number;
  /** Messages the counters received again after the failover and dropped as already applied. */
  readonly duplicatesDropped: number;
  /** Requests the client re-sent (after a timeout, a lost connection, a NotLeader answer), and deliveries the source re-sent. */
  readonly clientRetries: number;
  readonly sourceRetries: number;
  readonly pushFailures: number;
  readonly sinkOutputs: number;
  readonly verified: boolean;
  readonly dir: string;
}

/** The closing summary: events/s, failover time, lost, double-counted, retries. */
export function printSummary(s: DemoSummary, say: (line: string) => void): void {
  say('');
  say('summary');
  say(`  events/s         ${fmt(s.eventsPerSecond)} words/s (${fmt(s.words)} words through splitter and counter in ${s.seconds.toFixed(2)} s)`);
  const f = s.failover;
  say(f ? `  failover         ${(f.failoverMs / 1000).toFixed(2)} s (SIGKILL of ${f.killed} until ${f.newLeader} led counter partition 0)` : '  failover         none (--no-kill)');
  say(`  messages lost    ${fmt(s.lost)}`);
  say(`  double-counted   ${fmt(s.doubleCounted)}`);
  say(`  retries          ${fmt(s.clientRetries)} requests re-sent by the client (a command re-sent is applied once: session dedup),`);
  say(`                   ${fmt(s.sourceRetries)} deliveries re-sent by the source, ${fmt(s.duplicatesDropped)} duplicates dropped by the counters' seen-sets`);
}
