import type { SnapshotPolicy } from '../config.js';
import type { SnapshotNeed } from '../core/ready.js';
import { StorageError } from '../errors.js';
import type { Logger } from '../interfaces/logger.js';
import type { SnapshotReader, SnapshotStore, SnapshotWriter } from '../interfaces/snapshot-store.js';
import type { StateMachine } from '../interfaces/state-machine.js';
import { MessageType, message, type Membership, type Message, type NodeId, type SnapshotMeta } from '../types.js';
import { crc32 } from './crc32.js';
import type { SnapshotHost } from './group.js';

export interface SnapshotManagerOptions {
  readonly group: string;
  readonly store: SnapshotStore;
  readonly stateMachine: StateMachine<any>;
  readonly policy: SnapshotPolicy;
  readonly logger: Logger;
  readonly lastSnapshotIndex: number;
}

/** Chunks a leader keeps in flight per follower during InstallSnapshot. */
const WINDOW = 4;
/** Ticks without an acknowledgement before unacknowledged chunks are sent again. */
const RESEND_TICKS = 5;
/** Ticks without any progress before a transfer is abandoned (the follower returns to probing). */
const ABANDON_TICKS = 100;

/** An outgoing transfer of the leader's latest snapshot to one follower. */
interface Outgoing {
  readonly to: NodeId;
  readonly reader: SnapshotReader;
  readonly size: number;
  readonly checksum: number;
  /** Bytes the follower confirmed. */
  acked: number;
  /** Bytes sent (acked <= sent <= size). */
  sent: number;
  idleTicks: number;
  sending: boolean;
  done: boolean;
}

/** An incoming transfer on a follower. */
interface Incoming {
  readonly meta: SnapshotMeta;
  readonly size: number;
  readonly checksum: number;
  readonly writer: SnapshotWriter;
  /** Bytes written so far. */
  received: number;
  /** Serializes chunk writes. */
  chain: Promise<void>;
  installing: boolean;
}

/**
 * Snapshots for one group: the policy that decides when to take one, capturing the state machine
 * and writing the image to the snapshot store, compacting the log behind it, streaming the image
 * to followers that fell behind the log (InstallSnapshot), and installing images received from the
 * leader.
 *
 * Memory stays bounded by a few chunks whatever the image size: images are written as the state
 * machine yields chunks, sent `chunkBytes` at a time with at most {@link WINDOW} unacknowledged, and
 * written to the follower's store as they arrive.
 */
export class SnapshotManager {
  private host: SnapshotHost | undefined;
  private readonly opts: SnapshotManagerOptions;
  private entriesSince = 0;
  private bytesSince = 0;
  private lastIndex: number;
  private taking: Promise<number> | undefined;
  private readonly outgoing = new Map<NodeId, Outgoing>();
  private incoming: Incoming | undefined;
  private stopped = false;
  /** Checksum of the latest local image, computed once per snapshot index. */
  private checksumCache: { index: number; term: number; size: number; checksum: number } | undefined;
  /** Counters for status and metrics. */
  readonly stats = { taken: 0, sent: 0, installed: 0, lastTakeMs: 0, lastInstallMs: 0 };

  constructor(opts: SnapshotManagerOptions) {
    this.opts = opts;
    this.lastIndex = opts.lastSnapshotIndex;
  }

  get supported(): boolean {
    const sm = this.opts.stateMachine;
    return typeof sm.snapshot === 'function' && typeof sm.restore === 'function';
  }

  /** Index of the newest snapshot taken or installed here. */
  get lastSnapshotIndex(): number {
    return this.lastIndex;
  }

  /**
   * Restores the newest committed snapshot into the state machine; returns its metadata, or
   * undefined when there is none (or the state machine cannot restore).
   */
  static async restoreLatest(store: SnapshotStore, sm: StateMachine<any>, chunkBytes: number): Promise<SnapshotMeta | undefined> {
    if (typeof sm.restore !== 'function') return undefined;
    const reader = await store.latest();
    if (!reader) return undefined;
    try {
      await sm.restore(readChunks(reader, chunkBytes));
      return reader.meta;
    } finally {
      await reader.close();
    }
  }

  attach(host: SnapshotHost): void {
    this.host = host;
  }

  // ------------------------------------------------------------------ policy and capture

  /** Counts applied entries towards the snapshot policy. */
  noteApplied(entries: number, bytes: number): void {
    this.entriesSince += entries;
    this.bytesSince += bytes;
  }

  /** Called every tick: takes a snapshot if the policy says so, and drives outgoing transfers. */
  maybeSnapshot(applied: number): void {
    this.tickTransfers();
    if (!this.supported || this.taking || this.stopped) return;
    const p = this.opts.policy;
    const due = (p.entries > 0 && this.entriesSince >= p.entries) || (p.bytes > 0 && this.bytesSince >= p.bytes);
    if (due && applied > this.lastIndex) void this.take().catch((err) => this.opts.logger.warn({ group: this.opts.group, err: String(err) }, 'snapshot failed'));
  }

  /** Takes a snapshot now; resolves with its index (the previous one if nothing new was applied). */
  takeNow(): Promise<number> {
    if (!this.supported) return Promise.reject(new StorageError(`group ${this.opts.group}: the state machine does not support snapshots`));
    return this.take();
  }

  private take(): Promise<number> {
    if (this.taking) return this.taking;
    const p = this.doTake().finally(() => {
      this.taking = undefined;
    });
    this.taking = p;
    return p;
  }

  private async doTake(): Promise<number> {
    const host = this.host!;
    const t0 = host.clock.now();
    // Capture at an apply boundary: apply is paused only while the state machine captures.
    const { index, term, membership, source } = await host.capture(async () => {
      const index = host.applied();
      return { index, term: host.core.log.term(index), membership: host.appliedMembership(), source: await this.opts.stateMachine.snapshot!() };
    });
    if (index <= this.lastIndex) {
      source.release?.();
      return this.lastIndex;
    }
    this.entriesSince = 0;
    this.bytesSince = 0;
    const meta: SnapshotMeta = { index, term, membership };
    let writer: SnapshotWriter | undefined;
    try {
      writer = await this.opts.store.create(meta);
      for await (const chunk of source.chunks()) {
        if (this.stopped) throw new StorageError('group stopped while writing a snapshot');
        await writer.write(chunk);
      }
      await writer.commit();
    } catch (err) {
      await writer?.abort().catch(() => {});
      throw err;
    } finally {
      source.release?.();
    }
    this.lastIndex = Math.max(this.lastIndex, index);
    this.stats.taken++;
    this.stats.lastTakeMs = host.clock.now() - t0;
    host.observer?.snapshot?.(this.opts.group, 'take', index, this.stats.lastTakeMs);
    this.compactBehind(index);
    await this.opts.store.prune(this.opts.policy.keep);
    this.opts.logger.info({ group: this.opts.group, index, ms: this.stats.lastTakeMs }, 'snapshot taken');
    return index;
  }

  /** The snapshot at `index` is durable: drop the log before it, keeping trailing entries for slow followers. */
  private compactBehind(index: number): void {
    const host = this.host!;
    const upTo = Math.max(0, index - this.opts.policy.trailingEntries);
    if (upTo <= host.core.log.snapIndex) return;
    host.core.compact(upTo);
    host.io.compact(upTo, () => {});
  }

  // ------------------------------------------------------------------ protocol

  /** Snapshot work handed out by the core. */
  handle(need: SnapshotNeed): void {
    if (this.stopped) return;
    switch (need.kind) {
      case 'send':
        void this.startSend(need.to);
        return;
      case 'ack':
        this.onAck(need.to, need.message!);
        return;
      case 'receive':
        this.onChunk(need.message!);
        return;
    }
  }

  // ----- leader side

  private async startSend(to: NodeId): Promise<void> {
    const host = this.host!;
    if (this.outgoing.has(to)) return;
    const placeholder = { to, sending: true } as Outgoing;
    this.outgoing.set(to, placeholder);
    let reader: SnapshotReader | undefined;
    try {
      reader = await this.opts.store.latest();
      if (!reader) throw new StorageError(`group ${this.opts.group}: a follower needs a snapshot but none is stored`);
      const checksum = await this.imageChecksum(reader);
      if (this.stopped || this.outgoing.get(to) !== placeholder || host.core.role !== 'leader') {
        await reader.close();
        if (this.outgoing.get(to) === placeholder) this.outgoing.delete(to);
        return;
      }
      const t: Outgoing = { to, reader, size: reader.size, checksum, acked: 0, sent: 0, idleTicks: 0, sending: false, done: false };
      this.outgoing.set(to, t);
      this.opts.logger.info({ group: this.opts.group, to, index: reader.meta.index, bytes: reader.size }, 'sending snapshot');
      void this.pump(t);
    } catch (err) {
      await reader?.close().catch(() => {});
      this.outgoing.delete(to);
      host.core.snapshotSent(to, 0, false);
      host.schedule();
      this.opts.logger.warn({ group: this.opts.group, to, err: String(err) }, 'could not start snapshot transfer');
    }
  }

  private async imageChecksum(reader: SnapshotReader): Promise<number> {
    const c = this.checksumCache;
    if (c && c.index === reader.meta.index && c.term === reader.meta.term && c.size === reader.size) return c.checksum;
    let crc = 0;
    const step = Math.max(this.opts.policy.chunkBytes, 1 << 20);
    for (let off = 0; off < reader.size; off += step) crc = crc32(await reader.read(off, Math.min(step, reader.size - off)), crc);
    this.checksumCache = { index: reader.meta.index, term: reader.meta.term, size: reader.size, checksum: crc };
    return crc;
  }

  /** Sends chunks until the window is full or the image is fully sent. */
  private async pump(t: Outgoing): Promise<void> {
    if (t.sending || t.done) return;
    t.sending = true;
    const host = this.host!;
    const chunkBytes = this.opts.policy.chunkBytes;
    try {
      while (!this.stopped && !t.done && this.outgoing.get(t.to) === t && t.sent - t.acked < WINDOW * chunkBytes) {
        const offset = t.sent;
        const len = Math.min(chunkBytes, t.size - offset);
        const data = len > 0 ? await t.reader.read(offset, len) : new Uint8Array(0);
        if (this.outgoing.get(t.to) !== t || host.core.role !== 'leader') return;
        const done = offset + data.byteLength >= t.size;
        const m = message(MessageType.Snap, this.opts.group, host.id, t.to, host.core.term);
        m.snapshot = { meta: t.reader.meta, offset, data, done };
        m.commit = t.size;
        m.context = t.checksum;
        host.send([m]);
        t.sent = offset + data.byteLength;
        if (done) break;
      }
    } catch (err) {
      this.opts.logger.warn({ group: this.opts.group, to: t.to, err: String(err) }, 'snapshot read failed');
      this.finishSend(t, false);
    } finally {
      t.sending = false;
    }
  }

  private onAck(from: NodeId, m: Message): void {
    const t = this.outgoing.get(from);
    if (!t || t.done || !t.reader || m.index !== t.reader.meta.index) return;
    t.idleTicks = 0;
    if (m.reject) {
      // The follower has a different partial image or lost its state: restart from its offset (usually 0).
      t.acked = t.sent = Math.min(m.commit, t.size);
      void this.pump(t);
      return;
    }
    if (m.logTerm === 1) {
      // Installed (or already had everything up to the snapshot).
      this.finishSend(t, true);
      return;
    }
    // The follower reports how much it holds. Ahead of what we sent: it kept a partial copy of this
    // same image (checked by size and checksum) from an earlier transfer, so continue from there.
    if (m.commit > t.sent) t.sent = Math.min(m.commit, t.size);
    if (m.commit > t.acked) t.acked = Math.min(m.commit, t.size);
    if (m.commit < t.acked || m.commit < t.sent - WINDOW * this.opts.policy.chunkBytes) t.sent = t.acked = Math.min(m.commit, t.size);
    void this.pump(t);
  }

  private finishSend(t: Outgoing, ok: boolean): void {
    if (t.done) return;
    t.done = true;
    if (this.outgoing.get(t.to) === t) this.outgoing.delete(t.to);
    void t.reader.close().catch(() => {});
    if (ok) this.stats.sent++;
    const host = this.host!;
    host.core.snapshotSent(t.to, t.reader.meta.index, ok);
    host.schedule();
  }

  /** Resends unacknowledged chunks of stalled transfers; abandons dead ones. */
  private tickTransfers(): void {
    const host = this.host;
    if (!host) return;
    for (const t of [...this.outgoing.values()]) {
      if (!t.reader) continue;
      if (host.core.role !== 'leader') {
        this.finishSend(t, false);
        continue;
      }
      t.idleTicks++;
      if (t.idleTicks >= ABANDON_TICKS) {
        this.finishSend(t, false);
      } else if (t.idleTicks % RESEND_TICKS === 0) {
        // A chunk or its acknowledgement was lost: go back to the last acknowledged offset.
        t.sent = t.acked;
        void this.pump(t);
      }
    }
  }

  // ----- follower side

  private reply(to: NodeId, index: number, received: number, opts: { reject?: boolean; installed?: boolean } = {}): void {
    const host = this.host!;
    const r = message(MessageType.SnapResp, this.opts.group, host.id, to, host.core.term);
    r.index = index;
    r.commit = received;
    r.reject = opts.reject === true;
    r.logTerm = opts.installed ? 1 : 0;
    host.send([r]);
  }

  private onChunk(m: Message): void {
    const host = this.host!;
    const chunk = m.snapshot;
    if (!chunk) return;
    const meta = chunk.meta;
    if (meta.index <= host.core.log.committed) {
      // We already hold everything the snapshot covers.
      this.reply(m.from, meta.index, m.commit, { installed: true });
      return;
    }
    let inc = this.incoming;
    const same = inc && inc.meta.index === meta.index && inc.meta.term === meta.term && inc.size === m.commit && inc.checksum === m.context;
    if (inc && !same) {
      // A different image: drop the partial one (it was never committed, so nothing is lost).
      if (!inc.installing) {
        void inc.writer.abort().catch(() => {});
        this.incoming = inc = undefined;
      } else return;
    }
    if (!inc) {
      if (chunk.offset !== 0) {
        this.reply(m.from, meta.index, 0, { reject: true });
        return;
      }
      const created = this.opts.store.create(meta);
      const fresh: Incoming = { meta, size: m.commit, checksum: m.context, writer: undefined as unknown as SnapshotWriter, received: 0, chain: Promise.resolve(), installing: false };
      fresh.chain = created.then((w) => {
        (fresh as { writer: SnapshotWriter }).writer = w;
      });
      this.incoming = inc = fresh;
    }
    const cur = inc;
    cur.chain = cur.chain
      .then(async () => {
        if (this.incoming !== cur || cur.installing) return;
        if (chunk.offset !== cur.received) {
          // Out of order or duplicate: tell the leader where we are.
          this.reply(m.from, meta.index, cur.received);
          return;
        }
        await cur.writer.write(chunk.data);
        cur.received += chunk.data.byteLength;
        if (!chunk.done) {
          this.reply(m.from, meta.index, cur.received);
          return;
        }
        cur.installing = true;
        await this.install(cur, m.from);
      })
      .catch((err) => {
        this.opts.logger.warn({ group: this.opts.group, err: String(err) }, 'snapshot receive failed');
        if (this.incoming === cur) this.incoming = undefined;
        void cur.writer?.abort().catch(() => {});
        this.reply(m.from, meta.index, 0, { reject: true });
      });
  }

  private async install(inc: Incoming, from: NodeId): Promise<void> {
    const host = this.host!;
    const t0 = host.clock.now();
    if (inc.received !== inc.size) throw new StorageError(`snapshot size mismatch: got ${inc.received}, expected ${inc.size}`);
    if (inc.meta.index <= host.core.log.committed) {
      // The log caught up while the image was in transit: it holds nothing new (see RaftGroup.installSnapshot).
      this.dropStale(inc, from);
      return;
    }
    await inc.writer.commit();
    // Verify the committed image before it replaces our state.
    const reader = await this.opts.store.latest();
    if (!reader || reader.meta.index !== inc.meta.index) throw new StorageError('installed snapshot is not the latest one');
    try {
      let crc = 0;
      const step = Math.max(this.opts.policy.chunkBytes, 1 << 20);
      for (let off = 0; off < reader.size; off += step) crc = crc32(await reader.read(off, Math.min(step, reader.size - off)), crc);
      if (crc !== inc.checksum) throw new StorageError('snapshot checksum mismatch');
      this.checksumCache = { index: reader.meta.index, term: reader.meta.term, size: reader.size, checksum: crc };
      const restored = await host.install(inc.meta, () => this.opts.stateMachine.restore!(readChunks(reader, this.opts.policy.chunkBytes)));
      if (!restored) {
        // Committed to the store but not restored: a valid image of the committed prefix, so a
        // restart may start from it; this run keeps the newer state it applied from the log.
        this.incoming = undefined;
        this.reply(from, inc.meta.index, inc.received, { installed: true });
        return;
      }
    } finally {
      await reader.close();
    }
    this.incoming = undefined;
    this.lastIndex = Math.max(this.lastIndex, inc.meta.index);
    this.entriesSince = 0;
    this.bytesSince = 0;
    this.stats.installed++;
    this.stats.lastInstallMs = host.clock.now() - t0;
    host.observer?.snapshot?.(this.opts.group, 'install', inc.meta.index, this.stats.lastInstallMs);
    await this.opts.store.prune(this.opts.policy.keep);
    this.reply(from, inc.meta.index, inc.received, { installed: true });
    this.opts.logger.info({ group: this.opts.group, index: inc.meta.index, bytes: inc.size, ms: this.stats.lastInstallMs }, 'snapshot installed');
  }

  /** Discards a completely received image the log has overtaken, and tells the leader we hold its index. */
  private dropStale(inc: Incoming, from: NodeId): void {
    this.incoming = undefined;
    void inc.writer.abort().catch(() => {});
    this.reply(from, inc.meta.index, inc.received, { installed: true });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.outgoing.values()) {
      t.done = true;
      await t.reader?.close().catch(() => {});
    }
    this.outgoing.clear();
    const inc = this.incoming;
    this.incoming = undefined;
    if (inc) {
      await inc.chain.catch(() => {});
      if (!inc.installing) await inc.writer?.abort().catch(() => {});
    }
    await this.taking?.catch(() => {});
  }
}

/** Reads a stored image as a stream of chunks (bounded memory). */
async function* readChunks(reader: SnapshotReader, chunkBytes: number): AsyncIterable<Uint8Array> {
  const step = Math.max(chunkBytes, 64 * 1024);
  for (let off = 0; off < reader.size; off += step) yield await reader.read(off, Math.min(step, reader.size - off));
}

export type { Membership };
