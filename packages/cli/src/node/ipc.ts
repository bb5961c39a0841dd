/**
 * The messages between `tessera cluster up` (the supervisor) and the node processes it spawns,
 * over Node's IPC channel. Validated with zod on arrival: the channel crosses a process boundary.
 */
import { nodeRecordSchema } from '@tessera/raft';
import { z } from 'zod';

/** Supervisor -> node. */
export const toNodeSchema = z.discriminatedUnion('type', [
  /** Addresses of the other nodes (they bind ephemeral ports, so they are known only once started). */
  z.object({ type: z.literal('peers'), nodes: z.array(nodeRecordSchema) }),
  /** Stop cleanly and exit 0. */
  z.object({ type: z.literal('stop') }),
]);
export type ToNode = z.infer<typeof toNodeSchema>;

/** Node -> supervisor. */
export const fromNodeSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), record: nodeRecordSchema }),
  /** The node could not start; `exitCode` 2 for a configuration error. */
  z.object({ type: z.literal('failed'), message: z.string(), exitCode: z.number().int() }),
]);
export type FromNode = z.infer<typeof fromNodeSchema>;

/** Set in the environment of nodes spawned by `tessera cluster up`. */
export const SUPERVISED_ENV = 'TESSERA_SUPERVISED';
