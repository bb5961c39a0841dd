import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServer } from '@tessera/testing/servers';

const here = dirname(fileURLToPath(import.meta.url));
const script = join(here, 'fixtures', 'raft-node.mjs');
const ids = ['n1', 'n2', 'n3'];

interface Status {
  role: string;
  leader: string | undefined;
  term: number;
  applied: number;
  ids: number;
  dupes: number;
  transport: { published: number; received: number; dropped: number; rejected: number };
}

/** A node process and a request/response channel over IPC. */
class NodeProcess {
  private reqSeq = 0;
  private readonly waiting = new Map<number, (m: any) => void>();
  readonly acked: number[] = [];
  loadDone: { failed: number } | undefined;
  exited = false;

  private constructor(
    readonly id: string,
    readonly child: ChildProcess,
  ) {
    child.on('message', (m: any) => {
      if (m.type === 'acked') this.acked.push(...m.ids);
      else if (m.type === 'loadDone') this.loadDone = m;
      else if (m.reqId !== undefined) this.waiting.get(m.reqId)?.(m);
    });
    child.once('exit', () => {
      this.exited = true;
      for (const w of this.waiting.values()) w({ type: 'error', message: 'process exited' });
      this.waiting.clear();
    });
  }

  static async start(id: string, natsUrl: string): Promise<NodeProcess> {
    const child = fork(script, [JSON.stringify({ nodeId: id, voters: ids, natsUrl, clusterId: 'crash' })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const node = new NodeProcess(id, child);
    await new Promise<void>((resolve, reject) => {
      child.once('message', (m: any) => (m.type === 'ready' ? resolve() : reject(new Error(`${id}: ${JSON.stringify(m)}`))));
      child.once('exit', (code) => reject(new Error(`${id} exited with ${code} before it was ready`)));
    });
    return node;
  }

  request<T>(msg: Record<string, unknown>, timeoutMs = 10_000): Promise<T> {
    const reqId = ++this.reqSeq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(reqId);
        reject(new Error(`${this.id}: no answer to ${String(msg.op)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(reqId, (m) => {
        clearTimeout(timer);
        this.waiting.delete(reqId);
        if (m.type === 'error') reject(new Error(`${this.id}: ${m.message}`));
        else resolve(m as T);
      });
      this.child.send({ ...msg, reqId });
    });
  }

  status(): Promise<Status> {
    return this.request<Status>({ op: 'status' });
  }

  async kill(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await gone;
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    this.child.send({ op: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
  }
}

/** Polls the live nodes until they agree on one leader among them, and returns it. */
async function agreedLeader(nodes: NodeProcess[]): Promise<NodeProcess> {
  let leader: NodeProcess | undefined;
  await expect
    .poll(
      async () => {
        const live = nodes.filter((n) => !n.exited);
        const statuses = await Promise.all(live.map((n) => n.status()));
        const leaders = live.filter((_, i) => statuses[i]!.role === 'leader');
        const agreed = leaders.length === 1 && statuses.every((s) => s.leader === leaders[0]!.id);
        leader = agreed ? leaders[0] : undefined;
        return agreed;
      },
      { timeout: 20_000, interval: 50 },
    )
    .toBe(true);
  return leader!;
}

describe('3-replica Raft group, one process per node, over NATS', () => {
  let nats: NatsServer;
  const nodes: NodeProcess[] = [];

  beforeAll(async () => {
    expect(existsSync(join(here, '..', 'dist', 'index.js')), 'build @tessera/transport-nats first').toBe(true);
    nats = await startNatsServer();
    nodes.push(...(await Promise.all(ids.map((id) => NodeProcess.start(id, nats.url)))));
  });

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await nats?.stop();
  });

  it('commits under load and keeps every acknowledged proposal when the leader is SIGKILLed', async () => {
    const first = await agreedLeader(nodes);

    // Load the leader until a good number of proposals are acknowledged, then kill it mid-load.
    first.child.send({ op: 'load', from: 1, count: 1_000_000, concurrency: 128 });
    await expect.poll(() => first.acked.length, { timeout: 30_000, interval: 20 }).toBeGreaterThanOrEqual(10_000);
    await first.kill();
    const ackedBeforeCrash = [...first.acked];

    const survivors = nodes.filter((n) => n !== first);
    const second = await agreedLeader(survivors);
    expect(second).not.toBe(first);

    // Every proposal the dead leader acknowledged is in the new leader's state (linearizable read).
    const { missing } = await second.request<{ missing: number[] }>({ op: 'missing', ids: ackedBeforeCrash }, 20_000);
    expect(missing).toEqual([]);

    // The group carries on with two of three: more load commits and reaches the other follower.
    second.child.send({ op: 'load', from: 2_000_000, count: 2_000, concurrency: 64 });
    await expect.poll(() => second.loadDone, { timeout: 30_000, interval: 20 }).toBeDefined();
    expect(second.acked.length).toBe(2_000);
    expect(second.loadDone!.failed).toBe(0);
    const follower = survivors.find((n) => n !== second)!;
    const leaderStatus = await second.status();
    await expect.poll(async () => (await follower.status()).applied, { timeout: 20_000, interval: 50 }).toBeGreaterThanOrEqual(leaderStatus.applied);
    for (const n of survivors) {
      const s = await n.status();
      expect(s.dupes, `${n.id} applied an id twice`).toBe(0);
      expect(s.ids).toBeGreaterThanOrEqual(ackedBeforeCrash.length + 2_000);
      expect(s.transport.rejected).toBe(0);
    }
  }, 120_000);
});
