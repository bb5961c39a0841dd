/**
 * Test certificates, generated with the `openssl` command into a temp dir: a cluster CA, one
 * certificate per node (CN and DNS SAN = node id, IP SAN 127.0.0.1), and a second, untrusted CA.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pem {
  cert: string;
  key: string;
}

export interface TestPki {
  readonly dir: string;
  readonly ca: string;
  /** A certificate for `name` signed by the cluster CA (or by the rogue CA). */
  issue(name: string, opts?: { rogue?: boolean; san?: string }): Pem;
  cleanup(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function createPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-tcp-pki-'));
  const newCa = (name: string) =>
    openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`]);
  newCa('ca');
  newCa('rogue-ca');
  const issued = new Map<string, Pem>();
  return {
    dir,
    ca: readFileSync(join(dir, 'ca.crt'), 'utf8'),
    issue(name, opts = {}) {
      const key = `${name}|${opts.rogue ? 1 : 0}|${opts.san ?? ''}`;
      const hit = issued.get(key);
      if (hit) return hit;
      const file = `${opts.rogue ? 'rogue-' : ''}${name}-${issued.size}`;
      const signer = opts.rogue ? 'rogue-ca' : 'ca';
      writeFileSync(join(dir, `${file}.ext`), `subjectAltName=${opts.san ?? `IP:127.0.0.1,DNS:localhost,DNS:${name}`}\nextendedKeyUsage=serverAuth,clientAuth\n`);
      openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${file}.key`, '-out', `${file}.csr`, '-subj', `/CN=${name}`]);
      openssl(dir, ['x509', '-req', '-in', `${file}.csr`, '-CA', `${signer}.crt`, '-CAkey', `${signer}.key`, '-CAcreateserial', '-out', `${file}.crt`, '-days', '2', '-extfile', `${file}.ext`]);
      const pem = { cert: readFileSync(join(dir, `${file}.crt`), 'utf8'), key: readFileSync(join(dir, `${file}.key`), 'utf8') };
      issued.set(key, pem);
      return pem;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
