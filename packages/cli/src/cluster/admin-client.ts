/**
 * Reads nodes' admin endpoints (`/status`), validating answers against the status schema.
 */
import { nodeStatusSchema, type NodeStatus } from '../node/status.js';

/** `host:port` or a URL -> the URL of `path` on it. */
export function adminUrl(endpoint: string, path: string): string {
  const base = /^https?:\/\//.test(endpoint) ? endpoint.replace(/\/+$/, '') : `http://${endpoint}`;
  return `${base}${path}`;
}

/** GET `/status` of one node (times out after `timeoutMs`). */
export async function fetchStatus(endpoint: string, timeoutMs = 5_000): Promise<NodeStatus> {
  let res: Response;
  try {
    res = await fetch(adminUrl(endpoint, '/status'), { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    throw new Error(`${endpoint}: ${why}`, { cause: err });
  }
  if (!res.ok) throw new Error(`${endpoint}: /status answered ${res.status}`);
  const r = nodeStatusSchema.safeParse(await res.json());
  if (!r.success) throw new Error(`${endpoint}: /status does not match its schema: ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`);
  return r.data;
}
