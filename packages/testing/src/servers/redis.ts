import { findBinary } from './binary.js';
import { freePort } from './free-port.js';
import { ManagedServer, retryOnAddressInUse, type TestServer } from './managed.js';
import { ServerProcess, type ReadyVerdict } from './process.js';

export interface RedisServerOptions {
  /** Extra redis-server arguments, appended after ours, e.g. `['--maxmemory', '64mb']`. */
  readonly args?: readonly string[];
  /** Require this password (`requirepass`) from clients. */
  readonly password?: string;
  /** The executable; default `redis-server` found on PATH. */
  readonly binary?: string;
  /** Give up if the server has not said it is ready within this time. Default 15 s. */
  readonly startTimeoutMs?: number;
}

/** A redis-server started for a test. `url` is `redis://127.0.0.1:<port>`. */
export type RedisServer = TestServer;

/**
 * Starts a redis-server on a free loopback port with persistence off and its own temp dir, and
 * resolves once it logged "Ready to accept connections". redis-server has no random-port mode
 * (`--port 0` disables TCP), so a free port is picked first and the start retried on another one if
 * it was taken meanwhile. `restart()` reuses the port.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = options.binary ?? findBinary('redis-server');
  const timeoutMs = options.startTimeoutMs ?? 15_000;
  return await ManagedServer.start('redis', 'tessera-redis-', async (dir, fixedPort) =>
    retryOnAddressInUse(async () => {
      const port = fixedPort ?? (await freePort());
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--logfile', ''];
      if (options.password !== undefined) args.push('--requirepass', options.password);
      args.push(...(options.args ?? []));
      const onLine = (line: string): ReadyVerdict<true> => {
        if (/address already in use/i.test(line)) return { fail: `port ${port} in use`, addressInUse: true };
        if (line.includes('Ready to accept connections')) return { ready: true };
        if (/Fatal error|FATAL CONFIG FILE ERROR/.test(line)) return { fail: line };
        return undefined;
      };
      const { proc } = await ServerProcess.start({ command: binary, args, cwd: dir, onLine, timeoutMs, name: 'redis-server' });
      return { proc, port };
    }),
  );
}
