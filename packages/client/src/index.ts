/**
 * @tessera/client: talks to a Tessera cluster of `@tessera/partitions` nodes. No storage
 * dependencies. See the README and docs/partitions.md.
 *
 * ```ts
 * import { connect } from '@tessera/client';
 * const client = await connect({ endpoints: ['127.0.0.1:7100'] });
 * await client.map('users').set('ada', { born: 1815 });
 * console.log(await client.map('users').get('ada'));
 * await client.close();
 * ```
 */
export { connect, TesseraClient, type RequestOptions, type Subscription } from './client.js';
export { connectOptionsSchema, type ConnectOptions } from './options.js';
export { tcp, tls } from './transports.js';
export type { ClientTransport, Answer } from './connection.js';
export {
  MapHandle,
  CounterHandle,
  LockHandle,
  ElectionHandle,
  ResourceHandle,
  BuiltinType,
  type LockLease,
  type LockState,
  type LockEvent,
  type ElectionState,
  type ElectionEvent,
} from './handles.js';
export { SessionExpiredError, OperationError, ConnectionLostError, ClientClosedError, WrongPartitionError } from './errors.js';
export { partitionOf, type Consistency, type ClusterMap } from './protocol/index.js';
export { NotLeaderError, TimeoutError, BackpressureError, ProposalDroppedError, TesseraError } from '@tessera/raft';
