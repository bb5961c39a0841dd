import { createHmac, timingSafeEqual } from 'node:crypto';
import { FrameError, getVarint, putVarint, varintSize, type NodeId, type VarintSlot } from '@tessera/raft';

/**
 * The envelope around every NATS payload this transport publishes. The body is a batch encoded by
 * `encodeBatch` from @tessera/raft, or one fragment of such a batch when it exceeds the server's
 * `max_payload`.
 *
 *   payload  := u8 version (1), u8 flags (1 = fragment, 2 = mac), [mac], [fragment], body
 *   mac      := 32 bytes HMAC-SHA256(secret, payload without the mac field)
 *   fragment := str from, u32be message id, varint index, varint count, varint total body bytes
 *   str      := varint length, UTF-8;  varint := unsigned LEB128 below 2^53
 *
 * Changing this layout changes the wire contract between nodes: bump the version.
 */
export const ENVELOPE_VERSION = 1;
const FLAG_FRAGMENT = 1;
const FLAG_MAC = 2;
export const MAC_BYTES = 32;
/** Version and flags. */
const FIXED_BYTES = 2;
const MAX_VARINT_BYTES = 8;

/** Why an inbound payload was dropped; also the key in `stats().reasons`. */
export type RejectReason =
  | 'malformed-envelope'
  | 'missing-mac'
  | 'unexpected-mac'
  | 'bad-mac'
  | 'malformed-batch'
  | 'misaddressed'
  | 'sender-mismatch'
  | 'fragment-sequence'
  | 'fragment-too-large'
  | 'fragment-timeout'
  | 'fragment-evicted';

/** An inbound payload that must be dropped; `reason` classifies it for stats and logs. */
export class PayloadRejectedError extends FrameError {
  constructor(
    readonly reason: RejectReason,
    detail: string,
  ) {
    super(`${reason}: ${detail}`);
  }
}

/** Identifies one fragment of a message that was too large for one publish. */
export interface FragmentHeader {
  /** The sending node, so fragments of different senders are reassembled apart. */
  readonly from: NodeId;
  /** Chosen by the sender, distinct for consecutive fragmented messages. */
  readonly id: number;
  readonly index: number;
  readonly count: number;
  /** Length of the whole reassembled body. */
  readonly total: number;
}

export type Envelope = { readonly fragment: undefined; readonly body: Uint8Array } | { readonly fragment: FragmentHeader; readonly body: Uint8Array };

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

class Reader {
  pos: number;
  private readonly slot: VarintSlot = { value: 0 };
  constructor(
    readonly buf: Uint8Array,
    start: number,
  ) {
    this.pos = start;
  }
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new PayloadRejectedError('malformed-envelope', `truncated header at offset ${this.pos}`);
  }
  varint(): number {
    const p = getVarint(this.buf, this.pos, this.buf.length, this.slot);
    if (p < 0) throw new PayloadRejectedError('malformed-envelope', `bad or truncated varint at offset ${this.pos}`);
    this.pos = p;
    return this.slot.value;
  }
  u32(): number {
    this.need(4);
    const b = this.buf;
    const v = ((b[this.pos]! << 24) >>> 0) + (b[this.pos + 1]! << 16) + (b[this.pos + 2]! << 8) + b[this.pos + 3]!;
    this.pos += 4;
    return v;
  }
  str(): string {
    const n = this.varint();
    this.need(n);
    try {
      return textDecoder.decode(this.buf.subarray(this.pos, (this.pos += n)));
    } catch {
      throw new PayloadRejectedError('malformed-envelope', 'invalid UTF-8 in sender id');
    }
  }
}

/** Builds and parses envelopes; holds the HMAC key when the cluster has a secret. */
export class EnvelopeCodec {
  private readonly key: Uint8Array | undefined;

  constructor(secret: string | Uint8Array | undefined) {
    this.key = typeof secret === 'string' ? textEncoder.encode(secret) : secret;
  }

  /** Bytes an unfragmented envelope adds to its body. */
  get batchOverhead(): number {
    return FIXED_BYTES + (this.key ? MAC_BYTES : 0);
  }

  /** Upper bound on the bytes a fragment envelope from `from` adds to its chunk. */
  fragmentOverhead(from: NodeId): number {
    return this.batchOverhead + MAX_VARINT_BYTES + textEncoder.encode(from).byteLength + 4 + 3 * MAX_VARINT_BYTES;
  }

  /** Wraps a whole encoded batch. */
  wrapBatch(body: Uint8Array): Uint8Array {
    const out = new Uint8Array(this.batchOverhead + body.byteLength);
    const start = this.header(out, 0);
    out.set(body, start);
    this.sign(out);
    return out;
  }

  /** Wraps one fragment (`chunk` is part `h.index` of a body of `h.total` bytes). */
  wrapFragment(h: FragmentHeader, chunk: Uint8Array): Uint8Array {
    const from = textEncoder.encode(h.from);
    const headerBytes = varintSize(from.byteLength) + from.byteLength + 4 + varintSize(h.index) + varintSize(h.count) + varintSize(h.total);
    const out = new Uint8Array(this.batchOverhead + headerBytes + chunk.byteLength);
    let pos = this.header(out, FLAG_FRAGMENT);
    pos = putVarint(out, pos, from.byteLength);
    out.set(from, pos);
    pos += from.byteLength;
    out[pos++] = (h.id >>> 24) & 0xff;
    out[pos++] = (h.id >>> 16) & 0xff;
    out[pos++] = (h.id >>> 8) & 0xff;
    out[pos++] = h.id & 0xff;
    pos = putVarint(out, pos, h.index);
    pos = putVarint(out, pos, h.count);
    pos = putVarint(out, pos, h.total);
    out.set(chunk, pos);
    this.sign(out);
    return out;
  }

  /**
   * Parses and authenticates a payload. The body is a view into `payload`. Throws
   * {@link PayloadRejectedError} for anything malformed or unauthenticated.
   */
  unwrap(payload: Uint8Array): Envelope {
    if (payload.byteLength < FIXED_BYTES) throw new PayloadRejectedError('malformed-envelope', `${payload.byteLength}-byte payload`);
    const version = payload[0]!;
    if (version !== ENVELOPE_VERSION) throw new PayloadRejectedError('malformed-envelope', `unsupported envelope version ${version}`);
    const flags = payload[1]!;
    if ((flags & ~(FLAG_FRAGMENT | FLAG_MAC)) !== 0) throw new PayloadRejectedError('malformed-envelope', `unknown flags ${flags}`);
    let pos = FIXED_BYTES;
    if (flags & FLAG_MAC) {
      if (!this.key) throw new PayloadRejectedError('unexpected-mac', 'the sender uses a cluster secret but this node has none');
      if (payload.byteLength < FIXED_BYTES + MAC_BYTES) throw new PayloadRejectedError('malformed-envelope', 'truncated MAC');
      const expected = this.mac(payload);
      if (!timingSafeEqual(expected, payload.subarray(FIXED_BYTES, FIXED_BYTES + MAC_BYTES))) {
        throw new PayloadRejectedError('bad-mac', 'HMAC does not match the cluster secret');
      }
      pos += MAC_BYTES;
    } else if (this.key) {
      throw new PayloadRejectedError('missing-mac', 'payload is not authenticated but this node requires the cluster secret');
    }
    if (!(flags & FLAG_FRAGMENT)) return { fragment: undefined, body: payload.subarray(pos) };
    const r = new Reader(payload, pos);
    const from = r.str();
    const id = r.u32();
    const index = r.varint();
    const count = r.varint();
    const total = r.varint();
    if (count < 2 || index >= count) throw new PayloadRejectedError('malformed-envelope', `fragment ${index} of ${count}`);
    if (total < count) throw new PayloadRejectedError('malformed-envelope', `${count} fragments for ${total} bytes`);
    const body = payload.subarray(r.pos);
    if (body.byteLength === 0 || body.byteLength > total) throw new PayloadRejectedError('malformed-envelope', `fragment of ${body.byteLength} bytes for a ${total}-byte message`);
    return { fragment: { from, id, index, count, total }, body };
  }

  private header(out: Uint8Array, flags: number): number {
    out[0] = ENVELOPE_VERSION;
    out[1] = flags | (this.key ? FLAG_MAC : 0);
    return this.batchOverhead;
  }

  /** Writes the MAC into a built envelope (no-op without a secret). */
  private sign(out: Uint8Array): void {
    if (this.key) out.set(this.mac(out), FIXED_BYTES);
  }

  /** HMAC over the envelope minus its MAC field. */
  private mac(payload: Uint8Array): Buffer {
    return createHmac('sha256', this.key!)
      .update(payload.subarray(0, FIXED_BYTES))
      .update(payload.subarray(FIXED_BYTES + MAC_BYTES))
      .digest();
  }
}
