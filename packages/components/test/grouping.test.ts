import { describe, expect, it } from 'vitest';
import { broadcast, custom, hash, partitionForKey, random, roundRobin, type GroupingContext } from '../src/grouping.js';
import { targets } from '../src/grouping.js';
import { seededRandom } from '../src/tags.js';

const ctx = (over: Partial<GroupingContext> = {}): GroupingContext => ({ key: null, partitions: 4, seq: 0, random: seededRandom(1), ...over });

describe('groupings', () => {
  it('roundRobin cycles through the partitions by the connection counter', () => {
    const g = roundRobin();
    expect([0, 1, 2, 3, 4, 5].map((seq) => targets(g, 'x', ctx({ seq })))).toEqual([[0], [1], [2], [3], [0], [1]]);
  });

  it('hash() uses FNV-1a of the key modulo the partitions (frozen: part of the data layout)', () => {
    // fnv1a32("a") = 0xe40c292c, fnv1a32("foobar") = 0xbf9cf968 (docs/partitions.md reference vectors).
    expect(partitionForKey('a', 16)).toBe(0xe40c292c % 16);
    expect(partitionForKey('foobar', 7)).toBe(0xbf9cf968 % 7);
    expect(partitionForKey('the', 4)).toBe(partitionForKey('the', 4));
    const g = hash();
    for (const w of ['the', 'quick', 'brown', 'fox']) expect(targets(g, 'ignored', ctx({ key: w }))).toEqual([partitionForKey(w, 4)]);
  });

  it('hash() without a key fails instead of sending the message anywhere', () => {
    expect(() => targets(hash(), 'x', ctx())).toThrow(/no key/);
  });

  it('hash(field) reads a dotted path; hash(fn) a function of the message', () => {
    expect(targets(hash('account.id'), { account: { id: 'alice' } }, ctx())).toEqual([partitionForKey('alice', 4)]);
    expect(targets(hash('n'), { n: 42 }, ctx())).toEqual([partitionForKey('42', 4)]);
    expect(() => targets(hash('account.id'), { account: {} }, ctx())).toThrow(/account\.id/);
    expect(targets(hash((m: { u: string }) => m.u), { u: 'bob' }, ctx())).toEqual([partitionForKey('bob', 4)]);
    expect(() => targets(hash(() => ({}) as unknown as string), {}, ctx())).toThrow(/string or a number/);
    expect(hash('from').description).toBe('hash(field:from)');
  });

  it('broadcast reaches every partition', () => {
    expect(targets(broadcast(), 'x', ctx({ partitions: 3 }))).toEqual([0, 1, 2]);
  });

  it('random is a deterministic function of the seeded context, spread over the partitions', () => {
    const g = random();
    const pick = (seed: number) => targets(g, 'x', ctx({ partitions: 8, random: seededRandom(seed) }))[0]!;
    for (let s = 0; s < 50; s++) expect(pick(s)).toBe(pick(s));
    const seen = new Set(Array.from({ length: 200 }, (_, s) => pick(s)));
    expect(seen.size).toBe(8);
  });

  it('custom groupings may pick several partitions; answers out of range are refused', () => {
    const even = custom('even', (_m, c) => Array.from({ length: c.partitions }, (_, i) => i).filter((i) => i % 2 === 0));
    expect(targets(even, 'x', ctx())).toEqual([0, 2]);
    expect(even.description).toBe('custom:even');
    expect(() => targets(custom('bad', () => 4), 'x', ctx())).toThrow(/chose partition 4/);
    expect(() => targets(custom('frac', () => 0.5), 'x', ctx())).toThrow(RangeError);
    expect(() => custom('x', 'nope' as never)).toThrow(TypeError);
  });
});
