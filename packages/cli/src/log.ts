/**
 * Structured logs: pino, JSON lines, one logger per process created from the configured level
 * (`log.level`, overridden by `--log-level`). Tessera packages take it as their Logger.
 */
import { pino, type Logger as PinoLogger } from 'pino';
import type { LogLevel } from './config/schema.js';

/** Creates the process logger writing JSON lines to `fd` (default stdout), with `bindings` on every line. */
export function createLogger(level: LogLevel, bindings: Record<string, unknown> = {}, fd = 1): PinoLogger {
  return pino({ level, base: { pid: process.pid, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd, sync: false }));
}

/** Writes out buffered log lines (before exiting). */
export function flushLogger(logger: PinoLogger): Promise<void> {
  return new Promise((resolve) => {
    try {
      // An error here means the destination is gone: nothing left to write.
      logger.flush(() => resolve());
    } catch {
      resolve();
    }
  });
}
