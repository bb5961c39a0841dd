import { ConfigError } from './errors.js';
import type { Membership } from './types.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Encodes a membership for a config entry or a snapshot header (JSON: small and rare). */
export function encodeMembership(m: Membership): Uint8Array {
  return enc.encode(JSON.stringify({ v: m.voters, l: m.learners }));
}

/** Decodes {@link encodeMembership}'s output; throws {@link ConfigError} on malformed data. */
export function decodeMembership(data: Uint8Array): Membership {
  let raw: unknown;
  try {
    raw = JSON.parse(dec.decode(data));
  } catch (err) {
    throw new ConfigError('membership', `not valid JSON: ${(err as Error).message}`);
  }
  const o = raw as { v?: unknown; l?: unknown };
  if (!Array.isArray(o.v) || !Array.isArray(o.l) || ![...o.v, ...o.l].every((x) => typeof x === 'string')) {
    throw new ConfigError('membership', 'expected {v: string[], l: string[]}');
  }
  return { voters: o.v as string[], learners: o.l as string[] };
}

export function sameMembership(a: Membership, b: Membership): boolean {
  const eq = (x: readonly string[], y: readonly string[]) => x.length === y.length && [...x].sort().join('\0') === [...y].sort().join('\0');
  return eq(a.voters, b.voters) && eq(a.learners, b.learners);
}
