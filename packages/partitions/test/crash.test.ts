/**
 * Real processes: three partition nodes (file storage, every append fdatasync'ed; TCP transport),
 * SIGKILLed and restarted while a client works. Checks that what the client saw is linearizable
 * (per key, over several partitions) and that a command retried after a crash, and after a
 * snapshot and a restart of every node, is applied once.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect, type TesseraClient } from '@tessera/client';
import { FrameDecoder, encodeFrame, partitionOf } from '@tessera/client/protocol';
import { TesseraError } from '@tessera/raft';
import { seededRandom } from '@tessera/testing';
import { checkLinearizability, formatResult, kvModel, type KvInput, type KvOutput, type Operation } from '@tessera/testing/linearizability';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from './helpers/cluster.js';
import { processCluster, type ProcessCluster } from './helpers/processes.js';

let cluster: ProcessCluster | undefined;
let client: TesseraClient | undefined;
afterEach(async (ctx) => {
  // A failed test says what each node was doing (replicas, stderr tail) before the cluster goes.
  if (ctx.task.result?.state === 'fail' && cluster) console.error(`cluster at the failure:\n${await cluster.report()}`);
  await client?.close().catch(() => {});
  client = undefined;
  await cluster?.close();
  cluster = undefined;
});

describe('partition nodes in child processes, with SIGKILLs', () => {
  it('client histories over several partitions stay linearizable through kills and restarts', async () => {
    cluster = await processCluster({ partitions: 4 });
    client = await connect({ endpoints: cluster.endpoints, requestTimeoutMs: 20_000, attemptTimeoutMs: 2_000, sessionTimeoutMs: 60_000, retry: { initialMs: 10, maxMs: 200 } });
    const map = client.map<string>('lin');
    const keys = Array.from({ length: 8 }, (_, i) => `key-${i}`);
    expect(new Set(keys.map((k) => client!.partitionOf('lin', k))).size).toBeGreaterThanOrEqual(3);
    const history: Operation<KvInput, KvOutput>[] = [];
    let completed = 0;
    let stop = false;
    // mulberry32: the float LCG used before (seed * 1103515245 overflowing 2^53) lost its low bits
    // and picked key-0 for 99.5% of operations, so one partition carried the whole history.
    const random = seededRandom(12345);
    const rand = (n: number) => Math.floor(random() * n);
    const worker = async (w: number) => {
      let n = 0;
      while (!stop) {
        const key = keys[rand(keys.length)]!;
        const r = rand(10);
        const call = performance.now();
        if (r < 4) {
          const value = `w${w}-${n++}`;
          try {
            const prev = await map.getAndSet(key, value);
            history.push({ clientId: w, input: { op: 'put', key, value }, output: prev, call, ret: performance.now() });
          } catch (err) {
            // Outcome unknown: it may take effect at any point after its call.
            history.push({ clientId: w, input: { op: 'put', key, value }, output: undefined, call, ret: Infinity });
            if (!TesseraError.isInstance(err)) throw err;
          }
        } else if (r < 6) {
          const expected = `w${rand(4)}-${rand(Math.max(1, n))}`;
          const next = `w${w}-${n++}`;
          try {
            const ok = await map.compareAndSet(key, expected, next);
            history.push({ clientId: w, input: { op: 'cas', key, expected, next }, output: ok, call, ret: performance.now() });
          } catch (err) {
            history.push({ clientId: w, input: { op: 'cas', key, expected, next }, output: undefined, call, ret: Infinity });
            if (!TesseraError.isInstance(err)) throw err;
          }
        } else {
          try {
            const v = await map.get(key);
            history.push({ clientId: w, input: { op: 'get', key }, output: v, call, ret: performance.now() });
          } catch (err) {
            // A failed read has no effect: leave it out.
            if (!TesseraError.isInstance(err)) throw err;
          }
        }
        completed++;
      }
    };
    const workers = Array.from({ length: 6 }, (_, w) => worker(w));
    // Only the client's typed errors are expected: anything else is a bug, and fails the test at once.
    const workerFailed = new Promise<never>((_, reject) => workers.forEach((w) => w.catch(reject)));
    workerFailed.catch(() => {});
    const progress = async (n: number, what: string) => {
      const target = completed + n;
      try {
        await Promise.race([until(() => (completed >= target ? true : undefined), what, 30_000), workerFailed]);
      } catch (err) {
        // Say what the cluster and the client were doing: a stall here cannot be replayed.
        const report = await cluster!.report();
        throw new Error(`${(err as Error).message} (${completed - target + n} of ${n} operations)\nclient: ${JSON.stringify(client!.stats())}\n${report}`, { cause: err });
      }
    };
    try {
      await progress(200, 'initial progress');
      // Kill each node in turn (each leads some partitions), keep working without it, restart it.
      for (const victim of cluster.nodes) {
        await victim.kill();
        await progress(150, `progress without ${victim.id}`);
        await victim.start();
        await progress(150, `progress after ${victim.id} restarted`);
      }
    } finally {
      // Also on failure: workers left running would retry against a closed client forever.
      stop = true;
      await Promise.allSettled(workers);
    }
    await Promise.all(workers); // a worker's unexpected error fails the test
    const completedOps = history.filter((h) => h.ret !== Infinity).length;
    expect(completedOps).toBeGreaterThan(500);
    // The history really spans several partitions (a broken generator once sent nearly all to one).
    const touched = new Set(history.filter((h) => h.ret !== Infinity).map((h) => client!.partitionOf('lin', h.input.key)));
    expect(touched.size).toBeGreaterThanOrEqual(3);
    const result = checkLinearizability(kvModel(), history, { maxSteps: 5_000_000 });
    expect(result.result, formatResult(result)).toBe('ok');
  }, 120_000);

  it('a command retried after its leader crashed, and after snapshots and a restart of every node, is applied once', async () => {
    cluster = await processCluster({ partitions: 2, snapshotEntries: 20 });
    const P = 2;
    const p = partitionOf(P, 'dedup');
    // Speak the protocol directly to control the (session, seq) of a "retry".
    const session = 'raw-session-1';
    const cmd = (seq: number, delta: number) => ['cmd', p, session, seq, 1, true, 60_000, 'counter', 'dedup', 'add', delta, null];
    const leader1 = await cluster.leaderOf(p);
    const first = await rawRequestUntilOk(() => cluster!.endpoints, cmd(1, 1));
    expect(first.value).toBe(1);

    await leader1.kill();
    const retried = await rawRequestUntilOk(() => cluster!.endpoints, cmd(1, 1));
    expect(retried).toEqual(first); // same result, same log index: answered from the dedup table
    await leader1.start();

    // Enough traffic from another client for several snapshots (every 20 entries) on every replica.
    client = await connect({ endpoints: cluster.endpoints, requestTimeoutMs: 20_000 });
    for (let i = 0; i < 80; i++) await client.counter('dedup').add(10);
    await client.close();
    client = undefined;
    await until(async () => {
      const all = await Promise.all(cluster!.nodes.map((n) => n.status()));
      return all.every((st) => (st?.find((s) => s.partition === p)?.snapshotIndex ?? 0) > first.index) ? true : undefined;
    }, 'a snapshot past the first command on every replica');

    // Every node dies at once and restarts from its snapshot plus log.
    await Promise.all(cluster.nodes.map((n) => n.kill()));
    await Promise.all(cluster.nodes.map((n) => n.start()));
    const again = await rawRequestUntilOk(() => cluster!.endpoints, cmd(1, 1));
    expect(again).toEqual(first);
    const next = await rawRequestUntilOk(() => cluster!.endpoints, cmd(2, 1));
    expect(next.value).toBe(1 + 800 + 1);
  }, 120_000);
});

/** Sends one request to each endpoint in turn until one answers successfully (leaders move, nodes restart). */
async function rawRequestUntilOk(endpoints: () => string[], body: unknown[]): Promise<{ value: unknown; index: number }> {
  return until(async () => {
    for (const ep of endpoints()) {
      const r = await rawRequest(ep, body).catch(() => undefined);
      if (r && r.ok) return { value: r.value, index: r.index };
      if (r && !r.ok && !r.retryable) throw new Error(`non-retryable error: ${JSON.stringify(r)}`);
    }
    return undefined;
  }, `an answer to ${JSON.stringify(body)}`, 30_000);
}

function rawRequest(endpoint: string, body: unknown[]): Promise<{ ok: boolean; value?: unknown; index: number; retryable?: boolean; code?: string }> {
  const [host, port] = endpoint.split(':');
  return new Promise((resolve, reject) => {
    const s: Socket = netConnect({ host: host!, port: Number(port) });
    const d = new FrameDecoder();
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error('timeout'));
    }, 5_000);
    s.on('connect', () => s.write(encodeFrame([[1, ...body]])));
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    s.on('data', (chunk: Buffer) =>
      d.push(chunk, (msgs) => {
        const m = msgs[0] as unknown[];
        clearTimeout(t);
        s.destroy();
        if (m[1] === 0) resolve({ ok: true, value: m[2], index: m[3] as number });
        else resolve({ ok: false, index: 0, ...(m[2] as { code: string; retryable: boolean }) });
      }),
    );
  });
}
