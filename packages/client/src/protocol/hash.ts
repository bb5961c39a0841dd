/**
 * The resource-to-partition hash. **This is a wire contract**: every client and every node must map a
 * resource to the same partition, and data already written lives where this function put it.
 * Changing anything here (the hash, the key layout, the reduction) moves resources between
 * partitions and requires a migration. Frozen by golden tests (`test/hash-golden.test.ts`).
 *
 * Algorithm (documented in docs/partitions.md, "Hash contract"):
 *
 *   routingKey(name)      = UTF-8(name)
 *   routingKey(name, key) = UTF-8(name) ++ 0x00 ++ UTF-8(key)        (entries of keyed resources, e.g. map)
 *   hash(bytes)           = 32-bit FNV-1a: h = 0x811c9dc5; for each byte b: h = (h XOR b) * 0x01000193 mod 2^32
 *   partition             = hash(routingKey) mod P                    (unsigned 32-bit remainder)
 */

const encoder = new TextEncoder();
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** 32-bit FNV-1a of `bytes`, as an unsigned integer. */
export function fnv1a32(bytes: Uint8Array): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/** 32-bit FNV-1a of a string's UTF-8 bytes, without allocating for ASCII strings. */
export function fnv1a32String(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return fnv1a32(encoder.encode(s));
    h ^= c;
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/** The bytes hashed for a resource (`key` undefined) or for one entry `key` of a keyed resource. */
export function routingKey(name: string, key?: string): Uint8Array {
  if (key === undefined) return encoder.encode(name);
  const n = encoder.encode(name);
  const k = encoder.encode(key);
  const out = new Uint8Array(n.length + 1 + k.length);
  out.set(n, 0);
  out[n.length] = 0;
  out.set(k, n.length + 1);
  return out;
}

/**
 * The partition (0..partitions-1) that holds resource `name`, or entry `key` of keyed resource
 * `name` (a map's entries are spread over all partitions by key).
 */
export function partitionOf(partitions: number, name: string, key?: string): number {
  if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  let h: number;
  if (key === undefined) h = fnv1a32String(name);
  else {
    // FNV-1a is a streaming hash: hashing name, 0x00, key in sequence equals hashing their concatenation.
    h = FNV_OFFSET;
    let ascii = true;
    for (let i = 0; i < name.length && ascii; i++) {
      const c = name.charCodeAt(i);
      if (c >= 0x80) ascii = false;
      else h = Math.imul(h ^ c, FNV_PRIME);
    }
    if (ascii) {
      h = Math.imul(h ^ 0, FNV_PRIME);
      for (let i = 0; i < key.length && ascii; i++) {
        const c = key.charCodeAt(i);
        if (c >= 0x80) ascii = false;
        else h = Math.imul(h ^ c, FNV_PRIME);
      }
    }
    h = ascii ? h >>> 0 : fnv1a32(routingKey(name, key));
  }
  return h % partitions;
}
