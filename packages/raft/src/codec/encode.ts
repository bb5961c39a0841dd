import { EntryType, MessageType, type LogEntry, type Message, type NodeId, type SnapshotChunk } from '../types.js';
import { CODEC_VERSION, F_REJECT, F_SAME_GROUP, F_SEQUENTIAL, F_SNAPSHOT, F_UNIFORM } from './format.js';
import { allocOutput, boundStr, boundStrList, typedArraySet, Writer } from './writer.js';

const MAX_MESSAGE_TYPE = MessageType.TimeoutNow;
const MAX_ENTRY_TYPE = EntryType.Config;

/** Fixed part of a message at its largest, aside from the group and six header varints: type, flags, count, uniform term and type. */
const MESSAGE_BOUND = 1 + 1 + 5 + 9;
/** An entry at its largest, payload aside: index, term, type, length. */
const ENTRY_BOUND = 8 + 8 + 1 + 5;

function varintBound(v: number): number {
  return v < 0x80 ? 1 : 8;
}

/**
 * Upper bound of the bytes {@link encodeBatch} writes for these messages: what a buffer handed to
 * {@link encodeBatchInto} must have room for.
 */
export function batchBound(from: NodeId, to: NodeId, messages: readonly Message[]): number {
  let n = 1 + boundStr(from) + boundStr(to) + 5;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    // Varints counted at one byte when below 128, else at their largest: cheap, and tight for the
    // zero fields most messages have (a loose bound costs allocating and touching more memory).
    n += MESSAGE_BOUND + boundStr(m.group) + varintBound(m.term) + varintBound(m.logTerm) + varintBound(m.index) + varintBound(m.commit) + varintBound(m.rejectHint) + varintBound(m.context);
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
  const bound = batchBound(from, to, messages);
  const out = allocOutput(bound);
  const end = encodeAt(out, 0, from, to, messages);
  if (end > bound) throw new Error(`codec bound ${bound} too small for ${end} bytes`);
  // A fresh view (not subarray: cheaper, and never a Buffer) of exactly the bytes written.
  return new Uint8Array(out.buffer, out.byteOffset, end);
}

/**
 * Encodes like {@link encodeBatch}, but into `out` from `offset`, which must leave at least
 * {@link batchBound} bytes; returns the offset after the last byte written. For callers that reuse
 * their output memory (a transport's write buffers: memory written before costs less than fresh
 * memory, which the kernel hands over page by page) or frame the batch in place. Throws RangeError
 * as encodeBatch does, and if `out` is too short (nothing is written outside `out`).
 */
export function encodeBatchInto(out: Uint8Array, offset: number, from: NodeId, to: NodeId, messages: readonly Message[]): number {
  if (!(offset >= 0 && offset <= out.length && (offset | 0) === offset)) throw new RangeError(`bad offset ${offset} for a buffer of ${out.length} bytes`);
  // A typed array drops writes past its end (and `set` throws a RangeError), so a short buffer is
  // detected here, after the fact, without a second pass over the messages to size them.
  const end = encodeAt(out, offset, from, to, messages);
  if (end > out.length) throw new RangeError(`encodeBatchInto needs ${end - offset} bytes from offset ${offset}; the buffer has ${out.length}`);
  return end;
}

function encodeAt(out: Uint8Array, offset: number, from: NodeId, to: NodeId, messages: readonly Message[]): number {
  const w = new Writer(out, offset);
  w.u8(CODEC_VERSION);
  w.str(from);
  w.str(to);
  w.varint(messages.length);
  let group = '';
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    encodeMessage(w, m, i > 0 && m.group === group);
    group = m.group;
  }
  return w.pos;
}

/*
 * encodeMessage writes through a local cursor `p` with the one-byte varint case written out, as
 * decode.ts reads: through Writer methods V8 stops inlining after a few calls per message. Anything
 * longer goes through `w` (w.pos = p first). `(v & 0x7f) === v` holds exactly for integers 0-127.
 */
function encodeMessage(w: Writer, m: Message, sameGroup: boolean): void {
  const type = m.type;
  if (!(type >= 1 && type <= MAX_MESSAGE_TYPE && (type | 0) === type)) throw new RangeError(`cannot encode message type ${type}`);
  const ents = m.entries;
  const ne = ents.length;
  let flags = (m.reject ? F_REJECT : 0) | (m.snapshot !== undefined ? F_SNAPSHOT : 0) | (sameGroup ? F_SAME_GROUP : 0);
  if (ne === 1) {
    // One entry (a proposal flushed on its own): uniform by definition, sequential if it follows.
    const i0 = ents[0]!.index;
    flags |= i0 === m.index + 1 && i0 <= Number.MAX_SAFE_INTEGER ? F_SEQUENTIAL | F_UNIFORM : F_UNIFORM;
  } else if (ne > 0) flags |= entryFlags(ents, m.index);
  const b = w.buf;
  let p = w.pos;
  b[p] = type;
  b[p + 1] = flags;
  p += 2;
  if (!sameGroup) {
    w.pos = p;
    w.str(m.group);
    p = w.pos;
  }
  const term = m.term;
  if ((term & 0x7f) === term) b[p++] = term;
  else p = w.varintAt(p, term);
  const logTerm = m.logTerm;
  if ((logTerm & 0x7f) === logTerm) b[p++] = logTerm;
  else p = w.varintAt(p, logTerm);
  const index = m.index;
  if ((index & 0x7f) === index) b[p++] = index;
  else p = w.varintAt(p, index);
  const commit = m.commit;
  if ((commit & 0x7f) === commit) b[p++] = commit;
  else p = w.varintAt(p, commit);
  const rejectHint = m.rejectHint;
  if ((rejectHint & 0x7f) === rejectHint) b[p++] = rejectHint;
  else p = w.varintAt(p, rejectHint);
  const context = m.context;
  if ((context & 0x7f) === context) b[p++] = context;
  else p = w.varintAt(p, context);
  if ((ne & 0x7f) === ne) b[p++] = ne;
  else p = w.varintAt(p, ne);
  w.pos = p;
  if (ne > 0) {
    if ((flags & (F_SEQUENTIAL | F_UNIFORM)) === (F_SEQUENTIAL | F_UNIFORM)) encodePayloads(w, ents);
    else encodeMixedEntries(w, ents, flags);
  }
  if (m.snapshot !== undefined) encodeSnapshot(w, m.snapshot);
}

/** The common AppendEntries: one (term, type), then only payloads. */
function encodePayloads(w: Writer, ents: readonly LogEntry[]): void {
  const e0 = ents[0]!;
  const b = w.buf;
  let p = w.pos;
  const term = e0.term;
  if ((term & 0x7f) === term) b[p++] = term;
  else p = w.varintAt(p, term);
  b[p++] = entryType(e0.type);
  for (let i = 0; i < ents.length; i++) {
    const data = ents[i]!.data;
    // length, not byteLength: the same for bytes, and V8 inlines only the former.
    const n = data.length;
    if (n < 0x80) b[p++] = n;
    else p = w.varintAt(p, n);
    typedArraySet.call(b, data, p);
    p += n;
  }
  w.pos = p;
}

/** Entries that carry their own index or their own (term, type): proposals, unusual batches. */
function encodeMixedEntries(w: Writer, ents: readonly LogEntry[], flags: number): void {
  if ((flags & F_UNIFORM) !== 0) {
    const e0 = ents[0]!;
    w.varint(e0.term);
    w.u8(entryType(e0.type));
  }
  for (let i = 0; i < ents.length; i++) {
    const e = ents[i]!;
    if ((flags & F_SEQUENTIAL) === 0) w.varint(e.index);
    if ((flags & F_UNIFORM) === 0) {
      w.varint(e.term);
      w.u8(entryType(e.type));
    }
    w.bytes(e.data);
  }
}

function encodeSnapshot(w: Writer, s: SnapshotChunk): void {
  w.varint(s.meta.index);
  w.varint(s.meta.term);
  w.strList(s.meta.membership.voters);
  w.strList(s.meta.membership.learners);
  w.varint(s.offset);
  w.u8(s.done ? 1 : 0);
  w.bytes(s.data);
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

