/**
 * The resource types that carry components in the partition layer: one type per network
 * (`component.<network>`, an instance per stateful component partition) and the deployment
 * records (`components.deployment`, an instance per deployed network). Every node of the cluster
 * registers them (`createComponentNode` does), because the handlers run inside the nodes.
 */
import { defineResource, ResourceError, type ApplyContext, type ResourceDefinition } from '@tessera/partitions';
import { OperationError } from '@tessera/client';
import { z } from 'zod';
import type { Network } from './network.js';
import { emptyState, OUTPUTS_PAGE, outputsAfter, PartitionLogic, Refusal, outboxWatermark, retainedOutputs, type DeliverInput, type PartitionState } from './partition-state.js';
import { componentType, DEPLOYMENT_TYPE, parseInstanceName } from './placement.js';

/** Called on the node after a component partition applied a command (on every replica). */
export type AppliedHook = (network: string, instance: string, state: PartitionState) => void;

/** What `status` answers for one component partition. */
export interface PartitionReport {
  readonly deployed: boolean;
  readonly applied: number;
  readonly duplicates: number;
  readonly errors: number;
  readonly emitted: number;
  readonly lastError: string | null;
  /** Emitted messages not yet acknowledged by their receivers. */
  readonly outbox: number;
  /** Unacknowledged messages per receiving partition (`component/partition`). */
  readonly outboxByDest: Record<string, number>;
  /** Origins with a live duplicate filter, and the tags they hold. */
  readonly origins: number;
  readonly seenTags: number;
  /** Log index of the last entry that carried a message. */
  readonly lastIndex: number;
  readonly sinkSeq: number;
}

const tagSchema = z.array(z.number().int().min(0)).min(1).max(64);
const wireMessageSchema = z.tuple([tagSchema, z.string().min(1), z.string().nullable(), z.unknown(), z.number()]);
/** The deliver command's input; checked by hand on the hot path (same rules as `deliverSchema`). */
export const deliverSchema = z.tuple([z.string().min(1), z.string().nullable(), z.number().int().min(0), z.number().int().min(0), z.array(wireMessageSchema).max(10_000)]);

function isDeliver(v: unknown): v is DeliverInput {
  if (!Array.isArray(v) || v.length !== 5) return false;
  const [o, c, w0, w1, ms] = v as unknown[];
  if (typeof o !== 'string' || o.length === 0 || (c !== null && typeof c !== 'string') || !Number.isInteger(w0) || !Number.isInteger(w1) || (w0 as number) < 0 || (w1 as number) < 0 || !Array.isArray(ms) || ms.length > 10_000) return false;
  for (const m of ms as unknown[]) {
    if (!Array.isArray(m) || m.length !== 5) return false;
    const t = m[0];
    if (!Array.isArray(t) || t.length === 0 || t.length > 64) return false;
    for (const x of t) if (!Number.isInteger(x) || x < 0) return false;
    if (typeof m[1] !== 'string' || m[1].length === 0 || (m[2] !== null && typeof m[2] !== 'string') || typeof m[4] !== 'number') return false;
  }
  return true;
}
const deliverInput = z.custom<DeliverInput>(isDeliver, 'expected [origin, originComponent|null, w0, w1, [[tag, port, key, payload, createdAt], ...]]');
/** `[epoch (the deployment's deployedAt), [[dest, seq], ...]]`. */
const ackInput = z.tuple([z.number().int().min(0), z.array(z.tuple([z.string(), z.number().int().min(0)])).max(100_000)]);

function refusalToResource<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof Refusal) throw new ResourceError(err.code, err.message);
    throw err;
  }
}

/** Summary of a partition's state, as `status` reports it. */
export function reportOf(st: PartitionState): PartitionReport {
  const outboxByDest: Record<string, number> = {};
  for (const [d, q] of st.outbox) {
    const n = q.length - (q.acked?.size ?? 0);
    if (n > 0) outboxByDest[d] = n;
  }
  let seenTags = 0;
  for (const s of st.seen.values()) seenTags += s.size;
  return {
    deployed: st.deployed,
    ...st.counters,
    lastError: st.lastError,
    outbox: st.outboxSize,
    outboxByDest,
    origins: st.seen.size,
    seenTags,
    lastIndex: st.lastIndex,
    sinkSeq: st.sinkSeq,
  };
}

/** The resource type of one network's component partitions. */
export function componentResource(net: Network, onApplied?: AppliedHook): ResourceDefinition<PartitionState> {
  const logic = new PartitionLogic(net);
  const after = (ctx: ApplyContext, st: PartitionState) => onApplied?.(net.name, ctx.name, st);
  return defineResource<PartitionState>({
    type: componentType(net.name),
    create: emptyState,
    commands: {
      deploy: {
        input: z.object({ fingerprint: z.string() }).strict(),
        apply: (st, input: { fingerprint: string }, ctx) =>
          refusalToResource(() => {
            const id = parseInstanceName(ctx.name);
            if (!id) throw new Refusal('UNKNOWN_COMPONENT', `${ctx.name} is not a component partition name`);
            const r = logic.deploy(st, id.component, id.partition, input.fingerprint, ctx.index);
            after(ctx, st);
            return r;
          }),
      },
      undeploy: {
        input: z.null(),
        apply: (st) => {
          const was = st.deployed;
          Object.assign(st, emptyState());
          return was;
        },
      },
      deliver: {
        input: deliverInput,
        apply: (st, input: DeliverInput, ctx) =>
          refusalToResource(() => {
            const r = logic.deliver(st, input, ctx);
            after(ctx, st);
            return r;
          }),
      },
      ack: {
        input: ackInput,
        apply: (st, [epoch, acks]: [number, [string, number][]], ctx) => {
          if (!st.deployed) return 0;
          const n = logic.ack(st, epoch, acks);
          after(ctx, st);
          return n;
        },
      },
      forget: {
        input: z.string().min(1),
        apply: (st, origin: string) => st.deployed && logic.forget(st, origin),
      },
    },
    queries: {
      status: { input: z.null(), run: (st) => reportOf(st) },
      query: {
        input: z.tuple([z.string(), z.unknown()]),
        // Queries answer errors as OperationErrors: the node passes TesseraErrors to the client with their code.
        run: (st, [name, input]: [string, unknown]) => {
          if (!st.deployed) throw new OperationError('NOT_DEPLOYED', `network ${net.name} is not deployed here`);
          const q = net.components.get(st.component)!.component.queries.get(name);
          if (!q) throw new OperationError('UNKNOWN_QUERY', `component ${st.component} has no query ${name}`);
          try {
            return q(st.user, input);
          } catch (err) {
            throw new OperationError('QUERY_FAILED', `query ${name} of ${st.component}/${st.partition}: ${(err as Error)?.message ?? String(err)}`);
          }
        },
      },
      watermark: { input: z.null(), run: (st) => outboxWatermark(st) },
      /**
       * Retained sink outputs numbered above `after`, oldest first, at most OUTPUTS_PAGE of them
       * (sinks read the ones their subscription missed, page by page).
       */
      outputs: { input: z.number().int().min(0), run: (st, after: number) => ({ seq: st.sinkSeq, outputs: outputsAfter(retainedOutputs(st, net.options.sinkRetention), after, OUTPUTS_PAGE) }) },
      /** The fingerprint of the definition this node runs (deploy checks it before recording anything). */
      definition: { input: z.null(), run: () => net.fingerprint },
      /** In-process only (the node's dispatcher): the live state. Refused over the wire. */
      local: { input: z.never(), run: (st) => st },
    },
    snapshot: (st) => logic.image(st),
    restore: (img) => logic.restore(img),
    // A subscriber's first state: the newest outputs only (a sink reads older ones with `outputs`).
    describe: (st) => ({ seq: st.sinkSeq, outputs: retainedOutputs(st, Math.min(net.options.sinkRetention, OUTPUTS_PAGE)) }),
    isEmpty: (st) => !st.deployed,
  });
}

/** A deployment record. */
export interface DeploymentRecord {
  readonly network: string;
  readonly fingerprint: string;
  readonly status: 'deploying' | 'deployed';
  /** Log time of the last change. */
  readonly since: number;
  /** The deployed definition: components with partitions, connections, sources, sinks. */
  readonly summary: unknown;
}

interface DeploymentState {
  record: DeploymentRecord | null;
}

/** The resource type of deployment records (one instance per network name). */
export const deploymentResource: ResourceDefinition<DeploymentState> = defineResource<DeploymentState>({
  type: DEPLOYMENT_TYPE,
  create: () => ({ record: null }),
  commands: {
    begin: {
      input: z.object({ fingerprint: z.string(), summary: z.unknown() }).strict(),
      apply: (s, input: { fingerprint: string; summary: unknown }, ctx) => {
        const r = s.record;
        if (r && r.fingerprint !== input.fingerprint) throw new ResourceError('ALREADY_DEPLOYED', `network ${ctx.name} is deployed with another definition (fingerprint ${r.fingerprint}); undeploy it first`);
        if (!r) s.record = { network: ctx.name, fingerprint: input.fingerprint, status: 'deploying', since: ctx.time, summary: input.summary };
        ctx.emit(s.record);
        return s.record;
      },
    },
    commit: {
      input: z.object({ fingerprint: z.string() }).strict(),
      apply: (s, input: { fingerprint: string }, ctx) => {
        if (!s.record || s.record.fingerprint !== input.fingerprint) throw new ResourceError('NOT_DEPLOYED', `no deployment of ${ctx.name} with fingerprint ${input.fingerprint} is in progress`);
        if (s.record.status !== 'deployed') s.record = { ...s.record, status: 'deployed', since: ctx.time };
        ctx.emit(s.record);
        return s.record;
      },
    },
    remove: {
      input: z.null(),
      apply: (s, _i, ctx) => {
        const had = s.record !== null;
        s.record = null;
        ctx.emit(null);
        return had;
      },
    },
  },
  queries: { get: { input: z.null(), run: (s) => s.record } },
  snapshot: (s) => s.record,
  restore: (img) => ({ record: (img as DeploymentRecord | null) ?? null }),
  describe: (s) => s.record,
  isEmpty: (s) => s.record === null,
});

/**
 * The resource types to register on every node for these networks (`createNode({ resources })`).
 * `onApplied` lets the node's runtime learn at once that a partition has new outbox messages.
 */
export function componentResources(networks: readonly Network[], onApplied?: AppliedHook): ResourceDefinition[] {
  const names = new Set<string>();
  for (const n of networks) {
    if (names.has(n.name)) throw new TypeError(`network ${n.name} is given twice`);
    names.add(n.name);
  }
  return [deploymentResource, ...networks.map((n) => componentResource(n, onApplied))];
}
