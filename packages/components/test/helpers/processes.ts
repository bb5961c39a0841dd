/** Component nodes as child processes (file storage, TCP) that tests SIGKILL and restart. */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from './wait.js';

const here = dirname(fileURLToPath(import.meta.url));
const script = join(here, '..', 'fixtures', 'node.mjs');
const dist = join(here, '..', '..', 'dist', 'index.js');

export interface GroupStatus {
  partition: number;
  role: string;
  leader?: string;
  appliedIndex: number;
  snapshotIndex: number;
}

interface Addresses {
  raft: string;
  client: string;
}

export class NodeProcess {
  child: ChildProcess | undefined;
  address: Addresses | undefined;
  stderr = '';
  private seq = 0;
  private readonly waiting = new Map<number, (v: any) => void>();

  constructor(
    readonly id: string,
    private readonly env: Record<string, string>,
    /** Current addresses of every node; a node tells the others when it (re)starts on new ports. */
    private readonly book: Map<string, Addresses>,
    private readonly all: () => NodeProcess[],
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process on fresh ephemeral ports and tells the running nodes where it is now. */
  async start(): Promise<void> {
    const child = fork(script, [], { env: { ...process.env, ...this.env, NODE_ID: this.id, PEERS: JSON.stringify(Object.fromEntries(this.book)) }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.child = child;
    child.stderr!.on('data', (d) => (this.stderr = (this.stderr + d).slice(-8000)));
    child.on('message', (m: any) => {
      if (m.type === 'reply') {
        this.waiting.get(m.req)?.(m);
        this.waiting.delete(m.req);
      }
    });
    child.on('exit', () => {
      for (const w of this.waiting.values()) w(undefined);
      this.waiting.clear();
    });
    await new Promise<void>((resolve, reject) => {
      child.on('message', (m: any) => {
        if (m.type === 'ready') {
          this.address = { raft: m.raft, client: m.client };
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`node ${this.id} exited (${code}) before it was ready: ${this.stderr}`)));
    });
    this.book.set(this.id, this.address!);
    const update = { type: 'peers', peers: Object.fromEntries(this.book) };
    for (const n of this.all()) if (n.running) n.child!.send(update);
  }

  async status(): Promise<GroupStatus[] | undefined> {
    if (!this.running) return undefined;
    const req = ++this.seq;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiting.delete(req);
        resolve(undefined);
      }, 2_000);
      this.waiting.set(req, (m) => {
        clearTimeout(t);
        resolve(m?.status);
      });
      this.child!.send({ type: 'status', req });
    });
  }

  /** SIGKILL: no clean-up, as in a crash. */
  async kill(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await gone;
  }
}

export interface ProcessCluster {
  readonly nodes: NodeProcess[];
  /** Client addresses of the running nodes as they are now (they change when a node restarts). */
  readonly endpoints: string[];
  /** The node that leads cluster partition `p` (not `not`), once one does. */
  leaderOf(p: number, not?: string): Promise<NodeProcess>;
  /** Waits until every replica of every partition has applied what the leader has. */
  caughtUp(): Promise<void>;
  close(): Promise<void>;
}

/** Starts three component nodes in child processes on ephemeral loopback ports and temp dirs. */
export async function processCluster(opts: { partitions: number; snapshotEntries?: number }): Promise<ProcessCluster> {
  if (!existsSync(dist)) throw new Error(`${dist} is missing: the node processes import the built package (pnpm exec turbo run build --filter=@tessera/components...)`);
  const ids = ['n1', 'n2', 'n3'];
  const root = mkdtempSync(join(tmpdir(), 'tessera-components-crash-'));
  const book = new Map<string, Addresses>();
  const nodes: NodeProcess[] = ids.map((id) => new NodeProcess(id, { MEMBERS: JSON.stringify(ids), PARTITIONS: String(opts.partitions), DIR: join(root, id), SNAPSHOT_ENTRIES: String(opts.snapshotEntries ?? 0) }, book, () => nodes));
  const close = async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await Promise.all(nodes.map((n) => n.start()));
  } catch (err) {
    await close();
    throw err;
  }
  return {
    nodes,
    get endpoints() {
      return nodes.filter((n) => n.running).map((n) => n.address!.client);
    },
    leaderOf: (p, not) =>
      until(async () => {
        for (const n of nodes) {
          if (n.id === not) continue;
          const s = await n.status();
          if (s?.find((g) => g.partition === p)?.role === 'leader') return n;
        }
        return undefined;
      }, `a leader of partition ${p}`, 30_000),
    caughtUp: () =>
      until(async () => {
        const all = await Promise.all(nodes.map((n) => n.status()));
        if (all.some((s) => s === undefined)) return undefined;
        for (let p = 0; p < opts.partitions; p++) {
          const applied = all.map((s) => s!.find((g) => g.partition === p)?.appliedIndex ?? 0);
          if (Math.min(...applied) < Math.max(...applied)) return undefined;
        }
        return true;
      }, 'every replica to catch up', 30_000),
    close,
  };
}
