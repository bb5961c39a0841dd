/**
 * Errors of the component layer. All are `TesseraError`s with a stable `code`.
 */
import { TesseraError } from '@tessera/raft';

/** One problem in a network definition, with the path of the offending field. */
export interface DefinitionIssue {
  /** Where the problem is, e.g. `connections[2].to` or `components.counter.partitions`. */
  readonly path: string;
  readonly message: string;
}

/**
 * A network definition (built with `network(...)` or read from JSON/YAML) is invalid. `issues`
 * lists every problem found, not only the first; the message names each one.
 */
export class NetworkDefinitionError extends TesseraError {
  constructor(
    readonly network: string,
    readonly issues: readonly DefinitionIssue[],
  ) {
    super('NETWORK_INVALID', `network ${network || '(unnamed)'} is invalid (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${issues.map((i) => `  ${i.path ? `${i.path}: ` : ''}${i.message}`).join('\n')}`);
  }
}

/** A component definition is invalid (bad name, handler for an unknown port, ...). */
export class ComponentDefinitionError extends TesseraError {
  constructor(readonly path: string, detail: string) {
    super('COMPONENT_INVALID', `${path}: ${detail}`);
  }
}

/** A message does not match its port's schema. */
export class InvalidMessageError extends TesseraError {
  constructor(readonly port: string, detail: string) {
    super('INVALID_MESSAGE', `${port}: ${detail}`);
  }
}

/** Deployment failed or does not fit the cluster (e.g. more replicas than the cluster has). */
export class DeployError extends TesseraError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

/** The network (or the component partition a message was addressed to) is not deployed. */
export class NotDeployedError extends TesseraError {
  constructor(message: string) {
    super('NOT_DEPLOYED', message);
  }
}

/** The source or sink was closed. */
export class ClosedError extends TesseraError {
  constructor(what: string) {
    super('CLOSED', `${what} is closed`);
  }
}
