/**
 * The state `tessera cluster up` keeps in its directory (`<dir>/cluster.json`): the cluster's
 * shape and node ids (fixed at first start: they are the data layout), the ports each node bound
 * (reused on restart so addresses stay stable), and while it runs, the live endpoints that
 * `tessera kv`, `counter` and `status` default to.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { NodeConfigError, UsageError } from '../errors.js';

const port = z.number().int().min(0).max(65535);

export const clusterNodeSchema = z.object({
  id: z.string().min(1),
  /** Ports last bound (0: any free port). */
  ports: z.object({ raft: port, client: port, admin: port }),
});

export const liveNodeSchema = z.object({
  id: z.string(),
  pid: z.number().int(),
  raftAddress: z.string(),
  clientAddress: z.string(),
  adminAddress: z.string(),
  dataDir: z.string(),
  config: z.string(),
  log: z.string(),
});

export const clusterStateSchema = z.object({
  version: z.literal(1),
  clusterId: z.string(),
  storage: z.enum(['file', 'memory', 'rocksdb']),
  transport: z.enum(['tcp', 'nats']),
  partitions: z.number().int().min(1),
  replicas: z.number().int().min(1),
  natsUrl: z.string().optional(),
  /** Component networks every node hosts (absolute module paths or package specifiers). */
  networks: z.array(z.object({ module: z.string().min(1), export: z.string().min(1) })).optional(),
  nodes: z.array(clusterNodeSchema).min(1),
  /** Present while `cluster up` runs. */
  running: z.object({ pid: z.number().int(), startedAt: z.string(), nodes: z.array(liveNodeSchema) }).optional(),
});

export type ClusterState = z.infer<typeof clusterStateSchema>;
export type LiveNode = z.infer<typeof liveNodeSchema>;

export const stateFile = (dir: string) => join(dir, 'cluster.json');

/** Reads `<dir>/cluster.json`, or undefined if there is none. */
export function readClusterState(dir: string): ClusterState | undefined {
  const file = stateFile(dir);
  if (!existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new NodeConfigError(file, [{ path: '', message: `not valid JSON: ${(err as Error).message}` }]);
  }
  const r = clusterStateSchema.safeParse(raw);
  if (!r.success) throw new NodeConfigError(file, r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
  return r.data;
}

/** Writes the state atomically (a reader never sees half a file). */
export function writeClusterState(dir: string, state: ClusterState): void {
  const file = stateFile(dir);
  writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2) + '\n');
  renameSync(`${file}.tmp`, file);
}

/** True if a process with this id exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The live nodes of the cluster `cluster up` runs in `dir`; a UsageError if none runs there. */
export function runningCluster(dir: string): LiveNode[] {
  const st = readClusterState(dir);
  if (!st?.running || !alive(st.running.pid)) {
    throw new UsageError(`no cluster is running in ${dir}: start one with \`tessera cluster up --dir ${dir}\` or pass --cluster host:port,...`);
  }
  return st.running.nodes;
}
