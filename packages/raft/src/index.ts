/**
 * @tessera/raft: the Raft consensus core, the group runtime and the interfaces that storage and
 * transport packages implement.
 */
export * from './types.js';
export * from './errors.js';
export type { LogStore, HardStateStore } from './interfaces/log-store.js';
export type { SnapshotStore, SnapshotWriter, SnapshotReader } from './interfaces/snapshot-store.js';
export type { StorageEngine, GroupStorage, StorageCapabilities } from './interfaces/storage-engine.js';
export type { Transport, TransportInit, TransportFactory } from './interfaces/transport.js';
export type { StateMachine, SnapshotSource } from './interfaces/state-machine.js';
export type { GroupObserver } from './interfaces/observer.js';
export { type Clock, type Timer, systemClock } from './interfaces/clock.js';
export { type Logger, silentLogger } from './interfaces/logger.js';
export { raftConfigSchema, snapshotPolicySchema, learnerPolicySchema, type LearnerPolicy, parseConfig, type RaftConfig, type RaftConfigInput, type SnapshotPolicy } from './config.js';
export { RaftCore } from './core/raft.js';
export type { CoreConfig, CoreInit, Ready, ReadState, PropResult, SoftState, SnapshotNeed, UnsafeFlags } from './core/ready.js';
export { RaftGroup, type RaftGroupOptions, type GroupStatus, type ReadOptions, type ReadConsistency } from './runtime/group.js';
export { RaftHost, type RaftHostOptions, type HostedGroupOptions } from './runtime/host.js';
export { InProcessNetwork } from './transport/in-process.js';
export { batchBound, encodeBatch, encodeBatchInto, decodeBatch, CODEC_VERSION, type DecodedBatch } from './codec/message-codec.js';
export { getVarint, putVarint, varintSize, type VarintSlot } from './codec/varint.js';
export { encodeMembership, decodeMembership, sameMembership } from './membership.js';
export { type Discovery, type DiscoveryEvent, type DiscoveryListener, type NodeRecord, type NodeRecordInput, type StaticDiscoveryOptions, nodeRecordSchema, nodeAddressSchema, staticDiscoveryOptionsSchema, staticDiscovery, raftAddressResolver, parseNodeRecord, canonicalNodeRecord, freezeRecord, DiscoveryClosedError, DiscoveryUnavailableError, DiscoveryConflictError } from './interfaces/discovery.js';
