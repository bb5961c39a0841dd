import { afterEach, describe, expect, it } from 'vitest';
import { InProcessNetwork, MessageType, RaftHost, type Message, type RaftConfigInput, type RaftGroup, type SnapshotSource, type StateMachine, type StorageEngine, type TransportFactory } from '@tessera/raft';
import { memoryStorage } from '@tessera/storage-memory';

/** A state machine holding named blobs; its snapshot streams each blob as its own chunks. */
class BlobStore implements StateMachine<number> {
  blobs = new Map<string, Uint8Array>();
  applies = 0;
  restores = 0;
  apply(cmd: Uint8Array): number {
    this.applies++;
    const key = `k${cmd[0]! % 8}`;
    this.blobs.set(key, cmd.slice());
    return this.blobs.size;
  }
  snapshot(): SnapshotSource {
    const copy = [...this.blobs].map(([k, v]) => [k, v.slice()] as const);
    return {
      async *chunks() {
        for (const [k, v] of copy) {
          const head = new TextEncoder().encode(`${k}:${v.byteLength};`);
          yield head;
          for (let off = 0; off < v.byteLength; off += 1000) yield v.subarray(off, off + 1000);
        }
      },
    };
  }
  async restore(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    this.restores++;
    const parts: Uint8Array[] = [];
    for await (const c of chunks) parts.push(c);
    const all = Buffer.concat(parts);
    this.blobs.clear();
    let off = 0;
    while (off < all.length) {
      const semi = all.indexOf(0x3b, off);
      const [k, len] = all.subarray(off, semi).toString().split(':');
      const n = Number(len);
      this.blobs.set(k!, new Uint8Array(all.subarray(semi + 1, semi + 1 + n)));
      off = semi + 1 + n;
    }
  }
  digest(): string {
    return [...this.blobs].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${Buffer.from(v).toString('base64').slice(0, 16)}:${v.byteLength}`).join(',');
  }
}

interface Cluster {
  net: InProcessNetwork;
  ids: string[];
  engines: StorageEngine[];
  hosts: (RaftHost | undefined)[];
  groups: (RaftGroup<number> | undefined)[];
  sms: BlobStore[];
  /** Return false to drop a message. */
  filter: (m: Message) => boolean;
  start(i: number): Promise<void>;
  leader(): Promise<number>;
  close(): Promise<void>;
}

const clusters: Cluster[] = [];
afterEach(async () => {
  while (clusters.length) await clusters.pop()!.close();
});

async function cluster(config: RaftConfigInput): Promise<Cluster> {
  const net = new InProcessNetwork();
  const ids = ['a', 'b', 'c'];
  const c: Cluster = {
    net,
    ids,
    engines: ids.map(() => memoryStorage()),
    hosts: [],
    groups: [],
    sms: ids.map(() => new BlobStore()),
    filter: () => true,
    async start(i) {
      const base = net.transport;
      const filtered: TransportFactory = (init) => {
        const t = base(init);
        return { nodeId: t.nodeId, start: () => t.start(), close: () => t.close(), send: (to, msgs) => t.send(to, msgs.filter((m) => c.filter(m))) };
      };
      const host = new RaftHost({ nodeId: ids[i]!, transport: filtered });
      await host.start();
      c.sms[i] = new BlobStore();
      c.hosts[i] = host;
      c.groups[i] = await host.addGroup({
        group: 'g',
        storage: await c.engines[i]!.openGroup('g'),
        stateMachine: c.sms[i]!,
        membership: { voters: ids, learners: [] },
        config: { tickMs: 5, electionTicks: 10, ...config },
      });
    },
    async leader() {
      for (;;) {
        for (const g of c.groups) if (g?.role === 'leader') return c.groups.indexOf(g);
        const g = c.groups.find((x) => x)!;
        await g.waitForLeader(5000);
        await new Promise((r) => setImmediate(r));
      }
    },
    async close() {
      for (let i = 0; i < ids.length; i++) await c.hosts[i]?.close();
    },
  };
  for (let i = 0; i < ids.length; i++) await c.start(i);
  clusters.push(c);
  return c;
}

/** Engines keep data across a "restart", but openGroup refuses a group that is still open. */
async function reopen(c: Cluster, i: number): Promise<void> {
  const g = c.groups[i];
  await c.hosts[i]?.close();
  if (g) await (g as unknown as { opts: { storage: { close(): Promise<void> } } }).opts.storage.close();
  c.hosts[i] = undefined;
  c.groups[i] = undefined;
  await c.start(i);
}

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const blob = (i: number, size = 100) => new Uint8Array(size).fill(i % 251).map((v, j) => (j === 0 ? i : v));

describe('snapshot policy', () => {
  it('snapshots after N entries and compacts the log, keeping trailing entries', async () => {
    const c = await cluster({ snapshot: { entries: 50, bytes: 0, trailingEntries: 10 } });
    const l = await c.leader();
    for (let i = 0; i < 120; i++) await c.groups[l]!.propose(blob(i));
    await waitFor(() => c.groups[l]!.snapshots.lastSnapshotIndex >= 50);
    const st = c.groups[l]!.status();
    expect(st.snapshotIndex).toBeGreaterThan(0);
    // The core keeps `trailingEntries` behind the snapshot.
    expect(st.snapshotIndex).toBeLessThanOrEqual(c.groups[l]!.snapshots.lastSnapshotIndex - 10);
  });

  it('snapshots after M bytes', async () => {
    const c = await cluster({ snapshot: { entries: 0, bytes: 20_000, trailingEntries: 0 } });
    const l = await c.leader();
    for (let i = 0; i < 30; i++) await c.groups[l]!.propose(blob(i, 1000));
    await waitFor(() => c.groups[l]!.snapshots.lastSnapshotIndex > 0);
    expect(c.groups[l]!.snapshots.stats.taken).toBeGreaterThanOrEqual(1);
  });

  it('takes a snapshot on demand and prunes old ones', async () => {
    const c = await cluster({ snapshot: { entries: 0, bytes: 0, keep: 2 } });
    const l = await c.leader();
    const g = c.groups[l]!;
    const storage = (g as unknown as { opts: { storage: { snapshots: { list(): Promise<{ index: number }[]> } } } }).opts.storage;
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 5; i++) await g.propose(blob(i + round));
      const idx = await g.snapshot();
      expect(idx).toBe(g.status().appliedIndex);
    }
    const list = await storage.snapshots.list();
    expect(list).toHaveLength(2);
    expect(list[1]!.index).toBe(g.status().appliedIndex);
  });
});

describe('InstallSnapshot', () => {
  it('brings a follower whose entries were compacted away up to date, in many chunks', async () => {
    const c = await cluster({ snapshot: { entries: 20, bytes: 0, trailingEntries: 0, chunkBytes: 512 } });
    const l = await c.leader();
    const f = (l + 1) % 3;
    c.net.disconnect(c.ids[f]!);
    for (let i = 0; i < 60; i++) await c.groups[l]!.propose(blob(i, 3000));
    await waitFor(() => c.groups[l]!.status().snapshotIndex > 0);
    let chunks = 0;
    c.filter = (m) => {
      if (m.type === MessageType.Snap) chunks++;
      return true;
    };
    c.net.reconnect(c.ids[f]!);
    await waitFor(() => c.groups[f]!.status().appliedIndex === c.groups[l]!.status().appliedIndex);
    expect(c.groups[f]!.snapshots.stats.installed).toBe(1);
    expect(c.sms[f]!.digest()).toBe(c.sms[l]!.digest());
    expect(chunks).toBeGreaterThan(10);
    // The follower continues replicating normally afterwards.
    await c.groups[l]!.propose(blob(200));
    await waitFor(() => c.sms[f]!.digest() === c.sms[l]!.digest());
  });

  it('resumes after a lost chunk from the last acknowledged offset', async () => {
    const c = await cluster({ snapshot: { entries: 20, bytes: 0, trailingEntries: 0, chunkBytes: 1000 } });
    const l = await c.leader();
    const f = (l + 1) % 3;
    c.net.disconnect(c.ids[f]!);
    for (let i = 0; i < 40; i++) await c.groups[l]!.propose(blob(i, 4000));
    await waitFor(() => c.groups[l]!.status().snapshotIndex > 0);
    const offsets: number[] = [];
    let dropped = false;
    c.filter = (m) => {
      if (m.type !== MessageType.Snap) return true;
      offsets.push(m.snapshot!.offset);
      if (!dropped && m.snapshot!.offset === 10_000) {
        dropped = true;
        return false;
      }
      return true;
    };
    c.net.reconnect(c.ids[f]!);
    await waitFor(() => c.groups[f]!.snapshots.stats.installed === 1);
    expect(dropped).toBe(true);
    expect(c.sms[f]!.digest()).toBe(c.sms[l]!.digest());
    // Resent from the lost chunk, not from the start.
    const firstAgain = offsets.indexOf(10_000, offsets.indexOf(10_000) + 1);
    expect(firstAgain).toBeGreaterThan(0);
    expect(offsets.slice(firstAgain)).not.toContain(0);
  });
});

describe('restart', () => {
  it('restores the latest snapshot, replays the log after it, and applies nothing twice', async () => {
    const c = await cluster({ snapshot: { entries: 30, bytes: 0, trailingEntries: 5 }, commitPersistMs: 1 });
    const l = await c.leader();
    for (let i = 0; i < 100; i++) await c.groups[l]!.propose(blob(i));
    const f = (l + 1) % 3;
    await waitFor(() => c.groups[f]!.status().appliedIndex === c.groups[l]!.status().appliedIndex && c.groups[f]!.snapshots.lastSnapshotIndex > 0);
    // Let the lazily persisted commit index catch up, so the restart can replay without a leader.
    await new Promise((r) => setTimeout(r, 30));
    const before = c.sms[f]!.digest();
    const applied = c.groups[f]!.status().appliedIndex;
    const snapIndex = c.groups[f]!.snapshots.lastSnapshotIndex;
    await reopen(c, f);
    const g = c.groups[f]!;
    await waitFor(() => g.status().appliedIndex >= applied);
    expect(c.sms[f]!.restores).toBe(1);
    expect(c.sms[f]!.digest()).toBe(before);
    // Only entries after the snapshot were applied again.
    expect(c.sms[f]!.applies).toBeLessThanOrEqual(applied - snapIndex);
  });

  it('discards a log that an installed snapshot replaced when a crash came before the log was reset', async () => {
    // What a crash leaves between committing a received image and discarding the log it replaces:
    // the old log (entries 1-6 of term 1) beside a snapshot at index 4 of term 2.
    const engine = memoryStorage();
    const storage = await engine.openGroup('g');
    const data = new Uint8Array([1]);
    await storage.log.append([1, 2, 3, 4, 5, 6].map((index) => ({ index, term: 1, type: 0, data })));
    const w = await storage.snapshots.create({ index: 4, term: 2, membership: { voters: ['a'], learners: [] } });
    await w.write(new TextEncoder().encode('k1:1;'));
    await w.write(new Uint8Array([7]));
    await w.commit();
    const host = new RaftHost({ nodeId: 'a', transport: new InProcessNetwork().transport });
    await host.start();
    try {
      const sm = new BlobStore();
      const g = await host.addGroup({ group: 'g', storage, stateMachine: sm, config: { tickMs: 5, electionTicks: 10 } });
      expect(sm.restores).toBe(1);
      // Entries 5 and 6 of term 1 belong to the replaced history: gone, never applied.
      expect(storage.log.lastIndex()).toBe(4);
      expect(storage.log.firstIndex()).toBe(5);
      expect(sm.applies).toBe(0);
      expect(g.status().appliedIndex).toBe(4);
    } finally {
      await host.close();
    }
  });
});
