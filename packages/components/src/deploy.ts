/**
 * Deployment through the client: `deploy` activates a network's partitions on a cluster whose
 * nodes run it (`createComponentNode({ networks })`), `undeploy` removes them with their state,
 * `status` reports every partition.
 */
import type { TesseraClient } from '@tessera/client';
import { DeployError } from './errors.js';
import type { Network } from './network.js';
import { DEPLOYMENT_TYPE, placeNetwork, type PartitionPlace } from './placement.js';
import type { DeploymentRecord, PartitionReport } from './resources.js';

/** What {@link deploy} returns. */
export interface Deployment {
  readonly network: string;
  readonly fingerprint: string;
  /** Where each stateful component partition lives. */
  readonly partitions: readonly PartitionPlace[];
}

/** The declarative summary stored with a deployment. */
function summaryOf(net: Network): unknown {
  return {
    components: Object.fromEntries([...net.components.values()].map((c) => [c.name, { use: c.component.name, partitions: c.partitions, stateful: c.stateful }])),
    connections: net.connections.map((c) => ({ from: `${c.from.component}.${c.from.port}`, to: `${c.to.component}.${c.to.port}`, grouping: c.grouping.description })),
    sources: [...net.sources.values()].map((s) => ({ name: s.name, to: `${s.to.component}.${s.to.port}`, grouping: s.grouping.description })),
    sinks: [...net.sinks.values()].map((s) => ({ name: s.name, from: `${s.from.component}.${s.from.port}` })),
    options: net.options,
  };
}

const deploymentOf = (client: TesseraClient, net: Network) => client.resource(DEPLOYMENT_TYPE, net.name);

/**
 * Deploys a network on the cluster the client is connected to. The nodes must run the same
 * network definition (its fingerprint is checked by every partition). Idempotent: deploying a
 * deployed network again changes nothing. Throws DeployError when the network does not fit the
 * cluster (replicas) or another definition is deployed under the same name.
 */
export async function deploy(client: TesseraClient, net: Network): Promise<Deployment> {
  const map = client.clusterMap();
  for (const c of net.components.values()) {
    if (c.stateful && c.replicas !== undefined && c.replicas !== map.replicationFactor) {
      throw new DeployError('REPLICAS_MISMATCH', `component ${c.name} asks for ${c.replicas} replicas; every partition of this cluster has ${map.replicationFactor} (component partitions live in cluster partitions)`);
    }
  }
  const placement = placeNetwork(net, map.partitions);
  const places = [...placement.places.values()].flat();
  const record = deploymentOf(client, net);
  try {
    // Ask the nodes which definition they run before recording anything, so that a mismatch leaves no half deployment behind.
    if (places.length > 0) {
      const probe = places[0]!;
      const running = (await client.query(probe.clusterPartition, placement.type, probe.resource, 'definition', null, null)).value;
      if (running !== net.fingerprint) throw new DeployError('DEFINITION_MISMATCH', `the cluster's nodes run network ${net.name} with fingerprint ${String(running)}, this definition has ${net.fingerprint}: deploy the network the nodes run`);
    }
    await record.command('begin', { fingerprint: net.fingerprint, summary: summaryOf(net) });
  } catch (err) {
    throw asDeployError(err);
  }
  try {
    await Promise.all(places.map((p) => client.command(p.clusterPartition, placement.type, p.resource, 'deploy', { fingerprint: net.fingerprint }, null)));
    await record.command('commit', { fingerprint: net.fingerprint });
  } catch (err) {
    throw asDeployError(err);
  }
  return { network: net.name, fingerprint: net.fingerprint, partitions: places };
}

function asDeployError(err: unknown): unknown {
  const e = err as { code?: string; message?: string };
  if (err instanceof DeployError) return err;
  if (e?.code === 'UNKNOWN_RESOURCE') return new DeployError('NOT_RUNNING', `the cluster's nodes do not run this network (${e.message}); start them with createComponentNode({ networks })`);
  if (e?.code === 'DEFINITION_MISMATCH' || e?.code === 'ALREADY_DEPLOYED') return new DeployError(e.code, e.message ?? '');
  return err;
}

/** Removes a network: its partitions and their state are deleted; sources then get NotDeployed. Returns whether it was deployed. */
export async function undeploy(client: TesseraClient, net: Network): Promise<boolean> {
  const placement = placeNetwork(net, client.clusterMap().partitions);
  const record = deploymentOf(client, net);
  const was = (await record.query('get', null)) !== null;
  const places = [...placement.places.values()].flat();
  await Promise.all(places.map((p) => client.command(p.clusterPartition, placement.type, p.resource, 'undeploy', null, null)));
  await record.command('remove', null);
  return was;
}

/** One component partition in {@link status}. */
export interface PartitionStatus extends PartitionReport {
  readonly partition: number;
  readonly clusterPartition: number;
  /** The node leading the partition's Raft group, as the client knows it. */
  readonly leader: string | null;
  /** Messages addressed to this partition that it has not applied yet (in the outboxes of upstream partitions), like a consumer's lag. */
  readonly lag: number;
  /** This partition's own unacknowledged outbox (emitted, not yet applied downstream). */
  readonly queueDepth: number;
  /**
   * False when the partition did not answer within the status timeout (e.g. its Raft group has no
   * quorum): its counters are then reported as 0 and `error` says why.
   */
  readonly available: boolean;
  readonly error?: string;
}

/** {@link status} of a network. */
export interface NetworkStatus {
  readonly network: string;
  /** The deployment record; null when the network is not deployed, undefined when its partition did not answer (see `deploymentError`). */
  readonly deployment: DeploymentRecord | null | undefined;
  readonly deploymentError?: string;
  readonly components: Record<string, { readonly stateful: boolean; readonly partitions: readonly PartitionStatus[] }>;
}

/** Options of {@link status}. */
export interface StatusOptions {
  /** How long to wait for each partition (and the deployment record). Default 5 s. */
  readonly timeoutMs?: number;
}

const UNAVAILABLE: PartitionReport = { deployed: false, applied: 0, duplicates: 0, errors: 0, emitted: 0, lastError: null, outbox: 0, outboxByDest: {}, origins: 0, seenTags: 0, lastIndex: 0, sinkSeq: 0 };

/**
 * Status of every stateful component partition: leader, lag, queue depth, messages applied,
 * duplicates dropped, handler errors. Stateless components are listed without partitions (they run
 * inside sources and dispatchers). A partition that does not answer in time is reported with
 * `available: false` rather than failing the whole status.
 */
export async function status(client: TesseraClient, net: Network, options: StatusOptions = {}): Promise<NetworkStatus> {
  const map = client.clusterMap();
  const placement = placeNetwork(net, map.partitions);
  const req = { timeoutMs: options.timeoutMs ?? 5_000 };
  let deployment: DeploymentRecord | null | undefined;
  let deploymentError: string | undefined;
  try {
    deployment = (await deploymentOf(client, net).query('get', null, req)) as DeploymentRecord | null;
  } catch (err) {
    deploymentError = `${(err as { code?: string }).code ?? 'ERROR'}: ${(err as Error).message}`;
  }
  const reports = new Map<string, PartitionReport | Error>();
  await Promise.all(
    [...placement.places.values()].flat().map(async (p) => {
      try {
        const a = await client.query(p.clusterPartition, placement.type, p.resource, 'status', null, null, req);
        reports.set(`${p.component}/${p.partition}`, a.value as PartitionReport);
      } catch (err) {
        reports.set(`${p.component}/${p.partition}`, err as Error);
      }
    }),
  );
  const lag = new Map<string, number>();
  for (const r of reports.values()) if (!(r instanceof Error)) for (const [dest, n] of Object.entries(r.outboxByDest)) lag.set(dest, (lag.get(dest) ?? 0) + n);
  const leaders = client.clusterMap().leaders;
  const components: NetworkStatus['components'] = {};
  for (const c of net.components.values()) {
    const parts: PartitionStatus[] = [];
    if (c.stateful) {
      for (const p of placement.places.get(c.name)!) {
        const r = reports.get(`${c.name}/${p.partition}`)!;
        const ok = !(r instanceof Error);
        const report = ok ? r : UNAVAILABLE;
        parts.push({
          ...report,
          partition: p.partition,
          clusterPartition: p.clusterPartition,
          leader: leaders[p.clusterPartition] ?? null,
          lag: lag.get(`${c.name}/${p.partition}`) ?? 0,
          queueDepth: report.outbox,
          available: ok,
          ...(ok ? {} : { error: `${(r as { code?: string }).code ?? 'ERROR'}: ${r.message}` }),
        });
      }
    }
    components[c.name] = { stateful: c.stateful, partitions: parts };
  }
  return { network: net.name, deployment, ...(deploymentError !== undefined ? { deploymentError } : {}), components };
}

/** Options of {@link queryComponent}. */
export interface QueryOptions {
  /** Default `linearizable` (the leader, after confirming its leadership). */
  readonly consistency?: 'linearizable' | 'lease' | 'sequential' | 'stale';
}

/**
 * Runs query `name` (declared in the component's `queries`) on partition `partition` of a
 * stateful component and returns its answer.
 */
export async function queryComponent<T = unknown>(client: TesseraClient, net: Network, component: string, partition: number, name: string, input: unknown = null, options: QueryOptions = {}): Promise<T> {
  const placement = placeNetwork(net, client.clusterMap().partitions);
  const p = placement.of(component, partition);
  const a = await client.query(p.clusterPartition, placement.type, p.resource, 'query', [name, input], null, options.consistency ? { consistency: options.consistency } : {});
  return a.value as T;
}

/** Runs query `name` on every partition of a stateful component; answers in partition order. */
export async function queryAll<T = unknown>(client: TesseraClient, net: Network, component: string, name: string, input: unknown = null, options: QueryOptions = {}): Promise<T[]> {
  const c = net.components.get(component);
  if (!c || !c.stateful) throw new TypeError(`network ${net.name} has no stateful component ${component}`);
  return Promise.all(Array.from({ length: c.partitions }, (_, p) => queryComponent<T>(client, net, component, p, name, input, options)));
}
