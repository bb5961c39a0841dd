import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync as writeText } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServer } from '@tessera/testing/servers';
import { natsTransport } from '../src/index.js';
import { endpoint, heartbeat } from './helpers.js';

/**
 * A throwaway CA with a server certificate for 127.0.0.1 (and localhost: the NATS client sends that
 * as the TLS server name when it dials an IP) and a client certificate, made with the openssl CLI.
 */
function makePki(dir: string): Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', string> {
  const f = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=tessera test CA');
  for (const [name, ext] of [
    ['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth'],
    ['client', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`);
    writeText(f(`${name}.ext`), ext);
    ssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${name}.pem`), '-days', '2', '-extfile', f(`${name}.ext`));
  }
  return { ca: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server.key'), clientCert: f('client.pem'), clientKey: f('client.key') };
}

describe('TLS to the NATS server (mutual TLS required)', () => {
  let dir: string;
  let pki: ReturnType<typeof makePki>;
  let nats: NatsServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-tls-'));
    pki = makePki(dir);
    nats = await startNatsServer({
      config: `tls {\n  cert_file: "${pki.serverCert}"\n  key_file: "${pki.serverKey}"\n  ca_file: "${pki.ca}"\n  verify: true\n}\n`,
    });
  });
  afterAll(async () => {
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('connects with the CA and a client certificate, and delivers', async () => {
    const tls = { caFile: pki.ca, certFile: pki.clientCert, keyFile: pki.clientKey };
    const a = await endpoint('a', { servers: nats.url, clusterId: 'tls', tls });
    const b = await endpoint('b', { servers: nats.url, clusterId: 'tls', tls });
    try {
      a.t.send('b', [heartbeat('a', 'b', 11)]);
      expect((await b.waitFor(1))[0]!.context).toBe(11);
    } finally {
      await Promise.all([a.t.close(), b.t.close()]);
    }
  });

  it('refuses a server whose certificate is not signed by a trusted CA', async () => {
    const t = natsTransport({ servers: nats.url, clusterId: 'tls', tls: { certFile: pki.clientCert, keyFile: pki.clientKey } })({ nodeId: 'x', deliver: () => {} });
    const err = await t.start().catch((e: unknown) => e as Error);
    await t.close();
    expect(err).toMatchObject({ code: 'TRANSPORT' });
    expect((err as Error).message).toMatch(/cannot connect to NATS.*(self-signed|unable to verify|certificate)/i);
  });

  it('is refused by the server without a client certificate', async () => {
    const t = natsTransport({ servers: nats.url, clusterId: 'tls', tls: { caFile: pki.ca } })({ nodeId: 'x', deliver: () => {} });
    const err = await t.start().catch((e: unknown) => e as Error);
    await t.close();
    expect(err).toMatchObject({ code: 'TRANSPORT' });
    expect((err as Error).message).toContain(`cannot connect to NATS at ${nats.url}`);
  });
});
