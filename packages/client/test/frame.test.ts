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
