import { FrameError } from '../errors.js';

/**
 * String decoding for the codec. Node and group ids are short ASCII strings repeated in every
 * message, so they are interned: a hash table keyed on the bytes returns the same string without
 * building a new one. A candidate is checked byte for byte against the bytes (never by hash alone),
 * so different bytes never yield a cached string. Anything else (non-ASCII, long) goes through a
 * strict UTF-8 decoder.
 *
 * The table is module state on purpose: it is keyed on content only, so sharing it between
 * transports and connections changes no result, and it is bounded: open addressing over SLOTS
 * slots, emptied when half full, holding strings of at most MAX_INTERNED characters. A node with
 * more distinct ids than that in rotation decodes them the slow way, with the same results.
 */
const SLOTS = 4096;
const MAX_FILL = SLOTS / 2;
const MAX_INTERNED = 64;
const strings: string[] = new Array<string>(SLOTS).fill('');
const hashes = new Int32Array(SLOTS);
let filled = 0;
// ignoreBOM: a leading U+FEFF is part of the string, not a byte-order mark to strip.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes `len` bytes of `buf` at `pos` (already bounds-checked) as a UTF-8 string. */
export function decodeString(buf: Uint8Array, pos: number, len: number): string {
  if (len === 0) return '';
  if (len > MAX_INTERNED) return decodeUtf8(buf, pos, len);
  let h = len;
  let high = 0;
  for (let i = 0; i < len; i++) {
    const c = buf[pos + i]!;
    high |= c;
    h = Math.imul(h ^ c, 0x01000193);
  }
  if (high >= 0x80) return decodeUtf8(buf, pos, len);
  h ^= h >>> 15;
  for (let slot = h & (SLOTS - 1); ; slot = (slot + 1) & (SLOTS - 1)) {
    const s = strings[slot]!;
    if (s.length === 0) return intern(buf, pos, len, slot, h);
    if (hashes[slot] === h && s.length === len) {
      let i = 0;
      while (i < len && s.charCodeAt(i) === buf[pos + i]) i++;
      if (i === len) return s;
    }
  }
}

function intern(buf: Uint8Array, pos: number, len: number, slot: number, h: number): string {
  const s = asciiString(buf, pos, len);
  if (filled >= MAX_FILL) {
    strings.fill('');
    hashes.fill(0);
    filled = 0;
    slot = h & (SLOTS - 1);
  }
  strings[slot] = s;
  hashes[slot] = h;
  filled++;
  return s;
}

function asciiString(buf: Uint8Array, pos: number, len: number): string {
  // Short, all bytes < 0x80: one char code per byte. apply() takes the bytes without a copy to an array.
  return String.fromCharCode.apply(null, buf.subarray(pos, pos + len) as unknown as number[]);
}

function decodeUtf8(buf: Uint8Array, pos: number, len: number): string {
  try {
    return utf8.decode(buf.subarray(pos, pos + len));
  } catch {
    throw new FrameError('invalid utf-8 in string');
  }
}

const utf8Encoder = new TextEncoder();

/** UTF-8 bytes of a string that is not pure ASCII (the writer handles ASCII itself). */
export function encodeUtf8(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}
