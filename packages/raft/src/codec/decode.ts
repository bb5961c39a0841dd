import { FrameError } from '../errors.js';
import { EntryType, MessageType, NO_ENTRIES, type LogEntry, type Message, type NodeId, type SnapshotChunk } from '../types.js';
import { CODEC_VERSION, F_REJECT, F_SAME_GROUP, F_SEQUENTIAL, F_SNAPSHOT, F_UNIFORM, KNOWN_FLAGS, MIN_MESSAGE_BYTES } from './format.js';
import { EMPTY, Reader } from './reader.js';

const MAX_MESSAGE_TYPE = MessageType.TimeoutNow;
const MAX_ENTRY_TYPE = EntryType.Config;

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
  let group: string | undefined;
  for (let i = 0; i < n; i++) {
    const m = decodeMessage(r, from, to, group);
    group = m.group;
    messages[i] = m;
  }
  if (r.pos !== r.end) throw new FrameError(`${r.end - r.pos} trailing bytes after batch`);
  return { from, to, messages };
}

/*
 * The per-message and per-entry paths below read through a local cursor `p` with the one-byte
 * varint case written out: through Reader methods, V8 stops inlining after a few calls per message
 * and the calls cost more than the reads. Anything longer goes through `r` (r.pos = p first).
 * An out-of-range read yields 0x80 so that it takes the checked path.
 */

/** `prevGroup`: the previous message's group, undefined for the first message of the batch. */
function decodeMessage(r: Reader, from: NodeId, to: NodeId, prevGroup: string | undefined): Message {
  const buf = r.buf;
  const end = r.end;
  let p = r.pos;
  if (end - p < 2) throw r.truncated(2, p);
  const type = buf[p]!;
  const flags = buf[p + 1]!;
  p += 2;
  if (type < 1 || type > MAX_MESSAGE_TYPE) throw new FrameError(`unknown message type ${type}`);
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new FrameError(`unknown message flags ${flags}`);
  let group: string;
  if ((flags & F_SAME_GROUP) === 0) {
    r.pos = p;
    group = r.str();
    p = r.pos;
  } else if (prevGroup !== undefined) {
    group = prevGroup;
  } else {
    throw new FrameError('first message of a batch refers to a previous group');
  }
  let term = p < end ? buf[p]! : 0x80;
  if (term < 0x80) p++;
  else {
    r.pos = p;
    term = r.varintLong();
    p = r.pos;
  }
  let logTerm = p < end ? buf[p]! : 0x80;
  if (logTerm < 0x80) p++;
  else {
    r.pos = p;
    logTerm = r.varintLong();
    p = r.pos;
  }
  let index = p < end ? buf[p]! : 0x80;
  if (index < 0x80) p++;
  else {
    r.pos = p;
    index = r.varintLong();
    p = r.pos;
  }
  let commit = p < end ? buf[p]! : 0x80;
  if (commit < 0x80) p++;
  else {
    r.pos = p;
    commit = r.varintLong();
    p = r.pos;
  }
  let rejectHint = p < end ? buf[p]! : 0x80;
  if (rejectHint < 0x80) p++;
  else {
    r.pos = p;
    rejectHint = r.varintLong();
    p = r.pos;
  }
  let context = p < end ? buf[p]! : 0x80;
  if (context < 0x80) p++;
  else {
    r.pos = p;
    context = r.varintLong();
    p = r.pos;
  }
  let ne = p < end ? buf[p]! : 0x80;
  if (ne < 0x80) p++;
  else {
    r.pos = p;
    ne = r.varintLong();
    p = r.pos;
  }
  let entries: LogEntry[];
  if (ne === 1 && (flags & (F_SEQUENTIAL | F_UNIFORM)) === (F_SEQUENTIAL | F_UNIFORM) && end - p >= 3 && (buf[p]! | buf[p + 2]!) < 0x80 && buf[p + 1]! <= MAX_ENTRY_TYPE && index < Number.MAX_SAFE_INTEGER) {
    // One entry with a one-byte term and length (a small proposal replicated as it arrives), read
    // here rather than through decodeEntries: the call and its general checks cost a seventh of
    // decoding such a message. The conditions are the ones decodeEntries would check.
    const term1 = buf[p]!;
    const type1 = buf[p + 1]!;
    const len = buf[p + 2]!;
    p += 3;
    if (len > end - p) throw r.truncated(len, p);
    const data = len === 0 ? EMPTY : new Uint8Array(r.ab, r.base + p, len);
    r.pos = p + len;
    entries = [{ index: index + 1, term: term1, type: type1 as EntryType, data }];
  } else if (ne > 0) {
    r.pos = p;
    entries = decodeEntries(r, type, flags, index, ne);
  } else if ((flags & (F_SEQUENTIAL | F_UNIFORM)) !== 0) {
    throw new FrameError(`entry flags ${flags} on a message without entries`);
  } else {
    r.pos = p;
    entries = NO_ENTRIES;
  }
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

/** Decodes `n` (> 0) entries at `r.pos` of a message of `type` with `flags` whose index is `prevIndex`. */
function decodeEntries(r: Reader, type: number, flags: number, prevIndex: number, n: number): LogEntry[] {
  const sequential = (flags & F_SEQUENTIAL) !== 0;
  const uniform = (flags & F_UNIFORM) !== 0;
  // Each entry takes at least its length byte, plus an index and a (term, type) unless implied:
  // the count is bounded by what remains, so a forged count cannot make us allocate.
  const minSize = 1 + (sequential ? 0 : 1) + (uniform ? 0 : 2);
  if (n * minSize > r.end - r.pos) throw new FrameError(`entry count ${n} at offset ${r.pos} exceeds the remaining ${r.end - r.pos} bytes`);
  // The core relies on AppendEntries carrying consecutive entries right after (index, logTerm).
  if (type === MessageType.App && !sequential) throw new FrameError('AppendEntries entries are not consecutive after the previous index');
  if (sequential && prevIndex + n > Number.MAX_SAFE_INTEGER) throw new FrameError('entry index exceeds 2^53');
  if (!(sequential && uniform)) return decodeMixedEntries(r, sequential, uniform, prevIndex, n);
  // The common AppendEntries: (term, type) once, then only payloads.
  const buf = r.buf;
  const end = r.end;
  const ab = r.ab;
  const base = r.base;
  let p = r.pos;
  let term = p < end ? buf[p]! : 0x80;
  if (term < 0x80) p++;
  else {
    r.pos = p;
    term = r.varintLong();
    p = r.pos;
  }
  if (p >= end) throw r.truncated(1, p);
  const etype = buf[p++]!;
  if (etype > MAX_ENTRY_TYPE) throw new FrameError(`unknown entry type ${etype}`);
  // A batch of one returns an array literal below (no separate backing store to allocate), so it
  // needs no array here: NO_ENTRIES is a placeholder that is never written.
  const out: LogEntry[] = n === 1 ? NO_ENTRIES : new Array(n);
  for (let i = 0; i < n; i++) {
    let len = p < end ? buf[p]! : 0x80;
    if (len < 0x80) p++;
    else {
      r.pos = p;
      len = r.varintLong();
      p = r.pos;
    }
    if (len > end - p) throw r.truncated(len, p);
    const data = len === 0 ? EMPTY : new Uint8Array(ab, base + p, len);
    p += len;
    const e: LogEntry = { index: prevIndex + 1 + i, term, type: etype as EntryType, data };
    if (n === 1) {
      r.pos = p;
      return [e];
    }
    out[i] = e;
  }
  r.pos = p;
  return out;
}

/** Entries that carry their own index or their own (term, type): proposals, unusual batches. */
function decodeMixedEntries(r: Reader, sequential: boolean, uniform: boolean, prevIndex: number, n: number): LogEntry[] {
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
