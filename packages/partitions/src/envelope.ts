/**
 * Log entry format of a partition (MessagePack arrays). **Part of the on-disk and snapshot
 * format**: never renumber the kinds or reorder fields; add new kinds instead.
 *
 *   [1, time, timeoutMs, session, seq, ackBelow, open, type, name, op, input, key]   a command
 *   [2, time]                                                                         log clock (expires idle sessions)
 *   [3, time, timeoutMs, session, open]                                               session keep-alive
 *   [4, time, session]                                                                session close
 *   [5, time, [[timeoutMs, session, seq, ackBelow, open, type, name, op, input, key], ...]]   several commands in one entry
 *   [6, time, [[timeoutMs, session, open, ackBelow, type, name, op, [seq, ...], [input, ...], [key, ...]], ...]]
 *                                                    several commands in one entry, as runs sharing their common fields
 *
 * `time` is the proposing leader's wall clock in ms; the state machine makes log time monotonic.
 */
import { Packr } from 'msgpackr';

export const EntryKind = { Command: 1, Clock: 2, KeepAlive: 3, Close: 4, Batch: 5, Runs: 6 } as const;

/**
 * Entries are decoded with copied byte strings: a value kept in the state must not pin the whole
 * received batch buffer it arrived in.
 */
export const entryPackr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, variableMapSize: true, int64AsType: 'number', copyBuffers: true });

/**
 * Decodes byte strings as views into the entry: for command runs, whose inputs reach `apply` only
 * through a resource that copies what it keeps (`copiesBinaryInputs`) or after copyBinaries().
 */
export const entryViewPackr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, variableMapSize: true, int64AsType: 'number', copyBuffers: false });

/** Whether `entry` is a {@link EntryKind.Runs} entry (a 3-element array whose first element is 6), from its first two bytes. */
export function isRunsEntry(entry: Uint8Array): boolean {
  return entry.length > 2 && entry[0] === 0x93 && entry[1] === EntryKind.Runs;
}

export function encodeCommand(
  time: number,
  timeoutMs: number,
  session: string,
  seq: number,
  ackBelow: number,
  open: boolean,
  type: string,
  name: string,
  op: string,
  input: unknown,
  key: string | null,
): Uint8Array {
  return entryPackr.pack([EntryKind.Command, time, timeoutMs, session, seq, ackBelow, open, type, name, op, input, key]);
}

export function encodeClock(time: number): Uint8Array {
  return entryPackr.pack([EntryKind.Clock, time]);
}

export function encodeKeepAlive(time: number, timeoutMs: number, session: string, open: boolean): Uint8Array {
  return entryPackr.pack([EntryKind.KeepAlive, time, timeoutMs, session, open]);
}

export function encodeClose(time: number, session: string): Uint8Array {
  return entryPackr.pack([EntryKind.Close, time, session]);
}

/** One command of a batch entry: `[timeoutMs, session, seq, ackBelow, open, type, name, op, input, key]`. */
export type BatchedCommand = [number, string, number, number, boolean, string, string, string, unknown, string | null];

/**
 * Several commands (usually everything one client frame carried for a partition) in one log entry:
 * one Raft entry, one append record, one replication message slot, instead of one per command.
 * Applied in order; each command keeps its own session dedup and its own outcome.
 */
export function encodeBatch(time: number, commands: BatchedCommand[]): Uint8Array {
  return entryPackr.pack([EntryKind.Batch, time, commands]);
}

/** One run of a {@link EntryKind.Runs} entry: `[timeoutMs, session, open, ackBelow, type, name, op, seqs, inputs, keys]`. */
export type CommandRun = [number, string, boolean, number, string, string, string, number[], unknown[], (string | null)[]];

/**
 * Several commands in one entry, written as runs: consecutive commands that share session,
 * timeout, open flag, type, name and operation store those once (a run's ackBelow is the largest
 * of its commands'; see `coalesceCommands` in the client protocol for why that is safe). Applied
 * in order like {@link encodeBatch}; decoding one command costs a seq, an input and a key instead
 * of ten fields, on every replica.
 */
export function encodeRuns(time: number, commands: readonly BatchedCommand[]): Uint8Array {
  const runs: CommandRun[] = [];
  let run: CommandRun | undefined;
  for (let i = 0; i < commands.length; i++) {
    const [timeoutMs, session, seq, ackBelow, open, type, name, op, input, key] = commands[i]!;
    if (run && run[1] === session && run[0] === timeoutMs && run[2] === open && run[4] === type && run[5] === name && run[6] === op) {
      if (ackBelow > run[3]) run[3] = ackBelow;
      run[7].push(seq);
      run[8].push(input);
      run[9].push(key);
      continue;
    }
    run = [timeoutMs, session, open, ackBelow, type, name, op, [seq], [input], [key]];
    runs.push(run);
  }
  return entryPackr.pack([EntryKind.Runs, time, runs]);
}
