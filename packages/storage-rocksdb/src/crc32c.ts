/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of iSCSI, ext4 and RocksDB.
 * Slicing-by-8: eight 256-entry tables let the loop consume eight bytes per step with table
 * lookups only. Bytes are read as aligned little-endian 32-bit words through an Int32Array view of
 * the underlying buffer, about twice as fast in V8 as assembling words from single bytes.
 */

const POLY = 0x82f63b78;

/** TABLES[k * 256 + b]: CRC of byte `b` followed by `k` zero bytes. */
const TABLES = (() => {
  const t = new Int32Array(8 * 256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[b] = c;
  }
  for (let b = 0; b < 256; b++) {
    let c = t[b]!;
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + b] = c;
    }
  }
  return t;
})();

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Word views of buffers seen recently. A weak map so that a cached view never keeps a buffer alive;
 * the encoder checksums every record of a batch in one buffer, so one view serves the whole batch.
 */
const wordViews = new WeakMap<ArrayBufferLike, Int32Array>();

/**
 * CRC-32C of `buf[start, end)`, continuing from `crc` (the result of a previous call over the bytes
 * before, or 0 to start). Returns an unsigned 32-bit integer.
 */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length, crc = 0): number {
  return crc32cWords(buf, end - start >= 32 ? wordsOf(buf.buffer) : undefined, start, end, crc);
}

/**
 * {@link crc32c} for hot loops that checksum many ranges of one buffer: `words` must be an
 * Int32Array over all of `buf.buffer` from byte 0 (or `undefined` to read bytes only), made once
 * by the caller instead of looked up per call.
 */
export function crc32cWords(buf: Uint8Array, words: Int32Array | undefined, start: number, end: number, crc = 0): number {
  const t = TABLES;
  let c = ~crc;
  let i = start;
  if (LITTLE_ENDIAN && words !== undefined && end - start >= 16) {
    // Bytes until the absolute position is 4-aligned, then 8 bytes per step as two words.
    const base = buf.byteOffset;
    while ((base + i) & 3) c = t[(c ^ buf[i++]!) & 0xff]! ^ (c >>> 8);
    let w = (base + i) >>> 2;
    const steps = (end - i) >>> 3;
    const wEnd = w + steps * 2;
    for (; w < wEnd; w += 2) {
      const lo = c ^ words[w]!;
      const hi = words[w + 1]!;
      c =
        t[1792 + (lo & 0xff)]! ^
        t[1536 + ((lo >>> 8) & 0xff)]! ^
        t[1280 + ((lo >>> 16) & 0xff)]! ^
        t[1024 + (lo >>> 24)]! ^
        t[768 + (hi & 0xff)]! ^
        t[512 + ((hi >>> 8) & 0xff)]! ^
        t[256 + ((hi >>> 16) & 0xff)]! ^
        t[hi >>> 24]!;
    }
    i += steps * 8;
  }
  for (; i < end; i++) c = t[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** An Int32Array over all of `buffer` from byte 0, for {@link crc32cWords}. */
export function wordsOf(buffer: ArrayBufferLike): Int32Array {
  let w = wordViews.get(buffer);
  if (w === undefined) {
    w = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
    wordViews.set(buffer, w);
  }
  return w;
}
