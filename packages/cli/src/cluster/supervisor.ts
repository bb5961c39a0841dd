/**
 * Runs node processes (`tessera node start --config FILE`) as children: waits until each reports
 * its bound addresses over IPC, tells every node the others' addresses, kills (SIGKILL) and
 * restarts nodes on request, and stops them all cleanly. Used by `cluster up` and `demo`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeRecord } from '@tessera/raft';
import { fromNodeSchema, SUPERVISED_ENV } from '../node/ipc.js';

/** The `tessera` entry point that node processes run. */
export const TESSERA_BIN = fileURLToPath(new URL('../bin/tessera.js', import.meta.url));

/** How to start one node process. */
export interface NodeSpec {
  readonly id: string;
  /** Its configuration file. */
  readonly config: string;
  /** Where its stdout and stderr (JSON log lines) go; appended. */
  readonly log: string;
}

/** A node process the supervisor started. */
export interface NodeProcess {
  readonly id: string;
  readonly spec: NodeSpec;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Its addresses, as it reported them when ready. */
  readonly record: NodeRecord;
  /** Resolves when the process has exited, with its exit code (or the signal that ended it). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A node process failed to start; `exitCode` 2 means its configuration was refused. */
export class NodeStartError extends Error {
  constructor(
    readonly id: string,
    message: string,
    readonly exitCode: number,
  ) {
    super(`node ${id}: ${message}`);
  }
}

export interface SupervisorOptions {
  readonly logLevel?: string;
  /** Called when a node exits without being asked to. */
  readonly onUnexpectedExit?: (id: string, code: number | null, signal: NodeJS.Signals | null) => void;
  /** Time allowed for a node to become ready. Default 60 s. */
  readonly startTimeoutMs?: number;
}

/** See the file comment. */
export class Supervisor {
  private readonly procs = new Map<string, NodeProcess>();
  private readonly expected = new Set<ChildProcess>();

  constructor(private readonly opts: SupervisorOptions = {}) {}

  /** The running node processes, by id. */
  get nodes(): ReadonlyMap<string, NodeProcess> {
    return this.procs;
  }

  /** Starts a node process and waits until it reports ready (or fails). */
  async start(spec: NodeSpec): Promise<NodeProcess> {
    mkdirSync(dirname(spec.log), { recursive: true });
    const fd = openSync(spec.log, 'a');
    const env: NodeJS.ProcessEnv = { ...process.env, [SUPERVISED_ENV]: '1' };
    // Concurrent fdatasyncs of many partitions run on libuv's pool (4 threads by default).
    if (env.UV_THREADPOOL_SIZE === undefined) env.UV_THREADPOOL_SIZE = '16';
    const args = [TESSERA_BIN, 'node', 'start', '--config', spec.config, ...(this.opts.logLevel ? ['--log-level', this.opts.logLevel] : [])];
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, args, { stdio: ['ignore', fd, fd, 'ipc'], env });
    } finally {
      closeSync(fd);
    }
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const record = await new Promise<NodeRecord>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new NodeStartError(spec.id, `not ready within ${(this.opts.startTimeoutMs ?? 60_000) / 1000} s (see ${spec.log})`, 1));
      }, this.opts.startTimeoutMs ?? 60_000);
      const onMessage = (raw: unknown) => {
        const r = fromNodeSchema.safeParse(raw);
        if (!r.success) return;
        clearTimeout(timer);
        child.off('message', onMessage);
        if (r.data.type === 'ready') resolve(r.data.record);
        else reject(new NodeStartError(spec.id, r.data.message, r.data.exitCode));
      };
      child.on('message', onMessage);
      void exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new NodeStartError(spec.id, `exited during start-up (${signal ?? `code ${code}`}); see ${spec.log}`, code === 2 ? 2 : 1));
      });
    });
    const proc: NodeProcess = { id: spec.id, spec, child, pid: child.pid!, record, exited };
    this.procs.set(spec.id, proc);
    void exited.then(({ code, signal }) => {
      if (this.procs.get(spec.id) === proc) this.procs.delete(spec.id);
      if (!this.expected.delete(child)) this.opts.onUnexpectedExit?.(spec.id, code, signal);
    });
    return proc;
  }

  /** Tells every running node the addresses of all (itself included; it ignores its own). */
  sharePeers(extra: readonly NodeRecord[] = []): void {
    const nodes = [...[...this.procs.values()].map((p) => p.record), ...extra.filter((r) => !this.procs.has(r.id))];
    for (const p of this.procs.values()) if (p.child.connected) p.child.send({ type: 'peers', nodes });
  }

  /** SIGKILLs a node (no clean-up, as a crash). Resolves once it is gone. */
  async kill(id: string): Promise<void> {
    const p = this.procs.get(id);
    if (!p) return;
    this.expected.add(p.child);
    p.child.kill('SIGKILL');
    await p.exited;
  }

  /** Asks one node to stop cleanly; SIGKILLs it after `timeoutMs`. */
  async stop(id: string, timeoutMs = 15_000): Promise<void> {
    const p = this.procs.get(id);
    if (!p) return;
    this.expected.add(p.child);
    if (p.child.connected) p.child.send({ type: 'stop' });
    else p.child.kill('SIGTERM');
    const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
    await p.exited;
    clearTimeout(timer);
  }

  /** Stops every node cleanly (in parallel). */
  async stopAll(timeoutMs = 15_000): Promise<void> {
    await Promise.all([...this.procs.keys()].map((id) => this.stop(id, timeoutMs)));
  }
}
