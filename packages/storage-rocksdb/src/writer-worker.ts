/**
 * The writer thread. @nxtedition/rocksdb commits a write batch synchronously on the calling
 * thread, so a `sync: true` write would stall the event loop (network, timers, every group) for
 * a whole fsync. This worker borrows the main thread's open database by its native handle and does
 * every write here instead. Requests queued while a write is in progress are merged into one
 * WriteBatch and one sync (group commit across groups); range deletes run on their own, in order.
 */
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import type { BatchStep, Reply, Request } from './write-protocol.js';

const require = createRequire(import.meta.url);
interface Batch {
  put(key: Buffer, value: Buffer): unknown;
  del(key: Buffer): unknown;
  write(options: { sync: boolean }): Promise<void>;
}

interface BorrowedDb {
  open(): Promise<void>;
  batch(): Batch;
  clear(options: { gte: Buffer; lt: Buffer }): Promise<void>;
}

const { RocksLevel } = require('@nxtedition/rocksdb') as { RocksLevel: new (handle: bigint, options: object) => BorrowedDb };

const port = parentPort!;
const send = (r: Reply) => port.postMessage(r);
const queue: Request[] = [];
let busy = false;

// Opening a database created from a handle attaches to the open one; it is never closed here.
const db = new RocksLevel(workerData.handle as bigint, { keyEncoding: 'buffer', valueEncoding: 'buffer' });

function view(data: Uint8Array, at: number, len: number): Buffer {
  return Buffer.from(data.buffer, data.byteOffset + at, len);
}

function addStep(b: Batch, s: BatchStep): void {
  let at = 0;
  let li = 0;
  for (let i = 0; i < s.delCount; i++) {
    const kl = s.lens[li++]!;
    b.del(view(s.data, at, kl));
    at += kl;
  }
  for (let i = 0; i < s.putCount; i++) {
    const kl = s.lens[li++]!;
    const vl = s.lens[li++]!;
    b.put(view(s.data, at, kl), view(s.data, at + kl, vl));
    at += kl + vl;
  }
}

const batchOnly = (r: Request) => 'steps' in r && r.steps.every((s) => s.kind === 'batch');

async function drain(): Promise<void> {
  busy = true;
  while (queue.length > 0) {
    if (batchOnly(queue[0]!)) {
      const group: Request[] = [];
      while (queue.length > 0 && batchOnly(queue[0]!)) group.push(queue.shift()!);
      try {
        const b = db.batch();
        let sync = false;
        for (const r of group) {
          for (const s of (r as unknown as { steps: BatchStep[] }).steps) {
            addStep(b, s);
            sync ||= s.sync;
          }
        }
        await b.write({ sync });
        for (const r of group) send({ id: r.id });
      } catch (err) {
        for (const r of group) send({ id: r.id, error: (err as Error).message });
      }
      continue;
    }
    const r = queue.shift()!;
    if ('close' in r) {
      send({ id: r.id });
      port.close();
      return;
    }
    try {
      for (const s of r.steps) {
        if (s.kind === 'clear') {
          await db.clear({ gte: view(s.gte, 0, s.gte.byteLength), lt: view(s.lt, 0, s.lt.byteLength) });
        } else {
          const b = db.batch();
          addStep(b, s);
          await b.write({ sync: s.sync });
        }
      }
      send({ id: r.id });
    } catch (err) {
      send({ id: r.id, error: (err as Error).message });
    }
  }
  busy = false;
}

port.on('message', (r: Request) => {
  queue.push(r);
  if (!busy) void drain();
});

db.open().then(
  () => send({ ready: true }),
  (err: Error) => send({ fatal: err.message }),
);
