export { runSimulation, ALL_FAULTS, NO_FAULTS, type SimulationOptions, type SimulationResult, type FaultOptions, type KvOperation, type HistoryChecker } from './simulation.js';
export { Scheduler, drainMicrotasks, type Owner } from './scheduler.js';
export { SimClock } from './clock.js';
export { SimNetwork, CALM_NETWORK, describeMessage, type NetworkFaults } from './network.js';
export { SimDisk, SimGroupStorage } from './storage.js';
export { SafetyChecker } from './safety.js';
export { KvStateMachine, encodeKv, decodeKv, applyKv, type KvCommand, type KvResult } from './kv.js';
export { Rng } from './rng.js';
export { Trace } from './trace.js';
