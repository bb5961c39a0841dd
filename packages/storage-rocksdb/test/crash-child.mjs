// Child process of crash.test.ts: runs the crash workload on the built package until SIGKILLed.
// The workload module is loaded beside the log-store entry point, which would also load vitest.
import { rocksdbStorage } from '../dist/index.js';

const { crashWorkload } = await import(new URL('./storage-crash.js', import.meta.resolve('@tessera/testing/log-store')).href);
const [dir, seed] = process.argv.slice(2);
await crashWorkload(await rocksdbStorage({ dir, sync: 'always', cacheBytes: 8 * 1024 * 1024 }), Number(seed));
