// Child process of crash.test.ts: runs the crash workload on the built package until SIGKILLed.
// The workload module is loaded beside the log-store entry point, which would also load vitest.
import { fileStorage } from '../dist/index.js';

const { crashWorkload } = await import(new URL('./storage-crash.js', import.meta.resolve('@tessera/testing/log-store')).href);
const [dir, seed] = process.argv.slice(2);
await crashWorkload(await fileStorage({ dir, sync: 'always', segmentBytes: 64 * 1024 }), Number(seed));
