/**
 * The snapshot file format: `<index>-<term>.snap`, fixed-width decimal numbers so names sort by index.
 *
 * ```
 * header: magic "TSSN" | meta length (u32) | crc32c of meta (u32) | meta (JSON: index, term, membership)
 * image:  the bytes written, in order
 * footer: image size (u64) | crc32c of image (u32) | magic "TSNE"
 * ```
 *
 * A snapshot is written under a temporary name and renamed into place on commit, so a `.snap`
 * file is always complete; the footer and checksums catch later damage.
 */
import { z } from 'zod';
import { CorruptionError, type SnapshotMeta } from '@tessera/raft';
import { crc32c } from './crc32c.js';

const HEAD_MAGIC = 0x4e535354; // "TSSN"
const FOOT_MAGIC = 0x454e5354; // "TSNE"
export const FOOTER_BYTES = 16;
const TWO_32 = 2 ** 32;
const NAME = /^(\d{20})-(\d{20})\.snap$/;

const metaSchema = z.object({
  index: z.number().int().min(0),
  term: z.number().int().min(0),
  membership: z.object({ voters: z.array(z.string()), learners: z.array(z.string()) }),
});

export function snapshotFileName(meta: SnapshotMeta): string {
  return `${String(meta.index).padStart(20, '0')}-${String(meta.term).padStart(20, '0')}.snap`;
}

export function parseSnapshotFileName(name: string): { index: number; term: number } | undefined {
  const m = NAME.exec(name);
  return m ? { index: Number(m[1]), term: Number(m[2]) } : undefined;
}

export function encodeHeader(meta: SnapshotMeta): Buffer {
  const json = Buffer.from(JSON.stringify({ index: meta.index, term: meta.term, membership: { voters: [...meta.membership.voters], learners: [...meta.membership.learners] } }), 'utf8');
  const b = Buffer.alloc(12 + json.length);
  b.writeUInt32LE(HEAD_MAGIC, 0);
  b.writeUInt32LE(json.length, 4);
  b.writeUInt32LE(crc32c(json), 8);
  json.copy(b, 12);
  return b;
}

/** Length of the header from its first 12 bytes (then read that many and call {@link decodeHeader}). */
export function headerLength(first12: Buffer, path: string): number {
  if (first12.length < 12 || first12.readUInt32LE(0) !== HEAD_MAGIC) throw new CorruptionError(`${path}: not a snapshot file (bad header)`);
  return 12 + first12.readUInt32LE(4);
}

export function decodeHeader(b: Buffer, path: string): SnapshotMeta {
  const len = b.readUInt32LE(4);
  if (b.length !== 12 + len || crc32c(b, 12) !== b.readUInt32LE(8)) throw new CorruptionError(`${path}: snapshot metadata is damaged`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(b.toString('utf8', 12));
  } catch (err) {
    throw new CorruptionError(`${path}: snapshot metadata is not JSON`, { cause: err });
  }
  const r = metaSchema.safeParse(parsed);
  if (!r.success) throw new CorruptionError(`${path}: snapshot metadata is invalid: ${r.error.issues[0]?.message}`);
  return r.data;
}

export function encodeFooter(size: number, crc: number): Buffer {
  const b = Buffer.alloc(FOOTER_BYTES);
  b.writeUInt32LE(size % TWO_32, 0);
  b.writeUInt32LE(Math.floor(size / TWO_32), 4);
  b.writeUInt32LE(crc, 8);
  b.writeUInt32LE(FOOT_MAGIC, 12);
  return b;
}

export function decodeFooter(b: Buffer, path: string): { size: number; crc: number } {
  if (b.length !== FOOTER_BYTES || b.readUInt32LE(12) !== FOOT_MAGIC) throw new CorruptionError(`${path}: snapshot footer is damaged`);
  return { size: b.readUInt32LE(0) + b.readUInt32LE(4) * TWO_32, crc: b.readUInt32LE(8) };
}
