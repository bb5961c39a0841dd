/**
 * `tessera demo`: a 3-node cluster (file storage, TCP) hosting the word-count network; a book is
 * streamed through it while the leader of one counter partition is SIGKILLed and restarted; the
 * counts read back from the cluster are compared with counts computed here from the same text.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type TesseraClient } from '@tessera/client';
import { deploy, openSink, openSource, placeNetwork, queryAll, status as networkStatus, undeploy, type Sink } from '@tessera/components';
import type { Io } from '../cli.js';
import { readClusterState } from '../cluster/state.js';
import { startLocalCluster, type LocalCluster } from '../cluster/up.js';
import { waitForCatchUp } from '../cluster/wait.js';
import { UsageError } from '../errors.js';
import { killLeader, type FailoverReport } from './failover.js';
import { createProgress } from './progress.js';
import { fmt, printSummary, type DemoSummary } from './summary.js';
import { compareCounts, loadText } from './text.js';
import { wordCount, wordsOf } from './word-count.js';

/** The module node processes load the network from. */
const WORD_COUNT_MODULE = fileURLToPath(new URL('./word-count.js', import.meta.url));
const CLUSTER_ID = 'demo';
const PARTITIONS = 4;
/** Give up when no line was applied (or failed) for this long. */
const STALL_MS = 60_000;

export interface DemoOptions {
  readonly dir?: string;
  readonly text?: string;
  readonly lines?: number;
  readonly killAt: number;
  readonly kill: boolean;
  readonly json: boolean;
  readonly logLevel: string;
}



function bar(fraction: number, width = 20): string {
  const full = Math.round(fraction * width);
  return '[' + '#'.repeat(full) + '.'.repeat(width - full) + ']';
}

export async function demo(o: DemoOptions, io: Io): Promise<number> {
  const text = loadText(o.text, o.lines);
  const stream = o.json ? process.stderr : process.stdout;
  const progress = createProgress(stream, stream.isTTY === true);
  const say = (line: string) => progress.say(line);
  const dir = o.dir ? resolve(o.dir) : mkdtempSync(join(tmpdir(), 'tessera-demo-'));
  const existing = o.dir ? readClusterState(dir) : undefined;
  if (existing && existing.clusterId !== CLUSTER_ID) throw new UsageError(`--dir ${o.dir} holds another cluster (${existing.clusterId}); give an empty directory or one a previous demo used`);

  let cluster: LocalCluster | undefined;
  let client: TesseraClient | undefined;
  let sink: Sink | undefined;
  let interrupted = false;
  let succeeded = false;
  const onSignal = () => {
    interrupted = true;
    progress.done();
    io.err('interrupted: stopping the cluster...');
    void (async () => {
      sink?.close();
      await client?.close().catch(() => {});
      await cluster?.stop().catch(() => {});
      if (!o.dir) rmSync(dir, { recursive: true, force: true });
      process.exit(1);
    })();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    say(`Tessera demo: counting the words of a book on a 3-node cluster (file storage, every write fsynced on a quorum, TCP)`);
    say(`text: ${basename(text.file)}, ${fmt(text.lines.length)} lines, ${fmt(text.words)} words, ${fmt(text.expected.size)} distinct`);
    say(`network: lines -> splitter (stateless) -> counter (stateful: 4 partitions x 3 replicas, hash by word) -> counts`);
    cluster = await startLocalCluster({
      dir,
      nodes: 3,
      storage: 'file',
      transport: 'tcp',
      partitions: PARTITIONS,
      replicas: 3,
      clusterId: CLUSTER_ID,
      raft: { tickMs: 50, electionTicks: 16 },
      networks: [{ module: WORD_COUNT_MODULE, export: 'wordCount' }],
      logLevel: o.logLevel,
      onUnexpectedExit: (id, code, signal) => say(`node ${id} exited unexpectedly (${signal ?? `code ${code}`})`),
    });
    const c = cluster;
    for (const n of c.live()) say(`  node ${n.id}  pid ${n.pid}  client ${n.clientAddress}  admin http://${n.adminAddress}/status  data ${n.dataDir}`);
    client = await connect({ endpoints: c.live().map((n) => n.clientAddress), requestTimeoutMs: 30_000, attemptTimeoutMs: 3_000, sessionTimeoutMs: 60_000, retry: { initialMs: 5, maxMs: 200 } });
    const cl = client;
    // A directory from an earlier demo still holds that run's counts: start from zero.
    if (existing && (await networkStatus(cl, wordCount)).deployment !== null) await undeploy(cl, wordCount);
    await deploy(cl, wordCount);
    const target = placeNetwork(wordCount, cl.clusterMap().partitions).of('counter', 0).clusterPartition;
    let sinkOutputs = 0;
    let lastCount = '';
    sink = openSink<{ word: string; count: number }>(cl, wordCount, 'counts', (m) => {
      sinkOutputs++;
      lastCount = `${m.word}=${m.count}`;
    });
    await sink.ready;
    say(`deployed; streaming ${fmt(text.lines.length)} lines${o.kill ? `; the leader of counter partition 0 will be killed ${Math.round(o.killAt * 100)}% of the way through` : ''}`);

    const source = openSource(cl, wordCount, 'lines', { maxInFlight: 256, timeoutMs: 60_000 });
    const killAfter = Math.max(1, Math.floor(text.lines.length * o.killAt));
    let doneLines = 0;
    let doneWords = 0;
    let failed = 0;
    const failures: string[] = [];
    let failover: Promise<FailoverReport> | undefined;
    const started = performance.now();
    const tick = () => {
      const secs = (performance.now() - started) / 1000;
      const f = doneLines / text.lines.length;
      progress.update(`${bar(f)} ${Math.floor(f * 100)}%  ${fmt(doneLines)}/${fmt(text.lines.length)} lines  ${fmt(doneWords)} words  ${fmt(secs > 0 ? doneWords / secs : 0)} words/s  sink ${fmt(sinkOutputs)}${lastCount ? ` (${lastCount})` : ''}`, f);
    };
    const timer = setInterval(tick, 100);
    const pushes = text.lines.map((line, i) =>
      source.push(line).then(
        () => {
          doneLines++;
          doneWords += wordsOf(text.lines[i]!).length;
          if (o.kill && !failover && doneLines >= killAfter) {
            failover = killLeader(c, target, 'counter partition 0', say);
            // Keep a failed fault injection from going unhandled before it is awaited below.
            failover.catch(() => {});
          }
        },
        (err: Error) => {
          failed++;
          if (failures.length < 5) failures.push(err.message);
        },
      ),
    );
    // A cluster that stops making progress must not leave the demo waiting forever.
    let lastProgress = doneLines + failed;
    let lastChange = performance.now();
    let watchdog: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      watchdog = setInterval(() => {
        const now = doneLines + failed;
        if (now !== lastProgress) {
          lastProgress = now;
          lastChange = performance.now();
        } else if (performance.now() - lastChange > STALL_MS) {
          reject(new Error(`the stream made no progress for ${STALL_MS / 1000} s (${fmt(doneLines)} of ${fmt(text.lines.length)} lines applied, ${failed} failed${failures.length ? `: ${failures[0]}` : ''})`));
        }
      }, 1_000);
    });
    try {
      await Promise.race([Promise.all(pushes), stalled]);
    } finally {
      clearInterval(watchdog);
      clearInterval(timer);
    }
    const seconds = (performance.now() - started) / 1000;
    tick();
    progress.done();
    const report = failover ? await failover : null;
    // Closing tells the partitions to drop this source's duplicate filter; bounded, as it waits for stragglers.
    await Promise.race([source.close(), new Promise((r) => setTimeout(r, 15_000).unref())]);
    say(`streamed ${fmt(text.words)} words in ${seconds.toFixed(2)} s${failed ? `; ${failed} pushes failed: ${failures.join('; ')}` : ''}`);
    if (report) {
      const commit = await waitForCatchUp(c.live().map((n) => n.adminAddress), 60_000);
      say(`${report.killed} has caught up: every replica of every partition applied everything committed (counter partition 0 up to log index ${fmt(commit.get(target) ?? 0)})`);
    }

    say('verifying: reading every counter partition (linearizable reads) and comparing with counts computed from the text...');
    const parts = await queryAll<Record<string, number>>(cl, wordCount, 'counter', 'counts');
    const actual = new Map<string, number>();
    for (const part of parts) for (const [w, n] of Object.entries(part)) actual.set(w, (actual.get(w) ?? 0) + n);
    const cmp = compareCounts(text.expected, actual);
    const st = await networkStatus(cl, wordCount);
    const clientRetries = cl.stats().retries;
    const sourceRetries = source.stats().retries;
    const duplicates = st.components.counter!.partitions.reduce((s, p) => s + p.duplicates, 0);
    const top = [...actual].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 8);
    const verified = cmp.lost === 0 && cmp.doubled === 0 && failed === 0;
    if (verified) say(`verified: all ${fmt(text.expected.size)} words have exactly the expected count (${fmt(text.words)} in total)`);
    else say(`MISMATCH: ${cmp.wrongWords.length} words differ (e.g. ${cmp.wrongWords.slice(0, 5).map((w) => `${w}: expected ${text.expected.get(w) ?? 0}, counted ${actual.get(w) ?? 0}`).join('; ')})`);
    say(`top words: ${top.map(([w, n]) => `${w} ${fmt(n)}`).join(', ')}`);
    const summary: DemoSummary = {
      text: text.file,
      lines: text.lines.length,
      words: text.words,
      distinctWords: text.expected.size,
      seconds,
      eventsPerSecond: text.words / seconds,
      failover: report,
      lost: cmp.lost,
      doubleCounted: cmp.doubled,
      duplicatesDropped: duplicates,
      clientRetries,
      sourceRetries,
      pushFailures: failed,
      sinkOutputs,
      verified,
      dir,
    };
    printSummary(summary, say);
    if (o.json) io.out(JSON.stringify(summary));
    succeeded = verified;
    return verified ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!interrupted) {
      progress.done();
      sink?.close();
      await client?.close().catch(() => {});
      await cluster?.stop();
      // A failed run keeps its temporary directory: the node logs are the evidence.
      if (!o.dir && succeeded) rmSync(dir, { recursive: true, force: true });
      else if (!o.dir) io.err(`kept ${dir} for inspection (node logs: ${join(dir, '<id>', 'node.log')})`);
    }
  }
}
