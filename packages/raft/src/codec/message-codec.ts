import { FrameError } from '../errors.js';
import { EntryType, MessageType, NO_ENTRIES, type LogEntry, type Message, type NodeId, type SnapshotChunk } from '../types.js';
import { CODEC_VERSION, F_REJECT, F_SAME_GROUP, F_SEQUENTIAL, F_SNAPSHOT, F_UNIFORM, KNOWN_FLAGS, MIN_MESSAGE_BYTES } from './format.js';
import { Reader } from './reader.js';
import { boundStr, boundStrList, Writer } from './writer.js';

export { CODEC_VERSION } from './format.js';

/**
 * Binary encoding of a batch of Raft messages from one node to another, shared by every network
 * transport. Hand-rolled rather than msgpack because it is the hot path of replication: entry
 * payloads are copied once into the output and decoded as zero-copy views, integers are varints, and
 * what AppendEntries repeats per entry (consecutive indexes, one term, one type) is sent once.
 *
 * Layout (version 2):
 *   batch   := u8 version, str from, str to, varint count, message*
 *   message := u8 type, str group, varint term, logTerm, index, commit, rejectHint, context,
 *              u8 flags, varint nEntries, [varint term, u8 type if flags & 8], entry*, [snapshot if flags & 2]
 *   flags   := 1 reject | 2 snapshot | 4 entry i has index (message index + 1 + i) | 8 all entries share
 *              the (term, type) given once; 4 and 8 only with entries; AppendEntries with entries needs 4
 *   entry   := [varint index unless flags & 4], [varint term, u8 type unless flags & 8], bytes data
 *   snapshot:= varint index, varint term, strlist voters, strlist learners, varint offset, u8 done, bytes data
 *   str     := varint length, utf-8;  bytes := varint length, raw;  strlist := varint count, str*
 * Varints are unsigned LEB128 below 2^53 in their shortest form. No field is larger in version 2
 * than in version 1, so size bounds computed for version 1 still hold.
 */

const MAX_MESSAGE_TYPE = MessageType.TimeoutNow;
const MAX_ENTRY_TYPE = EntryType.Config;

/** Fixed part of a message at its largest: type, six varints, flags, count, uniform term and type. */
const MESSAGE_BOUND = 1 + 6 * 8 + 1 + 5 + 9;
/** An entry at its largest, payload aside: index, term, type, length. */
const ENTRY_BOUND = 8 + 8 + 1 + 5;

const MODE = process.env.CODEC_MODE ?? 'A';
let scratch = new Uint8Array(1 << 16);
const ALLOC: (n: number) => Uint8Array = MODE === 'A' ? (n) => new Uint8Array(n) : MODE === 'C' ? (n) => { const b = Buffer.allocUnsafe(n); return new Uint8Array(b.buffer, b.byteOffset, n); } : (n) => { if (scratch.length < n) scratch = new Uint8Array(n * 2); return scratch; };
const FINISH: (b: Uint8Array, n: number) => Uint8Array = MODE === 'A' || MODE === 'C' ? (b, n) => new Uint8Array(b.buffer, b.byteOffset, n) : MODE === 'B' ? (b, n) => b.slice(0, n) : (b, n) => { const o = Buffer.allocUnsafe(n); o.set(b.subarray(0, n)); return new Uint8Array(o.buffer, o.byteOffset, n); };
/** Upper bound of a batch's encoded size. */
function boundOf(from: NodeId, to: NodeId, messages: readonly Message[]): number {
  let n = 1 + boundStr(from) + boundStr(to) + 5;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    n += MESSAGE_BOUND + boundStr(m.group);
    const ents = m.entries;
    for (let k = 0; k < ents.length; k++) n += ENTRY_BOUND + ents[k]!.data.length;
    const s = m.snapshot;
    if (s !== undefined) n += 8 + 8 + boundStrList(s.meta.membership.voters) + boundStrList(s.meta.membership.learners) + 8 + 1 + 5 + s.data.length;
  }
  return n;
}

/**
 * Encodes messages sent by `from` to `to` (every message's own `from`/`to` is implied by them).
 * Returns bytes the caller owns. Throws RangeError on a value the format cannot carry (a negative or
 * fractional number, an unknown message or entry type): a bug in the caller, better loud here than
 * as a peer closing the connection on every retry.
 */
export function encodeBatch(from: NodeId, to: NodeId, messages: readonly Message[]): Uint8Array {
  const bound = boundOf(from, to, messages);
  const w = new Writer(ALLOC(bound));
  w.u8(CODEC_VERSION);
  w.str(from);
  w.str(to);
  w.varint(messages.length);
  let group: string | undefined;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    encodeMessage(w, m, m.group === group);
    group = m.group;
  }
  if (w.pos > bound) throw new Error(`codec bound ${bound} too small for ${w.pos} bytes`);
  return FINISH(w.buf, w.pos);
}

function encodeMessage(w: Writer, m: Message, sameGroup: boolean): void {
  const type = m.type;
  if (!(type >= 1 && type <= MAX_MESSAGE_TYPE && (type | 0) === type)) throw new RangeError(`cannot encode message type ${type}`);
  const ents = m.entries;
  const ne = ents.length;
  let flags = (m.reject ? F_REJECT : 0) | (m.snapshot !== undefined ? F_SNAPSHOT : 0) | (sameGroup ? F_SAME_GROUP : 0);
  if (ne > 0) flags |= entryFlags(ents, m.index);
  w.u8(type);
  w.u8(flags);
  if (!sameGroup) w.str(m.group);
  w.varint(m.term);
  w.varint(m.logTerm);
  w.varint(m.index);
  w.varint(m.commit);
  w.varint(m.rejectHint);
  w.varint(m.context);
  w.varint(ne);
  if (ne > 0) {
    if ((flags & F_UNIFORM) !== 0) {
      const e0 = ents[0]!;
      w.varint(e0.term);
      w.u8(entryType(e0.type));
    }
    if ((flags & (F_SEQUENTIAL | F_UNIFORM)) === (F_SEQUENTIAL | F_UNIFORM)) {
      // The common AppendEntries: only payloads follow.
      for (let i = 0; i < ne; i++) w.bytes(ents[i]!.data);
    } else {
      for (let i = 0; i < ne; i++) {
        const e = ents[i]!;
        if ((flags & F_SEQUENTIAL) === 0) w.varint(e.index);
        if ((flags & F_UNIFORM) === 0) {
          w.varint(e.term);
          w.u8(entryType(e.type));
        }
        w.bytes(e.data);
      }
    }
  }
  const s = m.snapshot;
  if (s !== undefined) {
    w.varint(s.meta.index);
    w.varint(s.meta.term);
    w.strList(s.meta.membership.voters);
    w.strList(s.meta.membership.learners);
    w.varint(s.offset);
    w.u8(s.done ? 1 : 0);
    w.bytes(s.data);
  }
}

/** Which per-entry fields the entries let us leave out. */
function entryFlags(ents: readonly LogEntry[], prevIndex: number): number {
  const first = ents[0]!;
  const term = first.term;
  const type = first.type;
  let sequential = ents[ents.length - 1]!.index <= Number.MAX_SAFE_INTEGER;
  let uniform = true;
  for (let i = 0; i < ents.length; i++) {
    const e = ents[i]!;
    if (e.index !== prevIndex + 1 + i) sequential = false;
    if (e.term !== term || e.type !== type) uniform = false;
  }
  return (sequential ? F_SEQUENTIAL : 0) | (uniform ? F_UNIFORM : 0);
}

function entryType(type: number): number {
  if (!(type >= 0 && type <= MAX_ENTRY_TYPE && (type | 0) === type)) throw new RangeError(`cannot encode entry type ${type}`);
  return type;
}

/** A decoded batch. */
export interface DecodedBatch {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly messages: Message[];
}

/**
 * Decodes a batch, validating every field. Entry and snapshot data are views into `frame` (no
 * copy; empty data is a shared empty array), so the caller must not reuse `frame`'s memory. Throws
 * {@link FrameError} on any malformed input; never returns a partially decoded batch.
 */
export function decodeBatch(frame: Uint8Array): DecodedBatch {
  const r = new Reader(frame);
  const version = r.u8();
  if (version !== CODEC_VERSION) throw new FrameError(`unsupported codec version ${version}`);
  const from = r.str();
  const to = r.str();
  const n = r.count(MIN_MESSAGE_BYTES);
  const messages: Message[] = new Array(n);
  let group = '';
  for (let i = 0; i < n; i++) {
    const m = decodeMessage(r, from, to, i === 0 ? undefined : group);
    group = m.group;
    messages[i] = m;
  }
  if (r.pos !== r.end) throw new FrameError(`${r.end - r.pos} trailing bytes after batch`);
  return { from, to, messages };
}

/** `prevGroup`: the previous message's group, undefined for the first message of the batch. */
function decodeMessage(r: Reader, from: NodeId, to: NodeId, prevGroup: string | undefined): Message {
  const type = r.u8();
  if (type < 1 || type > MAX_MESSAGE_TYPE) throw new FrameError(`unknown message type ${type}`);
  const flags = r.u8();
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new FrameError(`unknown message flags ${flags}`);
  let group: string;
  if ((flags & F_SAME_GROUP) === 0) group = r.str();
  else if (prevGroup !== undefined) group = prevGroup;
  else throw new FrameError('first message of a batch refers to a previous group');
  const term = r.varint();
  const logTerm = r.varint();
  const index = r.varint();
  const commit = r.varint();
  const rejectHint = r.varint();
  const context = r.varint();
  const entries = decodeEntries(r, type, flags, index);
  const snapshot = (flags & F_SNAPSHOT) !== 0 ? decodeSnapshot(r) : undefined;
  // Same property order as message() in types.ts, so decoded messages share the engine's object shape.
  return {
    type: type as MessageType,
    group,
    from,
    to,
    term,
    logTerm,
    index,
    commit,
    entries,
    reject: (flags & F_REJECT) !== 0,
    rejectHint,
    context,
    snapshot,
  };
}

function decodeEntries(r: Reader, type: number, flags: number, prevIndex: number): LogEntry[] {
  const sequential = (flags & F_SEQUENTIAL) !== 0;
  const uniform = (flags & F_UNIFORM) !== 0;
  // Each entry is at least its length byte, plus an index and a (term, type) unless implied.
  const n = r.count(1 + (sequential ? 0 : 1) + (uniform ? 0 : 2));
  if (n === 0) {
    if (sequential || uniform) throw new FrameError(`entry flags ${flags} on a message without entries`);
    return NO_ENTRIES;
  }
  // The core relies on AppendEntries carrying consecutive entries right after (index, logTerm).
  if (type === MessageType.App && !sequential) throw new FrameError('AppendEntries entries are not consecutive after the previous index');
  if (sequential && prevIndex + n > Number.MAX_SAFE_INTEGER) throw new FrameError('entry index exceeds 2^53');
  let term = 0;
  let etype = 0;
  if (uniform) {
    term = r.varint();
    etype = r.u8();
    if (etype > MAX_ENTRY_TYPE) throw new FrameError(`unknown entry type ${etype}`);
  }
  const out: LogEntry[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const index = sequential ? prevIndex + 1 + i : r.varint();
    if (!uniform) {
      term = r.varint();
      etype = r.u8();
      if (etype > MAX_ENTRY_TYPE) throw new FrameError(`unknown entry type ${etype}`);
    }
    out[i] = { index, term, type: etype as EntryType, data: r.bytes() };
  }
  return out;
}

function decodeSnapshot(r: Reader): SnapshotChunk {
  const index = r.varint();
  const term = r.varint();
  const voters = r.strList();
  const learners = r.strList();
  const offset = r.varint();
  const done = r.u8();
  if (done > 1) throw new FrameError(`bad snapshot done flag ${done}`);
  return { meta: { index, term, membership: { voters, learners } }, offset, done: done === 1, data: r.bytes() };
}
