/**
 * `tessera node start --config FILE`: runs one node until SIGINT or SIGTERM (or, under
 * `tessera cluster up`, until the supervisor says stop or goes away), then stops it cleanly.
 */
import { loadNodeConfig } from '../config/load.js';
import type { LogLevel } from '../config/schema.js';
import { exitCodeOf, ExitCode } from '../errors.js';
import { createLogger, flushLogger } from '../log.js';
import { fromNodeSchema, SUPERVISED_ENV, toNodeSchema, type FromNode } from '../node/ipc.js';
import { runNode } from '../node/run.js';

export interface NodeStartOptions {
  readonly config: string;
  readonly logLevel?: LogLevel;
}

/** Runs the node; resolves with the process exit code once it has stopped. */
export async function nodeStart(opts: NodeStartOptions): Promise<number> {
  const supervised = process.env[SUPERVISED_ENV] === '1' && typeof process.send === 'function';
  const tell = (m: FromNode) => {
    if (supervised) process.send!(fromNodeSchema.parse(m));
  };
  let loaded;
  try {
    loaded = loadNodeConfig(opts.config);
  } catch (err) {
    tell({ type: 'failed', message: (err as Error).message, exitCode: exitCodeOf(err) });
    throw err;
  }
  const level = opts.logLevel ?? loaded.config.log.level;
  const root = createLogger(level);
  const logger = root.child({ node: loaded.config.id });
  for (const a of loaded.env.applied) logger.info({ override: a }, 'configuration overridden by the environment');
  for (const u of loaded.env.unknown) logger.warn({ variable: u }, 'environment variable names no configuration setting; ignored');
  let running;
  try {
    running = await runNode(loaded, root, { supervised });
  } catch (err) {
    logger.error({ err: (err as Error).message }, 'node failed to start');
    await flushLogger(root);
    tell({ type: 'failed', message: (err as Error).message, exitCode: exitCodeOf(err) });
    throw err;
  }
  const node = running;
  return await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ reason: why }, 'stopping');
      node.close().then(
        async () => {
          await flushLogger(root);
          resolve(ExitCode.ok);
        },
        async (err: Error) => {
          logger.error({ err: err.message }, 'stop failed');
          await flushLogger(root);
          resolve(ExitCode.failure);
        },
      );
    };
    const onSignal = (sig: NodeJS.Signals) => {
      // A second signal while stopping means "now".
      if (stopping) process.exit(ExitCode.failure);
      stop(sig);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    if (supervised) {
      process.on('message', (raw) => {
        const r = toNodeSchema.safeParse(raw);
        if (!r.success) {
          logger.warn({ err: r.error.issues[0]?.message }, 'malformed message from the supervisor; ignored');
          return;
        }
        if (r.data.type === 'peers') node.setPeers(r.data.nodes);
        else stop('supervisor asked');
      });
      // An orphaned node (the supervisor was killed) stops rather than run on unseen.
      process.on('disconnect', () => stop('supervisor went away'));
      tell({ type: 'ready', record: node.record });
    }
  });
}
