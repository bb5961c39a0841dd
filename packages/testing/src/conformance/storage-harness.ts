/**
 * What the storage conformance suites share: the harness contract, a per-test fixture that opens
 * and reopens an engine, deterministic entry payloads, and assertions that compare bytes quickly
 * and check errors by their stable `code` (so they hold across duplicate installs of @tessera/raft).
 */
import { afterEach, beforeEach, expect } from 'vitest';
import { EntryType, type GroupStorage, type LogEntry, type StorageEngine } from '@tessera/raft';

/** Gives the suites a fresh, isolated location for one engine; one harness per test. */
export interface StorageHarness {
  /** Opens the engine on this harness's location (fresh and empty the first time; the same data after a close when persistent). */
  open(): Promise<StorageEngine>;
  /** Removes the location (temp dir) after the engine is closed. */
  destroy(): Promise<void>;
}

/** Generous bound for tests that move many megabytes through a durable backend. */
export const SLOW_TEST_MS = 120_000;

/** The engine under test for the running test, with helpers to reopen it. */
export class StorageFixture {
  engine!: StorageEngine;
  private harness!: StorageHarness;
  private readonly groups = new Set<GroupStorage>();

  constructor(private readonly makeHarness: () => StorageHarness | Promise<StorageHarness>) {}

  async setUp(): Promise<void> {
    this.harness = await this.makeHarness();
    this.engine = await this.harness.open();
  }

  async tearDown(): Promise<void> {
    try {
      if (this.engine) await this.engine.close();
    } finally {
      await this.harness?.destroy();
    }
  }

  /** Opens `group` on the current engine; closed by `reopen` and `tearDown` through the engine. */
  async group(group = 'g1'): Promise<GroupStorage> {
    const g = await this.engine.openGroup(group);
    this.groups.add(g);
    return g;
  }

  /** Closes the engine (and every group) and opens it again on the same location. */
  async reopen(): Promise<StorageEngine> {
    this.groups.clear();
    await this.engine.close();
    this.engine = await this.harness.open();
    return this.engine;
  }
}

/** Registers beforeEach/afterEach in the enclosing `describe` and returns the fixture they manage. */
export function useStorage(makeHarness: () => StorageHarness | Promise<StorageHarness>): StorageFixture {
  const fx = new StorageFixture(makeHarness);
  beforeEach(() => fx.setUp());
  afterEach(() => fx.tearDown());
  return fx;
}

/**
 * Deterministic bytes for (`index`, `term`): any misplaced, stale or torn entry shows up as a byte
 * mismatch. xorshift32, four bytes per step, so multi-megabyte payloads are cheap to make.
 */
export function payload(index: number, term: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = (Math.imul(index, 0x9e3779b1) ^ Math.imul(term + 1, 0x85ebca6b) ^ size) | 0 || 1;
  const words = size >>> 2;
  const view = new DataView(out.buffer);
  for (let i = 0; i < words; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    view.setUint32(i * 4, x >>> 0, true);
  }
  for (let i = words * 4; i < size; i++) out[i] = (x >>> ((i & 3) * 8)) & 0xff;
  return out;
}

/** One entry whose data is `payload(index, term, size)`. */
export function entry(index: number, term: number, size = 16, type: EntryType = EntryType.Normal): LogEntry {
  return { index, term, type, data: payload(index, term, size) };
}

/** Consecutive entries `lo..hi` (inclusive) in `term`. */
export function entries(lo: number, hi: number, term: number, size = 16): LogEntry[] {
  const out: LogEntry[] = [];
  for (let i = lo; i <= hi; i++) out.push(entry(i, term, size));
  return out;
}

/** Asserts two entry lists are equal field by field, comparing data as bytes (fast on large entries). */
export function expectSameEntries(actual: readonly LogEntry[], expected: readonly LogEntry[], what = 'entries'): void {
  expect(actual.length, `${what}: count`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    expect({ index: a.index, term: a.term, type: a.type, bytes: a.data.byteLength }, `${what}[${i}]`).toEqual({
      index: e.index,
      term: e.term,
      type: e.type,
      bytes: e.data.byteLength,
    });
    expect(a.data instanceof Uint8Array, `${what}[${i}].data is a Uint8Array`).toBe(true);
    if (!Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).equals(Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength))) {
      throw new Error(`${what}[${i}] (index ${e.index}): data differs`);
    }
  }
}

/** Asserts two byte arrays are equal without a per-byte diff (which is unusable on megabytes). */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array, what = 'bytes'): void {
  expect(actual.byteLength, `${what}: length`).toBe(expected.byteLength);
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
  if (!a.equals(b)) {
    let i = 0;
    while (a[i] === b[i]) i++;
    throw new Error(`${what}: first difference at byte ${i}`);
  }
}

/**
 * Runs `fn` and asserts it fails with a Tessera error of `code`, whether it throws synchronously or
 * returns a rejected promise. Returns the error for further checks.
 */
export async function expectCode(fn: () => unknown, code: string, what = ''): Promise<unknown> {
  let failed = false;
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    failed = true;
    err = e;
  }
  expect(failed, `${what} expected to fail with ${code}`).toBe(true);
  expect((err as { code?: unknown })?.code, `${what} error code (${String(err)})`).toBe(code);
  return err;
}

/** Runs `fn` and asserts it fails (synchronously or asynchronously) with any error. */
export async function expectFailure(fn: () => unknown, what = ''): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error(`${what} expected to fail`);
}

/** Reads a whole log back with `entries`, paging with `maxBytes` to also exercise partial reads. */
export async function readAll(log: GroupStorage['log'], pageBytes = Infinity): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  const last = log.lastIndex();
  let next = log.firstIndex();
  while (next <= last) {
    const page = await log.entries(next, last + 1, pageBytes === Infinity ? undefined : pageBytes);
    if (page.length === 0) throw new Error(`entries(${next}, ${last + 1}) returned nothing for a non-empty range`);
    for (const e of page) out.push(e);
    next = page[page.length - 1]!.index + 1;
  }
  return out;
}
