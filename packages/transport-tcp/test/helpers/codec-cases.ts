/**
 * Batches covering every field and string encoding path of @tessera/raft's codec, for the golden
 * wire-format test (test/fixtures/codec-golden.json holds their encodings as first released).
 */
import { MessageType, message, type Message } from '@tessera/raft';
import { bigAppend, everyKindOfMessage, seqMessage } from '@tessera/testing/transport';

export function codecCases(): { from: string; to: string; messages: Message[] }[] {
  const long = 'g'.repeat(200);
  const unicode = 'grüppe/日本/😀';
  const odd = message(MessageType.Vote, '', 'x', 'y', 2 ** 52);
  odd.index = 2 ** 53 - 1;
  odd.context = 127;
  odd.commit = 128;
  odd.rejectHint = 16_383;
  odd.logTerm = 16_384;
  return [
    { from: 'a', to: 'b', messages: everyKindOfMessage('a', 'b', 'group-1') },
    { from: 'node-ü', to: unicode, messages: everyKindOfMessage('node-ü', unicode, unicode) },
    { from: long, to: 'b', messages: [seqMessage(long, 'b', long, 1), seqMessage(long, 'b', 'ascii-but-\u007f', 2)] },
    { from: 'x', to: 'y', messages: [odd] },
    { from: 'a', to: 'b', messages: [bigAppend('a', 'b', 'g', 300, 3, 5)] },
    { from: 'a', to: 'b', messages: [] },
  ];
}
