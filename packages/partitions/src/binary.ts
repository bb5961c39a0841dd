/**
 * Binary values in long-lived state. A `Uint8Array` that owns its `ArrayBuffer` is expensive to keep
 * by the hundred thousand: every one is a separately allocated, separately tracked backing store,
 * and a map of 100,000 such 100-byte values costs about 3.4 µs of CPU (mostly garbage collection) per
 * overwrite, against 1.7 µs for the same bytes kept as a string (measured with `node`, 2M sets). So
 * state keeps bytes as {@link StoredBytes} (a Latin-1 string: one character per byte, lossless) and
 * turns them back into bytes when they leave the state.
 */

const latin1Slice = Buffer.prototype.latin1Slice as (this: Uint8Array, start: number, end: number) => string;

/** Bytes kept in state: `latin1` holds one character (0-255) per byte. */
export class StoredBytes {
  constructor(readonly latin1: string) {}

  static of(bytes: Uint8Array): StoredBytes {
    return new StoredBytes(latin1Slice.call(bytes, 0, bytes.length));
  }

  /** A new plain `Uint8Array` of the bytes. */
  bytes(): Uint8Array {
    const b = Buffer.from(this.latin1, 'latin1');
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
}

const isPlainObject = (v: object): v is Record<string, unknown> => {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/**
 * The form of a value kept in state: every `Uint8Array` in it (at any depth of arrays and plain
 * objects) becomes a {@link StoredBytes}. Returns `v` itself when it holds no bytes. The result never
 * refers to the input's bytes, so it may be kept when the input is a view into a larger buffer.
 */
export function toStored(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (v instanceof Uint8Array) return StoredBytes.of(v);
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x = toStored(v[i]);
      if (x !== v[i]) (out ??= v.slice())[i] = x;
    }
    return out ?? v;
  }
  if (!isPlainObject(v)) return v;
  let out: Record<string, unknown> | undefined;
  for (const k of Object.keys(v)) {
    const x = toStored(v[k]);
    if (x !== v[k]) (out ??= { ...v })[k] = x;
  }
  return out ?? v;
}

/** The inverse of {@link toStored}: every {@link StoredBytes} becomes a fresh `Uint8Array`. */
export function fromStored(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (v instanceof StoredBytes) return v.bytes();
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x = fromStored(v[i]);
      if (x !== v[i]) (out ??= v.slice())[i] = x;
    }
    return out ?? v;
  }
  if (!isPlainObject(v)) return v;
  let out: Record<string, unknown> | undefined;
  for (const k of Object.keys(v)) {
    const x = fromStored(v[k]);
    if (x !== v[k]) (out ??= { ...v })[k] = x;
  }
  return out ?? v;
}

/** `v` with every `Uint8Array` in it (at any depth of arrays and plain objects) replaced by a copy. */
export function copyBinaries(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v;
  // A plain Uint8Array copy (a Buffer's own slice() would return a view).
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x = copyBinaries(v[i]);
      if (x !== v[i]) (out ??= v.slice())[i] = x;
    }
    return out ?? v;
  }
  if (!isPlainObject(v)) return v;
  let out: Record<string, unknown> | undefined;
  for (const k of Object.keys(v)) {
    const x = copyBinaries(v[k]);
    if (x !== v[k]) (out ??= { ...v })[k] = x;
  }
  return out ?? v;
}
