import { z } from 'zod';
import { deepEqual } from '../equal.js';
import { defineResource } from '../resource.js';

/** One partition's share of a map: the entries whose (name, key) hash to it. */
export type MapShard = Map<string, unknown>;

const value = z.unknown().refine((v) => v !== undefined && v !== null, 'a map value must not be null');

/**
 * The built-in `map`: entries spread over all partitions by key. Commands: `set`, `getAndSet`,
 * `delete`, `cas` (expected null: only if absent); queries: `get`, `scan` (one partition's
 * entries with a prefix; the client merges partitions), `size`.
 */
export const mapResource = defineResource<MapShard>({
  type: 'map',
  keyed: true,
  create: () => new Map(),
  commands: {
    set: {
      input: value,
      apply(s, v, ctx) {
        s.set(ctx.key!, v);
        return null;
      },
    },
    getAndSet: {
      input: value,
      apply(s, v, ctx) {
        const prev = s.get(ctx.key!);
        s.set(ctx.key!, v);
        return prev ?? null;
      },
    },
    delete: {
      input: z.null(),
      apply: (s, _v, ctx) => s.delete(ctx.key!),
    },
    cas: {
      input: z.tuple([z.unknown(), value]),
      apply(s, [expected, next], ctx) {
        const cur = s.get(ctx.key!);
        const matches = expected === null || expected === undefined ? cur === undefined : cur !== undefined && deepEqual(cur, expected);
        if (!matches) return false;
        s.set(ctx.key!, next);
        return true;
      },
    },
  },
  queries: {
    get: { input: z.null(), run: (s, _i, ctx) => s.get(ctx.key!) ?? null },
    scan: {
      input: z.object({ prefix: z.string().max(64 * 1024), limit: z.number().int().min(1).max(1_000_000) }).strict(),
      run(s, { prefix, limit }) {
        const keys: string[] = [];
        for (const k of s.keys()) if (k.startsWith(prefix)) keys.push(k);
        keys.sort();
        return keys.slice(0, limit).map((k) => [k, s.get(k)]);
      },
    },
    size: { input: z.null(), run: (s) => s.size },
  },
  snapshot: (s) => [...s],
  restore: (img) => new Map(img as [string, unknown][]),
  isEmpty: (s) => s.size === 0,
});
