import type { CheckResult, OperationRef } from './types.js';

/** Options for {@link formatResult}. */
export interface FormatOptions {
  /** At most this many operations of the longest prefix are listed (the last ones). Default 20. */
  maxPrefix?: number;
}

/**
 * Renders a check result for a test failure message or a log: the verdict and budget spent, and
 * for `illegal` the failing partition, the tail of the longest linearizable prefix, the state it
 * leads to, the operation that could not be linearized and every candidate that was tried.
 */
export function formatResult(result: CheckResult<unknown, unknown>, options: FormatOptions = {}): string {
  const maxPrefix = options.maxPrefix ?? 20;
  const stats = `${result.operationCount} operations in ${result.partitionCount} partition${result.partitionCount === 1 ? '' : 's'}, ${result.steps} steps, ${result.elapsedMs.toFixed(1)} ms`;
  if (result.result === 'ok') return `linearizable (${stats})`;
  if (result.result === 'unknown') {
    const why = result.reason === 'timeout' ? 'the time limit (timeoutMs)' : 'the step limit (maxSteps)';
    const done = result.partitions.filter((p) => p.result === 'ok').length;
    return `unknown: ${why} ran out after ${done} of ${result.partitionCount} partitions were found linearizable (${stats})`;
  }
  const f = result.failure!;
  const lines = [`NOT linearizable (${stats})`, `partition ${f.partition} (${f.operations.length} operations) has no valid linearization.`];
  const prefix = f.longestPrefix;
  lines.push(`Longest linearizable prefix: ${prefix.length} of ${f.operations.length} operations${prefix.length === 0 ? '.' : ':'}`);
  if (prefix.length > maxPrefix) lines.push(`  ... ${prefix.length - maxPrefix} earlier operations`);
  for (const r of prefix.slice(Math.max(0, prefix.length - maxPrefix))) lines.push(`  ${line(r)}`);
  lines.push(`State after the prefix: ${f.stateAfterPrefix}`);
  lines.push(`Then this operation returned but cannot be linearized:`, `  ${line(f.blocking)}`);
  lines.push(`Operations that could have come next:`);
  for (const c of f.candidates) {
    lines.push(`  ${line(c)}  <- ${c.verdict === 'rejected' ? 'impossible in this state' : 'possible, but nothing linearizes after it'}`);
  }
  return lines.join('\n');
}

function line(r: OperationRef<unknown, unknown>): string {
  const { clientId, call, ret } = r.operation;
  return `#${r.index} client ${String(clientId)} [${call}, ${ret === Infinity ? 'unknown' : ret}] ${r.description}`;
}
