/**
 * Messages between the store (main thread) and the writer worker. A batch step carries its keys
 * and values packed in one buffer (`data`, transferred, not copied) with their lengths in `lens`
 * (key length, value length, ... for puts; key lengths for deletes).
 */

/** Deletes `delCount` keys, then puts `putCount` key/value pairs, as one atomic WriteBatch. */
export interface BatchStep {
  readonly kind: 'batch';
  readonly data: Uint8Array;
  readonly lens: Uint32Array;
  readonly delCount: number;
  readonly putCount: number;
  readonly sync: boolean;
}

/** Deletes every key in `[gte, lt)` with one range tombstone (not synced by itself). */
export interface ClearStep {
  readonly kind: 'clear';
  readonly gte: Uint8Array;
  readonly lt: Uint8Array;
}

export type Step = BatchStep | ClearStep;

export type Request = { readonly id: number; readonly steps: readonly Step[] } | { readonly id: number; readonly close: true };

export type Reply = { readonly id: number; readonly error?: string } | { readonly ready: true } | { readonly fatal: string };

/** Builds a batch step from key/value lists (copies into one buffer). */
export function batchStep(dels: readonly Uint8Array[], puts: readonly (readonly [Uint8Array, Uint8Array])[], sync: boolean): BatchStep {
  let size = 0;
  for (const k of dels) size += k.byteLength;
  for (const [k, v] of puts) size += k.byteLength + v.byteLength;
  const data = new Uint8Array(size);
  const lens = new Uint32Array(dels.length + puts.length * 2);
  let at = 0;
  let li = 0;
  for (const k of dels) {
    data.set(k, at);
    at += k.byteLength;
    lens[li++] = k.byteLength;
  }
  for (const [k, v] of puts) {
    data.set(k, at);
    at += k.byteLength;
    data.set(v, at);
    at += v.byteLength;
    lens[li++] = k.byteLength;
    lens[li++] = v.byteLength;
  }
  return { kind: 'batch', data, lens, delCount: dels.length, putCount: puts.length, sync };
}
