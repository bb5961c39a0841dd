import { createServer } from 'node:net';

/**
 * Asks the kernel for a free loopback TCP port by binding port 0 and releasing it. Another process
 * can take the port before the caller binds it, so callers must retry on "address in use"; prefer a
 * server's own random-port mode where it has one (nats-server `-p -1`).
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ port: 0, host, exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('could not determine a free port'))));
    });
  });
}
