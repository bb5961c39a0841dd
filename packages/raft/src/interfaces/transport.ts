import type { Logger } from './logger.js';
import type { Message, NodeId } from '../types.js';

/**
 * Moves Raft messages between nodes. One transport serves every group on a node: each message
 * carries its `group`, and the receiver routes on it.
 *
 * Delivery is best effort: messages may be lost, delayed or (after reconnects) duplicated, and Raft
 * copes with all of that. Messages sent to one peer by one `send` call arrive in order if they arrive.
 * A transport must never block a caller or let one slow peer delay the others.
 */
export interface Transport {
  /** This node's id. */
  readonly nodeId: NodeId;
  /** Begins listening (if the transport listens) and connecting. Resolves once inbound messages can be received. */
  start(): Promise<void>;
  /**
   * Queues messages for `to`. Never throws for an unknown, unreachable or slow peer: the messages
   * are dropped (and counted) instead. The array and messages are owned by the transport afterwards.
   */
  send(to: NodeId, messages: Message[]): void;
  /** Stops connecting and listening and releases every socket and timer. */
  close(): Promise<void>;
}

/** What the node hands a transport when it creates one. */
export interface TransportInit {
  readonly nodeId: NodeId;
  /** Called with each batch of inbound messages; `from` is the authenticated sending node. */
  readonly deliver: (messages: Message[], from: NodeId) => void;
  readonly logger?: Logger;
}

/** Transport packages export a function taking options and returning one of these. */
export type TransportFactory = (init: TransportInit) => Transport;
