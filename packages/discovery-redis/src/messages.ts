import { nodeRecordSchema, freezeRecord, type NodeRecord } from '@tessera/raft';
import { z } from 'zod';

/**
 * What crosses the boundary from Redis: notifications on the events channel and the replies of
 * the list script. Anything can be written to Redis, so everything is validated before use.
 */

const rev = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const text = z.string().min(1).max(1024);

/** A notification published by the register and deregister scripts. */
export const eventMessageSchema = z.discriminatedUnion('t', [
  /** A node registered or changed its record: `rec` is its record JSON. */
  z.object({ t: z.literal('up'), e: text, r: rev, id: text, k: text, rec: z.string().max(8 * 1024 * 1024) }),
  /** A node deregistered. */
  z.object({ t: z.literal('down'), e: text, r: rev, id: text, k: text }),
]);

export type EventMessage = z.output<typeof eventMessageSchema>;

/** A registered node as read from Redis. */
export interface RegistryEntry {
  readonly id: string;
  readonly token: string;
  readonly rev: number;
  readonly record: NodeRecord;
}

/** The registry at one revision, as returned by the list script. */
export interface RegistrySnapshot {
  readonly epoch: string;
  readonly rev: number;
  readonly entries: RegistryEntry[];
  /** Entries that failed validation, with why; skipped. */
  readonly invalid: { id: string; reason: string }[];
}

/** Parses a notification, or says why it is malformed. */
export function parseEventMessage(raw: string): { message: EventMessage } | { error: string } {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { error: 'not JSON' };
  }
  const r = eventMessageSchema.safeParse(json);
  if (!r.success) return { error: r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
  return { message: r.data };
}

/** Parses a stored record JSON for node `id`. */
export function parseStoredRecord(id: string, json: string): { record: NodeRecord } | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return { error: 'record is not JSON' };
  }
  const r = nodeRecordSchema.safeParse(value);
  if (!r.success) return { error: r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
  if (r.data.id !== id) return { error: `record id ${JSON.stringify(r.data.id)} does not match its key` };
  return { record: freezeRecord(r.data) };
}

function parseRev(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,16}$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function asText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return undefined;
}

/** Decodes the list script's flat reply. Throws on a reply of the wrong shape (not our script). */
export function parseSnapshot(reply: unknown): RegistrySnapshot {
  if (!Array.isArray(reply) || reply.length < 2 || (reply.length - 2) % 4 !== 0) throw new Error('unexpected reply to the list script');
  const epoch = asText(reply[0]);
  const rev = parseRev(asText(reply[1]) ?? reply[1]);
  if (!epoch || rev === undefined) throw new Error('unexpected epoch or revision in the list script reply');
  const entries: RegistryEntry[] = [];
  const invalid: { id: string; reason: string }[] = [];
  for (let i = 2; i < reply.length; i += 4) {
    const id = asText(reply[i]) ?? '';
    const token = asText(reply[i + 1]);
    const entryRev = parseRev(asText(reply[i + 2]) ?? reply[i + 2]);
    const json = asText(reply[i + 3]);
    if (!token || entryRev === undefined || json === undefined) {
      invalid.push({ id, reason: 'missing token, rev or record' });
      continue;
    }
    const parsed = parseStoredRecord(id, json);
    if ('error' in parsed) invalid.push({ id, reason: parsed.error });
    else entries.push({ id, token, rev: entryRev, record: parsed.record });
  }
  return { epoch, rev, entries, invalid };
}
