import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary } from './binary.js';
import { ManagedServer, retryOnAddressInUse, type TestServer } from './managed.js';
import { ServerProcess, type ReadyVerdict } from './process.js';

/** Credentials the server requires from clients. */
export type NatsServerAuth = { readonly token: string } | { readonly user: string; readonly password: string };

export interface NatsServerOptions {
  /** Extra nats-server arguments, appended after ours (later flags win), e.g. `['-js']` or `['-DV']`. */
  readonly args?: readonly string[];
  /** Require a token or a user/password from clients. */
  readonly auth?: NatsServerAuth;
  /**
   * Contents of a nats-server configuration file, written into the temp dir and passed with `-c`,
   * e.g. `max_payload: 65536`. The listen address and port flags still win over it.
   */
  readonly config?: string;
  /** The executable; default `nats-server` found on PATH or in /usr/sbin. */
  readonly binary?: string;
  /** Give up if the server has not said it is ready within this time. Default 15 s. */
  readonly startTimeoutMs?: number;
}

/** A nats-server started for a test. `url` is `nats://127.0.0.1:<port>`. */
export type NatsServer = TestServer;

const LISTENING = /Listening for client connections on (\S+):(\d+)/;

/**
 * Starts a nats-server on a random loopback port (`-p -1`: the server binds port 0 itself, so there
 * is no window in which another process can take the port) with its own temp dir, and resolves
 * once it logged "Server is ready". `restart()` reuses the port.
 *
 * @example
 * const nats = await startNatsServer({ config: 'max_payload: 65536' });
 * try { ... connect to nats.url ... } finally { await nats.stop(); }
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = options.binary ?? findBinary('nats-server');
  const timeoutMs = options.startTimeoutMs ?? 15_000;
  return await ManagedServer.start('nats', 'tessera-nats-', async (dir, fixedPort) => {
    const args = ['-a', '127.0.0.1', '-p', String(fixedPort ?? -1), '-sd', join(dir, 'store')];
    if (options.config !== undefined) {
      const file = join(dir, 'nats-server.conf');
      writeFileSync(file, options.config);
      args.unshift('-c', file);
    }
    if (options.auth && 'token' in options.auth) args.push('--auth', options.auth.token);
    else if (options.auth) args.push('--user', options.auth.user, '--pass', options.auth.password);
    args.push(...(options.args ?? []));
    const launch = async () => {
      let port: number | undefined;
      const onLine = (line: string): ReadyVerdict<number> => {
        const m = LISTENING.exec(line);
        if (m) port = Number(m[2]);
        if (/address already in use/i.test(line)) return { fail: 'port in use', addressInUse: true };
        if (line.includes('[FTL]')) return { fail: line };
        if (line.includes('Server is ready')) {
          if (port === undefined) return { fail: 'ready, but the client port was not logged' };
          return { ready: port };
        }
        return undefined;
      };
      const { proc, ready } = await ServerProcess.start({ command: binary, args, cwd: dir, onLine, timeoutMs, name: 'nats-server' });
      return { proc, port: ready };
    };
    // With -p -1 the kernel picks the port, so only a restart on a fixed port can collide.
    return fixedPort === undefined ? await launch() : await retryOnAddressInUse(launch);
  });
}
