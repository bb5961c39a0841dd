/**
 * The TCP wire carries @tessera/raft's batch codec, so its encoding is part of this package's wire
 * format: these bytes were produced by the codec as first released and must never change.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch, EntryType, message, MessageType, type Message } from '@tessera/raft';
import { assertSameMessages } from '@tessera/testing/transport';
import { codecCases } from './helpers/codec-cases.js';
import { int, rng } from './helpers/fuzz.js';

const golden: string[] = JSON.parse(readFileSync(new URL('./fixtures/codec-golden.json', import.meta.url), 'utf8'));

describe('batch codec wire format (golden)', () => {
  it('encodes exactly the recorded bytes', () => {
    const cases = codecCases();
    expect(cases.length).toBe(golden.length);
    cases.forEach((c, i) => expect(Buffer.from(encodeBatch(c.from, c.to, c.messages)).toString('hex'), `case ${i}`).toBe(golden[i]));
  });

  it('decodes the recorded bytes to the original messages', () => {
    codecCases().forEach((c, i) => {
      const d = decodeBatch(Buffer.from(golden[i]!, 'hex'));
      expect(d.from).toBe(c.from);
      expect(d.to).toBe(c.to);
      assertSameMessages(d.messages, c.messages, `case ${i}`);
    });
  });

  it('rejects invalid UTF-8 in strings', () => {
    const bytes = Buffer.from(golden[0]!, 'hex');
    // bytes[1] is the length of "a" (1); make "a" an invalid lone continuation byte.
    bytes[2] = 0x80;
    expect(() => decodeBatch(bytes)).toThrow(/invalid utf-8/);
  });
});

describe('batch codec round trip (random)', () => {
  const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const alphabet = ['a', 'z', '-', '/', '0', 'ü', '日', '😀', '\u007f', ' '];

  it(`random batches survive encode -> decode unchanged, from a Uint8Array or a Buffer slice (FUZZ_SEED=${SEED})`, () => {
    const r = rng(SEED);
    const str = (max: number) => Array.from({ length: int(r, max) }, () => alphabet[int(r, alphabet.length)]).join('');
    const num = () => [0, 1, 127, 128, 16_383, 16_384, 2 ** 31, 2 ** 53 - 1, int(r, 1e9)][int(r, 9)]!;
    for (let i = 0; i < 2_000; i++) {
      const from = str(3) + 'f' + (int(r, 10) === 0 ? 'x'.repeat(130) : '');
      const to = str(3) + 't';
      const messages: Message[] = [];
      for (let k = int(r, 6); k > 0; k--) {
        const type = 1 + int(r, 15);
        const m = message(type as MessageType, int(r, 8) === 0 ? str(200) : str(12), from, to, num());
        m.logTerm = num();
        m.index = num();
        m.commit = num();
        m.rejectHint = num();
        m.context = num();
        m.reject = int(r, 2) === 0;
        const n = type === MessageType.App || int(r, 3) === 0 ? int(r, 4) : 0;
        // Entry indexes follow m.index and must stay below 2^53.
        if (n > 0) m.index = Math.min(m.index, 2 ** 50);
        m.entries = Array.from({ length: n }, (_, j) => ({ index: m.index + 1 + j, term: num(), type: int(r, 3) as EntryType, data: Uint8Array.from({ length: int(r, 300) }, () => int(r, 256)) }));
        if (int(r, 4) === 0) {
          m.snapshot = { meta: { index: num(), term: num(), membership: { voters: [str(5), str(5)], learners: int(r, 2) ? [str(9)] : [] } }, offset: num(), done: int(r, 2) === 0, data: Uint8Array.from({ length: int(r, 500) }, () => int(r, 256)) };
        }
        messages.push(m);
      }
      const bytes = encodeBatch(from, to, messages);
      // As received from a socket: inside a larger Buffer.
      const framed = Buffer.concat([Buffer.from([9, 9, 9]), bytes, Buffer.from([9])]).subarray(3, 3 + bytes.byteLength);
      for (const input of [bytes, framed]) {
        const d = decodeBatch(input);
        expect(d.from, `case ${i} (FUZZ_SEED=${SEED})`).toBe(from);
        expect(d.to).toBe(to);
        assertSameMessages(d.messages, messages, `case ${i} (FUZZ_SEED=${SEED})`);
      }
    }
  });

  it('a string cached from one frame is not returned for different bytes in a later frame', () => {
    const frame = Buffer.from(encodeBatch('a', 'b', [message(MessageType.Heartbeat, 'group-A', 'a', 'b', 1)]));
    expect(decodeBatch(frame).messages[0]!.group).toBe('group-A');
    frame[frame.indexOf('group-A') + 6] = 'B'.charCodeAt(0);
    expect(decodeBatch(frame).messages[0]!.group).toBe('group-B');
  });
});
