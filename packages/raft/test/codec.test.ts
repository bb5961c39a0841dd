/**
 * The batch codec (src/codec): round trips of every message type and entry layout, random round
 * trips, and rejection of malformed input (every truncation of a valid batch, random and mutated
 * bytes, forged counts and lengths, bad UTF-8, unknown types and flags, trailing bytes). Decoding
 * either returns the whole batch or throws FrameError; nothing else may escape.
 */
import { describe, expect, it } from 'vitest';
import { batchBound, CODEC_VERSION, decodeBatch, encodeBatch, encodeBatchInto, EntryType, FrameError, getVarint, message, MessageType, putVarint, TesseraError, varintSize, type LogEntry, type Message } from '../src/index.js';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function int(r: () => number, n: number): number {
  return Math.floor(r() * n);
}

function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 17 + 7) & 0xff;
  return out;
}

/** Integers at every varint length boundary, up to the largest the codec carries. */
const EDGE_INTEGERS = [0, 1, 127, 128, 255, 16_383, 16_384, 2 ** 21 - 1, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 35, 2 ** 49, 2 ** 52 + 1, 2 ** 53 - 1];

/** One message of every type with every field non-default, in `group`. */
function everyType(from: string, to: string, group: string): Message[] {
  const out: Message[] = [];
  for (let type: number = MessageType.App; type <= MessageType.TimeoutNow; type++) {
    const m = message(type as MessageType, group, from, to, 3 + type);
    m.logTerm = type;
    m.index = 1000 + type;
    m.commit = 900 + type;
    m.reject = type % 2 === 0;
    m.rejectHint = 200 + type;
    m.context = 2 ** 40 + type;
    if (type === MessageType.App) m.entries = consecutive(m.index, m.term, 4, 50);
    if (type === MessageType.Prop) m.entries = [0, 1, 2].map((i) => ({ index: 0, term: 0, type: EntryType.Normal, data: bytes(10 + i, i) }));
    if (type === MessageType.Snap) m.snapshot = chunk(from, to, 300, false);
    out.push(m);
  }
  return out;
}

/** `count` consecutive entries after `prev`, the first a Noop and the last a Config (when > 2). */
function consecutive(prev: number, term: number, count: number, size: number): LogEntry[] {
  const out: LogEntry[] = [];
  for (let i = 0; i < count; i++) {
    const type = i === 0 ? EntryType.Noop : i === count - 1 && count > 2 ? EntryType.Config : EntryType.Normal;
    out.push({ index: prev + 1 + i, term, type, data: bytes(i === 0 ? 0 : size, i) });
  }
  return out;
}

function chunk(from: string, to: string, size: number, done: boolean): NonNullable<Message['snapshot']> {
  return { meta: { index: 5000, term: 8, membership: { voters: [from, to, 'n-3'], learners: ['learner-ü'] } }, offset: 4096, data: bytes(size, 9), done };
}

/** A plain, comparable form of a message: payloads as hex. */
function plain(m: Message): unknown {
  const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
  return {
    ...m,
    entries: m.entries.map((e) => ({ index: e.index, term: e.term, type: e.type, data: hex(e.data) })),
    snapshot: m.snapshot && { ...m.snapshot, meta: { ...m.snapshot.meta, membership: { voters: [...m.snapshot.meta.membership.voters], learners: [...m.snapshot.meta.membership.learners] } }, data: hex(m.snapshot.data) },
  };
}

/** Compares cheaply, and through expect (for a readable diff) only when different. */
function expectSame(actual: readonly Message[], expected: readonly Message[]): void {
  const a = actual.map(plain);
  const e = expected.map(plain);
  if (JSON.stringify(a) !== JSON.stringify(e)) expect(a).toEqual(e);
}

/** Appends bytes for hand-made frames. */
class Bytes {
  private readonly out: number[] = [];
  u8(...v: number[]): this {
    this.out.push(...v);
    return this;
  }
  varint(v: number): this {
    while (v >= 0x80) {
      this.out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.out.push(v);
    return this;
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.varint(b.length).u8(...b);
  }
  raw(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.out.push(b[i]!);
    return this;
  }
  build(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

/** Encodes, decodes (from the bytes as returned and from a view inside a larger Buffer) and compares. */
function roundTrip(from: string, to: string, messages: Message[]): Uint8Array {
  const encoded = encodeBatch(from, to, messages);
  // encodeBatchInto writes the same bytes within batchBound, at an offset, touching nothing else.
  const bound = batchBound(from, to, messages);
  expect(bound).toBeGreaterThanOrEqual(encoded.length);
  const into = new Uint8Array(bound + 9).fill(0xee);
  const end = encodeBatchInto(into, 4, from, to, messages);
  expect(end).toBe(4 + encoded.length);
  expect(Buffer.from(into.subarray(4, end)).equals(Buffer.from(encoded))).toBe(true);
  expect([...into.subarray(0, 4), ...into.subarray(end)].every((b) => b === 0xee)).toBe(true);
  const inside = Buffer.concat([Buffer.from([1, 2, 3]), encoded, Buffer.from([4, 5])]);
  const views = [encoded, new Uint8Array(inside.buffer, inside.byteOffset + 3, encoded.length), inside.subarray(3, 3 + encoded.length)];
  for (const view of views) {
    const d = decodeBatch(view);
    expect(d.from).toBe(from);
    expect(d.to).toBe(to);
    expectSame(d.messages, messages.map((m) => ({ ...m, from, to })));
  }
  return encoded;
}

/** Decoding must fail with a FrameError (not a TypeError, RangeError, or a partial result). */
function expectFrameError(bytes: Uint8Array, pattern?: RegExp): FrameError {
  let caught: unknown;
  try {
    decodeBatch(bytes);
  } catch (err) {
    caught = err;
  }
  expect(caught, `decoded ${Buffer.from(bytes).toString('hex')}`).toBeInstanceOf(FrameError);
  expect(TesseraError.isInstance(caught) && caught.code).toBe('FRAME_INVALID');
  if (pattern) expect((caught as Error).message).toMatch(pattern);
  return caught as FrameError;
}

/** A batch header for hand-made frames. */
function header(count: number, from = 'a', to = 'b'): Bytes {
  return new Bytes().u8(CODEC_VERSION).str(from).str(to).varint(count);
}

/** A heartbeat-like message body after (type, flags): group and six small varints. */
function body(b: Bytes, group = 'g'): Bytes {
  return b.str(group).u8(1, 0, 0, 0, 0, 0);
}

describe('codec round trips', () => {
  it('every message type, with every field set', () => {
    roundTrip('node-a', 'node-b', everyType('node-a', 'node-b', 'group-1'));
  });

  it('snapshot chunks: first, middle and last, empty data, empty and large membership', () => {
    const ms: Message[] = [];
    for (const [size, done] of [[0, false], [1, false], [70_000, false], [10, true], [0, true]] as const) {
      const m = message(MessageType.Snap, 'g', 'a', 'b', 9);
      m.snapshot = { ...chunk('a', 'b', size, done), offset: size * 3 };
      ms.push(m);
    }
    const last = message(MessageType.Snap, 'g', 'a', 'b', 9);
    last.snapshot = { meta: { index: 2 ** 53 - 1, term: 2 ** 40, membership: { voters: [], learners: [] } }, offset: 0, data: new Uint8Array(0), done: true };
    ms.push(last);
    const many = message(MessageType.Snap, 'g', 'a', 'b', 9);
    many.snapshot = { meta: { index: 1, term: 1, membership: { voters: Array.from({ length: 200 }, (_, i) => `voter-${i}`), learners: ['ü', '', 'x'.repeat(300)] } }, offset: 1, data: bytes(5, 1), done: false };
    ms.push(many);
    roundTrip('a', 'b', ms);
  });

  it('every integer field at every varint length boundary', () => {
    for (const v of EDGE_INTEGERS) {
      const m = message(MessageType.Vote, 'g', 'a', 'b', v);
      m.logTerm = v;
      m.index = v;
      m.commit = v;
      m.rejectHint = v;
      m.context = v;
      const s = message(MessageType.Snap, 'g', 'a', 'b', v);
      s.snapshot = { meta: { index: v, term: v, membership: { voters: ['a'], learners: [] } }, offset: v, data: bytes(3, 3), done: true };
      const p = message(MessageType.Prop, 'g', 'a', 'b', 1);
      p.entries = [{ index: v, term: v, type: EntryType.Normal, data: bytes(2, 2) }];
      roundTrip('a', 'b', [m, s, p]);
    }
  });

  it('entry layouts: consecutive or not, one (term, type) or mixed, empty payloads, one entry, many entries', () => {
    const shapes: LogEntry[][] = [
      consecutive(10, 3, 1, 100), // the common single AppendEntries entry
      consecutive(10, 3, 500, 7), // many, mixed types (Noop first, Config last)
      Array.from({ length: 64 }, (_, i) => ({ index: 11 + i, term: 3, type: EntryType.Normal, data: bytes(16, i) })), // consecutive, uniform
      Array.from({ length: 5 }, (_, i) => ({ index: 11 + i, term: 2 + (i >> 1), type: EntryType.Normal, data: bytes(i, i) })), // consecutive, terms change
      Array.from({ length: 4 }, (_, i) => ({ index: 0, term: 0, type: EntryType.Normal, data: bytes(9, i) })), // proposals: uniform, not consecutive
      Array.from({ length: 4 }, (_, i) => ({ index: 100 - i, term: i, type: (i % 3) as EntryType, data: bytes(3, i) })), // neither
      [{ index: 11, term: 3, type: EntryType.Noop, data: new Uint8Array(0) }],
      [{ index: 11, term: 3, type: EntryType.Normal, data: bytes(200_000, 5) }], // payload length needs a 3-byte varint
    ];
    for (const type of [MessageType.App, MessageType.Prop, MessageType.AppResp]) {
      for (const entries of shapes) {
        const consecutiveAfter10 = entries.every((e, i) => e.index === 11 + i);
        if (type === MessageType.App && !consecutiveAfter10) continue;
        const m = message(type, 'g', 'a', 'b', 3);
        m.index = 10;
        m.logTerm = 3;
        m.entries = entries;
        roundTrip('a', 'b', [m]);
      }
    }
  });

  it('groups: repeated, alternating, empty, long, non-ASCII, a leading byte-order mark, every short length', () => {
    const groups = ['g', 'g', 'h', 'g', '', '', 'x'.repeat(64), 'x'.repeat(65), 'y'.repeat(200), 'grüppe/日本/😀', '\uFEFFbom', 'ascii-\u007f'];
    for (let n = 1; n <= 70; n++) groups.push('abcdefghijklmnopqrstuvwxyz0123456789'.repeat(2).slice(0, n));
    for (let n = 1; n <= 70; n++) groups.push('abcdefghijklmnopqrstuvwxyz0123456789'.repeat(2).slice(0, n - 1) + 'Z');
    const ms = groups.map((g, i) => {
      const m = message(MessageType.Heartbeat, g, 'a', 'b', i);
      m.commit = i;
      return m;
    });
    roundTrip('a', 'b', ms);
    roundTrip('node-ü', '\uFEFF', ms.slice(0, 3));
    roundTrip('', 'z'.repeat(300), []);
  });

  it('more distinct ids than the string table holds decode correctly (the table empties and refills)', () => {
    for (let round = 0; round < 2; round++) {
      const ms = Array.from({ length: 3000 }, (_, i) => message(MessageType.Heartbeat, `partition-${(i * 7919) % 5000}`, 'a', 'b', 1));
      roundTrip('a', 'b', ms);
    }
  });

  it('a string cached from one frame is not returned for different bytes in a later frame', () => {
    for (const name of ['group-A', 'grp', 'group-A-and-more-words-after-it']) {
      const frame = Buffer.from(encodeBatch('a', 'b', [message(MessageType.Heartbeat, name, 'a', 'b', 1)]));
      expect(decodeBatch(frame).messages[0]!.group).toBe(name);
      for (let k = 0; k < name.length; k++) {
        const changed = Buffer.from(frame);
        changed[frame.indexOf(name) + k] = '#'.charCodeAt(0);
        expect(decodeBatch(changed).messages[0]!.group).toBe(name.slice(0, k) + '#' + name.slice(k + 1));
      }
    }
  });

  it('decoded payloads are zero-copy views of the frame, as plain Uint8Arrays', () => {
    const m = message(MessageType.App, 'g', 'a', 'b', 1);
    m.entries = consecutive(0, 1, 3, 40);
    const s = message(MessageType.Snap, 'g', 'a', 'b', 1);
    s.snapshot = chunk('a', 'b', 64, true);
    const encoded = encodeBatch('a', 'b', [m, s]);
    const frame = Buffer.concat([Buffer.alloc(11), encoded]).subarray(11);
    const d = decodeBatch(frame);
    const views = [...d.messages[0]!.entries.slice(1).map((e) => e.data), d.messages[1]!.snapshot!.data];
    for (const v of views) {
      expect(v.constructor).toBe(Uint8Array);
      expect(v.buffer).toBe(frame.buffer);
      expect(v.byteOffset).toBeGreaterThanOrEqual(frame.byteOffset);
      expect(v.byteOffset + v.length).toBeLessThanOrEqual(frame.byteOffset + frame.length);
    }
    frame[frame.length - 1] ^= 0xff;
    expect(d.messages[1]!.snapshot!.data[63]).toBe(frame[frame.length - 1]);
  });

  it('the encoder returns a plain Uint8Array of exactly the batch, and a new one every time', () => {
    const ms = everyType('a', 'b', 'g');
    const x = encodeBatch('a', 'b', ms);
    const y = encodeBatch('a', 'b', ms);
    expect(x.constructor).toBe(Uint8Array);
    expect(Buffer.from(x).equals(Buffer.from(y))).toBe(true);
    x.fill(0);
    expect(decodeBatch(y).messages).toHaveLength(ms.length);
  });

  it('encodeBatchInto refuses a short buffer or a bad offset with RangeError and writes nothing outside the buffer', () => {
    const ms = everyType('a', 'b', 'g');
    const size = encodeBatch('a', 'b', ms).length;
    for (const room of [0, 1, size - 1, Math.floor(size / 2)]) {
      // A view inside a larger array: the bytes around it must stay as they were.
      const outer = new Uint8Array(room + 16).fill(0xee);
      const view = outer.subarray(8, 8 + room);
      expect(() => encodeBatchInto(view, 0, 'a', 'b', ms), `room ${room}`).toThrow(RangeError);
      expect([...outer.subarray(0, 8), ...outer.subarray(8 + room)].every((b) => b === 0xee)).toBe(true);
    }
    const big = new Uint8Array(size + 10);
    for (const offset of [-1, 0.5, size + 11, NaN]) expect(() => encodeBatchInto(big, offset, 'a', 'b', ms), `offset ${offset}`).toThrow(RangeError);
    expect(encodeBatchInto(big, 10, 'a', 'b', ms)).toBe(size + 10);
  });

  it('decoded messages have the property order of message(), so the engine sees one object shape', () => {
    const decoded = decodeBatch(encodeBatch('a', 'b', everyType('a', 'b', 'g'))).messages;
    const keys = Object.keys(message(MessageType.App, 'g', 'a', 'b', 1));
    for (const m of decoded) expect(Object.keys(m)).toEqual(keys);
    const entry = decoded[0]!.entries[0]!;
    expect(Object.keys(entry)).toEqual(['index', 'term', 'type', 'data']);
  });

  it('the encoder refuses values the format cannot carry', () => {
    const bad = [-1, 0.5, NaN, Infinity, 2 ** 53, 2 ** 64];
    for (const v of bad) {
      for (const field of ['term', 'logTerm', 'index', 'commit', 'rejectHint', 'context'] as const) {
        const m = message(MessageType.Heartbeat, 'g', 'a', 'b', 1);
        m[field] = v;
        expect(() => encodeBatch('a', 'b', [m]), `${field} = ${v}`).toThrow(RangeError);
      }
      const e = message(MessageType.Prop, 'g', 'a', 'b', 1);
      e.entries = [{ index: 0, term: v, type: EntryType.Normal, data: new Uint8Array(1) }];
      expect(() => encodeBatch('a', 'b', [e])).toThrow(RangeError);
    }
    for (const type of [0, 16, 1.5, -1]) expect(() => encodeBatch('a', 'b', [message(type as MessageType, 'g', 'a', 'b', 1)])).toThrow(RangeError);
    const t = message(MessageType.App, 'g', 'a', 'b', 1);
    t.entries = [{ index: 1, term: 1, type: 3 as EntryType, data: new Uint8Array(1) }];
    expect(() => encodeBatch('a', 'b', [t])).toThrow(RangeError);
    // Consecutive after an index so large that the last entry's index is past 2^53.
    const big = message(MessageType.App, 'g', 'a', 'b', 1);
    big.index = 2 ** 53 - 2;
    big.entries = [{ index: 2 ** 53 - 1, term: 1, type: 0, data: new Uint8Array(1) }, { index: 2 ** 53, term: 1, type: 0, data: new Uint8Array(1) }];
    expect(() => encodeBatch('a', 'b', [big])).toThrow(RangeError);
  });

  it(`random batches survive encode -> decode unchanged (FUZZ_SEED=${SEED})`, () => {
    const r = rng(SEED);
    const alphabet = ['a', 'z', '-', '/', '0', 'ü', '日', '😀', '\u007f', ' ', '\uFEFF'];
    const str = (max: number) => Array.from({ length: int(r, max) }, () => alphabet[int(r, alphabet.length)]).join('');
    const num = () => (int(r, 2) ? EDGE_INTEGERS[int(r, EDGE_INTEGERS.length)]! : int(r, 1e6));
    const groups = Array.from({ length: 6 }, () => str(20));
    for (let i = 0; i < 3_000; i++) {
      const from = str(4) + 'f';
      const to = str(4) + 't';
      const messages: Message[] = [];
      for (let k = int(r, 8); k > 0; k--) {
        const type = (1 + int(r, 15)) as MessageType;
        const m = message(type, int(r, 3) ? groups[int(r, groups.length)]! : str(80), from, to, num());
        m.logTerm = num();
        m.index = Math.min(num(), 2 ** 50);
        m.commit = num();
        m.rejectHint = num();
        m.context = num();
        m.reject = int(r, 2) === 0;
        const n = type === MessageType.App || int(r, 3) === 0 ? int(r, 5) : 0;
        const consecutiveIdx = type === MessageType.App || int(r, 2) === 0;
        const oneTerm = int(r, 2) === 0;
        const t0 = num();
        m.entries = Array.from({ length: n }, (_, j) => ({
          index: consecutiveIdx ? m.index + 1 + j : num(),
          term: oneTerm ? t0 : num(),
          type: (oneTerm ? 0 : int(r, 3)) as EntryType,
          data: bytes(int(r, 4) === 0 ? 0 : int(r, 300), int(r, 256)),
        }));
        if (int(r, 5) === 0) {
          m.snapshot = { meta: { index: num(), term: num(), membership: { voters: Array.from({ length: int(r, 4) }, () => str(6)), learners: Array.from({ length: int(r, 2) }, () => str(6)) } }, offset: num(), done: int(r, 2) === 0, data: bytes(int(r, 500), int(r, 256)) };
        }
        messages.push(m);
      }
      roundTrip(from, to, messages);
    }
  });
});

describe('codec rejects malformed input with FrameError', () => {
  const valid = (() => {
    const ms = everyType('node-a', 'node-b', 'group-1');
    ms.push(...everyType('node-a', 'node-b', 'group-1').slice(0, 3)); // same-group references
    const p = message(MessageType.Prop, 'g', 'node-a', 'node-b', 1);
    p.entries = [{ index: 0, term: 200, type: EntryType.Config, data: bytes(3, 1) }, { index: 9, term: 300, type: EntryType.Normal, data: bytes(300, 2) }];
    ms.push(p);
    return encodeBatch('node-a', 'node-b', ms);
  })();

  it('every truncation of a valid batch', () => {
    for (let n = 0; n < valid.length; n++) expectFrameError(valid.subarray(0, n));
  });

  it('trailing bytes', () => {
    for (const extra of [[0], [1, 2, 3], Array.from(valid.subarray(1, 40))]) expectFrameError(Uint8Array.from([...valid, ...extra]), /trailing/);
  });

  it(`random bytes and mutated valid batches: FrameError or a batch that round-trips (FUZZ_SEED=${SEED})`, () => {
    const r = rng(SEED ^ 0x5eed);
    let decoded = 0;
    const check = (frame: Uint8Array) => {
      let batch;
      try {
        batch = decodeBatch(frame);
      } catch (err) {
        if (!(err instanceof FrameError)) throw new Error(`${String(err)} decoding ${Buffer.from(frame).toString('hex')}`);
        return;
      }
      decoded++;
      // Whatever decodes is well-formed: it encodes, and decodes again to the same messages.
      expectSame(decodeBatch(encodeBatch(batch.from, batch.to, batch.messages)).messages, batch.messages);
    };
    for (let i = 0; i < 10_000; i++) {
      const frame = new Uint8Array(int(r, 200));
      for (let k = 0; k < frame.length; k++) frame[k] = int(r, 256);
      if (frame.length > 0 && int(r, 2)) frame[0] = CODEC_VERSION;
      check(frame);
    }
    for (let i = 0; i < 10_000; i++) {
      const frame = Uint8Array.from(valid);
      for (let k = 1 + int(r, 3); k > 0; k--) frame[int(r, frame.length)] = int(r, 4) === 0 ? int(r, 256) : frame[int(r, frame.length)]! ^ (1 << int(r, 8));
      check(int(r, 4) === 0 ? frame.subarray(0, int(r, frame.length)) : frame);
    }
    expect(decoded).toBeGreaterThan(0);
  });

  it('unsupported versions', () => {
    for (const v of [0, 1, CODEC_VERSION + 1, 255]) expectFrameError(new Bytes().u8(v).str('a').str('b').varint(0).build(), /version/);
  });

  it('forged counts and lengths are refused before anything is allocated for them', () => {
    for (const n of [1, 1000, 2 ** 31, 2 ** 53 - 1]) {
      expectFrameError(header(n).build(), /count|truncated/);
      expectFrameError(body(header(1).u8(MessageType.App, 4 | 8)).varint(n).u8(1, 0).build(), /count|truncated/);
      expectFrameError(body(header(1).u8(MessageType.Prop, 0)).varint(n).build(), /count|truncated/);
      expectFrameError(header(0).build().length ? new Bytes().u8(CODEC_VERSION).varint(n).build() : new Uint8Array(), /truncated/);
      expectFrameError(body(header(1).u8(MessageType.App, 4 | 8)).varint(1).u8(1, 0).varint(n).build(), /truncated/);
      const snap = body(header(1).u8(MessageType.Snap, 2)).varint(0).u8(1, 1);
      expectFrameError(new Bytes().raw(snap.build()).varint(n).build(), /count|truncated/);
    }
  });

  it('invalid UTF-8 in any string', () => {
    const bad = [[0x80], [0xc0, 0x80], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe6, 0x97], [0x61, 0xff], [0xc3]];
    for (const b of bad) {
      const s = new Bytes().varint(b.length).raw(b).build();
      expectFrameError(new Bytes().u8(CODEC_VERSION).raw(s).str('b').varint(0).build(), /utf-8/);
      expectFrameError(new Bytes().u8(CODEC_VERSION).str('a').raw(s).varint(0).build(), /utf-8/);
      expectFrameError(header(1).u8(MessageType.Heartbeat, 0).raw(s).u8(1, 0, 0, 0, 0, 0, 0).build(), /utf-8/);
      const snap = body(header(1).u8(MessageType.Snap, 2)).varint(0).u8(1, 1);
      expectFrameError(snap.varint(1).raw(s).varint(0).u8(0, 0, 0).build(), /utf-8/);
    }
  });

  it('unknown message types, flags, entry types and done flags', () => {
    for (const t of [0, 16, 128, 255]) expectFrameError(body(header(1).u8(t, 0)).u8(0).build(), /message type/);
    for (const f of [32, 64, 128, 255]) expectFrameError(body(header(1).u8(MessageType.Heartbeat, f)).u8(0).build(), /flags/);
    for (const f of [4, 8, 12]) expectFrameError(body(header(1).u8(MessageType.Heartbeat, f)).u8(0).build(), /without entries/);
    expectFrameError(body(header(1).u8(MessageType.App, 4 | 8)).u8(1).u8(1, 3).u8(0).build(), /entry type/);
    expectFrameError(body(header(1).u8(MessageType.Prop, 0)).u8(1).u8(0, 1, 7).u8(0).build(), /entry type/);
    expectFrameError(body(header(1).u8(MessageType.Prop, 8)).u8(1).u8(1, 9).u8(0, 0).build(), /entry type/);
    expectFrameError(body(header(1).u8(MessageType.Snap, 2)).u8(0).u8(1, 1, 0, 0, 0).u8(2).u8(0).build(), /done/);
  });

  it('a group reference with no previous message', () => {
    expectFrameError(header(1).u8(MessageType.Heartbeat, 16).u8(1, 0, 0, 0, 0, 0, 0).build(), /previous group/);
  });

  it('AppendEntries whose entries do not follow the previous index', () => {
    expectFrameError(body(header(1).u8(MessageType.App, 8)).u8(1).u8(1, 0).u8(5).u8(0).build(), /consecutive/);
    expectFrameError(body(header(1).u8(MessageType.App, 0)).u8(1).u8(1, 1, 0).u8(0).build(), /consecutive/);
  });

  it('entry indexes implied past 2^53', () => {
    const b = header(1).u8(MessageType.App, 4 | 8).str('g').u8(1, 1).varint(2 ** 53 - 2).u8(0, 0, 0).u8(2).u8(1, 0).u8(0, 0);
    expectFrameError(b.build(), /2\^53/);
  });

  it('one-entry messages at the edges of the one-byte fast path decode like any other', () => {
    for (const term of [0, 127, 128, 2 ** 40]) {
      for (const size of [0, 1, 127, 128, 300]) {
        for (const type of [EntryType.Noop, EntryType.Normal, EntryType.Config]) {
          for (const index of [0, 126, 127, 2 ** 53 - 2]) {
            const m = message(MessageType.App, 'g', 'a', 'b', term + 1);
            m.index = index;
            m.entries = [{ index: index + 1, term, type, data: bytes(size, size) }];
            roundTrip('a', 'b', [m, { ...m, group: 'h' }]);
          }
        }
      }
    }
    // The one entry's index would be 2^53: refused, not wrapped.
    const b = header(1).u8(MessageType.App, 4 | 8).str('g').u8(1, 1).varint(2 ** 53 - 1).u8(0, 0, 0).u8(1).u8(1, 0).u8(0);
    expectFrameError(b.build(), /2\^53/);
    // An unknown entry type or a truncated payload in the one-entry layout.
    expectFrameError(header(1).u8(MessageType.App, 4 | 8).str('g').u8(1, 1, 0, 0, 0, 0, 1).u8(1, 9, 0).build(), /entry type/);
    expectFrameError(header(1).u8(MessageType.App, 4 | 8).str('g').u8(1, 1, 0, 0, 0, 0, 1).u8(1, 0, 5, 1, 2).build(), /truncated/);
  });

  it('varints that are overlong, too long, or not below 2^53', () => {
    const withTerm = (t: number[]) => header(1).u8(MessageType.Heartbeat, 0).str('g').raw(t).u8(0, 0, 0, 0, 0, 0).build();
    expectFrameError(withTerm([0x80, 0x00]), /overlong/);
    expectFrameError(withTerm([0xff, 0x80, 0x00]), /overlong/);
    expectFrameError(withTerm([0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), /overlong/);
    expectFrameError(withTerm([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), /longer than/);
    expectFrameError(withTerm([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]), /2\^53/);
    // The largest accepted: 2^53 - 1.
    const max = decodeBatch(withTerm([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    expect(max.messages[0]!.term).toBe(2 ** 53 - 1);
  });

  it('a decode that fails part way returns nothing: the batch is all or nothing', () => {
    const good = encodeBatch('a', 'b', [message(MessageType.Heartbeat, 'g', 'a', 'b', 1), message(MessageType.Heartbeat, 'g', 'a', 'b', 2)]);
    const broken = Uint8Array.from(good);
    broken[broken.length - 9] = 0xff; // the second message's type (type, flags, six varints, entry count)
    expectFrameError(broken, /message type/);
  });
});

describe('varint helpers (putVarint, varintSize, getVarint)', () => {
  const values = [0, 1, 0x7f, 0x80, 0x3fff, 0x4000, 2 ** 31 - 1, 2 ** 32 - 1, 2 ** 32, 2 ** 35 + 17, Number.MAX_SAFE_INTEGER];

  it('reads back what putVarint wrote, in varintSize bytes, from any offset', () => {
    const b = new Uint8Array(16);
    const slot = { value: -1 };
    for (const v of values) {
      const end = putVarint(b, 3, v);
      expect(end - 3, `size of ${v}`).toBe(varintSize(v));
      expect(getVarint(b, 3, end, slot), `end of ${v}`).toBe(end);
      expect(slot.value).toBe(v);
    }
  });

  it('returns -1 for a varint cut short, one longer than 8 bytes, or one above 2^53 - 1', () => {
    const b = new Uint8Array(16);
    const slot = { value: 7 };
    const end = putVarint(b, 0, 2 ** 40);
    for (let stop = 0; stop < end; stop++) expect(getVarint(b, 0, stop, slot), `stop ${stop}`).toBe(-1);
    expect(getVarint(new Uint8Array(9).fill(0x80), 0, 9, slot)).toBe(-1);
    // 2^53 exactly: seven full groups and a last group of 2^53 / 2^49 = 16.
    expect(getVarint(Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]), 0, 8, slot)).toBe(-1);
    expect(slot.value).toBe(7); // untouched on failure
  });
});
