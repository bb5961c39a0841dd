/**
 * The admin HTTP server of a node: `GET /status` (JSON, see status.ts), `GET /metrics`
 * (Prometheus text), `GET /health`. Read-only; binds only where the configuration says.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@tessera/raft';
import type { NodeStatus } from './status.js';

/** What the admin server serves. */
export interface AdminHandlers {
  readonly status: () => NodeStatus;
  readonly metrics: () => Promise<string>;
  readonly metricsContentType: string;
  /** False while the node is starting or stopping. */
  readonly serving: () => boolean;
  readonly logger: Logger;
}

/** A running admin server. */
export interface AdminServer {
  /** `host:port` it is bound to. */
  readonly address: string;
  close(): Promise<void>;
}

function send(res: ServerResponse, code: number, type: string, body: string): void {
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const json = (res: ServerResponse, code: number, body: unknown) => send(res, code, 'application/json; charset=utf-8', JSON.stringify(body) + '\n');

/** Starts the admin server on `host:port` (port 0: any free port). */
export async function startAdminServer(listen: { host: string; port: number }, h: AdminHandlers): Promise<AdminServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'method not allowed' });
    switch (path) {
      case '/health': {
        if (!h.serving()) return json(res, 503, { status: 'unavailable' });
        const st = h.status();
        const leaderless = st.partitions.filter((p) => p.leader === null).length;
        return json(res, 200, { status: leaderless === 0 ? 'ok' : 'degraded', nodeId: st.nodeId, partitions: st.partitions.length, leaderless });
      }
      case '/status':
        if (!h.serving()) return json(res, 503, { error: 'node is not serving' });
        return json(res, 200, h.status());
      case '/metrics':
        return send(res, 200, h.metricsContentType, await h.metrics());
      default:
        return json(res, 404, { error: `no such endpoint ${path}; try /status, /metrics or /health` });
    }
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      h.logger.error({ err: err.message, url: req.url }, 'admin request failed');
      if (!res.headersSent) json(res, 500, { error: err.message });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  const address = a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
