/**
 * @tessera/components: stateful components with ports, wired into networks, whose partitions are
 * replicated on Raft through `@tessera/partitions`, with every message applied exactly once
 * across failovers. See the README and docs/components.md.
 */
export { component, type Component, type ComponentSpec, type HandlerContext, type Handler, type MessageMeta, type EmitOptions, type StateSpec, type PortSchemas, type PortMessage } from './component.js';
export { network, NetworkBuilder, DEFAULT_OPTIONS, type Network, type NetworkOptions, type AddOptions, type NetworkComponent, type Connection, type SourceDef, type SinkDef, type PortRef } from './network.js';
export { defineNetwork, parseNetwork, networkDefinitionSchema, type NetworkDefinition, type Registry } from './definition.js';
export { roundRobin, hash, broadcast, random, custom, partitionForKey, type Grouping, type GroupingFn, type GroupingContext } from './grouping.js';
export { componentResources, componentResource, deploymentResource, deliverSchema, type PartitionReport, type DeploymentRecord, type AppliedHook } from './resources.js';
export { placeNetwork, componentType, parseInstanceName, DEPLOYMENT_TYPE, type NetworkPlacement, type PartitionPlace } from './placement.js';
export { createComponentNode, startComponentRuntime, runtimeHook, ComponentRuntime, type ComponentNode, type RuntimeOptions, type LocalPartitionStatus, type RuntimeStats } from './runtime.js';
export { openSource, Source, type SourceOptions, type PushOptions, type SourceStats } from './source.js';
export { openSink, type Sink, type SinkMeta, type SinkOptions } from './sink.js';
export { deploy, undeploy, status, queryComponent, queryAll, type Deployment, type NetworkStatus, type PartitionStatus, type QueryOptions, type StatusOptions } from './deploy.js';
export { PartitionLogic, emptyState, outboxWatermark, PARTITION_IMAGE_VERSION, type PartitionState, type DeliverInput, type SinkOutput, type PartitionCounters } from './partition-state.js';
export { SeenSet, belowWatermark, type Tag } from './tags.js';
export { OutboxQueue, type WireMessage } from './outbox.js';
export { NetworkDefinitionError, ComponentDefinitionError, InvalidMessageError, DeployError, NotDeployedError, ClosedError, type DefinitionIssue } from './errors.js';
