/**
 * The resource-to-partition hash is a wire contract (docs/partitions.md, "Hash contract"). These
 * vectors freeze it: if one fails, data already written would be looked for in the wrong
 * partition. Do not update the expected values; fix the code.
 */
import { describe, expect, it } from 'vitest';
import { fnv1a32, fnv1a32String, partitionOf, routingKey } from '../src/protocol/hash.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('partition hash contract', () => {
  it('is 32-bit FNV-1a (published reference vectors)', () => {
    expect(fnv1a32(utf8(''))).toBe(0x811c9dc5);
    expect(fnv1a32(utf8('a'))).toBe(0xe40c292c);
    expect(fnv1a32(utf8('foobar'))).toBe(0xbf9cf968);
  });

  it('hashes UTF-8 bytes of names, and name 0x00 key for keyed entries', () => {
    expect(fnv1a32(utf8('users'))).toBe(0x5e7cc513);
    expect(fnv1a32(routingKey('users', 'alice'))).toBe(0xc0d0de53);
    expect(Array.from(routingKey('ab', 'c'))).toEqual([0x61, 0x62, 0x00, 0x63]);
    expect(fnv1a32(utf8('日本'))).toBe(0x9f26ee51);
    expect(fnv1a32String('日本')).toBe(0x9f26ee51);
    expect(fnv1a32String('counter-1')).toBe(0xa5d60ce1);
  });

  it('maps to partitions by unsigned remainder (golden table)', () => {
    const golden: [string, string | undefined, number, number][] = [
      ['users', 'alice', 16, 3],
      ['users', 'bob', 16, 8],
      ['users', '日本', 64, 53],
      ['hits', undefined, 8, 3],
      ['lock/a', undefined, 64, 2],
      ['bench', 'k0', 8, 0],
      ['bench', 'k1', 8, 3],
    ];
    for (const [name, key, p, expected] of golden) expect(partitionOf(p, name, key), `${name}/${key} over ${p}`).toBe(expected);
  });

  it('the fast string paths agree with hashing the encoded bytes', () => {
    const names = ['', 'x', 'users', 'é', 'a\u0000b', '𝄞music', 'mixed-ascii-é-tail'];
    for (const n of names) {
      expect(fnv1a32String(n)).toBe(fnv1a32(utf8(n)));
      for (const k of ['', 'k', 'ключ', 'k\u0000']) {
        for (const p of [1, 7, 64, 1000]) expect(partitionOf(p, n, k)).toBe(fnv1a32(routingKey(n, k)) % p);
      }
      expect(partitionOf(13, n)).toBe(fnv1a32(utf8(n)) % 13);
    }
  });

  it('rejects a non-positive partition count', () => {
    expect(() => partitionOf(0, 'x')).toThrow(RangeError);
  });
});
