import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/**
 * Spawning and supervising a server process for tests: readiness is detected from its log output
 * (never a sleep), its output is drained continuously (a full pipe would stall the server) into a
 * bounded tail kept for error messages, and every process and temp dir is registered so a test
 * run that forgets `stop()` (or dies on an assertion) still leaves nothing behind.
 */

/** Lines of server output kept for diagnostics. */
const TAIL_LINES = 200;

// The one module-level registry in the package, on purpose: a `process.on('exit')` safety net has
// to reach every process started in this worker, whichever test started it.
const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    // Only synchronous work is possible here: SIGKILL and unlink, no waiting.
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const dir of tempDirs) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
  });
}

/** Registers a temp dir for removal at process exit if its owner never removes it. */
export function trackTempDir(dir: string): void {
  installExitHook();
  tempDirs.add(dir);
}

/** Removes a temp dir now and forgets it. */
export function removeTempDir(dir: string): void {
  tempDirs.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}

/** How many server processes started by this module are still running (for tests of the helpers). */
export function liveServerCount(): number {
  return live.size;
}

/** Result of looking at one line of output while waiting for readiness. */
export type ReadyVerdict<T> = { ready: T } | { fail: string; addressInUse?: boolean } | undefined;

/** A server could not start because its port was taken; the caller may retry on another (or the same) port. */
export class AddressInUseError extends Error {}

export interface SpawnOptions<T> {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  /** Inspects each output line (stdout and stderr) until it returns `ready` or `fail`. */
  readonly onLine: (line: string) => ReadyVerdict<T>;
  /** Gives up (and kills the process) after this long without a verdict. */
  readonly timeoutMs: number;
  /** A short name for error messages. */
  readonly name: string;
}

/** A running server process. */
export class ServerProcess {
  private readonly tail: string[] = [];
  private readonly exited: Promise<void>;
  private exitCode: number | null | undefined;
  private exitSignal: NodeJS.Signals | null = null;

  private constructor(readonly child: ChildProcess) {
    live.add(child);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        live.delete(child);
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** True once the process has exited. */
  get hasExited(): boolean {
    return this.exitCode !== undefined;
  }

  /** The last lines of output, for error messages. */
  output(): string {
    return this.tail.join('\n');
  }

  /**
   * Spawns the process and resolves with it and the readiness value once `onLine` says it is
   * ready. Rejects (after making sure the process is dead) on a `fail` verdict, an early exit, a
   * spawn error or the timeout; the error carries the output tail.
   */
  static async start<T>(opts: SpawnOptions<T>): Promise<{ proc: ServerProcess; ready: T }> {
    installExitHook();
    const child = spawn(opts.command, opts.args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const proc = new ServerProcess(child);
    if (child.pid !== undefined) armWatchdog(child);
    let settled = false;
    return await new Promise<{ proc: ServerProcess; ready: T }>((resolve, reject) => {
      const fail = (reason: string, addressInUse = false): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const out = proc.output();
        const message = `${opts.name}: ${reason}${out ? `\n--- output ---\n${out}` : ''}`;
        void proc.kill('SIGKILL').then(() => reject(addressInUse ? new AddressInUseError(message) : new Error(message)));
      };
      const timer = setTimeout(() => fail(`not ready after ${opts.timeoutMs} ms`), opts.timeoutMs);
      const onLine = (line: string): void => {
        proc.tail.push(line);
        if (proc.tail.length > TAIL_LINES) proc.tail.shift();
        if (settled) return;
        const verdict = opts.onLine(line);
        if (!verdict) return;
        if ('fail' in verdict) fail(verdict.fail, verdict.addressInUse);
        else {
          settled = true;
          clearTimeout(timer);
          resolve({ proc, ready: verdict.ready });
        }
      };
      lines(child.stdout!, onLine);
      lines(child.stderr!, onLine);
      child.once('error', (err) => fail(`cannot spawn ${opts.command}: ${err.message}`));
      void proc.exited.then(() => fail(`exited before it was ready (code ${proc.exitCode}, signal ${proc.exitSignal})`));
    });
  }

  /** Sends `signal` and resolves once the process has exited. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.hasExited) return;
    try {
      this.child.kill(signal);
    } catch {
      // exited in between
    }
    await this.exited;
  }

  /** Sends a signal that need not end the process (e.g. SIGHUP to reload) and returns at once. */
  signal(signal: NodeJS.Signals): void {
    if (!this.hasExited) this.child.kill(signal);
  }

  /** Asks the process to stop (SIGTERM), escalating to SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.hasExited) return;
    const escalate = setTimeout(() => this.signal('SIGKILL'), graceMs);
    try {
      await this.kill('SIGTERM');
    } finally {
      clearTimeout(escalate);
    }
  }
}

/**
 * Kills `child` if this process dies without stopping it (a SIGKILLed test worker runs no exit
 * handlers). A `sh` watchdog reads a pipe from us; when we die the pipe closes, `cat` returns and
 * the watchdog kills the server. The server keeps its own pid, so tests can still signal it.
 */
function armWatchdog(child: ChildProcess): void {
  const pid = child.pid!;
  const dog = spawn('sh', ['-c', `cat >/dev/null; kill -0 ${pid} 2>/dev/null && kill -KILL ${pid}`], { stdio: ['pipe', 'ignore', 'ignore'] });
  dog.on('error', () => {});
  dog.stdin?.on('error', () => {});
  // Neither the watchdog nor its pipe may keep the test process alive.
  dog.unref();
  (dog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  // Once the server is gone the watchdog has nothing to guard (and its pid check must not hit a reused pid).
  child.once('exit', () => {
    try {
      dog.kill('SIGKILL');
    } catch {
      // already gone
    }
  });
}

/** Splits a stream into lines, calling `fn` for each; keeps reading until the stream ends. */
function lines(stream: NodeJS.ReadableStream, fn: (line: string) => void): void {
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      fn(partial.slice(0, nl).replace(/\r$/, ''));
      partial = partial.slice(nl + 1);
    }
  });
  stream.on('end', () => {
    if (partial) fn(partial);
    partial = '';
  });
}
