// Child process of pipelined-crash.test.ts: appends with two calls in flight (as the Raft runtime
// does) until SIGKILLed, writing `i <lo> <hi>` before each call and `a <hi>` once it resolved.
import { fileStorage } from '../dist/index.js';
import { payload } from './pipelined-payload.mjs';

const [dir, seedArg] = process.argv.slice(2);
let seed = Number(seedArg) >>> 0 || 1;
const rand = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
};
const engine = await fileStorage({ dir, sync: 'always', segmentBytes: 64 * 1024 });
const { log } = await engine.openGroup('pipe');
let next = log.lastIndex() + 1;
process.stdout.write(`R ${log.lastIndex()}\n`);
const inFlight = [];
for (;;) {
  while (inFlight.length < 2) {
    const n = 1 + Math.floor(rand() * (rand() < 0.3 ? 300 : 20));
    const lo = next;
    const hi = lo + n - 1;
    next = hi + 1;
    const batch = [];
    for (let i = lo; i <= hi; i++) batch.push({ index: i, term: 1, type: 0, data: payload(i) });
    process.stdout.write(`i ${lo} ${hi}\n`);
    inFlight.push(log.append(batch).then(() => process.stdout.write(`a ${hi}\n`)));
  }
  await inFlight.shift();
}
