import { encodeBatch, type Message, type NodeId } from '@tessera/raft';
import type { EnvelopeCodec } from './envelope.js';

const MAX_VARINT = 8;

/** Upper bound on the encoded size of a string (UTF-8 is at most 3 bytes per UTF-16 unit). */
function strBound(s: string): number {
  return MAX_VARINT + 3 * s.length;
}

/**
 * Upper bound on `encodeBatch`'s bytes for one message (see the layout in the codec). Packing by
 * bounds never produces a batch over the limit, so nothing is encoded twice; the price is a little
 * unused room per publish.
 */
export function messageSizeBound(m: Message): number {
  let n = 1 + strBound(m.group) + 6 * MAX_VARINT + 1 + MAX_VARINT;
  const ents = m.entries;
  for (let i = 0; i < ents.length; i++) n += 3 * MAX_VARINT + 1 + ents[i]!.data.byteLength;
  const s = m.snapshot;
  if (s) {
    n += 2 * MAX_VARINT + 2 * MAX_VARINT + 2 * MAX_VARINT + 1 + MAX_VARINT + s.data.byteLength;
    for (const v of s.meta.membership.voters) n += strBound(v);
    for (const l of s.meta.membership.learners) n += strBound(l);
  }
  return n;
}

/** Upper bound on a batch's header (version, from, to, count). */
export function batchHeaderBound(from: NodeId, to: NodeId): number {
  return 1 + strBound(from) + strBound(to) + MAX_VARINT;
}

/** One NATS publish and how many Raft messages it completes (0 for all but a message's last fragment). */
export interface Payload {
  readonly data: Uint8Array;
  readonly messages: number;
  readonly fragment: boolean;
}

/**
 * Turns the messages for one peer into publishes no larger than `maxPayload`: consecutive messages
 * share one batch while they fit, a batch that would not fit is split at message boundaries, and a
 * single message too large for any publish is split into fragments. Order is preserved.
 */
export class PayloadPacker {
  private nextFragmentId: number;

  constructor(
    private readonly codec: EnvelopeCodec,
    firstFragmentId: number,
  ) {
    this.nextFragmentId = firstFragmentId >>> 0;
  }

  pack(from: NodeId, to: NodeId, messages: readonly Message[], maxPayload: number): Payload[] {
    const limit = maxPayload - this.codec.batchOverhead;
    const header = batchHeaderBound(from, to);
    const out: Payload[] = [];
    let start = 0;
    let acc = header;
    const flush = (end: number): void => {
      if (end <= start) return;
      const batch = start === 0 && end === messages.length ? messages : messages.slice(start, end);
      out.push({ data: this.codec.wrapBatch(encodeBatch(from, to, batch)), messages: end - start, fragment: false });
    };
    for (let i = 0; i < messages.length; i++) {
      const bound = messageSizeBound(messages[i]!);
      if (header + bound > limit) {
        flush(i);
        this.packAlone(from, to, messages[i]!, maxPayload, out);
        start = i + 1;
        acc = header;
        continue;
      }
      if (acc + bound > limit) {
        flush(i);
        start = i;
        acc = header;
      }
      acc += bound;
    }
    flush(messages.length);
    return out;
  }

  /** A message whose bound exceeds the limit: it may still fit once encoded, else it is fragmented. */
  private packAlone(from: NodeId, to: NodeId, m: Message, maxPayload: number, out: Payload[]): void {
    const body = encodeBatch(from, to, [m]);
    if (body.byteLength + this.codec.batchOverhead <= maxPayload) {
      out.push({ data: this.codec.wrapBatch(body), messages: 1, fragment: false });
      return;
    }
    const chunk = maxPayload - this.codec.fragmentOverhead(from);
    if (chunk < 64) throw new RangeError(`max_payload ${maxPayload} leaves no room for fragments`);
    const count = Math.ceil(body.byteLength / chunk);
    const id = this.nextFragmentId;
    this.nextFragmentId = (this.nextFragmentId + 1) >>> 0;
    for (let index = 0; index < count; index++) {
      const part = body.subarray(index * chunk, Math.min(body.byteLength, (index + 1) * chunk));
      out.push({ data: this.codec.wrapFragment({ from, id, index, count, total: body.byteLength }, part), messages: index === count - 1 ? 1 : 0, fragment: true });
    }
  }
}
