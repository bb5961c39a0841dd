/**
 * Key layout of the one RocksDB database shared by every group of a node. Groups are registered
 * under a numeric id (u32), so every per-group key has a fixed-width prefix and one group's keys
 * can never be a prefix of another's; indices are big-endian u64, so a group's log is one
 * contiguous, ordered key range.
 *
 * ```
 * 0x01 name(UTF-8)          -> group id (u32)         registry, by name
 * 0x02 id                   -> name (UTF-8)           registry, by id
 * 0x10 id index(u64)        -> term(u64) type(u8) data   log entries
 * 0x11 id                   -> first index (u64)      compaction marker
 * 0x12 id                   -> hard state             term(u64) commit(u64) vote(UTF-8)
 * 0x13 id                   -> (empty)                group being deleted
 * ```
 */
const TWO_32 = 2 ** 32;

export const REG_NAME = 0x01;
export const REG_ID = 0x02;
export const LOG = 0x10;
export const FIRST = 0x11;
export const HARD = 0x12;
export const DELETING = 0x13;

/** Bytes of a log key. */
export const LOG_KEY_BYTES = 13;
/** Bytes before the data in a log value. */
export const VALUE_HEADER_BYTES = 9;

export function nameKey(name: string): Buffer {
  const n = Buffer.from(name, 'utf8');
  const k = Buffer.allocUnsafe(1 + n.length);
  k[0] = REG_NAME;
  n.copy(k, 1);
  return k;
}

/** A key made of a tag and a group id. */
export function groupKey(tag: number, gid: number): Buffer {
  const k = Buffer.allocUnsafe(5);
  k[0] = tag;
  k.writeUInt32BE(gid, 1);
  return k;
}

/** Writes the log key of (`gid`, `index`) into `out` at `at`. */
export function writeLogKey(out: Uint8Array, at: number, gid: number, index: number): void {
  const dv = new DataView(out.buffer, out.byteOffset + at, LOG_KEY_BYTES);
  dv.setUint8(0, LOG);
  dv.setUint32(1, gid);
  dv.setUint32(5, Math.floor(index / TWO_32));
  dv.setUint32(9, index % TWO_32);
}

export function logKey(gid: number, index: number): Buffer {
  const k = Buffer.allocUnsafe(LOG_KEY_BYTES);
  writeLogKey(k, 0, gid, index);
  return k;
}

/** The first key after every log key of `gid`. */
export function logEnd(gid: number): Buffer {
  const k = Buffer.alloc(LOG_KEY_BYTES, 0xff);
  k[0] = LOG;
  k.writeUInt32BE(gid, 1);
  return k;
}

export function logKeyIndex(k: Uint8Array): number {
  const dv = new DataView(k.buffer, k.byteOffset, k.byteLength);
  return dv.getUint32(5) * TWO_32 + dv.getUint32(9);
}

export function encodeU64(n: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeUInt32BE(Math.floor(n / TWO_32), 0);
  b.writeUInt32BE(n % TWO_32, 4);
  return b;
}

export function decodeU64(b: Uint8Array): number {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return dv.getUint32(0) * TWO_32 + dv.getUint32(4);
}
