import { describe, expect, it } from 'vitest';
import {
  checkLinearizability,
  counterModel,
  eventsToOperations,
  formatResult,
  keyedModel,
  kvModel,
  registerModel,
  type CheckResult,
  type HistoryEvent,
  type KvInput,
  type KvOutput,
  type Model,
  type Operation,
  type RegisterInput,
  type RegisterOutput,
} from '../src/linearizability/index.js';
import { seededRandom } from '../src/sim/rng.js';

type KvOp = Operation<KvInput, KvOutput>;
type RegOp = Operation<RegisterInput, RegisterOutput>;

const U = Infinity;
let nextClient = 0;
/** A KV operation; `ret = U` (Infinity) means the outcome is unknown and `output` is ignored. */
function kv(input: KvInput, output: KvOutput, call: number, ret: number, clientId: number = nextClient++): KvOp {
  return { clientId, input, output: ret === U ? undefined : output, call, ret };
}
const get = (key: string) => ({ op: 'get', key }) as const;
const put = (key: string, value: string) => ({ op: 'put', key, value }) as const;
const del = (key: string) => ({ op: 'del', key }) as const;
const cas = (key: string, expected: string | null, next: string) => ({ op: 'cas', key, expected, next }) as const;
function reg(input: RegisterInput, output: RegisterOutput, call: number, ret: number, clientId: number = nextClient++): RegOp {
  return { clientId, input, output: ret === U ? undefined : output, call, ret };
}
const read = { op: 'read' } as const;
const write = (value: string | number | null) => ({ op: 'write', value }) as const;

/** A seeded PRNG, so a failing case can be replayed from its seed. */
const rng = seededRandom;
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

/** Replays `result`'s linearizations through the model and checks they respect real time. */
function assertValidLinearization<S, I, O>(model: Model<S, I, O>, history: readonly Operation<I, O>[], result: CheckResult<I, O>): void {
  expect(result.result).toBe('ok');
  const placed = new Set<number>();
  for (const p of result.partitions) {
    let state = model.init();
    const order = p.linearization!;
    for (const i of order) {
      const r = model.step(state, history[i]!.input, history[i]!.output);
      if (!r.ok) throw new Error(`linearization of partition ${p.index}: history[${i}] is rejected by the model`);
      state = r.state;
      placed.add(i);
    }
    // Real time: nothing placed after an operation may have returned before that operation was called.
    let minRetAfter = Infinity;
    for (let k = order.length - 1; k >= 0; k--) {
      const op = history[order[k]!]!;
      if (minRetAfter < op.call) throw new Error(`linearization of partition ${p.index}: history[${order[k]}] is placed after an operation that returned before its call`);
      minRetAfter = Math.min(minRetAfter, op.ret);
    }
  }
  history.forEach((op, i) => {
    if (op.ret !== U && !placed.has(i)) throw new Error(`completed history[${i}] is missing from the linearization`);
  });
}

describe('checkLinearizability: registers', () => {
  const model = registerModel<string | number | null>({ initial: 0 });

  it('accepts sequential histories and the empty history', () => {
    expect(checkLinearizability(model, []).result).toBe('ok');
    const h = [reg(write(1), undefined, 0, 1), reg(read, 1, 2, 3), reg(write(2), undefined, 4, 5), reg(read, 2, 6, 7)];
    const r = checkLinearizability(model, h);
    assertValidLinearization(model, h, r);
  });

  it('accepts a read of the old value concurrent with a write, before a read of the new one', () => {
    // porcupine's first register example.
    const h = [reg(write(100), undefined, 0, 100), reg(read, 100, 25, 75), reg(read, 0, 30, 60)];
    assertValidLinearization(model, h, checkLinearizability(model, h));
  });

  it('rejects a read of the old value after another read already saw the new one', () => {
    // The new-old inversion: client 1 saw 200 (done at 30), then client 2 (starting at 40) sees 0.
    const h = [reg(write(200), undefined, 0, 100, 0), reg(read, 200, 10, 30, 1), reg(read, 0, 40, 90, 2)];
    const r = checkLinearizability(model, h);
    expect(r.result).toBe('illegal');
    expect(r.failure!.blocking.index).toBe(2);
    expect(formatResult(r)).toContain('read() -> 0');
  });

  it('rejects a read of an old value after the newer write completed (stale read)', () => {
    const h = [reg(write(1), undefined, 0, 10), reg(write(2), undefined, 11, 20), reg(read, 1, 30, 40)];
    expect(checkLinearizability(model, h).result).toBe('illegal');
  });

  it('treats operations that touch at an instant as concurrent', () => {
    // The read starts exactly when the write returns: either order is allowed.
    const h = [reg(write(1), undefined, 0, 10), reg(read, 0, 10, 20)];
    expect(checkLinearizability(model, h).result).toBe('ok');
    expect(checkLinearizability(model, [reg(write(1), undefined, 0, 10), reg(read, 0, 11, 20)]).result).toBe('illegal');
  });

  it('implements compare-and-set', () => {
    const h = [
      reg({ op: 'cas', expected: 0, next: 1 }, true, 0, 10, 0),
      reg({ op: 'cas', expected: 0, next: 2 }, false, 0, 10, 1),
      reg(read, 1, 20, 30),
    ];
    assertValidLinearization(model, h, checkLinearizability(model, h));
    const bothWin = [reg({ op: 'cas', expected: 0, next: 1 }, true, 0, 10, 0), reg({ op: 'cas', expected: 0, next: 2 }, true, 0, 10, 1)];
    expect(checkLinearizability(model, bothWin).result).toBe('illegal');
  });
});

describe('checkLinearizability: key/value', () => {
  const model = kvModel();

  it('accepts a sequential history of every operation', () => {
    const h = [
      kv(get('a'), null, 0, 1),
      kv(put('a', 'x'), null, 2, 3),
      kv(put('a', 'y'), 'x', 4, 5),
      kv(get('a'), 'y', 6, 7),
      kv(cas('a', 'x', 'z'), false, 8, 9),
      kv(cas('a', 'y', 'z'), true, 10, 11),
      kv(del('a'), 'z', 12, 13),
      kv(del('a'), null, 14, 15),
      kv(cas('a', null, 'w'), true, 16, 17),
      kv(get('a'), 'w', 18, 19),
    ];
    const r = checkLinearizability(model, h);
    assertValidLinearization(model, h, r);
    expect(r.partitionCount).toBe(1);
  });

  it('accepts overlapping operations that have a valid order', () => {
    const h = [
      kv(put('k', 'a'), null, 0, 50, 0),
      kv(put('k', 'b'), 'a', 10, 20, 1), // must come after put a
      kv(get('k'), 'b', 15, 60, 2),
      kv(get('k'), 'a', 5, 12, 3), // between put a and put b
      kv(del('k'), 'b', 55, 70, 4),
      kv(get('k'), null, 65, 80, 5),
    ];
    assertValidLinearization(model, h, checkLinearizability(model, h));
  });

  it('rejects a stale read', () => {
    const h = [kv(put('k', 'a'), null, 0, 10), kv(put('k', 'b'), 'a', 20, 30), kv(get('k'), 'a', 40, 50)];
    const r = checkLinearizability(model, h);
    expect(r.result).toBe('illegal');
    expect(r.failure!.blocking.description).toBe('get("k") -> "a"');
    expect(r.failure!.stateAfterPrefix).toContain('"b"');
  });

  it('rejects a lost write', () => {
    // The second put must have seen the first one's value.
    const h = [kv(put('k', 'a'), null, 0, 10), kv(put('k', 'b'), null, 20, 30)];
    expect(checkLinearizability(model, h).result).toBe('illegal');
    // Concurrent, they can both see null only if... they cannot: one of them runs second.
    const c = [kv(put('k', 'a'), null, 0, 10), kv(put('k', 'b'), null, 0, 10)];
    expect(checkLinearizability(model, c).result).toBe('illegal');
  });

  it('rejects two successful cas from the same expected value, accepts a winner and a loser', () => {
    const lose = [kv(cas('k', null, 'a'), true, 0, 10), kv(cas('k', null, 'b'), false, 0, 10), kv(get('k'), 'a', 20, 30)];
    assertValidLinearization(model, lose, checkLinearizability(model, lose));
    const both = [kv(cas('k', null, 'a'), true, 0, 10), kv(cas('k', null, 'b'), true, 0, 10)];
    expect(checkLinearizability(model, both).result).toBe('illegal');
    const wrongLoser = [kv(put('k', 'x'), null, 0, 1), kv(cas('k', 'x', 'y'), false, 2, 3)];
    expect(checkLinearizability(model, wrongLoser).result).toBe('illegal');
  });

  it('checks keys independently and names the failing partition', () => {
    const h = [
      kv(put('a', '1'), null, 0, 10),
      kv(put('b', '1'), null, 0, 10),
      kv(get('a'), '1', 20, 30),
      kv(get('b'), 'never', 20, 30),
      kv(put('c', '1'), null, 0, 5),
    ];
    const r = checkLinearizability(model, h);
    expect(r.result).toBe('illegal');
    expect(r.partitionCount).toBe(3);
    expect(r.failure!.partition).toBe(1);
    expect(r.failure!.operations.map((o) => o.index)).toEqual([1, 3]);
    expect(r.failure!.candidates).toEqual([expect.objectContaining({ index: 3, verdict: 'rejected' })]);
    // Checking stops at the first illegal partition.
    expect(r.partitions.map((p) => p.result)).toEqual(['ok', 'illegal']);
  });

  it('starts from the initial contents', () => {
    const seeded = kvModel({ initial: { k: 'v0' } });
    expect(checkLinearizability(seeded, [kv(get('k'), 'v0', 0, 1), kv(put('j', 'x'), null, 0, 1)]).result).toBe('ok');
    expect(checkLinearizability(seeded, [kv(get('k'), null, 0, 1)]).result).toBe('illegal');
    expect(checkLinearizability(seeded, [kv(del('k'), 'v0', 0, 1), kv(get('k'), null, 2, 3)]).result).toBe('ok');
  });
});

describe('checkLinearizability: unknown outcomes', () => {
  const model = kvModel();

  it('lets an unknown write take effect, or not', () => {
    const took = [kv(put('k', 'a'), null, 0, U), kv(get('k'), 'a', 10, 20)];
    assertValidLinearization(model, took, checkLinearizability(model, took));
    const didNot = [kv(put('k', 'a'), null, 0, U), kv(get('k'), null, 10, 20)];
    const r = checkLinearizability(model, didNot);
    assertValidLinearization(model, didNot, r);
    expect(r.partitions[0]!.linearization).toEqual([1]);
  });

  it('lets an unknown write take effect late, after other clients observed the old value', () => {
    const h = [
      kv(put('k', 'a'), null, 0, U, 0),
      kv(get('k'), null, 10, 20, 1),
      kv(put('k', 'b'), null, 30, 40, 2),
      kv(get('k'), 'b', 50, 60, 1),
      kv(get('k'), 'a', 1000, 1010, 3),
      kv(put('k', 'c'), 'a', 1020, 1030, 2),
    ];
    assertValidLinearization(model, h, checkLinearizability(model, h));
  });

  it('does not let an unknown write take effect before its call', () => {
    const h = [kv(get('k'), 'a', 0, 5), kv(put('k', 'a'), null, 10, U)];
    expect(checkLinearizability(model, h).result).toBe('illegal');
  });

  it('does not let an unknown write be undone once observed', () => {
    const h = [kv(put('k', 'a'), null, 0, U), kv(get('k'), 'a', 10, 20), kv(get('k'), null, 30, 40)];
    expect(checkLinearizability(model, h).result).toBe('illegal');
  });

  it('applies an unknown cas only when it would succeed', () => {
    const ok = [kv(put('k', 'x'), null, 0, 1), kv(cas('k', 'x', 'y'), null, 2, U), kv(get('k'), 'y', 10, 11)];
    expect(checkLinearizability(model, ok).result).toBe('ok');
    const bad = [kv(put('k', 'x'), null, 0, 1), kv(cas('k', 'nope', 'y'), null, 2, U), kv(get('k'), 'y', 10, 11)];
    expect(checkLinearizability(model, bad).result).toBe('illegal');
  });

  it('accepts a history that is all unknown', () => {
    expect(checkLinearizability(model, [kv(put('k', 'a'), null, 0, U), kv(get('k'), null, 1, U)]).result).toBe('ok');
  });

  it('copes with many unknown writes of which one is observed late', () => {
    const h: KvOp[] = [];
    for (let i = 0; i < 30; i++) h.push(kv(put('k', `t${i}`), null, i, U));
    for (let i = 0; i < 20; i++) h.push(kv(get('k'), null, 100 + 2 * i, 101 + 2 * i));
    h.push(kv(get('k'), 't17', 500, 501), kv(get('k'), 't3', 510, 511), kv(put('k', 'z'), 't3', 520, 530));
    // Without dominance pruning this explores subsets of the 30 writes; with it, a few thousand
    // steps to accept, and a number quadratic in the writes to refute.
    const r = checkLinearizability(model, h, { maxSteps: 20_000 });
    assertValidLinearization(model, h, r);
    h.push(kv(get('k'), 't17', 540, 541));
    expect(checkLinearizability(model, h, { maxSteps: 200_000 }).result).toBe('illegal');
  });

  it('chains unknown operations when only their combination explains an observation', () => {
    const h = [kv(put('k', 'a'), null, 0, U), kv(cas('k', 'a', 'b'), null, 1, U), kv(get('k'), 'b', 10, 11)];
    expect(checkLinearizability(model, h).result).toBe('ok');
    const counter = counterModel();
    const adds: Operation<{ op: 'add'; delta: number } | { op: 'read' }, number>[] = [
      { clientId: 0, input: { op: 'add', delta: 1 }, output: undefined, call: 0, ret: U },
      { clientId: 1, input: { op: 'add', delta: 2 }, output: undefined, call: 0, ret: U },
      { clientId: 2, input: { op: 'add', delta: 4 }, output: undefined, call: 0, ret: U },
      { clientId: 3, input: { op: 'read' }, output: 5, call: 10, ret: 11 },
      { clientId: 3, input: { op: 'read' }, output: 7, call: 12, ret: 13 },
    ];
    const r = checkLinearizability(counter, adds);
    assertValidLinearization(counter, adds, r);
    expect(r.partitions[0]!.linearization).toEqual([0, 2, 3, 1, 4]);
    adds.push({ clientId: 3, input: { op: 'read' }, output: 5, call: 14, ret: 15 });
    expect(checkLinearizability(counter, adds).result).toBe('illegal');
  });

  it('counts an unknown increment or not', () => {
    const counter = counterModel();
    const h: Operation<{ op: 'add'; delta: number } | { op: 'read' }, number>[] = [
      { clientId: 0, input: { op: 'add', delta: 5 }, output: undefined, call: 0, ret: U },
      { clientId: 1, input: { op: 'add', delta: 1 }, output: 1, call: 1, ret: 2 },
      { clientId: 1, input: { op: 'add', delta: 1 }, output: 7, call: 3, ret: 4 },
    ];
    expect(checkLinearizability(counter, h).result).toBe('ok');
    h[2] = { ...h[2]!, output: 3 };
    expect(checkLinearizability(counter, h).result).toBe('illegal');
  });
});

describe('checkLinearizability: counters', () => {
  const model = counterModel({ initial: 10 });
  const add = (delta: number, out: number, call: number, ret: number) => ({ clientId: nextClient++, input: { op: 'add' as const, delta }, output: out, call, ret });
  const rd = (out: number, call: number, ret: number) => ({ clientId: nextClient++, input: { op: 'read' as const }, output: out, call, ret });

  it('accepts concurrent increments in some order and rejects a lost update', () => {
    const h = [add(1, 12, 0, 10), add(1, 11, 0, 10), add(-3, 9, 5, 15), rd(9, 20, 21)];
    assertValidLinearization(model, h, checkLinearizability(model, h));
    expect(checkLinearizability(model, [add(1, 11, 0, 10), add(1, 11, 0, 10)]).result).toBe('illegal');
    expect(checkLinearizability(model, [add(2, 12, 0, 1), rd(10, 2, 3)]).result).toBe('illegal');
  });

  it('can be keyed, and supports models that compare states with equal()', () => {
    type In = { op: 'add'; name: string; delta: number } | { op: 'read'; name: string };
    const base = counterModel();
    const inner: Model<number, In, number> = { init: base.init, step: base.step as Model<number, In, number>['step'], equal: (a, b) => a === b };
    const named = keyedModel(inner, (i) => i.name);
    const h: Operation<In, number>[] = [
      { clientId: 0, input: { op: 'add', name: 'x', delta: 2 }, output: 2, call: 0, ret: 1 },
      { clientId: 0, input: { op: 'add', name: 'y', delta: 3 }, output: 3, call: 0, ret: 1 },
      { clientId: 1, input: { op: 'read', name: 'x' }, output: 2, call: 2, ret: 3 },
    ];
    const r = checkLinearizability(named, h);
    expect(r.result).toBe('ok');
    expect(r.partitionCount).toBe(2);
    h[2] = { ...h[2]!, output: 5 };
    expect(checkLinearizability(named, h).result).toBe('illegal');
  });
});

describe('history formats and validation', () => {
  const model = registerModel<number | null>();

  it('accepts call/return events, with positions or explicit times as the clock', () => {
    const events: HistoryEvent<RegisterInput<number | null>, RegisterOutput<number | null>>[] = [
      { kind: 'call', id: 'w', clientId: 0, input: { op: 'write', value: 1 } },
      { kind: 'call', id: 'r1', clientId: 1, input: { op: 'read' } },
      { kind: 'return', id: 'r1', output: 1 },
      { kind: 'call', id: 'r2', clientId: 2, input: { op: 'read' } },
      { kind: 'return', id: 'r2', output: null },
      { kind: 'return', id: 'w', output: undefined },
    ];
    expect(checkLinearizability(model, events).result).toBe('illegal');
    const reordered = [events[0]!, events[3]!, events[4]!, events[1]!, events[2]!, events[5]!];
    expect(checkLinearizability(model, reordered).result).toBe('ok');
    const timed = events.map((e, i) => ({ ...e, time: [0, 5, 9, 7, 8, 20][i]! }));
    // r2 now runs from 7 to 8, before r1 returns at 9: r2 then r1 is a valid order.
    expect(checkLinearizability(model, timed).result).toBe('ok');
  });

  it('turns a call without a return into an unknown outcome', () => {
    const ops = eventsToOperations<RegisterInput, RegisterOutput>([
      { kind: 'call', id: 1, clientId: 'c', input: { op: 'write', value: 1 } },
      { kind: 'call', id: 2, clientId: 'd', input: { op: 'read' } },
      { kind: 'return', id: 2, output: 1 },
    ]);
    expect(ops).toEqual([
      { clientId: 'c', input: { op: 'write', value: 1 }, output: undefined, call: 0, ret: Infinity },
      { clientId: 'd', input: { op: 'read' }, output: 1, call: 1, ret: 2 },
    ]);
  });

  it('rejects malformed histories with a message naming the operation', () => {
    const ok = reg(read, null, 0, 1);
    expect(() => checkLinearizability(model, [ok, { ...ok, call: 5, ret: 4 }])).toThrow(/history\[1\]: ret 4 is before call 5/);
    expect(() => checkLinearizability(model, [{ ...ok, call: Number.NaN }])).toThrow(/history\[0\]: call must be a finite number/);
    expect(() => checkLinearizability(model, [{ ...ok, call: Infinity, ret: Infinity, output: undefined }])).toThrow(/call must be a finite/);
    expect(() => checkLinearizability(model, [{ ...ok, ret: Infinity }])).toThrow(/unknown outcome .* must have output undefined/);
    expect(() => checkLinearizability(model, [{ ...ok, ret: undefined as unknown as number }])).toThrow(/ret must be a number/);
    expect(() => eventsToOperations([{ kind: 'return', id: 1, output: 1 }])).toThrow(/without a preceding call/);
    expect(() =>
      eventsToOperations([
        { kind: 'call', id: 1, clientId: 0, input: 1 },
        { kind: 'call', id: 1, clientId: 0, input: 1 },
      ]),
    ).toThrow(/duplicate call id 1/);
    expect(() =>
      eventsToOperations([
        { kind: 'call', id: 1, clientId: 0, input: 1, time: 5 },
        { kind: 'return', id: 1, output: 1, time: 4 },
      ]),
    ).toThrow(/before its call/);
    expect(() => checkLinearizability(model, [ok], { maxSteps: 0 })).toThrow(/maxSteps/);
    expect(() => checkLinearizability(model, [ok], { timeoutMs: -1 })).toThrow(/timeoutMs/);
  });

  it('rejects a model without hash or equal, and a partition that loses or repeats operations', () => {
    const { hash: _hash, ...noHash } = registerModel();
    expect(() => checkLinearizability(noHash, [])).toThrow(/hash\(state\) or equal/);
    const h = [reg(read, null, 0, 1), reg(read, null, 2, 3)];
    expect(() => checkLinearizability({ ...registerModel(), partition: (ops) => [[ops[0]!]] }, h)).toThrow(/left out history\[1\]/);
    expect(() => checkLinearizability({ ...registerModel(), partition: (ops) => [[...ops], [ops[1]!]] }, h)).toThrow(/history\[1\] twice/);
    expect(() => checkLinearizability({ ...registerModel(), partition: (ops) => [ops.map((o) => ({ ...o }))] }, h)).toThrow(/same objects/);
  });
});

describe('formatResult', () => {
  it('explains an illegal history: prefix, state, blocking operation and candidates', () => {
    const h = [
      kv(put('k', 'a'), null, 0, 10, 1),
      kv(put('k', 'b'), 'a', 20, 30, 2),
      kv(put('k', 'c'), 'b', 35, U, 4),
      kv(get('k'), 'a', 40, 50, 3),
    ];
    const r = checkLinearizability(kvModel(), h);
    const text = formatResult(r);
    expect(text).toContain('NOT linearizable');
    expect(text).toContain('Longest linearizable prefix: 2 of 4 operations:');
    expect(text).toContain('#1 client 2 [20, 30] put("k", "b") -> "a"');
    expect(text).toContain('State after the prefix: { "k": "b" }');
    expect(text).toContain('#3 client 3 [40, 50] get("k") -> "a"  <- impossible in this state');
    expect(text).toContain('#2 client 4 [35, unknown] put("k", "c") -> ?  <- possible, but nothing linearizes after it');
    expect(formatResult(checkLinearizability(kvModel(), h.slice(0, 2)))).toMatch(/^linearizable \(2 operations in 1 partition, /);
  });

  it('shortens a long prefix', () => {
    const h: KvOp[] = [];
    let prev: string | null = null;
    for (let i = 0; i < 30; i++) {
      h.push(kv(put('k', `v${i}`), prev, 2 * i, 2 * i + 1, 0));
      prev = `v${i}`;
    }
    h.push(kv(get('k'), 'v3', 100, 101));
    const text = formatResult(checkLinearizability(kvModel(), h), { maxPrefix: 5 });
    expect(text).toContain('... 25 earlier operations');
    expect(text.split('\n').filter((l) => l.includes('put(')).length).toBe(5);
  });
});

describe('budget', () => {
  /** Many concurrent writes, then a read of a value nobody wrote: illegal, but every subset of writes looks promising. */
  function pathological(writes: number): RegOp[] {
    const h: RegOp[] = [];
    for (let i = 0; i < writes; i++) h.push(reg(write(i), undefined, 0, 100, i));
    h.push(reg(read, -1, 200, 210));
    return h;
  }

  it('answers unknown when the step budget runs out', () => {
    const r = checkLinearizability(registerModel<number | null>(), pathological(24), { maxSteps: 5_000 });
    expect(r.result).toBe('unknown');
    expect(r.reason).toBe('maxSteps');
    expect(r.steps).toBe(5_000);
    expect(formatResult(r)).toMatch(/^unknown: the step limit \(maxSteps\) ran out/);
  });

  it('answers unknown when the time budget runs out', () => {
    const r = checkLinearizability(registerModel<number | null>(), pathological(24), { timeoutMs: 20, maxSteps: Infinity });
    expect(r.result).toBe('unknown');
    expect(r.reason).toBe('timeout');
  });

  it('shares the step budget across partitions', () => {
    const h: KvOp[] = [];
    for (let k = 0; k < 5; k++) for (let i = 0; i < 10; i++) h.push(kv(put(`k${k}`, `v${i}`), i === 0 ? null : `v${i - 1}`, i, i + 0.5));
    const full = checkLinearizability(kvModel(), h);
    expect(full.result).toBe('ok');
    const cut = checkLinearizability(kvModel(), h, { maxSteps: full.steps - 1 });
    expect(cut.result).toBe('unknown');
    expect(cut.partitions.at(-1)!.result).toBe('unknown');
    expect(cut.partitions.slice(0, -1).every((p) => p.result === 'ok')).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Randomized: histories from real executions must pass; provably wrong mutations must fail; and
// on small random histories the checker must agree with brute force.

interface GenOptions {
  clients: number;
  opsPerClient: number;
  keys: number;
  unknownRate: number;
}

/**
 * Runs a sequential KV store where each operation takes effect at a random instant inside its
 * [call, ret] interval; each client issues its operations one after another. An operation with an
 * unknown outcome takes effect (possibly much later) or not at all.
 */
function generateKv(seed: number, o: GenOptions): KvOp[] {
  const r = rng(seed);
  type Draft = { clientId: number; input: KvInput; call: number; ret: number; at: number | null; output?: KvOutput };
  const drafts: Draft[] = [];
  let written = 0;
  const keys = Array.from({ length: o.keys }, (_, i) => `key${i}`);
  for (let c = 0; c < o.clients; c++) {
    let t = r() * 10;
    for (let i = 0; i < o.opsPerClient; i++) {
      const call = t + r() * 3;
      const at = call + r() * 5;
      const ret = at + r() * 5;
      const key = pick(r, keys);
      const roll = r();
      const input: KvInput =
        roll < 0.35 ? get(key) : roll < 0.7 ? put(key, `v${written++}`) : roll < 0.8 ? del(key) : cas(key, pick(r, [null, `v${Math.floor(r() * (written + 1))}`]), `v${written++}`);
      if (r() < o.unknownRate) {
        drafts.push({ clientId: c, input, call, ret: Infinity, at: r() < 0.5 ? null : call + r() * 200 });
      } else {
        drafts.push({ clientId: c, input, call, ret, at });
      }
      t = ret;
    }
  }
  const store = new Map<string, string>();
  for (const d of [...drafts].filter((d) => d.at !== null).sort((a, b) => a.at! - b.at!)) {
    const cur = store.get(d.input.key) ?? null;
    switch (d.input.op) {
      case 'get':
        d.output = cur;
        break;
      case 'put':
        d.output = cur;
        store.set(d.input.key, d.input.value);
        break;
      case 'del':
        d.output = cur;
        store.delete(d.input.key);
        break;
      case 'cas':
        d.output = cur === d.input.expected;
        if (d.output) store.set(d.input.key, d.input.next);
        break;
    }
  }
  return drafts.map((d) => ({ clientId: d.clientId, input: d.input, output: d.ret === Infinity ? undefined : d.output!, call: d.call, ret: d.ret }));
}

/** Linearizability by definition: try every order that respects real time; unknown outcomes optional. */
function bruteForce<S, I, O>(model: Model<S, I, O>, h: readonly Operation<I, O>[]): boolean {
  const used = new Array<boolean>(h.length).fill(false);
  const completed = h.filter((o) => o.ret !== U).length;
  const go = (state: S, placed: number): boolean => {
    if (placed === completed) return true;
    for (let i = 0; i < h.length; i++) {
      if (used[i]) continue;
      // i may go next only if no unplaced completed operation returned before i was called.
      if (h.some((x, j) => !used[j] && j !== i && x.ret < h[i]!.call)) continue;
      const r = model.step(state, h[i]!.input, h[i]!.output);
      if (!r.ok) continue;
      used[i] = true;
      const found = go(r.state, placed + (h[i]!.ret === U ? 0 : 1));
      used[i] = false;
      if (found) return true;
    }
    return false;
  };
  return go(model.init(), 0);
}

describe('randomized', () => {
  it('agrees with brute force on small random histories', () => {
    const model = kvModel();
    const values = [null, 'a', 'b'];
    let ok = 0;
    let illegal = 0;
    for (let seed = 1; seed <= 1000; seed++) {
      const r = rng(seed);
      const n = 2 + Math.floor(r() * 5);
      const h: KvOp[] = [];
      for (let i = 0; i < n; i++) {
        const call = Math.floor(r() * 8);
        const ret = r() < 0.15 ? U : call + Math.floor(r() * 5);
        const key = r() < 0.8 ? 'k' : 'j';
        const roll = r();
        const input: KvInput =
          roll < 0.35 ? get(key) : roll < 0.7 ? put(key, pick(r, ['a', 'b'])) : roll < 0.85 ? del(key) : cas(key, pick(r, values), pick(r, ['a', 'b']));
        const output: KvOutput = input.op === 'cas' ? r() < 0.5 : pick(r, values);
        // Few operations and three values keep both verdicts common.
        h.push(kv(input, output, call, ret, i));
      }
      const res = checkLinearizability(model, h);
      const expected = bruteForce(model, h);
      if (res.result !== (expected ? 'ok' : 'illegal')) throw new Error(`seed ${seed}: checker says ${res.result}, brute force ${expected}\n${JSON.stringify(h)}`);
      if (expected) {
        assertValidLinearization(model, h, res);
        ok++;
      } else illegal++;
    }
    // Both verdicts must be well represented for the comparison to mean something.
    expect(ok).toBeGreaterThan(100);
    expect(illegal).toBeGreaterThan(100);
  });

  it('agrees with brute force on small random counter histories with many unknown outcomes', () => {
    const model = counterModel();
    type In = { op: 'add'; delta: number } | { op: 'read' };
    let ok = 0;
    let illegal = 0;
    for (let seed = 1; seed <= 500; seed++) {
      const r = rng(seed);
      const n = 2 + Math.floor(r() * 6);
      const h: Operation<In, number>[] = [];
      for (let i = 0; i < n; i++) {
        const call = Math.floor(r() * 8);
        const ret = r() < 0.35 ? U : call + Math.floor(r() * 5);
        const input: In = r() < 0.55 ? { op: 'add', delta: pick(r, [0, 1, 2, 3]) } : { op: 'read' };
        h.push({ clientId: i, input, output: ret === U ? undefined : Math.floor(r() * 6), call, ret });
      }
      const res = checkLinearizability(model, h);
      const expected = bruteForce(model, h);
      if (res.result !== (expected ? 'ok' : 'illegal')) throw new Error(`seed ${seed}: checker says ${res.result}, brute force ${expected}\n${JSON.stringify(h)}`);
      if (expected) {
        assertValidLinearization(model, h, res);
        ok++;
      } else illegal++;
    }
    expect(ok).toBeGreaterThan(25);
    expect(illegal).toBeGreaterThan(25);
  });

  it('accepts histories of real executions and rejects a provably wrong output', () => {
    const model = kvModel();
    for (let seed = 1; seed <= 40; seed++) {
      const h = generateKv(seed, { clients: 6, opsPerClient: 40, keys: 4, unknownRate: 0.05 });
      const res = checkLinearizability(model, h);
      if (res.result !== 'ok') throw new Error(`seed ${seed}: ${formatResult(res)}`);
      assertValidLinearization(model, h, res);

      // A completed get/put/del reporting a value that was never written cannot be explained.
      const r = rng(seed * 7919);
      const candidates = h.map((op, i) => [op, i] as const).filter(([op]) => op.ret !== U && op.input.op !== 'cas');
      const [victim, at] = pick(r, candidates);
      const mutated = h.map((op, i) => (i === at ? { ...op, output: 'never-written' } : op));
      const bad = checkLinearizability(model, mutated);
      if (bad.result !== 'illegal') throw new Error(`seed ${seed}: mutation of #${at} not detected: ${bad.result}`);
      expect(bad.failure!.candidates.some((c) => c.index === at && c.verdict === 'rejected') || bad.failure!.blocking.index === at).toBe(true);
      expect(victim.input.key).toBeDefined();
    }
  });

  it('checks a 2000-operation history over 10 keys and 8 clients', () => {
    const h = generateKv(424242, { clients: 8, opsPerClient: 250, keys: 10, unknownRate: 0.02 });
    expect(h.length).toBe(2000);
    const res = checkLinearizability(kvModel(), h);
    expect(res.result, formatResult(res)).toBe('ok');
    expect(res.partitionCount).toBe(10);
    assertValidLinearization(kvModel(), h, res);
  });
});
