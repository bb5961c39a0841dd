import { describe, expect, it } from 'vitest';
import { copyBinaries, fromStored, StoredBytes, toStored } from '../src/binary.js';

describe('stored binary values', () => {
  it('round-trips every byte value, at any depth, and leaves values without bytes untouched', () => {
    const all = new Uint8Array(256).map((_, i) => i);
    const v = { a: all, b: [1, 'x', { c: new Uint8Array([0, 255]) }], d: null };
    const stored = toStored(v) as { a: unknown; b: unknown[] };
    expect(stored.a).toBeInstanceOf(StoredBytes);
    expect((stored.b[2] as { c: unknown }).c).toBeInstanceOf(StoredBytes);
    expect(fromStored(stored)).toEqual(v);
    expect(v.a).toBeInstanceOf(Uint8Array); // the input is not modified
    const plain = { x: [1, 2, { y: 'z' }] };
    expect(toStored(plain)).toBe(plain);
    expect(fromStored(plain)).toBe(plain);
    expect(toStored('s')).toBe('s');
    const buf = Buffer.from('hi');
    expect(fromStored(buf)).toBe(buf);
  });

  it('stored bytes share no memory with the input (views into a larger buffer may be stored)', () => {
    const big = Buffer.from([1, 2, 3, 4, 5]);
    const stored = toStored(big.subarray(1, 3));
    big.fill(0);
    expect(fromStored(stored)).toEqual(new Uint8Array([2, 3]));
  });

  it('copyBinaries copies byte strings, also Buffers (whose own slice is a view)', () => {
    const big = Buffer.from([1, 2, 3, 4]);
    const v = { a: big.subarray(0, 2), b: [big.subarray(2)], c: 5 };
    const c = copyBinaries(v) as typeof v;
    big.fill(9);
    expect(c).toEqual({ a: new Uint8Array([1, 2]), b: [new Uint8Array([3, 4])], c: 5 });
    const none = { x: 1 };
    expect(copyBinaries(none)).toBe(none);
  });
});
