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
const SLOTS = 2048;
const MAX_FILL = SLOTS / 2;
const MAX_INTERNED = 64;
const KEY_WORDS = MAX_INTERNED / 4;
const strings: string[] = new Array<string>(SLOTS).fill('');
const hashes = new Int32Array(SLOTS);
/** Each slot's key bytes as little-endian 32-bit words (whole words), and its last 0-3 bytes packed. */
const keys = new Int32Array(SLOTS * KEY_WORDS);
const tails = new Int32Array(SLOTS);
let filled = 0;
// ignoreBOM: a leading U+FEFF is part of the string, not a byte-order mark to strip.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes `len` bytes at `pos` (already bounds-checked) of the frame `buf` as a UTF-8 string; `dv`
 * is a DataView of the same bytes, so that short strings are hashed and compared a word at a time.
 */
export function decodeString(buf: Uint8Array, dv: DataView, pos: number, len: number): string {
  if (len === 0) return '';
  if (len > MAX_INTERNED) return decodeUtf8(buf, pos, len);
  const words = len >>> 2;
  let h = len;
  let high = 0;
  for (let i = 0; i < words; i++) {
    const w = dv.getInt32(pos + 4 * i, true);
    high |= w;
    h = Math.imul(h ^ w, 0x01000193);
  }
  let tail = 0;
  for (let i = words * 4; i < len; i++) tail = (tail << 8) | buf[pos + i]!;
  high |= tail;
  if ((high & 0x80808080) !== 0) return decodeUtf8(buf, pos, len);
  h = Math.imul(h ^ tail, 0x01000193);
  h ^= h >>> 15;
  for (let slot = h & (SLOTS - 1); ; slot = (slot + 1) & (SLOTS - 1)) {
    const s = strings[slot]!;
    if (s.length === 0) return intern(buf, dv, pos, len, slot, h, tail);
    if (hashes[slot] === h && s.length === len && tails[slot] === tail) {
      const k = slot * KEY_WORDS;
      let i = 0;
      while (i < words && keys[k + i] === dv.getInt32(pos + 4 * i, true)) i++;
      if (i === words) return s;
    }
  }
}

function intern(buf: Uint8Array, dv: DataView, pos: number, len: number, slot: number, h: number, tail: number): string {
  const s = asciiString(buf, pos, len);
  if (filled >= MAX_FILL) {
    strings.fill('');
    filled = 0;
    slot = h & (SLOTS - 1);
  }
  strings[slot] = s;
  hashes[slot] = h;
  tails[slot] = tail;
  const k = slot * KEY_WORDS;
  for (let i = 0; i < len >>> 2; i++) keys[k + i] = dv.getInt32(pos + 4 * i, true);
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
