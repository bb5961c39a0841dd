/**
 * The state machine of one partition: every resource instance hashed to the partition, the
 * session table, and the log clock. Commands arrive as envelopes (envelope.ts).
 */
import type { SnapshotSource, StateMachine } from '@tessera/raft';
import { copyBinaries } from './binary.js';
import { EntryKind, entryPackr, entryViewPackr, isRunsEntry, type BatchedCommand, type CommandRun } from './envelope.js';
import { ResourceError, type ApplyContext, type ResourceDefinition, type SessionEndContext } from './resource.js';
import { SessionTable, type Outcome, type Session } from './sessions.js';

/** Snapshot image version written by this build. */
export const SNAPSHOT_VERSION = 1;
const CHUNK_BYTES = 1 << 20;

interface Instance {
  readonly def: ResourceDefinition;
  readonly name: string;
  state: unknown;
}

export type EventListener = (type: string, name: string, event: unknown, index: number) => void;

export interface PartitionStateMachineOptions {
  readonly partition: number;
  /** Resource types by type name. */
  readonly resources: ReadonlyMap<string, ResourceDefinition>;
  /** Receives resource events as commands are applied (used for subscriptions). */
  readonly onEvent?: EventListener;
  /**
   * Called after a snapshot replaced the state (`restore`): the events of the entries the snapshot
   * covers were never emitted here, so subscribers must start again from the new state.
   */
  readonly onRestore?: (index: number) => void;
}

interface Waiter {
  readonly index: number;
  readonly resolve: () => void;
}

const instanceKey = (type: string, name: string) => `${type}\u0000${name}`;

function fail(code: string, message: string, index: number): Outcome {
  return { ok: false, code, message, index };
}

/**
 * What `apply` sees of the command it runs. One instance per state machine, refilled for every
 * command (a fresh object and `emit` closure per command showed up in profiles): it is valid only
 * during the `apply` call, as documented on {@link ApplyContext}.
 */
class CommandContext implements ApplyContext {
  type = '';
  name = '';
  key: string | null = null;
  index = 0;
  time = 0;
  session = '';

  constructor(private readonly onEvent: EventListener | undefined) {}

  /** Bound, so `const { emit } = ctx` works as it did with a per-command closure. */
  readonly emit = (event: unknown): void => {
    this.onEvent?.(this.type, this.name, event, this.index);
  };
}

/** Deterministic multiplexer of resources, with the session dedup table, over one Raft group. */
export class PartitionStateMachine implements StateMachine<Outcome> {
  readonly partition: number;
  private readonly resources: ReadonlyMap<string, ResourceDefinition>;
  private readonly onEvent: EventListener | undefined;
  private readonly onRestore: ((index: number) => void) | undefined;
  readonly sessions = new SessionTable();
  private instances = new Map<string, Instance>();
  /** Log time: the largest leader-stamped time applied so far. */
  logTime = 0;
  /** Index of the last entry this state machine applied (or restored). */
  appliedIndex = 0;
  private waiters: Waiter[] = [];
  /** The context of the command being applied (one object, refilled per command). */
  private readonly ctx: CommandContext;

  constructor(opts: PartitionStateMachineOptions) {
    this.partition = opts.partition;
    this.resources = opts.resources;
    this.onEvent = opts.onEvent;
    this.onRestore = opts.onRestore;
    this.ctx = new CommandContext(opts.onEvent);
  }

  get instanceCount(): number {
    return this.instances.size;
  }

  apply(command: Uint8Array, index: number): Outcome {
    let out: Outcome;
    try {
      // Runs are decoded with views instead of copies of their byte strings (see copiesBinaryInputs).
      const borrowed = isRunsEntry(command);
      out = this.applyEntry((borrowed ? entryViewPackr : entryPackr).unpack(command) as unknown[], index, borrowed);
    } catch (err) {
      // A malformed entry fails the same way on every replica and changes nothing.
      out = fail('MALFORMED_ENTRY', (err as Error).message, index);
    }
    this.appliedIndex = index;
    if (this.waiters.length > 0) this.releaseWaiters();
    return out;
  }

  private applyEntry(e: unknown[], index: number, borrowed: boolean): Outcome {
    const kind = e[0];
    const time = (this.logTime = Math.max(this.logTime, e[1] as number));
    if (this.sessions.size > 0) for (const s of this.sessions.sweep(time)) this.endSession(s, 'expired', index, false);
    switch (kind) {
      case EntryKind.Command:
        return this.applyCommand(e, index, time);
      case EntryKind.Batch: {
        const cmds = e[2] as unknown[][];
        const outs = new Array<Outcome>(cmds.length);
        for (let i = 0; i < cmds.length; i++) outs[i] = this.applyOne(cmds[i] as BatchedCommand, index, time);
        return { ok: true, value: outs, index };
      }
      case EntryKind.Runs: {
        const runs = e[2] as CommandRun[];
        let n = 0;
        // Checked before anything is applied, so a malformed entry changes nothing.
        for (const r of runs) {
          if (!Array.isArray(r) || r.length !== 10 || !Array.isArray(r[7]) || !Array.isArray(r[8]) || !Array.isArray(r[9]) || r[7].length !== r[8].length || r[7].length !== r[9].length) throw new Error('malformed command run');
          n += r[7].length;
        }
        const outs = new Array<Outcome>(n);
        let o = 0;
        for (const [timeoutMs, sid, open, ackBelow, type, name, op, seqs, inputs, keys] of runs) {
          for (let i = 0; i < seqs.length; i++) outs[o++] = this.applyFields(timeoutMs, sid, seqs[i]!, ackBelow, open, type, name, op, inputs[i], keys[i]!, index, time, borrowed);
        }
        return { ok: true, value: outs, index };
      }
      case EntryKind.Clock:
        return { ok: true, value: null, index };
      case EntryKind.KeepAlive: {
        const s = this.liveSession(e[3] as string, time, index, e[4] as boolean, e[2] as number);
        return s ? { ok: true, value: null, index } : fail('SESSION_EXPIRED', `session ${e[3] as string} expired or unknown on partition ${this.partition}`, index);
      }
      case EntryKind.Close: {
        const s = this.sessions.get(e[2] as string);
        if (s) this.endSession(s, 'closed', index, true);
        return { ok: true, value: null, index };
      }
      default:
        return fail('MALFORMED_ENTRY', `unknown entry kind ${String(kind)}`, index);
    }
  }

  /** The session, touched; opened if absent and `open`; undefined if expired or unknown. */
  private liveSession(id: string, time: number, index: number, open: boolean, timeoutMs: number): Session | undefined {
    let s = this.sessions.get(id);
    if (s && SessionTable.expired(s, time)) {
      this.endSession(s, 'expired', index, true);
      s = undefined;
    }
    if (!s) {
      if (!open) return undefined;
      s = this.sessions.open(id, time, timeoutMs);
    }
    s.lastSeen = time;
    s.timeoutMs = timeoutMs;
    return s;
  }

  private applyCommand(e: unknown[], index: number, time: number): Outcome {
    return this.applyOne(e.slice(2) as BatchedCommand, index, time);
  }

  private applyOne(c: BatchedCommand, index: number, time: number): Outcome {
    const [timeoutMs, sid, seq, ackBelow, open, type, name, op, input, key] = c;
    return this.applyFields(timeoutMs, sid, seq, ackBelow, open, type, name, op, input, key, index, time, false);
  }

  /** Applies one command; `borrowed`: binary values in `input` are views into the entry. */
  private applyFields(timeoutMs: number, sid: string, seq: number, ackBelow: number, open: boolean, type: string, name: string, op: string, input: unknown, key: string | null, index: number, time: number, borrowed: boolean): Outcome {
    const s = this.liveSession(sid, time, index, open, timeoutMs);
    if (!s) return fail('SESSION_EXPIRED', `session ${sid} expired or unknown on partition ${this.partition}`, index);
    if (seq < s.floor) return fail('STALE_REQUEST', `request ${seq} of session ${sid} was already acknowledged by its client`, index);
    const prev = s.results.get(seq);
    if (prev !== undefined) {
      SessionTable.acknowledge(s, ackBelow);
      return prev;
    }
    const out = this.runCommand(type, name, op, input, key, index, time, sid, borrowed);
    s.results.set(seq, out);
    SessionTable.acknowledge(s, ackBelow);
    return out;
  }

  private runCommand(type: string, name: string, op: string, input: unknown, key: string | null, index: number, time: number, session: string, borrowed: boolean): Outcome {
    const def = this.resources.get(type);
    if (borrowed && def && !def.copiesBinaryInputs) input = copyBinaries(input);
    if (!def) return fail('UNKNOWN_RESOURCE', `no resource type ${type} on this node`, index);
    const spec = def.commands[op];
    if (!spec) return fail('UNKNOWN_OPERATION', `resource type ${type} has no command ${op}`, index);
    if (def.keyed !== (key !== null)) return fail('INVALID_INPUT', def.keyed ? `resource type ${type} needs a key` : `resource type ${type} takes no key`, index);
    const ik = instanceKey(type, name);
    let inst = this.instances.get(ik);
    if (!inst) {
      inst = { def, name, state: def.create() };
      this.instances.set(ik, inst);
    }
    const ctx = this.ctx;
    ctx.type = type;
    ctx.name = name;
    ctx.key = key;
    ctx.index = index;
    ctx.time = time;
    ctx.session = session;
    let out: Outcome;
    try {
      out = { ok: true, value: spec.apply(inst.state, input, ctx) ?? null, index };
    } catch (err) {
      out = fail(err instanceof ResourceError ? err.code : 'RESOURCE_ERROR', (err as Error)?.message ?? String(err), index);
    }
    if (def.isEmpty?.(inst.state)) this.instances.delete(ik);
    return out;
  }

  private endSession(s: Session, reason: 'expired' | 'closed', index: number, remove: boolean): void {
    if (remove) this.sessions.remove(s.id);
    for (const [ik, inst] of this.instances) {
      const hook = inst.def.sessionEnded;
      if (!hook) continue;
      const ctx: SessionEndContext = { name: inst.name, index, time: this.logTime, emit: (event) => this.onEvent?.(inst.def.type, inst.name, event, index) };
      hook(inst.state, s.id, reason, ctx);
      if (inst.def.isEmpty?.(inst.state)) this.instances.delete(ik);
    }
  }

  // ------------------------------------------------------------------ reads

  /** Runs query `op` on this replica's current state. Throws {@link ResourceError} for unknown types or operations. */
  query(type: string, name: string, op: string, input: unknown, key: string | null): unknown {
    const def = this.resources.get(type);
    if (!def) throw new ResourceError('UNKNOWN_RESOURCE', `no resource type ${type} on this node`);
    const spec = def.queries[op];
    if (!spec) throw new ResourceError('UNKNOWN_OPERATION', `resource type ${type} has no query ${op}`);
    const inst = this.instances.get(instanceKey(type, name));
    const state = inst ? inst.state : def.create();
    return spec.run(state, input, { name, key, appliedIndex: this.appliedIndex }) ?? null;
  }

  /** The current state of a resource for a new subscriber. */
  describe(type: string, name: string): unknown {
    const def = this.resources.get(type);
    if (!def) throw new ResourceError('UNKNOWN_RESOURCE', `no resource type ${type} on this node`);
    if (!def.describe) throw new ResourceError('NOT_SUBSCRIBABLE', `resource type ${type} has no events`);
    const inst = this.instances.get(instanceKey(type, name));
    return def.describe(inst ? inst.state : def.create()) ?? null;
  }

  /** Resolves once this replica has applied `index` (for `sequential` reads); rejects after `timeoutMs`. */
  waitApplied(index: number, timeoutMs: number, onTimeout: () => Error): Promise<void> {
    if (this.appliedIndex >= index) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(onTimeout());
      }, timeoutMs);
      const w: Waiter = {
        index,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      let i = this.waiters.length;
      while (i > 0 && this.waiters[i - 1]!.index > index) i--;
      this.waiters.splice(i, 0, w);
    });
  }

  private releaseWaiters(): void {
    let n = 0;
    while (n < this.waiters.length && this.waiters[n]!.index <= this.appliedIndex) n++;
    if (n === 0) return;
    for (const w of this.waiters.splice(0, n)) w.resolve();
  }

  // ------------------------------------------------------------------ snapshots

  /** Encodes the whole state (resources, sessions with their dedup tables, log clock) at once, so the image is consistent. */
  snapshot(): SnapshotSource {
    const sessions = [...this.sessions.sessions.values()].map((s) => [
      s.id,
      s.lastSeen,
      s.timeoutMs,
      s.floor,
      [...s.results].map(([seq, o]) => (o.ok ? [seq, 1, o.value, o.index] : [seq, 0, o.code, o.message, o.index])),
    ]);
    const resources = [...this.instances.values()].map((i) => [i.def.type, i.name, i.def.snapshot(i.state)]);
    const image: Uint8Array = entryPackr.pack([SNAPSHOT_VERSION, this.partition, this.appliedIndex, this.logTime, this.sessions.nextSweep, sessions, resources]);
    return {
      async *chunks() {
        for (let off = 0; off < image.length; off += CHUNK_BYTES) yield image.subarray(off, Math.min(image.length, off + CHUNK_BYTES));
      },
    };
  }

  /** Replaces the whole state with a snapshot image. */
  async restore(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const parts: Uint8Array[] = [];
    for await (const c of chunks) parts.push(c);
    const buf = Buffer.concat(parts);
    const img = entryPackr.unpack(buf) as unknown[];
    const [version, partition, applied, logTime, nextSweep, sessions, resources] = img as [
      number,
      number,
      number,
      number,
      number,
      [string, number, number, number, unknown[][]][],
      [string, string, unknown][],
    ];
    if (version !== SNAPSHOT_VERSION) throw new Error(`partition snapshot version ${version} is not supported (expected ${SNAPSHOT_VERSION})`);
    if (partition !== this.partition) throw new Error(`snapshot of partition ${partition} cannot be restored into partition ${this.partition}`);
    const instances = new Map<string, Instance>();
    for (const [type, name, data] of resources) {
      const def = this.resources.get(type);
      if (!def) throw new Error(`snapshot holds resource type ${type}, which is not registered on this node`);
      instances.set(instanceKey(type, name), { def, name, state: def.restore(data) });
    }
    this.sessions.sessions.clear();
    for (const [id, lastSeen, timeoutMs, floor, results] of sessions) {
      const s = this.sessions.open(id, lastSeen, timeoutMs);
      s.floor = floor;
      for (const r of results) {
        const seq = r[0] as number;
        s.results.set(seq, r[1] === 1 ? { ok: true, value: r[2], index: r[3] as number } : { ok: false, code: r[2] as string, message: r[3] as string, index: r[4] as number });
      }
    }
    this.sessions.nextSweep = nextSweep;
    this.instances = instances;
    this.logTime = logTime;
    this.appliedIndex = applied;
    this.releaseWaiters();
    this.onRestore?.(applied);
  }
}
