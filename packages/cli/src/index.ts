/**
 * @tessera/cli: the `tessera` command, and the pieces it is built from for programs that want to
 * run nodes the same way (configuration schema and loader, node runner, admin server, metrics).
 * See docs/cli.md.
 */
export { main, buildProgram, type Io } from './cli.js';
export { nodeConfigSchema, nodeConfigJsonSchema, logLevels, type NodeConfig, type NodeConfigInput, type LogLevel } from './config/schema.js';
export { loadNodeConfig, validateNodeConfig, parseConfigText, type LoadedConfig, type LoadedFiles } from './config/load.js';
export { applyEnvOverrides, envPath, ENV_PREFIX } from './config/env.js';
export { runNode, type RunningNode } from './node/run.js';
export { createNodeMetrics, type NodeMetrics, type MetricsSources } from './node/metrics.js';
export { startAdminServer, type AdminServer, type AdminHandlers } from './node/admin.js';
export { nodeStatusSchema, partitionStatusSchema, followerStatusSchema, memberStatusSchema, componentStatusSchema, buildStatus, type NodeStatus } from './node/status.js';
export { startLocalCluster, type LocalCluster, type LocalClusterOptions } from './cluster/up.js';
export { Supervisor, NodeStartError, TESSERA_BIN, type NodeSpec, type NodeProcess } from './cluster/supervisor.js';
export { collectStatus, formatStatus, type ClusterStatus } from './commands/status.js';
export { UsageError, NodeConfigError, ExitCode, exitCodeOf, type ConfigIssue } from './errors.js';
