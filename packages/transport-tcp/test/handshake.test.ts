import { createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { seqMessage } from '@tessera/testing/transport';
import { preamble } from '../src/frame.js';
import { createPki, type TestPki } from './helpers/certs.js';
import { link, TestNodes, waitFor, type TestNode } from './helpers/nodes.js';
import { RawPeer } from './helpers/raw-peer.js';

const SECRET = 'correct horse battery staple';
let nodes: TestNodes;
afterEach(async () => {
  await nodes.closeAll();
});

/** Sends from `from` to `to` for a while; resolves once `cond` holds. */
async function keepSending(from: TestNode, to: string, cond: () => boolean, what: string): Promise<void> {
  let i = 0;
  await waitFor(() => {
    from.t.send(to, [seqMessage(from.id, to, 'g', i++)]);
    return cond();
  }, what);
}

describe('handshake refusals', () => {
  beforeAllNodes();

  it('refuses a peer from another cluster and logs why', async () => {
    const a = await nodes.add('a', { clusterId: 'blue' });
    const b = await nodes.add('b', { clusterId: 'green' });
    await keepSending(a, 'b', () => b.t.stats().closed.cluster > 0 && a.t.stats().refusedByPeers + a.t.stats().closed.cluster > 0, 'cluster refusal');
    expect(b.log.has('warn', /belongs to cluster "blue", this node to "green"/)).toBe(true);
    expect(a.log.has('warn', /cluster/)).toBe(true);
    expect(b.received).toEqual([]);
    expect(a.t.stats().connections.established).toBe(0);
  });

  it('refuses a wrong shared secret in both directions', async () => {
    const a = await nodes.add('a', { secret: SECRET });
    const b = await nodes.add('b', { secret: SECRET.toUpperCase() });
    await keepSending(a, 'b', () => b.t.stats().closed.auth > 0 && a.t.stats().closed.auth > 0, 'auth refusal on both sides');
    await keepSending(b, 'a', () => b.t.stats().dropped.unreachable > 0, 'b gives up on a');
    expect(b.log.has('warn', /failed shared-secret authentication \(wrong secret\)/)).toBe(true);
    expect(a.log.has('warn', /failed shared-secret authentication/)).toBe(true);
    expect(b.t.stats().authFailures).toBeGreaterThan(0);
    expect(b.received).toEqual([]);
    expect(a.received).toEqual([]);
  });

  it('accepts the same secret (control) and counts the handshake', async () => {
    const a = await nodes.add('a', { secret: SECRET });
    const b = await nodes.add('b', { secret: Buffer.from(SECRET) });
    await link(a, b);
    await link(b, a);
    expect(a.t.stats().connections.established).toBe(1);
    expect(b.t.stats().authFailures).toBe(0);
  });

  it('refuses a peer without a secret when one is configured, and the reverse', async () => {
    const a = await nodes.add('a', { secret: SECRET });
    const b = await nodes.add('b');
    await keepSending(b, 'a', () => a.t.stats().closed.auth > 0 && b.t.stats().closed.auth > 0, 'auth mismatch');
    expect(a.log.has('warn', /does not authenticate with the cluster's shared secret/)).toBe(true);
    expect(b.log.has('warn', /requires shared-secret authentication/)).toBe(true);
    expect(a.received).toEqual([]);
  });

  it('refuses a wrong HMAC proof from a hand-made peer', async () => {
    const b = await nodes.add('b', { secret: SECRET });
    const raw = await RawPeer.connect(b.port);
    await expect(raw.handshake({ nodeId: 'z', to: 'b', secret: SECRET, badProof: true })).rejects.toThrow(/closed/);
    expect(raw.reject()?.code).toBe('auth');
    expect(b.t.stats().closed.auth).toBe(1);
  });

  it('refuses an unsupported protocol version, whichever side speaks it', async () => {
    const b = await nodes.add('b');
    const raw = await RawPeer.connect(b.port);
    raw.hello({ nodeId: 'z', to: 'b', version: 2 });
    await raw.waitClosed();
    expect(raw.reject()).toEqual({ code: 'version', reason: 'peer speaks protocol version 2; this node speaks 1' });
    expect(b.t.stats().closed.version).toBe(1);
    expect(b.log.has('warn', /protocol version 2/)).toBe(true);

    // A "node" that answers our dial with version 7.
    const fakeSockets = new Set<Socket>();
    const fake: Server = createServer((s) => {
      fakeSockets.add(s);
      s.on('error', () => {});
      s.resume();
      s.write(preamble(7));
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    try {
      nodes.addresses.set('v7', `127.0.0.1:${(fake.address() as { port: number }).port}`);
      await keepSending(b, 'v7', () => b.t.stats().closed.version > 1, 'version refusal when dialing');
    } finally {
      for (const s of fakeSockets) s.destroy();
      await new Promise((r) => fake.close(r));
    }
  });

  it('refuses when the address of a node now belongs to another node', async () => {
    const a = await nodes.add('a');
    const b = await nodes.add('b');
    nodes.addresses.set('c', `127.0.0.1:${b.port}`); // stale: c's address points at b
    await keepSending(a, 'c', () => a.t.stats().closed.identity + b.t.stats().closed.identity > 0, 'identity refusal');
    expect(a.log.has('warn', /dialed "c" .* but reached "b"|dialed node "c", but this is "b"/) || b.log.has('warn', /dialed node "c", but this is "b"/)).toBe(true);
    expect(b.received).toEqual([]);
  });

  it("refuses a peer that claims the node's own id", async () => {
    const b = await nodes.add('b');
    const raw = await RawPeer.connect(b.port);
    raw.hello({ nodeId: 'b', to: 'b' });
    await raw.waitClosed();
    expect(raw.reject()?.code).toBe('identity');
    expect(b.log.has('warn', /claims this node's own id/)).toBe(true);
  });
});

describe('TLS refusals', () => {
  let pki: TestPki;
  beforeAll(() => {
    pki = createPki();
  });
  afterAll(() => pki.cleanup());
  beforeAllNodes();

  const tls = (name: string, extra: object = {}) => ({ tls: { ...pki.issue(name), ca: pki.ca, mutual: true, ...extra } });

  it('connects with certificates from the cluster CA (control)', async () => {
    const a = await nodes.add('a', tls('a'));
    const b = await nodes.add('b', tls('b'));
    await link(a, b);
    await link(b, a);
    expect(b.t.stats().closed.tls).toBe(0);
  });

  it('refuses a client certificate from another CA, and a server certificate from another CA', async () => {
    const b = await nodes.add('b', tls('b'));
    const rogue = await nodes.add('r', { tls: { ...pki.issue('r', { rogue: true }), ca: pki.ca, mutual: true } });
    await keepSending(rogue, 'b', () => b.t.stats().closed.tls > 0, 'b refuses the rogue client certificate');
    expect(b.log.has('warn', /peer certificate rejected: UNABLE_TO_VERIFY_LEAF_SIGNATURE/)).toBe(true);
    await keepSending(b, 'r', () => b.t.stats().closed.tls > 1, 'b refuses the rogue server certificate');
    expect(b.log.has('warn', /TLS failure/)).toBe(true);
    expect(b.received).toEqual([]);
    expect(rogue.received).toEqual([]);
  });

  it('refuses a TLS client without a certificate and a plain-TCP client', async () => {
    const b = await nodes.add('b', tls('b'));
    const noCert = tlsConnect({ host: '127.0.0.1', port: b.port, ca: pki.ca });
    noCert.on('error', () => {});
    noCert.resume();
    await new Promise((r) => noCert.once('close', r));
    await waitFor(() => b.log.has('warn', /no client certificate/), 'no-certificate refusal logged');
    const plain = await RawPeer.connect(b.port);
    plain.hello({ nodeId: 'z', to: 'b' });
    await plain.waitClosed();
    await waitFor(() => b.log.has('warn', /TLS handshake failed/), 'plain client refusal logged');
    expect(b.t.stats().connections.pendingInbound).toBe(0);
  });

  it('closes a connection that never starts TLS after the handshake timeout, counted once', async () => {
    const b = await nodes.add('b', { ...tls('b'), handshakeTimeoutMs: 200 });
    const silent = await RawPeer.connect(b.port);
    await silent.waitClosed();
    await waitFor(() => b.t.stats().connections.pendingInbound === 0, 'pending released');
    // Let the TLS layer's own (later) timeout pass too: it must not count the connection again.
    await new Promise((r) => setTimeout(r, 1_300));
    const st = b.t.stats();
    expect(st.closed.handshakeTimeout).toBe(1);
    expect(st.closed.tls).toBe(0);
    expect(b.log.has('warn', /TLS handshake did not complete within 200 ms/)).toBe(true);
  });

  it('with requireNodeIdInCert, refuses a valid certificate that names another node', async () => {
    const b = await nodes.add('b', tls('b', { requireNodeIdInCert: true }));
    // "c" presents a CA-signed certificate issued to "a".
    const c = await nodes.add('c', { tls: { ...pki.issue('a'), ca: pki.ca, mutual: true } });
    await keepSending(c, 'b', () => b.t.stats().closed.identity > 0, 'identity refusal');
    expect(b.log.has('warn', /claims node id "c" but its certificate names "a"/)).toBe(true);
    expect(b.received).toEqual([]);
  });
});

function beforeAllNodes(): void {
  beforeAll(() => {
    nodes = new TestNodes();
  });
}

