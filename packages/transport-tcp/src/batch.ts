import { decodeBatch, FrameError, type Message, type NodeId } from '@tessera/raft';

/**
 * Decodes a batch frame body received from authenticated peer `from` by node `to`, refusing a batch
 * that claims other endpoints. Throws FrameError; the caller closes the connection.
 */
export function decodeInboundBatch(body: Uint8Array, from: NodeId, to: NodeId): Message[] {
  const batch = decodeBatch(body);
  if (batch.from !== from || batch.to !== to) {
    throw new FrameError(`batch from ${JSON.stringify(batch.from)} to ${JSON.stringify(batch.to)} on the connection between ${JSON.stringify(from)} and ${JSON.stringify(to)}`);
  }
  return batch.messages;
}
