/**
 * Errors of the `tessera` command and the exit codes they map to: 0 success, 1 runtime failure,
 * 2 usage or configuration error.
 */
import { ConfigError, TesseraError } from '@tessera/raft';

/** Exit codes of every `tessera` command. */
export const ExitCode = { ok: 0, failure: 1, usage: 2 } as const;

/** A command was called wrongly (unknown flag, bad value, missing cluster). Exit code 2. */
export class UsageError extends TesseraError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

/** One problem of a configuration: the dotted path of the field and what was expected. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * A node configuration is invalid. Every issue names its field (`transport.tls.cert: file not
 * found: ./x.pem`); `source` is the file (or `env TESSERA_...`) it came from. Exit code 2.
 */
export class NodeConfigError extends TesseraError {
  constructor(
    readonly source: string,
    readonly issues: readonly ConfigIssue[],
  ) {
    super('CONFIG_INVALID', `invalid configuration ${source}:\n${issues.map((i) => `  ${i.path || '(root)'}: ${i.message}`).join('\n')}`);
  }
}

/** The exit code for an error that ended a command. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError || err instanceof NodeConfigError || err instanceof ConfigError) return ExitCode.usage;
  if (TesseraError.isInstance(err) && (err.code === 'USAGE' || err.code === 'CONFIG_INVALID')) return ExitCode.usage;
  return ExitCode.failure;
}
