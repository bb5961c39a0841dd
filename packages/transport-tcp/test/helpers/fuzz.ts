/**
 * Seeded generators of valid protocol streams and of mutations of them, for the fuzz tests.
 */
import { CODEC_VERSION, encodeBatch } from '@tessera/raft';
import { bigAppend, everyKindOfMessage, seqMessage } from '@tessera/testing/transport';
import { FrameType, frame, preamble } from '../../src/frame.js';
import { encodeJson, type Hello } from '../../src/handshake.js';
import { seededRandom } from '@tessera/testing';

/** mulberry32: small, fast, seedable (shared with the other packages' tests). */
export const rng = seededRandom;

export type Rand = () => number;
export const int = (r: Rand, n: number): number => Math.floor(r() * n);
const bytes = (r: Rand, n: number): Buffer => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = int(r, 256);
  return b;
};

export interface StreamParts {
  /** Everything up to and including the handshake frames. */
  handshake: Buffer[];
  /** Post-handshake frames (batches and keep-alives). */
  frames: Buffer[];
}

/**
 * A valid inbound stream from `peer` to node `to` (no secret): preamble, hello, a Select if `peer`
 * is the lower id, then batch and keep-alive frames.
 */
export function validStream(r: Rand, peer: string, to: string, cluster: string): StreamParts {
  const hello: Hello = {
    cluster,
    node: peer,
    instance: bytes(r, 8).toString('hex'),
    nonce: bytes(r, 32).toString('hex'),
    role: 'dial',
    to,
    auth: 'none',
    maxFrameBytes: 1 << 20,
  };
  const handshake = [preamble(), frame(FrameType.Hello, encodeJson(hello))];
  if (peer < to) {
    const id = Buffer.allocUnsafe(4);
    id.writeUInt32BE(1 + int(r, 1000), 0);
    handshake.push(frame(FrameType.Select, id));
  }
  const frames: Buffer[] = [];
  const n = 1 + int(r, 4);
  for (let i = 0; i < n; i++) {
    const kind = int(r, 6);
    if (kind === 0) frames.push(frame(FrameType.Ping));
    else if (kind === 1) frames.push(frame(FrameType.Batch, encodeBatch(peer, to, everyKindOfMessage(peer, to, `g${int(r, 9)}`))));
    else if (kind === 2) frames.push(frame(FrameType.Batch, encodeBatch(peer, to, [bigAppend(peer, to, 'big', 1 + int(r, 4000), 1 + int(r, 5), int(r, 99))])));
    else frames.push(frame(FrameType.Batch, encodeBatch(peer, to, Array.from({ length: 1 + int(r, 20) }, (_, j) => seqMessage(peer, to, `g${int(r, 50)}`, j)))));
  }
  return { handshake, frames };
}

/** Mutations that keep the stream well framed but break it in a way a correct node must refuse. */
export const guaranteedBad: { name: string; apply(r: Rand, s: StreamParts): Buffer }[] = [
  {
    name: 'bad magic',
    apply(r, s) {
      const all = Buffer.concat([...s.handshake, ...s.frames]);
      const i = int(r, 4);
      all[i] = all[i]! ^ (1 + int(r, 255));
      return all;
    },
  },
  {
    name: 'unknown frame type',
    apply(r, s) {
      const f = Buffer.from(s.frames[int(r, s.frames.length)]!);
      const known = new Set<number>(Object.values(FrameType));
      let t = int(r, 256);
      while (known.has(t)) t = int(r, 256);
      f[4] = t;
      return Buffer.concat([...s.handshake, f]);
    },
  },
  {
    name: 'length beyond the limit',
    apply(r, s) {
      const f = Buffer.from(s.frames[0]!);
      f.writeUInt32BE((1 << 20) + 2 + int(r, 2 ** 31), 0);
      return Buffer.concat([...s.handshake, f.subarray(0, 5 + int(r, f.length - 5))]);
    },
  },
  {
    name: 'zero length',
    apply(_r, s) {
      return Buffer.concat([...s.handshake, Buffer.from([0, 0, 0, 0, 16])]);
    },
  },
  {
    name: 'batch body truncated, length fixed up',
    apply(r, s) {
      const body = batchBody(r, s);
      return Buffer.concat([...s.handshake, frame(FrameType.Batch, body.subarray(0, int(r, body.length)))]);
    },
  },
  {
    name: 'batch body with trailing bytes',
    apply(r, s) {
      const body = batchBody(r, s);
      return Buffer.concat([...s.handshake, frame(FrameType.Batch, Buffer.concat([body, bytes(r, 1 + int(r, 8))]))]);
    },
  },
  {
    name: 'batch with an unsupported codec version',
    apply(r, s) {
      const body = Buffer.from(batchBody(r, s));
      body[0] = (CODEC_VERSION + 1 + int(r, 255)) % 256; // any byte but the current version
      return Buffer.concat([...s.handshake, frame(FrameType.Batch, body)]);
    },
  },
  {
    name: 'hello body is random bytes',
    apply(r, s) {
      return Buffer.concat([s.handshake[0]!, frame(FrameType.Hello, bytes(r, int(r, 300)))]);
    },
  },
  {
    name: 'batch before the hello',
    apply(r, s) {
      return Buffer.concat([s.handshake[0]!, s.frames[int(r, s.frames.length)]!]);
    },
  },
  {
    name: 'pure random bytes',
    apply(r) {
      return bytes(r, 1 + int(r, 2000));
    },
  },
];

function batchBody(r: Rand, s: StreamParts): Buffer {
  const batches = s.frames.filter((f) => f[4] === FrameType.Batch);
  const f = batches.length > 0 ? batches[int(r, batches.length)]! : frame(FrameType.Batch, encodeBatch('x', 'y', [seqMessage('x', 'y', 'g', 1)]));
  return f.subarray(5);
}

/** Arbitrary mutations: the result may or may not be valid. */
export function randomMutation(r: Rand, s: StreamParts): Buffer {
  let all = Buffer.concat([...s.handshake, ...s.frames]);
  const rounds = 1 + int(r, 4);
  for (let k = 0; k < rounds; k++) {
    const op = int(r, 7);
    const at = int(r, all.length);
    if (op === 0) all[at] = all[at]! ^ (1 << int(r, 8));
    else if (op === 1) all[at] = int(r, 256);
    else if (op === 2) all = all.subarray(0, at);
    else if (op === 3) all = Buffer.concat([all.subarray(0, at), bytes(r, 1 + int(r, 16)), all.subarray(at)]);
    else if (op === 4) all = Buffer.concat([all.subarray(0, at), all.subarray(Math.min(all.length, at + 1 + int(r, 16)))]);
    else if (op === 5) all = Buffer.concat([all, all.subarray(at, at + int(r, 64))]);
    else {
      // Rewrite a 4-byte window as a big-endian integer (hits length prefixes and varints).
      if (at + 4 <= all.length) all.writeUInt32BE([0, 1, 5, 0xffff, 0x7fffffff, 0xffffffff, int(r, 2 ** 32)][int(r, 7)]!, at);
    }
    if (all.length === 0) break;
  }
  return Buffer.from(all);
}

/** Splits `buf` into chunks at random boundaries (as TCP may). */
export function chunks(r: Rand, buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const n = int(r, 4) === 0 ? 1 + int(r, 8) : 1 + int(r, 4096);
    out.push(buf.subarray(pos, pos + n));
    pos += n;
  }
  return out;
}
