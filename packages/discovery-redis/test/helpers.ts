import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, expect } from 'vitest';
import { Redis } from 'ioredis';
import type { Discovery, DiscoveryEvent, Logger } from '@tessera/raft';
import { startRedisServer, type RedisServer } from '@tessera/testing/servers';
import { redisDiscovery, type RedisDiscovery, type RedisDiscoveryOptions } from '../src/index.js';

/** Cleanups registered by the current test, run after it in reverse order. */
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});
export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

export async function redisServer(): Promise<RedisServer> {
  const s = await startRedisServer();
  onCleanup(() => s.stop());
  return s;
}

let clusters = 0;
/** A cluster id no other test uses, so tests can share one redis-server. */
export function freshClusterId(): string {
  return `c${process.pid}-${++clusters}`;
}

/** Fast timings for tests: short TTL, quick reconnects, short waits. */
export const fast = { ttlMs: 1_000, reconnect: { initialMs: 20, maxMs: 200 }, commandTimeoutMs: 1_000, connectTimeoutMs: 2_000 } as const;

export function discovery(server: RedisServer, clusterId: string, extra: Partial<RedisDiscoveryOptions> = {}): RedisDiscovery {
  // Refresh six times per TTL: a loaded test machine can stall a worker for a few hundred ms, and
  // a registration must not expire because of that.
  const ttlMs = extra.ttlMs ?? fast.ttlMs;
  const d = redisDiscovery({ url: server.url, clusterId, ...fast, refreshMs: Math.floor(ttlMs / 6), ...extra });
  onCleanup(() => d.close());
  return d;
}

/** A raw client for looking at (and tampering with) the registry. */
export function rawClient(server: RedisServer): Redis {
  const r = new Redis(server.url, { lazyConnect: false, maxRetriesPerRequest: 1 });
  r.on('error', () => {});
  onCleanup(() => void r.disconnect());
  return r;
}

/** Records every event a discovery emits. */
export function recorder(d: Discovery): { events: DiscoveryEvent[]; of: (id: string) => string[] } {
  const events: DiscoveryEvent[] = [];
  d.watch((e) => events.push(e));
  return { events, of: (id) => events.filter((e) => e.node.id === id).map((e) => e.type) };
}

/** A logger that keeps what it was told. */
export function memoryLogger(): Logger & { lines: { level: string; msg: string; obj: object }[] } {
  const lines: { level: string; msg: string; obj: object }[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, msg: msg ?? '', obj });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export function record(id: string, extra: Record<string, unknown> = {}) {
  return { id, raftAddress: `127.0.0.1:${7000 + id.charCodeAt(0)}`, ...extra };
}

/** Polls until `fn` returns true (no fixed sleeps). */
export async function until(fn: () => boolean | Promise<boolean>, timeout = 10_000): Promise<void> {
  await expect.poll(fn, { timeout, interval: 10 }).toBe(true);
}

const NODE_FIXTURE = fileURLToPath(new URL('./fixtures/node.mjs', import.meta.url));

/**
 * A node in a child process that registers and then only refreshes; SIGKILL it to make a node
 * disappear without deregistering. Needs the built package (`dist/`).
 */
export async function childNode(server: RedisServer, clusterId: string, id: string, ttlMs: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [NODE_FIXTURE, server.url, clusterId, id, String(ttlMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  onCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('registered')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`child node ${id} exited early (${code}): ${out}`)));
  });
  return child;
}

export async function killChild(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}
