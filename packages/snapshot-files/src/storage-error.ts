import { StorageError, TesseraError } from '@tessera/raft';

/** Keeps Tessera errors (corruption, range) as they are; wraps anything else (I/O) as a StorageError saying what failed. */
export function asStorageError(err: unknown, what: string): Error {
  if (TesseraError.isInstance(err)) return err as Error;
  return new StorageError(`${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
