/** Placement is deterministic and documented (docs/partitions.md); these tables freeze it. */
import { ConfigError } from '@tessera/raft';
import { describe, expect, it } from 'vitest';
import { partitionsOf, placePartitions } from '../src/placement.js';

describe('placement', () => {
  it('golden table: 3 nodes, P=4, R=3 (listing order does not matter)', () => {
    const a = placePartitions(['n3', 'n1', 'n2'], 4, 3);
    expect(a.replicas).toEqual([
      ['n1', 'n2', 'n3'],
      ['n2', 'n3', 'n1'],
      ['n3', 'n1', 'n2'],
      ['n1', 'n2', 'n3'],
    ]);
    expect(placePartitions(['n1', 'n2', 'n3'], 4, 3)).toEqual(a);
  });

  it('golden table: 5 nodes, P=6, R=3', () => {
    expect(placePartitions(['a', 'b', 'c', 'd', 'e'], 6, 3).replicas).toEqual([
      ['a', 'b', 'c'],
      ['b', 'c', 'd'],
      ['c', 'd', 'e'],
      ['d', 'e', 'a'],
      ['e', 'a', 'b'],
      ['a', 'b', 'c'],
    ]);
  });

  it('is balanced: preferred leaders within one, replicas distinct, replica counts even when N divides P', () => {
    for (const n of [1, 2, 3, 4, 5, 7]) {
      const ids = Array.from({ length: n }, (_, i) => `node-${i}`);
      for (const r of [1, 2, 3].filter((x) => x <= n)) {
        for (const p of [1, 2, 3, 8, 16, 63, 64, 256]) {
          const pl = placePartitions(ids, p, r);
          const leaders = ids.map((id) => pl.replicas.filter((rs) => rs[0] === id).length);
          expect(Math.max(...leaders) - Math.min(...leaders)).toBeLessThanOrEqual(1);
          for (const rs of pl.replicas) expect(new Set(rs).size).toBe(r);
          const counts = ids.map((id) => partitionsOf(pl, id).length);
          expect(counts.reduce((a, b) => a + b, 0)).toBe(p * r);
          if (p % n === 0) expect(Math.max(...counts) - Math.min(...counts)).toBe(0);
          else expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(Math.min(r, p % n));
        }
      }
    }
  });

  it('rejects impossible layouts with the field named', () => {
    expect(() => placePartitions(['a', 'b'], 4, 3)).toThrow(ConfigError);
    expect(() => placePartitions(['a', 'b'], 4, 3)).toThrow(/replicationFactor/);
    expect(() => placePartitions(['a', 'a', 'b'], 4, 2)).toThrow(/listed twice/);
    expect(() => placePartitions(['a'], 0, 1)).toThrow(/partitions.count/);
  });
});
