import { FrameError } from '@tessera/raft';
import { describe, expect, it } from 'vitest';
import { FrameDecoder, encodeFrame } from '../src/protocol/frame.js';
import { errorFromWire, errorToWire, OperationError, SessionExpiredError } from '../src/errors.js';
import { NotLeaderError } from '@tessera/raft';

describe('client protocol framing', () => {
  it('round-trips messages split at every byte boundary', () => {
    const msgs = [[1, 'cmd', 3, 'sess', 7, 1, true, 30000, 'map', 'm', 'set', new Uint8Array([1, 2, 3]), 'k'], [2, 'ping']];
    const bytes = Buffer.concat([encodeFrame(msgs), encodeFrame([[3, 'ping']])]);
    for (let cut = 1; cut < bytes.length; cut++) {
      const d = new FrameDecoder();
      const got: unknown[][] = [];
      d.push(bytes.subarray(0, cut), (m) => got.push(m));
      d.push(bytes.subarray(cut), (m) => got.push(m));
      expect(got.length).toBe(2);
      expect((got[0]![0] as unknown[])[1]).toBe('cmd');
      expect(Array.from((got[0]![0] as unknown[])[11] as Uint8Array)).toEqual([1, 2, 3]);
    }
  });

  it('refuses oversized and non-array frames', () => {
    const big = Buffer.alloc(8);
    big.writeUInt32BE(1 << 30, 0);
    expect(() => new FrameDecoder(1024).push(big, () => {})).toThrow(FrameError);
    const notArray = encodeFrame([]);
    notArray[4] = 0xa1; // fixstr of length 1 instead of an array
    expect(() => new FrameDecoder().push(Buffer.concat([notArray, Buffer.from('x')]).subarray(0, notArray.length), () => {})).toThrow(FrameError);
  });

  it('errors keep their code, retryability and leader hint across the wire', () => {
    const nl = errorFromWire(errorToWire(new NotLeaderError('p3', 'n2'), { partition: 3, leaderAddress: '127.0.0.1:9' }));
    expect(nl).toBeInstanceOf(NotLeaderError);
    expect((nl as NotLeaderError).leader).toBe('n2');
    expect(nl.retryable).toBe(true);
    const se = errorFromWire({ code: 'SESSION_EXPIRED', message: 'gone', retryable: false });
    expect(se).toBeInstanceOf(SessionExpiredError);
    const op = errorFromWire({ code: 'LOCK_NOT_HELD', message: 'x', retryable: false });
    expect(op).toBeInstanceOf(OperationError);
    expect(op.code).toBe('LOCK_NOT_HELD');
    expect(errorToWire(new Error('boom')).code).toBe('INTERNAL');
  });
});

import { commandRequest, isCommandRequest } from '../src/protocol/messages.js';

describe('command request fast check', () => {
  it('agrees with the zod schema on valid and invalid requests', () => {
    const good = [7, 'cmd', 3, 'sess', 9, 1, true, 30_000, 'map', 'users', 'set', { any: 'value' }, 'k'];
    const cases: unknown[][] = [good, [...good.slice(0, 12), null]];
    const mutations: [number, unknown][] = [
      [0, 0], [0, 1.5], [0, '7'], [1, 'query'], [2, -1], [2, 2 ** 21], [3, ''], [3, 'x'.repeat(129)], [4, 0], [5, -1], [6, 1],
      [7, 99], [7, 24 * 3600 * 1000 + 1], [8, ''], [9, 'n'.repeat(1025)], [10, ''], [12, 5], [12, 'k'.repeat(64 * 1024 + 1)],
    ];
    for (const [i, v] of mutations) {
      const m = [...good];
      m[i] = v;
      cases.push(m);
    }
    cases.push(good.slice(0, 12), [...good, 'extra']);
    for (const c of cases) expect(isCommandRequest(c), JSON.stringify(c).slice(0, 80)).toBe(commandRequest.safeParse(c).success);
  });
});

import { coalesceCommands, commandRunRequest, isCommandRunRequest } from '../src/protocol/messages.js';

describe('command runs', () => {
  const cmd = (id: number, p: number, seq: number, ackBelow: number, key: string, op = 'set', session = 's1') => [id, 'cmd', p, session, seq, ackBelow, false, 30_000, 'map', 'm', op, new Uint8Array([id]), key];

  it('merges consecutive commands of a partition that differ only in id, seq, input and key, keeping their order', () => {
    const msgs = [cmd(1, 0, 10, 5, 'a'), cmd(2, 1, 11, 5, 'b'), [3, 'ping'], cmd(4, 0, 12, 7, 'c'), cmd(5, 0, 13, 6, 'd', 'delete'), cmd(6, 0, 14, 8, 'e'), cmd(7, 1, 15, 8, 'f', 'set', 's2')];
    const out = coalesceCommands(msgs);
    expect(out.map((m) => m[1])).toEqual(['cmds', 'cmd', 'ping', 'cmd', 'cmd', 'cmd']);
    const run = out[0]!;
    // [id, 'cmds', p, session, open, timeoutMs, ackBelow, type, name, op, ids, seqs, inputs, keys]; ackBelow is the run's largest.
    expect(run.slice(0, 10)).toEqual([1, 'cmds', 0, 's1', false, 30_000, 7, 'map', 'm', 'set']);
    expect(run[10]).toEqual([1, 4]);
    expect(run[11]).toEqual([10, 12]);
    expect(run[13]).toEqual(['a', 'c']);
    // A later command of partition 0 with another op starts a new run; a run of one stays a plain 'cmd'.
    expect(out[3]![0]).toBe(5);
    expect(out[4]).toEqual(msgs[5]);
    expect(out[1]).toEqual(msgs[1]);
    for (const m of out) if (m[1] === 'cmds') expect(isCommandRunRequest(m)).toBe(true);
    expect(coalesceCommands([[1, 'ping']])).toEqual([[1, 'ping']]);
  });

  it('fast check agrees with the zod schema', () => {
    const good = [7, 'cmds', 3, 'sess', true, 30_000, 1, 'map', 'users', 'set', [7, 8], [9, 10], [{ any: 1 }, 2], ['k', null]];
    const cases: unknown[][] = [good];
    const mutations: [number, unknown][] = [
      [0, 0], [0, 8], [1, 'cmd'], [2, -1], [3, ''], [4, 1], [5, 99], [6, -1], [7, ''], [8, 'n'.repeat(1025)], [9, ''],
      [10, [7]], [10, []], [10, [7, 0]], [11, [9]], [11, [9, 0]], [12, [1]], [12, 'x'], [13, ['k']], [13, ['k', 5]], [13, ['k', 'k'.repeat(64 * 1024 + 1)]],
    ];
    for (const [i, v] of mutations) {
      const m = [...good];
      m[i] = v;
      cases.push(m);
    }
    cases.push(good.slice(0, 13), [...good, 'extra']);
    for (const c of cases) expect(isCommandRunRequest(c), JSON.stringify(c).slice(0, 100)).toBe(commandRunRequest.safeParse(c).success);
  });
});
