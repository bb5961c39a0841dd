/**
 * The main-thread side of the writer worker (writer-worker.ts): numbered requests, answered in
 * order. Requests are pipelined; the worker executes them strictly in the order sent.
 */
import { Worker } from 'node:worker_threads';
import { StorageError } from '@tessera/raft';
import type { Reply, Request, Step } from './write-protocol.js';

export class RocksWriter {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private dead: Error | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (r: Reply) => {
      if (!('id' in r)) return;
      const w = this.waiting.get(r.id);
      if (!w) return;
      this.waiting.delete(r.id);
      if (r.error !== undefined) w.reject(new StorageError(`rocksdb write failed: ${r.error}`));
      else w.resolve();
    });
    const die = (err: Error) => {
      this.dead ??= err;
      for (const w of this.waiting.values()) w.reject(this.dead);
      this.waiting.clear();
    };
    worker.on('error', (err) => die(new StorageError(`rocksdb writer thread failed: ${err.message}`, { cause: err })));
    worker.on('exit', () => die(new StorageError('rocksdb writer thread exited')));
  }

  /** Starts the worker on the open database `handle` and waits until it is ready. */
  static start(handle: bigint): Promise<RocksWriter> {
    const worker = new Worker(new URL('./writer-worker.js', import.meta.url), { workerData: { handle } });
    return new Promise((resolve, reject) => {
      const onMessage = (r: Reply) => {
        if ('ready' in r) {
          worker.off('message', onMessage);
          resolve(new RocksWriter(worker));
        } else if ('fatal' in r) {
          worker.off('message', onMessage);
          void worker.terminate();
          reject(new StorageError(`rocksdb writer thread could not open the database: ${r.fatal}`));
        }
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
  }

  /** Sends `steps`; resolves once the worker executed all of them (synced ones durable). */
  write(steps: readonly Step[]): Promise<void> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    const transfer: ArrayBuffer[] = [];
    for (const s of steps) if (s.kind === 'batch' && s.data.buffer instanceof ArrayBuffer && s.data.byteOffset === 0 && s.data.byteLength === s.data.buffer.byteLength) transfer.push(s.data.buffer);
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, steps } satisfies Request, transfer);
    });
  }

  /** Lets queued writes finish, then stops the worker. */
  async close(): Promise<void> {
    if (!this.dead) {
      const id = this.nextId++;
      await new Promise<void>((resolve, reject) => {
        this.waiting.set(id, { resolve, reject });
        this.worker.postMessage({ id, close: true } satisfies Request);
      }).catch(() => {});
    }
    await this.worker.terminate();
  }
}
