/**
 * A linearizability checker for concurrent histories (Wing & Gong's search with Lowe's
 * just-in-time linearization and memoization, and P-compositional partitioning, as in porcupine),
 * with models for a key/value map, a register and a counter. See docs/linearizability.md.
 */
export { checkLinearizability } from './check.js';
export { formatResult, type FormatOptions } from './format.js';
export { eventsToOperations, partitionByKey } from './history.js';
export type {
  Candidate,
  CheckOptions,
  CheckResult,
  HistoryEvent,
  LinearizabilityFailure,
  Model,
  Operation,
  OperationRef,
  PartitionResult,
  StepResult,
  Verdict,
} from './types.js';
export { keyedModel } from './models/keyed.js';
export { kvModel, type KvInput, type KvModelOptions, type KvOutput, type KvState } from './models/kv.js';
export { registerModel, type RegisterInput, type RegisterModelOptions, type RegisterOutput, type RegisterValue } from './models/register.js';
export { counterModel, type CounterInput, type CounterModelOptions, type CounterOutput } from './models/counter.js';
