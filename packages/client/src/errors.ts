/**
 * Errors a client sees. All are {@link TesseraError}s with a stable `code` and `retryable`:
 * `retryable: true` means sending the same request again (the client does so itself within the
 * request's deadline) may succeed and cannot apply a command twice.
 */
import {
  BackpressureError,
  GroupStoppedError,
  NotLeaderError,
  ProposalDroppedError,
  TesseraError,
  TimeoutError,
} from '@tessera/raft';
import type { WireError } from './protocol/messages.js';

/**
 * The client's session expired on a partition (it was silent longer than its session timeout), so
 * its locks and candidacies there were released and the outcome of the failed command is unknown.
 * The client continues with a new session; not retryable as is.
 */
export class SessionExpiredError extends TesseraError {
  constructor(message: string) {
    super('SESSION_EXPIRED', message, { retryable: false });
  }
}

/**
 * A resource operation failed deterministically (invalid input, unknown operation, a lock not held):
 * it had no effect, and sending it again gives the same answer. `code` says which condition.
 */
export class OperationError extends TesseraError {
  constructor(code: string, message: string) {
    super(code, message, { retryable: false });
  }
}

/** The connection to a node was lost while a request was in flight; its outcome is unknown. */
export class ConnectionLostError extends TesseraError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONNECTION_LOST', message, { ...options, retryable: true });
  }
}

/** The client was closed; nothing more is sent. */
export class ClientClosedError extends TesseraError {
  constructor() {
    super('CLIENT_CLOSED', 'the client is closed', { retryable: false });
  }
}

/** The client and the node disagree on the partition count (the client's map is stale or wrong). */
export class WrongPartitionError extends TesseraError {
  constructor(message: string) {
    super('WRONG_PARTITION', message, { retryable: true });
  }
}

/** Serializes an error for the wire. Errors that are not {@link TesseraError}s become `INTERNAL`. */
export function errorToWire(err: unknown, extra?: { leaderAddress?: string; partition?: number }): WireError {
  if (TesseraError.isInstance(err)) {
    const w: WireError = { code: err.code, message: err.message, retryable: err.retryable };
    const leader = (err as { leader?: unknown }).leader;
    if (typeof leader === 'string' && leader !== '') w.leader = leader;
    if (extra?.leaderAddress) w.leaderAddress = extra.leaderAddress;
    if (extra?.partition !== undefined) w.partition = extra.partition;
    return w;
  }
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err), retryable: false, ...(extra?.partition !== undefined ? { partition: extra.partition } : {}) };
}

/** Rebuilds a typed error from its wire form. */
export function errorFromWire(w: WireError): TesseraError {
  switch (w.code) {
    case 'NOT_LEADER':
      return new NotLeaderError(w.partition === undefined ? '?' : `p${w.partition}`, w.leader);
    case 'TIMEOUT':
      return new TimeoutError(w.message);
    case 'BACKPRESSURE':
      return new BackpressureError(w.message);
    case 'PROPOSAL_DROPPED':
      return new ProposalDroppedError(w.message.replace(/^proposal dropped: /, ''));
    case 'GROUP_STOPPED':
      return new GroupStoppedError(w.partition === undefined ? '?' : `p${w.partition}`);
    case 'SESSION_EXPIRED':
      return new SessionExpiredError(w.message);
    case 'WRONG_PARTITION':
      return new WrongPartitionError(w.message);
    default:
      return w.retryable ? new TesseraError(w.code, w.message, { retryable: true }) : new OperationError(w.code, w.message);
  }
}
