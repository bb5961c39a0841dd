import { afterAll } from 'vitest';
import { transportSuite } from '@tessera/testing/transport';
import { createPki, type TestPki } from './helpers/certs.js';
import { tcpHarness } from './helpers/harness.js';

transportSuite('tcp', () => tcpHarness());

let pki: TestPki | undefined;
afterAll(() => pki?.cleanup());

transportSuite('tcp with mutual TLS and a shared secret', () => {
  pki ??= createPki();
  const p = pki;
  return tcpHarness((id) => ({ secret: 'conformance-secret-0123456789', tls: { ...p.issue(id), ca: p.ca, mutual: true, requireNodeIdInCert: true } }));
});
