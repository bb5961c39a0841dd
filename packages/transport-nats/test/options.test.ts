import { describe, expect, it } from 'vitest';
import { natsTransport, nodeSubject, nodeToken } from '../src/index.js';

const base = { servers: 'nats://127.0.0.1:4222', clusterId: 'c1' };

function configError(options: unknown): { code: string; path: string; message: string } {
  try {
    natsTransport(options as never);
  } catch (e) {
    return e as { code: string; path: string; message: string };
  }
  throw new Error('no error');
}

describe('natsTransport options', () => {
  it('accepts minimal options and fills defaults', () => {
    const t = natsTransport(base)({ nodeId: 'n1', deliver: () => {} });
    expect(t.subject).toBe('tessera.c1.n1');
    expect(t.nodeId).toBe('n1');
  });

  it.each([
    [{ ...base, clusterId: 'a.b' }, 'natsTransport.clusterId'],
    [{ ...base, clusterId: '' }, 'natsTransport.clusterId'],
    [{ servers: [], clusterId: 'c' }, 'natsTransport.servers'],
    [{ clusterId: 'c' }, 'natsTransport.servers'],
    [{ ...base, subjectPrefix: 'a..b' }, 'natsTransport.subjectPrefix'],
    [{ ...base, subjectPrefix: 'a.*' }, 'natsTransport.subjectPrefix'],
    [{ ...base, user: 'u' }, 'natsTransport.pass'],
    [{ ...base, pass: 'p' }, 'natsTransport.user'],
    [{ ...base, token: 't', user: 'u', pass: 'p' }, 'natsTransport.user'],
    [{ ...base, token: 't', credsFile: '/x.creds' }, 'natsTransport.creds'],
    [{ ...base, nkeySeed: 'SU', nkeySeedFile: '/seed' }, 'natsTransport.nkeySeedFile'],
    [{ ...base, secret: 'short' }, 'natsTransport.secret'],
    [{ ...base, secret: new Uint8Array(8) }, 'natsTransport.secret'],
    [{ ...base, maxPendingBytes: 10 }, 'natsTransport.maxPendingBytes'],
    [{ ...base, reconnect: { maxAttempts: -2 } }, 'natsTransport.reconnect.maxAttempts'],
    [{ ...base, reconnect: { timeWait: 5 } }, 'natsTransport.reconnect'],
    [{ ...base, tls: { caFile: 1 } }, 'natsTransport.tls.caFile'],
    [{ ...base, logger: {} }, 'natsTransport.logger'],
    [{ ...base, serverz: 'x' }, 'natsTransport'],
  ])('rejects %j naming %s', (options, path) => {
    const err = configError(options);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.path).toBe(path);
    expect(err.message.startsWith(path)).toBe(true);
  });

  it('accepts each authentication method alone, TLS and a binary secret', () => {
    for (const auth of [{ token: 't' }, { user: 'u', pass: 'p' }, { nkeySeed: 'SUAB' }, { credsFile: '/x.creds' }, { creds: '-----BEGIN NATS USER JWT-----' }]) {
      expect(() => natsTransport({ ...base, ...auth })).not.toThrow();
    }
    expect(() => natsTransport({ ...base, tls: { caFile: '/ca.pem', certFile: '/c.pem', keyFile: '/k.pem' }, secret: new Uint8Array(32) })).not.toThrow();
  });
});

describe('subjects', () => {
  it('uses plain ids as they are and encodes the rest injectively', () => {
    expect(nodeToken('node-1_a')).toBe('node-1_a');
    expect(nodeSubject('tessera', 'prod', 'n1')).toBe('tessera.prod.n1');
    expect(nodeSubject('a.b', 'prod', 'n1')).toBe('a.b.prod.n1');
    const odd = ['a.b', 'a b', '*', '>', 'ü', '~x', '', 'a\tb'];
    const tokens = odd.map(nodeToken);
    for (const t of tokens) expect(t).toMatch(/^~[A-Za-z0-9_-]*$/);
    expect(new Set(tokens).size).toBe(odd.length);
    expect(Buffer.from(nodeToken('a.b').slice(1), 'base64url').toString()).toBe('a.b');
  });
});
