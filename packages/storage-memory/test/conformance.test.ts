// The shared storage conformance suites, run against the in-memory engine. Imported from source:
// @tessera/testing depends on this package, so it cannot be a dependency of it in turn.
import { memoryStorage } from '../src/index.js';
import { storageEngineSuite, type StorageHarness } from '../../testing/src/conformance/log-store.js';
import { snapshotStoreSuite } from '../../testing/src/conformance/snapshot-store.js';

// Not persistent: every open() is a new, empty engine (the suites skip the reopen tests).
const harness = (): StorageHarness => ({
  open: async () => memoryStorage(),
  destroy: async () => {},
});

storageEngineSuite('memory', harness);
snapshotStoreSuite('memory', harness);
