/**
 * `--cluster ENDPOINTS` for the client commands: a comma-separated list of `host:port`, defaulting
 * to the cluster `tessera cluster up` runs in `--dir`.
 */
import { resolve } from 'node:path';
import { runningCluster } from '../cluster/state.js';
import { UsageError } from '../errors.js';

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/;

/** Splits and checks an endpoint list; `flag` names the option in errors. */
export function parseEndpoints(list: string, flag = '--cluster'): string[] {
  const out = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (out.length === 0) throw new UsageError(`${flag}: expected host:port[,host:port...]`);
  for (const e of out) {
    const bare = e.replace(/^https?:\/\//, '').replace(/\/+$/, '');
    const m = HOST_PORT.exec(bare);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new UsageError(`${flag}: ${JSON.stringify(e)} is not host:port`);
  }
  return out;
}

/** Client endpoints: from `--cluster`, else the running cluster in `dir`. */
export function clientEndpoints(cluster: string | undefined, dir: string): string[] {
  if (cluster !== undefined) return parseEndpoints(cluster);
  return runningCluster(resolve(dir)).map((n) => n.clientAddress);
}

/** Admin endpoints: from `--cluster`, else the running cluster in `dir`. */
export function adminEndpoints(cluster: string | undefined, dir: string): string[] {
  if (cluster !== undefined) return parseEndpoints(cluster);
  return runningCluster(resolve(dir)).map((n) => n.adminAddress);
}
