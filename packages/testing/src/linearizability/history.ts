import type { HistoryEvent, Operation } from './types.js';

/**
 * Converts a call/return event list into operations. Without `time` on the events, an event's
 * position in the list is its time; either every event has a `time` or none does. A call with no
 * return becomes an operation with an unknown outcome (`ret = Infinity`). Operations are returned
 * in call order. Throws on a return without a call, a duplicate id, or a return before its call.
 */
export function eventsToOperations<Input, Output>(events: readonly HistoryEvent<Input, Output>[]): Operation<Input, Output>[] {
  if (!Array.isArray(events)) throw new TypeError('history: expected an array of events');
  const timed = events.length > 0 && events[0]!.time !== undefined;
  const open = new Map<number | string, { clientId: number | string; input: Input; call: number }>();
  const done = new Set<number | string>();
  const ops: Operation<Input, Output>[] = [];
  const order = new Map<number | string, number>();
  events.forEach((e, i) => {
    if ((e.time !== undefined) !== timed) throw new Error(`history event ${i}: either every event has a time or none does`);
    const time = timed ? e.time! : i;
    if (typeof time !== 'number' || !Number.isFinite(time)) throw new Error(`history event ${i}: time must be a finite number, got ${String(time)}`);
    if (e.kind === 'call') {
      if (open.has(e.id) || done.has(e.id)) throw new Error(`history event ${i}: duplicate call id ${String(e.id)}`);
      open.set(e.id, { clientId: e.clientId, input: e.input, call: time });
      order.set(e.id, ops.length);
      ops.push(undefined as unknown as Operation<Input, Output>);
    } else if (e.kind === 'return') {
      const c = open.get(e.id);
      if (c === undefined) throw new Error(`history event ${i}: return for id ${String(e.id)} without a preceding call`);
      if (time < c.call) throw new Error(`history event ${i}: return of id ${String(e.id)} at ${time} is before its call at ${c.call}`);
      open.delete(e.id);
      done.add(e.id);
      ops[order.get(e.id)!] = { clientId: c.clientId, input: c.input, output: e.output, call: c.call, ret: time };
    } else {
      throw new Error(`history event ${i}: kind must be 'call' or 'return'`);
    }
  });
  for (const [id, c] of open) ops[order.get(id)!] = { clientId: c.clientId, input: c.input, output: undefined, call: c.call, ret: Infinity };
  return ops;
}

/**
 * Validates a history of operations, throwing an Error that names the first bad operation:
 * `call` must be finite, `ret` a number `>= call` (or `Infinity`), and an operation with an unknown
 * outcome (`ret = Infinity`) has no output.
 */
export function validateHistory(history: readonly Operation<unknown, unknown>[]): void {
  if (!Array.isArray(history)) throw new TypeError('history: expected an array of operations');
  history.forEach((op, i) => {
    if (op === null || typeof op !== 'object') throw new TypeError(`history[${i}]: expected an operation object`);
    if (typeof op.call !== 'number' || !Number.isFinite(op.call)) throw new Error(`history[${i}]: call must be a finite number, got ${String(op.call)}`);
    if (typeof op.ret !== 'number' || Number.isNaN(op.ret)) throw new Error(`history[${i}]: ret must be a number (Infinity for an unknown outcome), got ${String(op.ret)}`);
    if (op.ret < op.call) throw new Error(`history[${i}]: ret ${op.ret} is before call ${op.call}`);
    if (op.ret === Infinity && op.output !== undefined) {
      throw new Error(`history[${i}]: an operation with an unknown outcome (ret = Infinity) must have output undefined`);
    }
  });
}

/**
 * Groups a history by a key, keeping each group in history order: the usual
 * {@link Model.partition} for objects whose keys are independent.
 */
export function partitionByKey<Input, Output>(history: readonly Operation<Input, Output>[], keyOf: (input: Input) => string): Operation<Input, Output>[][] {
  const groups = new Map<string, Operation<Input, Output>[]>();
  for (const op of history) {
    const k = keyOf(op.input);
    let g = groups.get(k);
    if (g === undefined) groups.set(k, (g = []));
    g.push(op);
  }
  return [...groups.values()];
}
