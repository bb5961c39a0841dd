import { describe, expect, it } from 'vitest';
import { crc32c } from '../src/crc32c.js';

/** Bitwise reference implementation: slow, obviously right. */
function reference(buf: Uint8Array): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

describe('crc32c', () => {
  it('matches the published test vectors (RFC 3720 B.4 and the "123456789" check value)', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it('agrees with the bitwise reference at every length, alignment and buffer offset', () => {
    const big = Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 13);
    for (let start = 0; start < 9; start++) {
      for (const len of [0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 100, 257, 1000]) {
        const slice = big.subarray(start, start + len);
        expect(crc32c(big, start, start + len), `start ${start} len ${len}`).toBe(reference(slice));
        expect(crc32c(slice), `view at ${start} len ${len}`).toBe(reference(slice));
      }
    }
  });

  it('continues a running checksum across calls', () => {
    const data = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);
    let c = 0;
    for (let off = 0; off < data.length; off += 77) c = crc32c(data, off, Math.min(off + 77, data.length), c);
    expect(c).toBe(crc32c(data));
  });
});
