import { FrameError } from '../errors.js';
import { EntryType, MessageType, NO_ENTRIES, type LogEntry, type Membership, type Message, type NodeId, type SnapshotChunk } from '../types.js';

/**
 * Binary encoding of a batch of Raft messages from one node to another, shared by every network
 * transport. Hand-rolled rather than msgpack because entry payloads dominate: they are copied once
 * into the output and decoded as zero-copy views, and integers are varints.
 *
 * Layout (version 1):
 *   batch   := u8 version, str from, str to, varint count, message*
 *   message := u8 type, str group, varint term, logTerm, index, commit, rejectHint, context,
 *              u8 flags (1 = reject, 2 = has snapshot), varint nEntries, entry*, [snapshot]
 *   entry   := varint index, varint term, u8 type, bytes data
 *   snapshot:= varint index, varint term, strlist voters, strlist learners, varint offset, u8 done, bytes data
 *   str     := varint length, utf-8;  bytes := varint length, raw;  strlist := varint count, str*
 * Varints are unsigned LEB128 up to 2^53.
 */
export const CODEC_VERSION = 1;

const MAX_MESSAGE_TYPE = MessageType.TimeoutNow;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

class Writer {
  buf: Uint8Array;
  pos = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }
  varint(v: number): void {
    this.ensure(8);
    const b = this.buf;
    while (v >= 0x80) {
      b[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    b[this.pos++] = v;
  }
  bytes(data: Uint8Array): void {
    this.varint(data.byteLength);
    this.ensure(data.byteLength);
    this.buf.set(data, this.pos);
    this.pos += data.byteLength;
  }
  str(s: string): void {
    // Node and group ids are short; worst case 3 bytes per UTF-16 unit.
    this.ensure(s.length * 3 + 8);
    const start = this.pos;
    this.pos += 1;
    const { written } = textEncoder.encodeInto(s, this.buf.subarray(this.pos));
    if (written < 0x80) {
      this.buf[start] = written;
      this.pos += written;
    } else {
      const tmp = this.buf.slice(this.pos, this.pos + written);
      this.pos = start;
      this.bytes(tmp);
    }
  }
}

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new FrameError(`truncated frame: need ${n} bytes at offset ${this.pos}, have ${this.buf.length - this.pos}`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (result > Number.MAX_SAFE_INTEGER) throw new FrameError('varint exceeds 2^53');
        return result;
      }
      mul *= 0x80;
    }
    throw new FrameError('varint too long');
  }
  bytes(): Uint8Array {
    const n = this.varint();
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  str(): string {
    const b = this.bytes();
    try {
      return textDecoder.decode(b);
    } catch {
      throw new FrameError('invalid utf-8 in string');
    }
  }
  /** A count of items each at least `minSize` bytes: bounded by what remains, so garbage cannot allocate. */
  count(minSize: number): number {
    const n = this.varint();
    if (n * minSize > this.buf.length - this.pos) throw new FrameError(`count ${n} exceeds remaining frame`);
    return n;
  }
}

/** Size estimate used to preallocate the output buffer. */
function estimate(messages: readonly Message[]): number {
  let n = 64;
  for (const m of messages) {
    n += 64 + m.group.length * 3;
    for (const e of m.entries) n += e.data.byteLength + 24;
    if (m.snapshot) n += m.snapshot.data.byteLength + 128;
  }
  return n;
}

/** Encodes messages sent by `from` to `to`. Every message's `from`/`to` must match. */
export function encodeBatch(from: NodeId, to: NodeId, messages: readonly Message[]): Uint8Array {
  const w = new Writer(estimate(messages));
  w.u8(CODEC_VERSION);
  w.str(from);
  w.str(to);
  w.varint(messages.length);
  for (const m of messages) encodeMessage(w, m);
  return w.buf.subarray(0, w.pos);
}

function encodeMessage(w: Writer, m: Message): void {
  w.u8(m.type);
  w.str(m.group);
  w.varint(m.term);
  w.varint(m.logTerm);
  w.varint(m.index);
  w.varint(m.commit);
  w.varint(m.rejectHint);
  w.varint(m.context);
  w.u8((m.reject ? 1 : 0) | (m.snapshot ? 2 : 0));
  const ents = m.entries;
  w.varint(ents.length);
  for (let i = 0; i < ents.length; i++) {
    const e = ents[i]!;
    w.varint(e.index);
    w.varint(e.term);
    w.u8(e.type);
    w.bytes(e.data);
  }
  if (m.snapshot) {
    const s = m.snapshot;
    w.varint(s.meta.index);
    w.varint(s.meta.term);
    strList(w, s.meta.membership.voters);
    strList(w, s.meta.membership.learners);
    w.varint(s.offset);
    w.u8(s.done ? 1 : 0);
    w.bytes(s.data);
  }
}

function strList(w: Writer, list: readonly string[]): void {
  w.varint(list.length);
  for (const s of list) w.str(s);
}

function readStrList(r: Reader): string[] {
  const n = r.count(1);
  const out: string[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = r.str();
  return out;
}

/** A decoded batch. */
export interface DecodedBatch {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly messages: Message[];
}

/**
 * Decodes a batch, validating every field. Entry and snapshot data are views into `frame` (no
 * copy), so the caller must not reuse `frame`'s memory. Throws {@link FrameError} on any malformed
 * input; never returns a partially decoded batch.
 */
export function decodeBatch(frame: Uint8Array): DecodedBatch {
  const r = new Reader(frame);
  const version = r.u8();
  if (version !== CODEC_VERSION) throw new FrameError(`unsupported codec version ${version}`);
  const from = r.str();
  const to = r.str();
  const n = r.count(10);
  const messages: Message[] = new Array(n);
  for (let i = 0; i < n; i++) messages[i] = decodeMessage(r, from, to);
  if (r.pos !== frame.length) throw new FrameError(`${frame.length - r.pos} trailing bytes after batch`);
  return { from, to, messages };
}

function decodeMessage(r: Reader, from: NodeId, to: NodeId): Message {
  const type = r.u8();
  if (type < 1 || type > MAX_MESSAGE_TYPE) throw new FrameError(`unknown message type ${type}`);
  const group = r.str();
  const term = r.varint();
  const logTerm = r.varint();
  const index = r.varint();
  const commit = r.varint();
  const rejectHint = r.varint();
  const context = r.varint();
  const flags = r.u8();
  if (flags > 3) throw new FrameError(`unknown message flags ${flags}`);
  const ne = r.count(4);
  let entries: LogEntry[] = NO_ENTRIES;
  if (ne > 0) {
    entries = new Array(ne);
    for (let i = 0; i < ne; i++) {
      const eIndex = r.varint();
      const eTerm = r.varint();
      const eType = r.u8();
      if (eType > EntryType.Config) throw new FrameError(`unknown entry type ${eType}`);
      entries[i] = { index: eIndex, term: eTerm, type: eType as EntryType, data: r.bytes() };
    }
  }
  if (type === MessageType.App) {
    // The core relies on AppendEntries carrying consecutive entries right after (index, logTerm).
    for (let i = 0; i < ne; i++) {
      if (entries[i]!.index !== index + 1 + i) throw new FrameError('AppendEntries entries are not consecutive after the previous index');
    }
  }
  let snapshot: SnapshotChunk | undefined;
  if (flags & 2) {
    const sIndex = r.varint();
    const sTerm = r.varint();
    const membership: Membership = { voters: readStrList(r), learners: readStrList(r) };
    const offset = r.varint();
    const done = r.u8();
    if (done > 1) throw new FrameError('bad snapshot done flag');
    snapshot = { meta: { index: sIndex, term: sTerm, membership }, offset, done: done === 1, data: r.bytes() };
  }
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
    reject: (flags & 1) === 1,
    rejectHint,
    context,
    snapshot,
  };
}
