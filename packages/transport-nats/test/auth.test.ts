import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServer } from '@tessera/testing/servers';
import { natsTransport, type NatsTransportOptions } from '../src/index.js';
import { endpoint, heartbeat } from './helpers.js';

async function startFails(options: NatsTransportOptions): Promise<Error & { code?: string }> {
  const t = natsTransport({ connectTimeoutMs: 5_000, ...options })({ nodeId: 'intruder', deliver: () => {} });
  const err = await t.start().then(
    () => undefined,
    (e: unknown) => e as Error & { code?: string },
  );
  await t.close();
  if (!err) throw new Error('start() succeeded with bad credentials');
  return err;
}

describe('token authentication', () => {
  let nats: NatsServer;
  beforeAll(async () => {
    nats = await startNatsServer({ auth: { token: 'tok-3f9a' } });
  });
  afterAll(async () => nats?.stop());

  it('connects and delivers with the right token', async () => {
    const a = await endpoint('a', { servers: nats.url, clusterId: 'auth', token: 'tok-3f9a' });
    const b = await endpoint('b', { servers: nats.url, clusterId: 'auth', token: 'tok-3f9a' });
    try {
      a.t.send('b', [heartbeat('a', 'b', 1)]);
      expect((await b.waitFor(1))[0]!.context).toBe(1);
    } finally {
      await Promise.all([a.t.close(), b.t.close()]);
    }
  });

  it('fails start() with a clear TransportError for a wrong or missing token', async () => {
    for (const token of ['wrong', undefined]) {
      const err = await startFails({ servers: nats.url, clusterId: 'auth', ...(token ? { token } : {}) });
      expect(err.code).toBe('TRANSPORT');
      expect(err.message).toMatch(/rejected this node's credentials/);
      expect(err.message).toContain(nats.url);
    }
  });
});

describe('user/password authentication', () => {
  let nats: NatsServer;
  beforeAll(async () => {
    nats = await startNatsServer({ auth: { user: 'raft', password: 'p4ss' } });
  });
  afterAll(async () => nats?.stop());

  it('connects and delivers with the right credentials', async () => {
    const a = await endpoint('a', { servers: nats.url, clusterId: 'auth', user: 'raft', pass: 'p4ss' });
    const b = await endpoint('b', { servers: nats.url, clusterId: 'auth', user: 'raft', pass: 'p4ss' });
    try {
      b.t.send('a', [heartbeat('b', 'a', 2)]);
      expect((await a.waitFor(1))[0]!.context).toBe(2);
    } finally {
      await Promise.all([a.t.close(), b.t.close()]);
    }
  });

  it('fails start() with a clear TransportError for a wrong password or user', async () => {
    for (const [user, pass] of [
      ['raft', 'nope'],
      ['mallory', 'p4ss'],
    ] as const) {
      const err = await startFails({ servers: nats.url, clusterId: 'auth', user, pass });
      expect(err).toMatchObject({ code: 'TRANSPORT', name: 'TransportError' });
      expect(err.message).toMatch(/rejected this node's credentials/);
    }
  });
});

describe('subject permissions', () => {
  let nats: NatsServer;
  beforeAll(async () => {
    // n1 may only listen on its own subject; n2 may listen anywhere.
    nats = await startNatsServer({
      config: `authorization {
        users = [
          { user: n1, password: pw1, permissions: { publish: "tessera.perm.>", subscribe: "tessera.perm.n1" } }
          { user: n2, password: pw2, permissions: { publish: "tessera.perm.>", subscribe: "tessera.perm.>" } }
        ]
      }\n`,
    });
  });
  afterAll(async () => nats?.stop());

  it('fails start() when the server refuses the subscription', async () => {
    const t = natsTransport({ servers: nats.url, clusterId: 'perm', user: 'n1', pass: 'pw1' })({ nodeId: 'n2', deliver: () => {} });
    const err = await t.start().catch((e: unknown) => e as Error);
    await t.close();
    expect(err).toMatchObject({ code: 'TRANSPORT' });
    expect((err as Error).message).toMatch(/refused the subscription to tessera\.perm\.n2/);
  });

  it('works within its permissions', async () => {
    const a = await endpoint('n1', { servers: nats.url, clusterId: 'perm', user: 'n1', pass: 'pw1' });
    const b = await endpoint('n2', { servers: nats.url, clusterId: 'perm', user: 'n2', pass: 'pw2' });
    try {
      b.t.send('n1', [heartbeat('n2', 'n1', 3)]);
      expect((await a.waitFor(1))[0]!.context).toBe(3);
    } finally {
      await Promise.all([a.t.close(), b.t.close()]);
    }
  });
});

describe('nkey authentication', () => {
  const user = createUser();
  const seed = new TextDecoder().decode(user.getSeed());
  let nats: NatsServer;
  let dir: string;
  beforeAll(async () => {
    nats = await startNatsServer({ config: `authorization { users = [ { nkey: ${user.getPublicKey()} } ] }\n` });
    dir = mkdtempSync(join(tmpdir(), 'tessera-nkey-'));
  });
  afterAll(async () => {
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('connects with the seed inline or from a file, and delivers', async () => {
    const seedFile = join(dir, 'n2.nk');
    writeFileSync(seedFile, `${seed}\n`, { mode: 0o600 });
    const a = await endpoint('a', { servers: nats.url, clusterId: 'nkey', nkeySeed: seed });
    const b = await endpoint('b', { servers: nats.url, clusterId: 'nkey', nkeySeedFile: seedFile });
    try {
      a.t.send('b', [heartbeat('a', 'b', 4)]);
      expect((await b.waitFor(1))[0]!.context).toBe(4);
    } finally {
      await Promise.all([a.t.close(), b.t.close()]);
    }
  });

  it('fails start() for an unknown key or an unreadable seed file', async () => {
    const other = new TextDecoder().decode(createUser().getSeed());
    const err = await startFails({ servers: nats.url, clusterId: 'nkey', nkeySeed: other });
    expect(err).toMatchObject({ code: 'TRANSPORT' });
    expect(err.message).toMatch(/rejected this node's credentials/);
    const missing = await startFails({ servers: nats.url, clusterId: 'nkey', nkeySeedFile: join(dir, 'nope.nk') });
    expect(missing).toMatchObject({ code: 'TRANSPORT' });
    expect(missing.message).toMatch(/cannot read nkeySeedFile .*nope\.nk/);
  });
});
