/**
 * Wire framing. Each direction of a connection starts with a 6-byte preamble, then carries frames:
 *
 *   preamble := "TSRA" u16be(protocolVersion)
 *   frame    := u32be(length) u8(type) body[length - 1]
 *
 * `length` counts the type byte and the body. The decoder rejects a length beyond the current limit
 * before allocating anything, so a peer cannot make us reserve memory it never sends.
 */
import { FrameError } from '@tessera/raft';

/** The protocol version this build speaks. Peers must speak the same one. */
export const PROTOCOL_VERSION = 1;
export const MAGIC = Buffer.from('TSRA', 'ascii');
export const PREAMBLE_BYTES = 6;
export const HEADER_BYTES = 5;

/** Frame types. The values are part of the wire format: never renumber. */
export const FrameType = {
  /** Handshake: JSON hello (cluster, node, nonce, ...). */
  Hello: 1,
  /** Handshake: 32-byte HMAC-SHA256 proof of the shared secret. */
  Auth: 2,
  /** JSON {code, reason}; the sender closes the connection after it. */
  Reject: 3,
  /** u32be selection id: the lower node id tells the higher which connection carries traffic. */
  Select: 4,
  /** A batch of Raft messages encoded by @tessera/raft's codec. */
  Batch: 16,
  /** Keep-alive probe, empty body; answered with Pong. */
  Ping: 17,
  /** Answer to Ping, empty body. Peers may use different idle timeouts, so each side's probe is answered. */
  Pong: 18,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

const KNOWN_TYPES = new Set<number>(Object.values(FrameType));

/** Largest frame accepted before the peer has authenticated (handshake frames are tiny). */
export const PREAUTH_FRAME_LIMIT = 16 * 1024;

/** The preamble this node sends. */
export function preamble(version = PROTOCOL_VERSION): Buffer {
  const b = Buffer.allocUnsafe(PREAMBLE_BYTES);
  MAGIC.copy(b, 0);
  b.writeUInt16BE(version, 4);
  return b;
}

/** One frame (header and body) in a single buffer. */
export function frame(type: FrameType, body: Uint8Array = EMPTY): Buffer {
  const b = Buffer.allocUnsafe(HEADER_BYTES + body.byteLength);
  b.writeUInt32BE(body.byteLength + 1, 0);
  b[4] = type;
  b.set(body, HEADER_BYTES);
  return b;
}

/** Just a frame header, for bodies written separately (corked) to avoid copying them. */
export function frameHeader(type: FrameType, bodyBytes: number): Buffer {
  const b = Buffer.allocUnsafe(HEADER_BYTES);
  b.writeUInt32BE(bodyBytes + 1, 0);
  b[4] = type;
  return b;
}

const EMPTY = new Uint8Array(0);

/** Receives what the decoder found. Exceptions thrown here propagate out of `push`. */
export interface FrameSink {
  preamble(version: number): void;
  frame(type: FrameType, body: Uint8Array): void;
}

/**
 * Incremental decoder: feed it socket chunks in order; it calls the sink for the preamble and each
 * complete frame. Throws {@link FrameError} on bad magic, an unknown type, an empty or oversize frame.
 * After a throw the decoder is unusable and the connection must be closed.
 *
 * Bodies that fill most of a chunk are passed as views; small ones are copied so that a long-lived
 * message (e.g. an entry kept in a log) does not pin a whole 64 KiB read buffer.
 */
export class FrameDecoder {
  /** Body size limit; raised once the peer is authenticated. */
  limit: number;
  private sawPreamble = false;
  private head = Buffer.alloc(PREAMBLE_BYTES);
  private headFill = 0;
  private body: Uint8Array | undefined;
  private bodyType: FrameType = FrameType.Ping;
  private bodyFill = 0;
  private failed = false;
  private halted = false;

  constructor(
    private readonly sink: FrameSink,
    limit = PREAUTH_FRAME_LIMIT,
  ) {
    this.limit = limit;
  }

  /** Bytes of a partly received frame, for progress checks. */
  get partialBytes(): number {
    return this.body ? this.bodyFill : this.headFill;
  }

  /** Stops decoding: the rest of the current chunk and later pushes are ignored (the connection is closing). */
  halt(): void {
    this.failed = true;
    this.halted = true;
  }

  push(chunk: Uint8Array): void {
    if (this.failed && this.halted) return;
    if (this.failed) throw new FrameError('decoder used after an error');
    try {
      this.consume(chunk);
    } catch (e) {
      this.failed = true;
      throw e;
    }
  }

  private consume(chunk: Uint8Array): void {
    let pos = 0;
    const len = chunk.byteLength;
    while (pos < len && !this.failed) {
      if (this.body) {
        const n = Math.min(this.body.byteLength - this.bodyFill, len - pos);
        this.body.set(chunk.subarray(pos, pos + n), this.bodyFill);
        this.bodyFill += n;
        pos += n;
        if (this.bodyFill === this.body.byteLength) {
          const body = this.body;
          this.body = undefined;
          this.bodyFill = 0;
          this.sink.frame(this.bodyType, body);
        }
        continue;
      }
      if (!this.sawPreamble) {
        const n = Math.min(PREAMBLE_BYTES - this.headFill, len - pos);
        this.head.set(chunk.subarray(pos, pos + n), this.headFill);
        this.headFill += n;
        pos += n;
        // Check the magic as soon as its bytes arrive, so garbage is refused without waiting.
        for (let i = 0; i < Math.min(this.headFill, MAGIC.length); i++) {
          if (this.head[i] !== MAGIC[i]) throw new FrameError('bad preamble: not a Tessera TCP peer');
        }
        if (this.headFill === PREAMBLE_BYTES) {
          this.sawPreamble = true;
          this.headFill = 0;
          this.sink.preamble(this.head.readUInt16BE(4));
        }
        continue;
      }
      // Fast path: a whole header (and maybe the body) inside this chunk.
      let frameLen: number;
      let type: number;
      if (this.headFill === 0 && len - pos >= HEADER_BYTES) {
        frameLen = ((chunk[pos]! << 24) >>> 0) + (chunk[pos + 1]! << 16) + (chunk[pos + 2]! << 8) + chunk[pos + 3]!;
        type = chunk[pos + 4]!;
        pos += HEADER_BYTES;
      } else {
        const n = Math.min(HEADER_BYTES - this.headFill, len - pos);
        this.head.set(chunk.subarray(pos, pos + n), this.headFill);
        this.headFill += n;
        pos += n;
        if (this.headFill < HEADER_BYTES) continue;
        this.headFill = 0;
        frameLen = this.head.readUInt32BE(0);
        type = this.head[4]!;
      }
      if (frameLen === 0) throw new FrameError('frame length 0');
      if (!KNOWN_TYPES.has(type)) throw new FrameError(`unknown frame type ${type}`);
      const bodyLen = frameLen - 1;
      if (bodyLen > this.limit) throw new FrameError(`frame of ${bodyLen} bytes exceeds the limit of ${this.limit}`);
      if (len - pos >= bodyLen) {
        // A plain Uint8Array view, not a Buffer: the codec slices entry data out of it, and slicing
        // a Buffer builds Buffers, which costs noticeably more per entry.
        const view = new Uint8Array(chunk.buffer, chunk.byteOffset + pos, bodyLen);
        pos += bodyLen;
        this.sink.frame(type as FrameType, bodyLen * 2 >= len ? view : copy(view));
      } else {
        this.body = unfilled(bodyLen);
        this.bodyType = type as FrameType;
        this.bodyFill = 0;
      }
    }
  }
}

function copy(view: Uint8Array): Uint8Array {
  const out = unfilled(view.byteLength);
  out.set(view);
  return out;
}

/**
 * Memory for a body that is completely written before anyone reads it, so not zero-filled (zeroing
 * costs as much as the copy). A plain Uint8Array rather than the Buffer: the codec sees one shape.
 */
function unfilled(n: number): Uint8Array {
  return new Uint8Array(Buffer.allocUnsafeSlow(n).buffer, 0, n);
}
