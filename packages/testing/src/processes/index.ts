/**
 * Tessera nodes as child processes that crash tests SIGKILL and restart: a cluster of three
 * forked fixture scripts on ephemeral loopback ports and temp dirs, with an address book kept up
 * to date over IPC (a restarted node comes back on new ports and tells the others).
 *
 * The fixture script speaks a small IPC protocol:
 * - it reads `NODE_ID`, `PEERS` (JSON: id -> {@link Addresses}) and the cluster's extra
 *   environment, starts, and sends `{ type: 'ready', raft, client }`;
 * - it accepts `{ type: 'peers', peers }` (new addresses) and `{ type: 'status', req }`,
 *   answered by `{ type: 'reply', req, status }` with one {@link PartitionStatus} per replica.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@tessera/raft';

/** What a node process reports about one of its replicas. */
export interface PartitionStatus {
  partition: number;
  role: string;
  leader?: string;
  appliedIndex: number;
  snapshotIndex: number;
}

/** Where a node process listens. */
export interface Addresses {
  raft: string;
  client: string;
}

/**
 * For fixture scripts: a logger that writes warnings and errors as JSON lines to stderr, whose
 * tail {@link NodeProcess} keeps and {@link ProcessCluster.report} prints (a group that failed,
 * a peer that cannot be reached). Debug and info are dropped.
 */
export function stderrLogger(nodeId: string): Logger {
  const plain = (_k: string, v: unknown) => (v instanceof Error ? `${v.name}: ${v.message}` : v);
  const line = (level: string) => (obj: object, msg?: string) => {
    process.stderr.write(`${JSON.stringify({ t: Date.now(), level, node: nodeId, msg, ...obj }, plain)}\n`);
  };
  const drop = () => {};
  return { debug: drop, info: drop, warn: line('warn'), error: line('error') };
}

/** Polls `probe` until it returns something other than undefined (bounded polling, no fixed sleeps). */
export async function until<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let v: T | undefined;
    try {
      v = await probe();
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** One node process: start (again), ask for status, SIGKILL. */
export class NodeProcess {
  child: ChildProcess | undefined;
  address: Addresses | undefined;
  /** The last 8,000 characters the process wrote to stderr. */
  stderr = '';
  private seq = 0;
  private readonly waiting = new Map<number, (v: any) => void>();

  constructor(
    readonly id: string,
    private readonly script: string,
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
    const peers = JSON.stringify(Object.fromEntries(this.book));
    const child = fork(this.script, [], { env: { ...process.env, ...this.env, NODE_ID: this.id, PEERS: peers }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
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

  /** The replicas' status, or undefined when the process is down or does not answer within 2 s. */
  async status(): Promise<PartitionStatus[] | undefined> {
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
  /** The node that leads partition `p` (not `not`), once one does. */
  leaderOf(p: number, not?: string): Promise<NodeProcess>;
  /** Waits until every replica of every partition has applied what the most advanced one has. */
  caughtUp(): Promise<void>;
  /**
   * What each node is doing, for a failing test's message: whether it runs, where, its replicas'
   * status and the tail of its stderr.
   */
  report(): Promise<string>;
  /** Kills every node and removes the data directories. */
  close(): Promise<void>;
}

export interface ProcessClusterOptions {
  /** The fixture script each node runs (see the module comment for its protocol). */
  readonly script: string;
  /** A file the script imports that must exist (a package's built entry point), checked first. */
  readonly requires?: { readonly file: string; readonly hint: string };
  readonly partitions: number;
  /** Passed to the script as `SNAPSHOT_ENTRIES` (0: the script's default policy). */
  readonly snapshotEntries?: number;
  /** Prefix of the temporary root directory. */
  readonly tmpPrefix?: string;
}

/**
 * Starts three nodes (`n1`..`n3`) in child processes, each with `MEMBERS`, `PARTITIONS`, `DIR`
 * (its own temp dir) and `SNAPSHOT_ENTRIES` in its environment.
 */
export async function processCluster(opts: ProcessClusterOptions): Promise<ProcessCluster> {
  if (opts.requires && !existsSync(opts.requires.file)) throw new Error(`${opts.requires.file} is missing: ${opts.requires.hint}`);
  const ids = ['n1', 'n2', 'n3'];
  const root = mkdtempSync(join(tmpdir(), opts.tmpPrefix ?? 'tessera-processes-'));
  const book = new Map<string, Addresses>();
  const env = (id: string) => ({ MEMBERS: JSON.stringify(ids), PARTITIONS: String(opts.partitions), DIR: join(root, id), SNAPSHOT_ENTRIES: String(opts.snapshotEntries ?? 0) });
  const nodes: NodeProcess[] = ids.map((id) => new NodeProcess(id, opts.script, env(id), book, () => nodes));
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
      until(
        async () => {
          for (const n of nodes) {
            if (n.id === not) continue;
            const s = await n.status();
            if (s?.find((g) => g.partition === p)?.role === 'leader') return n;
          }
          return undefined;
        },
        `a leader of partition ${p}`,
        30_000,
      ),
    caughtUp: async () => {
      await until(
        async () => {
          const all = await Promise.all(nodes.map((n) => n.status()));
          if (all.some((s) => s === undefined)) return undefined;
          for (let p = 0; p < opts.partitions; p++) {
            const applied = all.map((s) => s!.find((g) => g.partition === p)?.appliedIndex ?? 0);
            if (Math.min(...applied) < Math.max(...applied)) return undefined;
          }
          return true;
        },
        'every replica to catch up',
        30_000,
      );
    },
    report: async () => {
      const parts = await Promise.all(
        nodes.map(async (n) => {
          const status = await n.status();
          const rows = (status ?? []).map((g) => `  p${g.partition}: ${g.role}, leader ${g.leader ?? '-'}, applied ${g.appliedIndex}, snapshot ${g.snapshotIndex}`);
          const state = n.running ? `running at ${n.address?.client}` : 'down';
          return [`${n.id} (${state}${n.running && status === undefined ? ', no status answer' : ''})`, ...rows, n.stderr ? `  stderr:\n${n.stderr.slice(-2000)}` : '  stderr: (empty)'].join('\n');
        }),
      );
      return parts.join('\n');
    },
    close,
  };
}
