/**
 * `tessera kv put|get|del` and `tessera counter incr|get`: one operation through `@tessera/client`
 * on the built-in map and counter resources.
 */
import { connect, type TesseraClient } from '@tessera/client';
import type { Consistency } from '@tessera/client';
import { UsageError } from '../errors.js';
import { clientEndpoints } from './endpoints.js';

export interface ClientCommandOptions {
  readonly cluster?: string;
  readonly dir: string;
  readonly timeoutMs?: number;
}

async function withClient<T>(opts: ClientCommandOptions, fn: (c: TesseraClient) => Promise<T>): Promise<T> {
  const endpoints = clientEndpoints(opts.cluster, opts.dir);
  const requestTimeoutMs = opts.timeoutMs ?? 15_000;
  const client = await connect({ endpoints, requestTimeoutMs, attemptTimeoutMs: Math.min(5_000, requestTimeoutMs), sessionTimeoutMs: Math.max(30_000, requestTimeoutMs + 1_000) });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** What `kv put` stores: the value as given, or parsed as JSON with `--json`. */
export function parseValue(value: string, json: boolean): unknown {
  if (!json) return value;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new UsageError(`VALUE is not valid JSON (--json): ${(err as Error).message}`);
  }
}

const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

export async function kvPut(key: string, value: string, opts: ClientCommandOptions & { map: string; json: boolean }, out: (s: string) => void): Promise<number> {
  const v = parseValue(value, opts.json);
  await withClient(opts, (c) => c.map(opts.map).set(key, v));
  out('OK');
  return 0;
}

/** Prints the value; a missing key prints nothing on stdout, says so on stderr, and exits 1. */
export async function kvGet(key: string, opts: ClientCommandOptions & { map: string; consistency: Consistency }, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const v = await withClient(opts, (c) => c.map(opts.map).get(key, { consistency: opts.consistency }));
  if (v === null) {
    err(`key not found: ${key}`);
    return 1;
  }
  out(show(v));
  return 0;
}

export async function kvDel(key: string, opts: ClientCommandOptions & { map: string }, out: (s: string) => void): Promise<number> {
  const existed = await withClient(opts, (c) => c.map(opts.map).delete(key));
  out(existed ? 'deleted' : 'not found (nothing deleted)');
  return 0;
}

export async function counterIncr(name: string, by: number, opts: ClientCommandOptions, out: (s: string) => void): Promise<number> {
  const v = await withClient(opts, (c) => c.counter(name).add(by));
  out(String(v));
  return 0;
}

export async function counterGet(name: string, opts: ClientCommandOptions & { consistency: Consistency }, out: (s: string) => void): Promise<number> {
  const v = await withClient(opts, (c) => c.counter(name).get({ consistency: opts.consistency }));
  out(String(v));
  return 0;
}
