import { describe, expect, it } from 'vitest';
import { crc32c, crc32cJs, defaultCrc32c, jsCrc32c, loadNativeCrc32c, selectCrc32c, type Crc32cImpl } from '../src/crc32c.js';

/** Bitwise reference implementation: slow, obviously right. */
function reference(buf: Uint8Array, crc = 0): number {
  let c = ~crc;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

const native = loadNativeCrc32c();
const impls: Crc32cImpl[] = [jsCrc32c, ...(native ? [native] : [])];

it('loads the native implementation on this platform and picks it by default', () => {
  // @node-rs/crc32 ships binaries for linux, macOS and Windows on x64 and arm64: CI runs there.
  expect(native?.name).toBe('native');
  expect(defaultCrc32c.name).toBe('native');
  expect(crc32c).toBe(defaultCrc32c.crc32c);
});

describe.each(impls.map((i) => [i.name, i] as const))('crc32c (%s)', (_name, impl) => {
  const f = impl.crc32c;

  it('matches the published test vectors (RFC 3720 B.4 and the "123456789" check value)', () => {
    expect(f(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(f(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(f(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(f(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(f(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
    expect(f(new Uint8Array(0))).toBe(0);
  });

  it('agrees with the bitwise reference at every length, alignment and buffer offset', () => {
    const big = Uint8Array.from({ length: 8192 }, (_, i) => (i * 2654435761) >>> 13);
    for (let start = 0; start < 9; start++) {
      for (const len of [0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 100, 255, 256, 257, 1000, 4099]) {
        const slice = big.subarray(start, start + len);
        expect(f(big, start, start + len), `start ${start} len ${len}`).toBe(reference(slice));
        expect(f(slice), `view at ${start} len ${len}`).toBe(reference(slice));
        expect(f(big, start, start + len, 0xdeadbeef), `seeded, start ${start} len ${len}`).toBe(reference(slice, 0xdeadbeef));
      }
    }
  });

  it('continues a running checksum across calls of any size', () => {
    const data = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 7) & 0xff);
    for (const step of [77, 300, 4096]) {
      let c = 0;
      for (let off = 0; off < data.length; off += step) c = f(data, off, Math.min(off + step, data.length), c);
      expect(c, `step ${step}`).toBe(reference(data));
    }
  });
});

describe('implementation choice', () => {
  it('falls back to JavaScript when the binding does not load', () => {
    const failing = () => {
      throw new Error('Cannot find module @node-rs/crc32-linux-x64-gnu');
    };
    expect(loadNativeCrc32c(failing)).toBeUndefined();
    expect(selectCrc32c('auto', failing)).toBe(jsCrc32c);
    expect(() => selectCrc32c('native', failing)).toThrow(/did not load/);
  });

  it('refuses a binding that computes something else (a broken build, the wrong polynomial)', () => {
    expect(loadNativeCrc32c(() => () => 0xcbf43926)).toBeUndefined(); // CRC-32 (IEEE) of "123456789"
    // Right check value, wrong continuation: also refused.
    expect(loadNativeCrc32c(() => (b, init = 0) => (b.length === 9 && init === 0 ? 0xe3069283 : 1))).toBeUndefined();
  });

  it('uses a binding that passes the checks, and keeps short ranges in JavaScript', () => {
    let calls = 0;
    const impl = loadNativeCrc32c(() => (b, init = 0) => {
      calls++;
      return crc32cJs(b, 0, b.length, init);
    })!;
    expect(impl.name).toBe('native');
    const before = calls;
    const data = new Uint8Array(5000).fill(3);
    expect(impl.crc32c(data, 10, 20)).toBe(reference(data.subarray(10, 20)));
    expect(calls).toBe(before);
    expect(impl.crc32c(data, 10, 4000)).toBe(reference(data.subarray(10, 4000)));
    expect(calls).toBe(before + 1);
    expect(selectCrc32c('js')).toBe(jsCrc32c);
  });
});
