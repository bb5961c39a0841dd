import type { NodeId } from './types.js';

const BRAND = Symbol.for('tessera.error');

/**
 * Base class of every error Tessera throws on purpose. `code` is stable and safe to switch on;
 * `retryable` says whether the same request may succeed if sent again (possibly elsewhere).
 * `isInstance` works across duplicate installs of this package, unlike `instanceof`.
 */
export class TesseraError extends Error {
  readonly [BRAND] = true;
  readonly code: string;
  readonly retryable: boolean;

  constructor(code: string, message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options?.retryable ?? false;
  }

  static isInstance(value: unknown): value is TesseraError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** This replica is not the leader. `leader` is the current leader if known; retry there. */
export class NotLeaderError extends TesseraError {
  constructor(readonly group: string, readonly leader: NodeId | undefined) {
    super('NOT_LEADER', `not the leader of group ${group}${leader ? `; leader is ${leader}` : '; leader unknown'}`, { retryable: true });
  }
}

/**
 * A proposal was not committed: it was never appended, or its log slot was taken by another
 * leader's entry. It was definitely not applied, so retrying cannot apply it twice.
 */
export class ProposalDroppedError extends TesseraError {
  constructor(readonly reason: string) {
    super('PROPOSAL_DROPPED', `proposal dropped: ${reason}`, { retryable: true });
  }
}

/** Too much work is queued; the caller should slow down and retry. Nothing was applied. */
export class BackpressureError extends TesseraError {
  constructor(message: string) {
    super('BACKPRESSURE', message, { retryable: true });
  }
}

/** The group was stopped. Outstanding proposals may or may not have been applied. */
export class GroupStoppedError extends TesseraError {
  constructor(group: string) {
    super('GROUP_STOPPED', `group ${group} is stopped`, { retryable: false });
  }
}

/** An operation did not finish in time; its outcome is unknown. */
export class TimeoutError extends TesseraError {
  constructor(message: string) {
    super('TIMEOUT', message, { retryable: true });
  }
}

/** A membership change is already in flight; wait for it and retry. */
export class ChangeInProgressError extends TesseraError {
  constructor(message = 'a membership change is already in progress') {
    super('CHANGE_IN_PROGRESS', message, { retryable: true });
  }
}

/** A log read asked for entries that were compacted into a snapshot. */
export class LogCompactedError extends TesseraError {
  constructor(readonly index: number, readonly firstIndex: number) {
    super('LOG_COMPACTED', `log index ${index} is compacted (first available index is ${firstIndex})`);
  }
}

/** An append did not continue the log exactly (gap, overlap, or out of order), or a range was out of bounds. */
export class LogRangeError extends TesseraError {
  constructor(message: string) {
    super('LOG_RANGE', message);
  }
}

/** Stored data failed its checksum or structure checks somewhere other than a torn tail. */
export class CorruptionError extends TesseraError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CORRUPTION', message, options);
  }
}

/** A storage backend failed (I/O error, closed store). */
export class StorageError extends TesseraError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STORAGE', message, options);
  }
}

/** Configuration or API input failed validation. `path` names the offending field. */
export class ConfigError extends TesseraError {
  constructor(readonly path: string, detail: string) {
    super('CONFIG_INVALID', path ? `${path}: ${detail}` : detail);
  }
}

/** A received frame could not be decoded; the connection that sent it should be closed. */
export class FrameError extends TesseraError {
  constructor(message: string) {
    super('FRAME_INVALID', message);
  }
}

/** The transport is closed or the peer is unreachable. */
export class TransportError extends TesseraError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TRANSPORT', message, { ...options, retryable: true });
  }
}

/** A membership change that cannot apply to the current membership (unknown member, already a member, ...). */
export class InvalidMembershipChangeError extends TesseraError {
  constructor(message: string) {
    super('INVALID_MEMBERSHIP_CHANGE', message, { retryable: false });
  }
}

/** A learner cannot be promoted yet: its log is too far behind the leader's. Retry later. */
export class LearnerBehindError extends TesseraError {
  constructor(readonly learner: string, readonly lag: number) {
    super('LEARNER_BEHIND', lag < 0 ? `learner ${learner} is not responding` : `learner ${learner} is ${lag} entries behind the leader`, { retryable: true });
  }
}
