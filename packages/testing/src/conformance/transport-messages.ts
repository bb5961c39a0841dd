/**
 * Message builders and a field-by-field comparison for the transport conformance suite. Messages are
 * built deterministically from a small spec so the suite can build the same message twice: once to
 * send (the transport owns it afterwards) and once to compare with what arrived.
 */
import { EntryType, MessageType, message, type LogEntry, type Message, type NodeId } from '@tessera/raft';

/** Deterministic bytes: the same (length, seed) always gives the same content. */
export function patternBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  // A 251-byte (prime) period makes shifted or truncated copies differ from the original.
  const period = new Uint8Array(251);
  for (let i = 0; i < period.length; i++) period[i] = (i * 31 + seed * 17 + 7) & 0xff;
  for (let off = 0; off < length; off += period.length) out.set(period.subarray(0, Math.min(period.length, length - off)), off);
  return out;
}

/** A small message of `type` in `group` whose `context` carries a sequence number. */
export function seqMessage(from: NodeId, to: NodeId, group: string, seq: number): Message {
  const m = message(MessageType.Heartbeat, group, from, to, 3);
  m.commit = seq;
  m.context = seq;
  m.index = seq * 2;
  return m;
}

/** One message of every type, with every field set to something non-default somewhere. */
export function everyKindOfMessage(from: NodeId, to: NodeId, group: string): Message[] {
  const out: Message[] = [];
  for (let type: number = MessageType.App; type <= MessageType.TimeoutNow; type++) {
    const m = message(type as MessageType, group, from, to, 7 + type);
    m.logTerm = type;
    m.index = 100 + type;
    m.commit = 90 + type;
    m.reject = type % 2 === 0;
    m.rejectHint = type * 3;
    m.context = 2 ** 40 + type;
    if (type === MessageType.App || type === MessageType.Prop) {
      m.entries = entries(m.index + 1, m.term, 5, 32 + type, type);
    }
    if (type === MessageType.Snap) {
      m.snapshot = {
        meta: { index: 99, term: 6, membership: { voters: [from, to, 'n-3'], learners: ['learner-ü'] } },
        offset: 1024,
        data: patternBytes(300, type),
        done: true,
      };
    }
    out.push(m);
  }
  return out;
}

/** Consecutive entries starting at `first`, each `size` bytes; the first is a Noop and the last a Config. */
export function entries(first: number, term: number, count: number, size: number, seed: number): LogEntry[] {
  const out: LogEntry[] = [];
  for (let i = 0; i < count; i++) {
    const type = i === 0 ? EntryType.Noop : i === count - 1 && count > 2 ? EntryType.Config : EntryType.Normal;
    out.push({ index: first + i, term, type, data: patternBytes(size, seed + i) });
  }
  return out;
}

/** An AppendEntries message carrying about `bytes` bytes of entries in `count` entries. */
export function bigAppend(from: NodeId, to: NodeId, group: string, bytes: number, count: number, seed: number): Message {
  const m = message(MessageType.App, group, from, to, 4);
  m.index = 1000;
  m.logTerm = 4;
  m.commit = 999;
  m.entries = entries(1001, 4, count, Math.max(1, Math.floor(bytes / count)), seed);
  return m;
}

/** An InstallSnapshot chunk of `bytes` bytes. */
export function bigSnapshotChunk(from: NodeId, to: NodeId, group: string, bytes: number, seed: number): Message {
  const m = message(MessageType.Snap, group, from, to, 9);
  m.snapshot = {
    meta: { index: 5000, term: 8, membership: { voters: [from, to], learners: [] } },
    offset: seed * bytes,
    data: patternBytes(bytes, seed),
    done: false,
  };
  return m;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Describes the first difference between two messages, or returns undefined if they are equal. */
export function diffMessage(actual: Message, expected: Message): string | undefined {
  for (const k of ['type', 'group', 'from', 'to', 'term', 'logTerm', 'index', 'commit', 'reject', 'rejectHint', 'context'] as const) {
    if (actual[k] !== expected[k]) return `${k}: got ${String(actual[k])}, want ${String(expected[k])}`;
  }
  if (actual.entries.length !== expected.entries.length) return `entries.length: got ${actual.entries.length}, want ${expected.entries.length}`;
  for (let i = 0; i < expected.entries.length; i++) {
    const a = actual.entries[i]!;
    const e = expected.entries[i]!;
    if (a.index !== e.index || a.term !== e.term || a.type !== e.type) return `entries[${i}]: got (${a.index}, ${a.term}, ${a.type}), want (${e.index}, ${e.term}, ${e.type})`;
    if (!sameBytes(a.data, e.data)) return `entries[${i}].data differs (${a.data.byteLength} vs ${e.data.byteLength} bytes)`;
  }
  const as = actual.snapshot;
  const es = expected.snapshot;
  if (!as || !es) return as === es ? undefined : `snapshot: got ${as ? 'a chunk' : 'none'}, want ${es ? 'a chunk' : 'none'}`;
  if (as.meta.index !== es.meta.index || as.meta.term !== es.meta.term) return 'snapshot.meta index/term differ';
  if (!sameList(as.meta.membership.voters, es.meta.membership.voters)) return 'snapshot voters differ';
  if (!sameList(as.meta.membership.learners, es.meta.membership.learners)) return 'snapshot learners differ';
  if (as.offset !== es.offset || as.done !== es.done) return 'snapshot offset/done differ';
  if (!sameBytes(as.data, es.data)) return `snapshot.data differs (${as.data.byteLength} vs ${es.data.byteLength} bytes)`;
  return undefined;
}

function typeName(type: number): string {
  return Object.entries(MessageType).find(([, v]) => v === type)?.[0] ?? String(type);
}

/** Throws a readable error naming the first message that differs. */
export function assertSameMessages(actual: readonly Message[], expected: readonly Message[], what: string): void {
  if (actual.length !== expected.length) throw new Error(`${what}: got ${actual.length} messages, want ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const d = diffMessage(actual[i]!, expected[i]!);
    if (d) throw new Error(`${what}: message ${i} (${typeName(expected[i]!.type)}): ${d}`);
  }
}
