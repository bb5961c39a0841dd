/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of iSCSI, ext4 and RocksDB.
 *
 * Two implementations that give identical results:
 * - `native`: `@node-rs/crc32` (prebuilt N-API binaries, SSE4.2 / ARMv8 CRC instructions), about
 *   5 GB/s here but about 0.25 µs per call, so it wins on ranges above a few hundred bytes;
 * - `js`: portable slicing-by-8 over aligned 32-bit words, about 1 GB/s, no per-call cost.
 *
 * {@link crc32c} is picked once, when this module loads: `native` when the binding loads and
 * passes a self-test, `js` otherwise (no binary for this platform, a broken install). Short
 * ranges go to the JavaScript loop either way.
 */
import { createRequire } from 'node:module';

/** CRC-32C of `buf[start, end)`, continuing from `crc` (a previous result, or 0 to start). Unsigned. */
export type Crc32cFn = (buf: Uint8Array, start?: number, end?: number, crc?: number) => number;

export interface Crc32cImpl {
  readonly name: 'native' | 'js';
  readonly crc32c: Crc32cFn;
}

/** Which implementation to use: `auto` prefers `native` and falls back to `js`. */
export type Crc32cChoice = 'auto' | 'native' | 'js';

/** The native binding's function: CRC-32C of all of `input`, continuing from `initial`. */
export type NativeCrc32c = (input: Uint8Array, initial?: number) => number;

const POLY = 0x82f63b78;
/** Below this many bytes the JavaScript loop is faster than a call into native code. */
const NATIVE_MIN_BYTES = 256;

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
 * callers checksum many ranges of one buffer, so one view serves them all.
 */
const wordViews = new WeakMap<ArrayBufferLike, Int32Array>();

function wordsOf(buffer: ArrayBufferLike): Int32Array {
  let w = wordViews.get(buffer);
  if (w === undefined) {
    w = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
    wordViews.set(buffer, w);
  }
  return w;
}

/** The portable implementation: slicing-by-8, eight bytes per step as two aligned words. */
export function crc32cJs(buf: Uint8Array, start = 0, end = buf.length, crc = 0): number {
  const t = TABLES;
  let c = ~crc;
  let i = start;
  if (LITTLE_ENDIAN && end - start >= 32) {
    const words = wordsOf(buf.buffer);
    // Bytes until the absolute position is 4-aligned, then 8 bytes per step.
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

/** Wraps the native binding: short ranges stay in JavaScript, long ones go native as one view. */
export function nativeCrc32c(native: NativeCrc32c): Crc32cFn {
  return (buf, start = 0, end = buf.length, crc = 0) => {
    const n = end - start;
    if (n < NATIVE_MIN_BYTES) return crc32cJs(buf, start, end, crc);
    return native(start === 0 && n === buf.length ? buf : new Uint8Array(buf.buffer, buf.byteOffset + start, n), crc) >>> 0;
  };
}

function loadNodeRs(): NativeCrc32c {
  const mod = createRequire(import.meta.url)('@node-rs/crc32') as { crc32c?: NativeCrc32c };
  if (typeof mod.crc32c !== 'function') throw new Error('@node-rs/crc32 has no crc32c export');
  return mod.crc32c;
}

/**
 * The native implementation, or undefined when `load` throws or the binding fails the check
 * value ("123456789" -> 0xE3069283, continued over a long range).
 */
export function loadNativeCrc32c(load: () => NativeCrc32c = loadNodeRs): Crc32cImpl | undefined {
  let native: NativeCrc32c;
  try {
    native = load();
    const check = Buffer.from('123456789');
    if (native(check, 0) >>> 0 !== 0xe3069283) return undefined;
    const long = Buffer.alloc(4 * NATIVE_MIN_BYTES, 0x5a);
    if (native(long, 0x1234) >>> 0 !== crc32cJs(long, 0, long.length, 0x1234)) return undefined;
  } catch {
    return undefined;
  }
  return { name: 'native', crc32c: nativeCrc32c(native) };
}

export const jsCrc32c: Crc32cImpl = { name: 'js', crc32c: crc32cJs };

/**
 * The implementation for `choice`: `js`, `native` (throws if it does not load), or `auto` (native
 * if it loads, else js). `load` replaces the binding loader (tests).
 */
export function selectCrc32c(choice: Crc32cChoice = 'auto', load?: () => NativeCrc32c): Crc32cImpl {
  if (choice === 'js') return jsCrc32c;
  const native = loadNativeCrc32c(load);
  if (native) return native;
  if (choice === 'native') throw new Error('the native CRC32C (@node-rs/crc32) did not load on this platform');
  return jsCrc32c;
}

/** The implementation picked when this module loaded (see the module comment). */
export const defaultCrc32c: Crc32cImpl = selectCrc32c('auto');

/** CRC-32C with {@link defaultCrc32c}. */
export const crc32c: Crc32cFn = defaultCrc32c.crc32c;
