/**
 * @tessera/partitions: partitioned resources on many Raft groups. A node ({@link createNode})
 * hosts replicas of many partitions on one transport and one storage engine; resources (built-in
 * map, counter, lock, leaderElection, or your own with {@link defineResource}) are hashed into
 * partitions; clients (`@tessera/client`) reach them through the node's client port.
 * See docs/partitions.md.
 */
export { createNode, PartitionNode, builtinResources, type PartitionStatus } from './node.js';
export { nodeOptionsSchema, type NodeOptions } from './options.js';
export { defineResource, ResourceError, type ResourceSpec, type ResourceDefinition, type CommandSpec, type QuerySpec, type ApplyContext, type QueryContext, type SessionEndContext } from './resource.js';
export { placePartitions, partitionsOf, groupIdOf, type Placement } from './placement.js';
export { PartitionStateMachine, SNAPSHOT_VERSION, type PartitionStateMachineOptions, type EventListener } from './state-machine.js';
export { SessionTable, SWEEP_INTERVAL_MS, type Outcome, type Session } from './sessions.js';
export { encodeCommand, encodeBatch, encodeRuns, encodeClock, encodeKeepAlive, encodeClose, EntryKind, type BatchedCommand, type CommandRun } from './envelope.js';
export { coalescingClock, type CoalescingClock } from './clock.js';
export { mapResource } from './builtins/map.js';
export { counterResource } from './builtins/counter.js';
export { lockResource } from './builtins/lock.js';
export { electionResource } from './builtins/election.js';
export { partitionOf, fnv1a32, routingKey } from '@tessera/client/protocol';
