/**
 * Three Raft replicas, each in its own process, over the TCP transport (with a shared secret):
 * proposals commit under load, the leader is SIGKILLed, a new leader is elected, commits continue, and
 * every proposal acknowledged before the kill is still there afterwards.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const script = join(here, 'fixtures', 'raft-node.mjs');
const dist = join(here, '..', 'dist', 'index.js');

interface Reply {
  ok: boolean;
  result?: unknown;
  code?: string;
  message?: string;
}

class NodeProcess {
  readonly child: ChildProcess;
  port = 0;
  exited = false;
  stderr = '';
  private seq = 0;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private readonly listening: Promise<void>;

  constructor(readonly id: string, voters: string[]) {
    this.child = fork(script, [], { env: { ...process.env, NODE_ID: id, VOTERS: JSON.stringify(voters), SECRET: 'crash-test-secret-0123456789' }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.child.stderr!.on('data', (d) => (this.stderr += d));
    this.child.on('exit', () => {
      this.exited = true;
      for (const w of this.waiting.values()) w({ ok: false, code: 'EXITED' });
      this.waiting.clear();
    });
    this.listening = new Promise((resolve, reject) => {
      this.child.on('message', (m: { type: string; port?: number; req?: number } & Reply) => {
        if (m.type === 'listening') {
          this.port = m.port!;
          resolve();
        } else if (m.type === 'reply') {
          this.waiting.get(m.req!)?.(m);
          this.waiting.delete(m.req!);
        }
      });
      this.child.once('exit', (code) => reject(new Error(`node ${id} exited (${code}) before listening: ${this.stderr}`)));
    });
  }

  ready(): Promise<void> {
    return this.listening;
  }

  request(msg: object, timeoutMs = 10_000): Promise<Reply> {
    if (this.exited) return Promise.resolve({ ok: false, code: 'EXITED' });
    const req = ++this.seq;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiting.delete(req);
        resolve({ ok: false, code: 'IPC_TIMEOUT' });
      }, timeoutMs);
      this.waiting.set(req, (r) => {
        clearTimeout(t);
        resolve(r);
      });
      this.child.send({ ...msg, req });
    });
  }

  async kill(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await gone;
  }
}

const procs: NodeProcess[] = [];
afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill()));
});

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Status {
  role: string;
  term: number;
  leader: string | null;
}

async function findLeader(nodes: NodeProcess[], minTerm = 0): Promise<{ node: NodeProcess; term: number }> {
  return until(async () => {
    const statuses = await Promise.all(nodes.map(async (n) => ({ n, r: await n.request({ type: 'status' }, 2_000) })));
    for (const { n, r } of statuses) {
      const s = r.result as Status | undefined;
      if (r.ok && s && s.role === 'leader' && s.term > minTerm) return { node: n, term: s.term };
    }
    return undefined;
  }, `a leader among ${nodes.map((n) => n.id).join(', ')} with term > ${minTerm}`);
}

/** Keeps `inFlight` proposals going to `target()` until `count` were acknowledged. Returns acked values. */
async function load(target: () => NodeProcess, nextValue: () => number, count: number, inFlight: number): Promise<number[]> {
  const acked: number[] = [];
  const deadline = Date.now() + 30_000;
  const worker = async () => {
    while (acked.length < count) {
      if (Date.now() > deadline) throw new Error(`load stalled at ${acked.length}/${count} acknowledged`);
      const value = nextValue();
      const r = await target().request({ type: 'propose', value });
      if (r.ok) acked.push(value);
      else await new Promise((res) => setTimeout(res, 20));
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return acked;
}

describe('three replicas in three processes over TCP', () => {
  it(
    'commit under load, survive a SIGKILL of the leader, and keep every acknowledged proposal',
    async () => {
      if (!existsSync(dist)) throw new Error(`${dist} is missing: the node processes import the built package (pnpm exec turbo run build --filter=@tessera/transport-tcp...)`);
      const ids = ['n1', 'n2', 'n3'];
      for (const id of ids) procs.push(new NodeProcess(id, ids));
      await Promise.all(procs.map((p) => p.ready()));
      const peers = Object.fromEntries(procs.map((p) => [p.id, `127.0.0.1:${p.port}`]));
      for (const p of procs) expect((await p.request({ type: 'peers', peers })).ok).toBe(true);

      const first = await findLeader(procs);
      let value = 0;
      const next = () => ++value;
      let leader = first.node;
      const before = await load(() => leader, next, 400, 32);
      expect(before.length).toBeGreaterThanOrEqual(400);

      // Keep proposing while the leader dies: nothing acknowledged may be lost.
      const survivors = procs.filter((p) => p !== first.node);
      let target = first.node;
      const during = load(() => target, next, 200, 16);
      await first.node.kill();
      const second = await findLeader(survivors, first.term);
      target = second.node;
      leader = second.node;
      const acksDuring = await during;
      const after = await load(() => leader, next, 400, 32);

      const acked = [...before, ...acksDuring, ...after];
      const read = await until(async () => {
        const r = await leader.request({ type: 'read', linearizable: true });
        return r.ok ? (r.result as number[]) : undefined;
      }, 'linearizable read on the new leader');
      const present = new Set(read);
      const missing = acked.filter((v) => !present.has(v));
      expect(missing, `acknowledged proposals missing after failover`).toEqual([]);
      // The surviving follower converges on the same state.
      const follower = survivors.find((p) => p !== leader)!;
      await until(async () => {
        const r = await follower.request({ type: 'read', linearizable: false });
        const mine = r.ok ? (r.result as number[]) : [];
        return mine.length >= read.length && read.every((v, i) => mine[i] === v) ? true : undefined;
      }, 'follower applies the same sequence');
      expect(second.node.id).not.toBe(first.node.id);
    },
    120_000,
  );
});
