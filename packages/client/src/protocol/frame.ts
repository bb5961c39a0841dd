/**
 * Client protocol framing: `u32be(length) body[length]`, where the body is one MessagePack array of
 * messages (requests from a client, responses and events from a node). Messages queued in one
 * event-loop turn travel in one frame.
 */
import { FrameError } from '@tessera/raft';
import { Packr } from 'msgpackr';

/** MessagePack settings shared by clients and nodes: plain maps and arrays, no record extension. */
export const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, variableMapSize: true, int64AsType: 'number' });

export const FRAME_HEADER_BYTES = 4;
/** Default cap on one frame; larger frames close the connection. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** Encodes messages into one frame. */
export function encodeFrame(messages: unknown[]): Buffer {
  const body = packr.pack(messages);
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, FRAME_HEADER_BYTES);
  return out;
}

/**
 * Splits a byte stream into frames and decodes them. Throws {@link FrameError} on a frame over the
 * limit or a body that is not a MessagePack array; the caller closes the connection.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {}

  /** Feeds bytes; calls `onMessages` once per complete frame. */
  push(data: Buffer, onMessages: (messages: unknown[]) => void): void {
    this.chunks.push(data);
    this.buffered += data.length;
    while (this.buffered >= FRAME_HEADER_BYTES) {
      const head = this.peekHeader();
      if (head > this.maxFrameBytes) throw new FrameError(`frame of ${head} bytes exceeds the limit of ${this.maxFrameBytes}`);
      if (this.buffered < FRAME_HEADER_BYTES + head) return;
      const frame = this.take(FRAME_HEADER_BYTES + head);
      let decoded: unknown;
      try {
        decoded = packr.unpack(frame.subarray(FRAME_HEADER_BYTES));
      } catch (err) {
        throw new FrameError(`undecodable frame body: ${(err as Error).message}`);
      }
      if (!Array.isArray(decoded)) throw new FrameError('frame body is not an array of messages');
      onMessages(decoded);
    }
  }

  private peekHeader(): number {
    const first = this.chunks[0]!;
    if (first.length >= FRAME_HEADER_BYTES) return first.readUInt32BE(0);
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined.readUInt32BE(0);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) {
      this.buffered -= n;
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const joined = Buffer.concat(this.chunks);
    this.chunks = joined.length > n ? [joined.subarray(n)] : [];
    this.buffered -= n;
    return joined.subarray(0, n);
  }
}
