import { InProcessNetwork, RaftHost, TesseraError, type GroupStorage, type Membership, type Message, type RaftConfigInput, type RaftGroup, type StateMachine, type StorageEngine, type TransportFactory } from '@tessera/raft';
import { memoryStorage } from '@tessera/storage-memory';

/** A counter state machine with snapshots; `applied` counts applications (double applies show up). */
export class Counter implements StateMachine<number> {
  value = 0;
  applied = 0;
  apply(cmd: Uint8Array): number {
    this.applied++;
    this.value += cmd[0] ?? 1;
    return this.value;
  }
  snapshot() {
    const v = this.value;
    return {
      async *chunks() {
        yield new TextEncoder().encode(String(v));
      },
    };
  }
  async restore(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    let s = '';
    for await (const c of chunks) s += new TextDecoder().decode(c);
    this.value = Number(s);
  }
}

interface Node {
  engine: StorageEngine;
  storage?: GroupStorage;
  host?: RaftHost;
  group?: RaftGroup<number>;
  sm: Counter;
}

/**
 * Nodes of one Raft group in this process over an in-process network. Each node's memory storage
 * engine outlives restarts; `filter` can drop messages.
 */
export class TestCluster {
  readonly net = new InProcessNetwork();
  readonly nodes = new Map<string, Node>();
  filter: (m: Message) => boolean = () => true;

  constructor(readonly config: RaftConfigInput = {}) {}

  /** Starts `id` with `membership` (omit for a node joining an existing group). */
  async start(id: string, membership?: Membership): Promise<RaftGroup<number>> {
    let n = this.nodes.get(id);
    if (!n) {
      n = { engine: memoryStorage(), sm: new Counter() };
      this.nodes.set(id, n);
    }
    const base = this.net.transport;
    const filtered: TransportFactory = (init) => {
      const t = base(init);
      return { nodeId: t.nodeId, start: () => t.start(), close: () => t.close(), send: (to, msgs) => t.send(to, msgs.filter((m) => this.filter(m))) };
    };
    n.sm = new Counter();
    n.host = new RaftHost({ nodeId: id, transport: filtered });
    await n.host.start();
    n.storage = await n.engine.openGroup('g');
    n.group = await n.host.addGroup({ group: 'g', storage: n.storage, stateMachine: n.sm, membership, config: { tickMs: 5, electionTicks: 10, ...this.config } });
    return n.group;
  }

  async stop(id: string): Promise<void> {
    const n = this.nodes.get(id)!;
    await n.host?.close();
    await n.storage?.close();
    n.host = undefined;
    n.group = undefined;
    n.storage = undefined;
  }

  group(id: string): RaftGroup<number> {
    const g = this.nodes.get(id)?.group;
    if (!g) throw new Error(`${id} is not running`);
    return g;
  }

  running(): string[] {
    return [...this.nodes].filter(([, n]) => n.group).map(([id]) => id);
  }

  /** The running leader (waits for one). */
  async leader(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const l = this.running().find((id) => this.group(id).role === 'leader');
      if (l) return l;
      if (Date.now() > deadline) throw new Error('no leader');
      await sleep(5);
    }
  }

  /** Proposes on the current leader, retrying retryable errors (what a client library does). */
  async propose(delta = 1, timeoutMs = 20_000): Promise<{ value: number; retries: number }> {
    return this.onLeader((g) => g.propose(new Uint8Array([delta])), timeoutMs);
  }

  /**
   * Runs `call` on the current leader's group, retrying retryable errors (a leader change, a
   * learner not yet acknowledged) until `timeoutMs`, as an operator's tooling does.
   */
  async onLeader<T>(call: (g: RaftGroup<number>) => Promise<T>, timeoutMs = 20_000): Promise<{ value: T; retries: number }> {
    const deadline = Date.now() + timeoutMs;
    let retries = 0;
    for (;;) {
      try {
        const l = await this.leader(timeoutMs);
        return { value: await call(this.group(l)), retries };
      } catch (err) {
        if (!TesseraError.isInstance(err) || !err.retryable || Date.now() > deadline) throw err;
        retries++;
        await sleep(2);
      }
    }
  }

  sm(id: string): Counter {
    return this.nodes.get(id)!.sm;
  }

  async close(): Promise<void> {
    for (const id of this.running()) await this.stop(id);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `cond` until it holds (throws after `ms`). */
export async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(5);
  }
}
