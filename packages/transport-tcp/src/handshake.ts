/**
 * Handshake messages. Both sides send a Hello at once; with a shared secret each then sends an Auth
 * proof that binds the secret to both hellos (so to both fresh nonces) and to the sender's role:
 *
 *   proof(role) = HMAC-SHA256(secret, "tessera-tcp/1 auth\0" role "\0" helloBytes(sender) helloBytes(receiver))
 *
 * A recorded proof is useless on another connection (the nonces differ) and a proof cannot be
 * reflected back to its sender (the role differs). Proofs are compared in constant time.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { FrameError } from '@tessera/raft';
import { z } from 'zod';

const MAX_ID = 255;

export const helloSchema = z.object({
  /** Cluster id; must match. */
  cluster: z.string().min(1).max(MAX_ID),
  /** The sender's node id. */
  node: z.string().min(1).max(MAX_ID),
  /** Random per transport instance: a new value means the peer restarted. */
  instance: z.string().regex(/^[0-9a-f]{16}$/),
  /** Random per connection (32 bytes, hex): the challenge the other side's proof must cover. */
  nonce: z.string().regex(/^[0-9a-f]{64}$/),
  role: z.enum(['dial', 'accept']),
  /** Dialer only: the node it meant to reach (a stale address may point at someone else). */
  to: z.string().min(1).max(MAX_ID).optional(),
  auth: z.enum(['none', 'hmac-sha256']),
  /** Largest frame body the sender accepts. */
  maxFrameBytes: z.number().int().min(1024),
  /** Dialer only, higher node id only: the selection id of the connection it last used. */
  lastSelect: z.number().int().min(0).max(0xffffffff).optional(),
});
export type Hello = z.output<typeof helloSchema>;

export const rejectSchema = z.object({ code: z.string().max(64), reason: z.string().max(1024) });
export type RejectBody = z.output<typeof rejectSchema>;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function parseJson<S extends z.ZodType>(schema: S, body: Uint8Array, what: string): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(body));
  } catch {
    throw new FrameError(`${what} is not valid UTF-8 JSON`);
  }
  const r = schema.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new FrameError(`invalid ${what}: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  return r.data;
}

export function encodeJson(value: object): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

export function decodeHello(body: Uint8Array): Hello {
  return parseJson(helloSchema, body, 'hello');
}

export function decodeReject(body: Uint8Array): RejectBody {
  return parseJson(rejectSchema, body, 'reject');
}

export function newNonce(): string {
  return randomBytes(32).toString('hex');
}

export function newInstanceId(): string {
  return randomBytes(8).toString('hex');
}

export const PROOF_BYTES = 32;
const LABEL = Buffer.from('tessera-tcp/1 auth\0', 'ascii');

/** The proof that the side with `role` (whose hello is `senderHello`) knows `secret`. */
export function proof(secret: Uint8Array, role: Hello['role'], senderHello: Uint8Array, receiverHello: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(LABEL).update(role).update('\0').update(senderHello).update(receiverHello).digest();
}

/** Constant-time check of a received proof. */
export function verifyProof(secret: Uint8Array, got: Uint8Array, role: Hello['role'], senderHello: Uint8Array, receiverHello: Uint8Array): boolean {
  if (got.byteLength !== PROOF_BYTES) return false;
  return timingSafeEqual(got, proof(secret, role, senderHello, receiverHello));
}
