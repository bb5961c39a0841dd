import type { NodeId } from '@tessera/raft';

const PLAIN_TOKEN = /^[A-Za-z0-9_-]+$/;

/**
 * The subject token for a node id. Ids that are already safe tokens are used as they are, so
 * subjects stay readable in `nats sub` and in server permissions; any other id (dots, spaces,
 * non-ASCII...) becomes `~` + base64url(UTF-8). `~` never appears in a plain token, so the mapping
 * is injective. Changing it changes the wire contract between nodes of one cluster.
 */
export function nodeToken(id: NodeId): string {
  return PLAIN_TOKEN.test(id) ? id : `~${Buffer.from(id, 'utf8').toString('base64url')}`;
}

/** The subject a node listens on: `<prefix>.<clusterId>.<node token>`. */
export function nodeSubject(prefix: string, clusterId: string, id: NodeId): string {
  return `${prefix}.${clusterId}.${nodeToken(id)}`;
}
