import { message, MessageType, type LogEntry, type Message, type NodeId } from '@tessera/raft';
import { natsTransport, type NatsTransport, type NatsTransportOptions } from '../src/index.js';

/** A transport plus everything delivered to it. */
export interface Endpoint {
  readonly t: NatsTransport;
  readonly inbox: { from: NodeId; messages: Message[] }[];
  /** All delivered messages, in order. */
  messages(): Message[];
  /** Resolves once `n` messages in total were delivered (polls on delivery, no sleeps). */
  waitFor(n: number, timeoutMs?: number): Promise<Message[]>;
}

/** Creates and starts a transport whose deliveries are collected. */
export async function endpoint(nodeId: NodeId, options: NatsTransportOptions): Promise<Endpoint> {
  const inbox: { from: NodeId; messages: Message[] }[] = [];
  const waiters: (() => void)[] = [];
  const t = natsTransport(options)({
    nodeId,
    deliver: (messages, from) => {
      inbox.push({ from, messages });
      for (const w of waiters.splice(0)) w();
    },
  });
  await t.start();
  const messages = () => inbox.flatMap((b) => b.messages);
  return {
    t,
    inbox,
    messages,
    waitFor: (n, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${n} messages (have ${messages().length})`)), timeoutMs);
        const check = (): void => {
          if (messages().length >= n) {
            clearTimeout(timer);
            resolve(messages());
          } else waiters.push(check);
        };
        check();
      }),
  };
}

/** An AppendEntries message carrying `sizes.length` entries of the given sizes (payload bytes are a pattern of `seed`). */
export function app(from: NodeId, to: NodeId, index: number, sizes: number[] = [], seed = index): Message {
  const m = message(MessageType.App, 'g1', from, to, 3);
  m.index = index;
  m.logTerm = 2;
  m.commit = index;
  m.entries = sizes.map((size, i): LogEntry => ({ index: index + 1 + i, term: 3, type: 0, data: pattern(size, seed + i) }));
  return m;
}

export function pattern(size: number, seed: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

export function heartbeat(from: NodeId, to: NodeId, context: number): Message {
  const m = message(MessageType.Heartbeat, 'g1', from, to, 1);
  m.context = context;
  return m;
}

/** Byte equality without vitest's element-by-element deep equal (slow on megabytes). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
