import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddressInUseError, removeTempDir, trackTempDir, type ServerProcess } from './process.js';

/** A server started for a test, on an ephemeral loopback port, with its own temp dir. */
export interface TestServer {
  /** Client URL, e.g. `nats://127.0.0.1:41234`. */
  readonly url: string;
  /** Always the loopback address. */
  readonly host: string;
  /** The port, stable across `restart()`. */
  readonly port: number;
  /** The server's temp dir (config, data, logs); removed by `stop()`. */
  readonly dir: string;
  /** Process id of the current incarnation, undefined while it is down. */
  readonly pid: number | undefined;
  /** True while the current incarnation is running. */
  readonly running: boolean;
  /** The last lines the server printed, for diagnostics. */
  output(): string;
  /** Stops the server (SIGTERM, then SIGKILL after a grace period) and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Sends `signal` (default SIGKILL) and resolves once the process has exited. The temp dir stays, so `restart()` works. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the server again on the same port and temp dir (stopping the running one first). Resolves once it is ready. */
  restart(): Promise<void>;
}

/** Starts one incarnation of a server; `port` undefined means "pick any free port". */
export type Launcher = (dir: string, port: number | undefined) => Promise<{ proc: ServerProcess; port: number }>;

/** Shared lifecycle of the nats-server and redis-server helpers. */
export class ManagedServer implements TestServer {
  readonly host = '127.0.0.1';
  private proc: ServerProcess | undefined;
  private stopped = false;

  private constructor(
    private readonly scheme: string,
    readonly dir: string,
    readonly port: number,
    proc: ServerProcess,
    private readonly launch: Launcher,
  ) {
    this.proc = proc;
  }

  /** Creates the temp dir, launches the first incarnation and wraps it. */
  static async start(scheme: string, dirPrefix: string, launch: Launcher): Promise<ManagedServer> {
    const dir = mkdtempSync(join(tmpdir(), dirPrefix));
    trackTempDir(dir);
    try {
      const { proc, port } = await launch(dir, undefined);
      return new ManagedServer(scheme, dir, port, proc, launch);
    } catch (err) {
      removeTempDir(dir);
      throw err;
    }
  }

  get url(): string {
    return `${this.scheme}://${this.host}:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc && !this.proc.hasExited ? this.proc.pid : undefined;
  }

  get running(): boolean {
    return this.proc !== undefined && !this.proc.hasExited;
  }

  output(): string {
    return this.proc?.output() ?? '';
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      await this.proc?.stop();
    } finally {
      removeTempDir(this.dir);
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.proc?.kill(signal);
  }

  async restart(): Promise<void> {
    if (this.stopped) throw new Error(`${this.url}: restart() after stop()`);
    await this.proc?.stop();
    this.proc = undefined;
    const { proc } = await this.launch(this.dir, this.port);
    this.proc = proc;
  }
}

/**
 * Retries `attempt` while it fails with an "address in use" error: the port picked (or released
 * by a killed incarnation) can be taken by someone else in between. Backs off briefly between
 * tries; this is a retry loop, not synchronisation.
 */
export async function retryOnAddressInUse<T>(attempt: () => Promise<T>, tries = 8): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (i >= tries || !(err instanceof AddressInUseError)) throw err;
      await new Promise((r) => setTimeout(r, 25 * i));
    }
  }
}
