/**
 * The conformance suite every {@link StorageEngine} runs for its log store, hard-state store and
 * group management:
 *
 * ```ts
 * import { storageEngineSuite } from '@tessera/testing/log-store';
 * storageEngineSuite('file', async () => {
 *   const dir = await mkdtemp(join(tmpdir(), 'tessera-'));
 *   return { open: async () => fileStorage({ dir }), destroy: () => rm(dir, { recursive: true, force: true }) };
 * });
 * ```
 *
 * Optional tests are picked by `engine.capabilities`: `persistent` adds reopen tests,
 * `sharedAcrossGroups` adds many-groups-in-one-store tests; on other engines they are reported as
 * skipped. Randomized tests print their seed on failure.
 */
import { describe } from 'vitest';
import type { StorageEngine } from '@tessera/raft';
import { engineTests, hardStateTests, persistentTests, sharedTests } from './storage-engine-tests.js';
import { useStorage, type StorageHarness } from './storage-harness.js';
import { logStoreTests } from './storage-log-tests.js';

export type { StorageHarness } from './storage-harness.js';
export { payload, entry, entries, expectSameEntries, expectSameBytes, readAll } from './storage-harness.js';
export { crashWorkload, crashPayload, runCrashCycles, type CrashCycleOptions, type CrashReport } from './storage-crash.js';

/** Registers the log store, hard state and engine conformance tests for `name` with vitest. */
export function storageEngineSuite(name: string, makeHarness: () => StorageHarness | Promise<StorageHarness>): void {
  describe(`storage engine conformance: ${name}`, () => {
    const fx = useStorage(makeHarness);
    describe('log store', () => logStoreTests(fx));
    describe('hard state', () => hardStateTests(fx));
    describe('engine', () => engineTests(fx));
    describe('persistence', () => persistentTests(fx));
    describe('many groups in one store', () => sharedTests(fx));
  });
}

/** The engine type the harness opens, re-exported so implementations need only this subpath. */
export type { StorageEngine };
