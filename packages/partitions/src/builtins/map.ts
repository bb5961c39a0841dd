import { z } from 'zod';
import { fromStored, toStored } from '../binary.js';
import { deepEqual } from '../equal.js';
import { defineResource } from '../resource.js';

/**
 * One partition's share of a map: the entries whose (name, key) hash to it. Values are kept in
 * their stored form (bytes as `StoredBytes`, see binary.ts) and converted back when read.
 */
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
  // Values are converted to their stored form (which shares no bytes with the input) before they
  // are kept, so the state machine may hand `apply` views into the entry instead of copies.
  copiesBinaryInputs: true,
  create: () => new Map(),
  commands: {
    set: {
      input: value,
      apply(s, v, ctx) {
        s.set(ctx.key!, toStored(v));
        return null;
      },
    },
    getAndSet: {
      input: value,
      apply(s, v, ctx) {
        const prev = s.get(ctx.key!);
        s.set(ctx.key!, toStored(v));
        return prev === undefined ? null : fromStored(prev);
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
        const matches = expected === null || expected === undefined ? cur === undefined : cur !== undefined && deepEqual(fromStored(cur), expected);
        if (!matches) return false;
        s.set(ctx.key!, toStored(next));
        return true;
      },
    },
  },
  queries: {
    get: { input: z.null(), run: (s, _i, ctx) => fromStored(s.get(ctx.key!) ?? null) },
    scan: {
      input: z.object({ prefix: z.string().max(64 * 1024), limit: z.number().int().min(1).max(1_000_000) }).strict(),
      run(s, { prefix, limit }) {
        const keys: string[] = [];
        for (const k of s.keys()) if (k.startsWith(prefix)) keys.push(k);
        keys.sort();
        return keys.slice(0, limit).map((k) => [k, fromStored(s.get(k))]);
      },
    },
    size: { input: z.null(), run: (s) => s.size },
  },
  // The image holds plain values (bytes as bytes): the snapshot format does not change.
  snapshot: (s) => Array.from(s, ([k, v]) => [k, fromStored(v)]),
  restore: (img) => new Map((img as [string, unknown][]).map(([k, v]) => [k, toStored(v)])),
  isEmpty: (s) => s.size === 0,
});
