/**
 * `pnpm bench snapshot`: snapshot costs on file storage (sync on).
 * 1. take: time for `group.snapshot()` with 10 MB and 100 MB of state (capture + write + commit);
 * 2. install: time for a follower that fell behind the compacted log to receive and install it;
 * 3. restart: time from restarting every replica of a group with 1,000,000 applied entries until it
 *    serves a linearizable read, with a snapshot every 100,000 entries against no snapshots.
 * `--quick` scales states and entry counts down by 10.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InProcessNetwork, RaftHost, type GroupStorage, type RaftConfigInput, type RaftGroup, type SnapshotSource, type StateMachine, type StorageEngine } from '@tessera/raft';
import { fileStorage } from '@tessera/storage-file';
import type { Benchmark } from './harness.js';

/** Fixed-size values under integer keys; commands overwrite one key. Snapshot = copy of the values. */
class Table implements StateMachine<number> {
  values: Uint8Array[] = [];
  constructor(readonly valueBytes: number) {}
  apply(cmd: Uint8Array): number {
    const key = new DataView(cmd.buffer, cmd.byteOffset, 4).getUint32(0);
    this.values[key] = cmd.slice(4);
    return key;
  }
  fill(count: number): void {
    for (let i = 0; i < count; i++) this.values[i] = new Uint8Array(this.valueBytes).fill(i & 0xff);
  }
  snapshot(): SnapshotSource {
    const copy = this.values.slice();
    return {
      async *chunks() {
        const out = new Uint8Array(1 << 20);
        let n = 0;
        for (let i = 0; i < copy.length; i++) {
          const v = copy[i] ?? new Uint8Array(0);
          if (n + 8 + v.byteLength > out.byteLength) {
            yield out.slice(0, n);
            n = 0;
          }
          const dv = new DataView(out.buffer);
          dv.setUint32(n, i);
          dv.setUint32(n + 4, v.byteLength);
          out.set(v, n + 8);
          n += 8 + v.byteLength;
        }
        if (n > 0) yield out.slice(0, n);
      },
    };
  }
  async restore(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    this.values = [];
    for await (const c of chunks) {
      const dv = new DataView(c.buffer, c.byteOffset, c.byteLength);
      for (let off = 0; off < c.byteLength; ) {
        const k = dv.getUint32(off);
        const len = dv.getUint32(off + 4);
        this.values[k] = c.slice(off + 8, off + 8 + len);
        off += 8 + len;
      }
    }
  }
}

interface Replica {
  engine: StorageEngine;
  storage: GroupStorage;
  host: RaftHost;
  group: RaftGroup<number>;
  sm: Table;
}

async function startReplica(net: InProcessNetwork, dir: string, id: string, ids: string[], config: RaftConfigInput, valueBytes: number): Promise<Replica> {
  const engine = await fileStorage({ dir: join(dir, id) });
  const storage = await engine.openGroup('g');
  const host = new RaftHost({ nodeId: id, transport: net.transport });
  await host.start();
  const sm = new Table(valueBytes);
  const group = await host.addGroup({ group: 'g', storage, stateMachine: sm, membership: { voters: ids, learners: [] }, config: { tickMs: 20, electionTicks: 10, ...config } });
  return { engine, storage, host, group, sm };
}

async function stopReplica(r: Replica): Promise<void> {
  await r.host.close();
  await r.storage.close();
  await r.engine.close();
}

async function leaderOf(rs: Replica[]): Promise<Replica> {
  const id = await rs[0]!.group.waitForLeader(20_000);
  for (;;) {
    const l = rs.find((r) => r.group.role === 'leader' && r.host.nodeId === id) ?? rs.find((r) => r.group.role === 'leader');
    if (l) return l;
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function waitUntil(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 2));
}

function command(key: number, valueBytes: number): Uint8Array {
  const b = new Uint8Array(4 + valueBytes);
  new DataView(b.buffer).setUint32(0, key);
  b.fill(key & 0xff, 4);
  return b;
}

const bench: Benchmark = async (ctx) => {
  const scale = ctx.quick ? 10 : 1;
  const ids = ['n1', 'n2', 'n3'];

  // ---------------------------------------------------------------- take and install
  for (const mb of [10, 100]) {
    const stateBytes = (mb * 1024 * 1024) / scale;
    const valueBytes = 1000;
    const keys = Math.floor(stateBytes / valueBytes);
    const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-snap-'));
    const net = new InProcessNetwork();
    const cfg: RaftConfigInput = { snapshot: { entries: 0, bytes: 0, trailingEntries: 0, chunkBytes: 1 << 20 } };
    const rs = await Promise.all(ids.map((id) => startReplica(net, dir, id, ids, cfg, valueBytes)));
    const leader = await leaderOf(rs);
    // Same state on every replica (as if built by the log), then a few real commands.
    for (const r of rs) r.sm.fill(keys);
    for (let i = 0; i < 10; i++) await leader.group.propose(command(i, valueBytes));
    await waitUntil(() => rs.every((r) => r.group.status().appliedIndex === leader.group.status().appliedIndex));
    const follower = rs.find((r) => r !== leader)!;
    net.disconnect(follower.host.nodeId);
    for (let i = 0; i < 10; i++) await leader.group.propose(command(i, valueBytes));
    const t0 = performance.now();
    await leader.group.snapshot();
    const takeMs = performance.now() - t0;
    ctx.report({ benchmark: 'snapshot', params: { phase: 'take', stateMB: mb / scale, storage: 'file' }, opsPerSec: 1000 / takeMs, p50Ms: takeMs, p99Ms: takeMs, extra: { MBps: mb / scale / (takeMs / 1000) } });
    ctx.log(`take ${mb / scale} MB: ${takeMs.toFixed(0)} ms`);
    follower.sm.values = [];
    const t1 = performance.now();
    net.reconnect(follower.host.nodeId);
    await waitUntil(() => follower.group.snapshots.stats.installed > 0);
    const installMs = performance.now() - t1;
    ctx.report({ benchmark: 'snapshot', params: { phase: 'install', stateMB: mb / scale, storage: 'file' }, opsPerSec: 1000 / installMs, p50Ms: installMs, p99Ms: installMs, extra: { MBps: mb / scale / (installMs / 1000) } });
    ctx.log(`install ${mb / scale} MB: ${installMs.toFixed(0)} ms`);
    for (const r of rs) await stopReplica(r);
    await rm(dir, { recursive: true, force: true });
  }

  // ---------------------------------------------------------------- restart to serving
  const entries = 1_000_000 / scale;
  const every = 100_000 / scale;
  for (const withSnapshots of [true, false]) {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-restart-'));
    const net = new InProcessNetwork();
    const cfg: RaftConfigInput = { snapshot: withSnapshots ? { entries: every, bytes: 0, trailingEntries: 5000 / scale } : { entries: 0, bytes: 0 }, commitPersistMs: 50 };
    let rs = await Promise.all(ids.map((id) => startReplica(net, dir, id, ids, cfg, 100)));
    const leader = await leaderOf(rs);
    let done = 0;
    const writer = async () => {
      while (done < entries) {
        const k = done++;
        await leader.group.propose(command(k % 10_000, 96));
      }
    };
    const tw = performance.now();
    await Promise.all(Array.from({ length: 512 }, writer));
    ctx.log(`wrote ${entries} entries in ${((performance.now() - tw) / 1000).toFixed(1)} s (snapshots ${withSnapshots ? 'on' : 'off'})`);
    const applied = leader.group.status().appliedIndex;
    await waitUntil(() => rs.every((r) => r.group.status().appliedIndex === applied && (!withSnapshots || r.group.snapshots.lastSnapshotIndex >= applied - every)));
    await new Promise((r) => setTimeout(r, 120)); // let the lazily persisted commit index land
    for (const r of rs) await stopReplica(r);
    const net2 = new InProcessNetwork();
    const t0 = performance.now();
    rs = await Promise.all(ids.map((id) => startReplica(net2, dir, id, ids, cfg, 100)));
    const l2 = await leaderOf(rs);
    await l2.group.read(() => l2.sm.values.length);
    const ms = performance.now() - t0;
    ctx.report({ benchmark: 'snapshot', params: { phase: 'restart-to-serving', entries, snapshotEvery: withSnapshots ? every : 'never', storage: 'file' }, opsPerSec: 1000 / ms, p50Ms: ms, p99Ms: ms, extra: { appliedAtRestart: applied } });
    ctx.log(`restart with ${entries} entries, snapshots ${withSnapshots ? 'on' : 'off'}: ${ms.toFixed(0)} ms to serve`);
    for (const r of rs) await stopReplica(r);
    await rm(dir, { recursive: true, force: true });
  }
};
export default bench;
