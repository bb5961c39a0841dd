import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { liveServerCount, startNatsServer, startRedisServer, type TestServer } from '../src/servers/index.js';

const started: TestServer[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop()));
});
async function track<T extends TestServer>(p: Promise<T>): Promise<T> {
  const s = await p;
  started.push(s);
  return s;
}

/** Connects, sends `send` (if any) and resolves with the first line the server answers. */
function firstLine(port: number, send?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock: Socket = connect({ host: '127.0.0.1', port });
    let buf = '';
    sock.setEncoding('utf8');
    sock.once('error', reject);
    sock.once('connect', () => {
      if (send) sock.write(send);
    });
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\r\n');
      if (nl >= 0) {
        sock.destroy();
        resolve(buf.slice(0, nl));
      }
    });
  });
}

/** Sends `send` and resolves with everything received once `until` matches (or the server hangs up). */
function readUntil(port: number, send: string, until: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    let buf = '';
    sock.setEncoding('utf8');
    sock.once('error', reject);
    sock.once('connect', () => sock.write(send));
    sock.on('data', (d: string) => {
      buf += d;
      if (until.test(buf)) sock.destroy();
    });
    sock.once('close', () => resolve(buf));
  });
}

/** Resolves with the connection error code (e.g. ECONNREFUSED), or 'connected'. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve('connected');
    });
    sock.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

async function natsInfo(port: number): Promise<Record<string, unknown>> {
  const line = await firstLine(port);
  expect(line.startsWith('INFO ')).toBe(true);
  return JSON.parse(line.slice(5)) as Record<string, unknown>;
}

/** A process that exited but was not yet reaped (a zombie) counts as dead. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('startNatsServer', () => {
  it('listens on an ephemeral loopback port and stops cleanly', async () => {
    const before = liveServerCount();
    const nats = await startNatsServer();
    expect(nats.url).toBe(`nats://127.0.0.1:${nats.port}`);
    expect(nats.port).toBeGreaterThan(0);
    expect(nats.port).not.toBe(4222);
    expect(nats.running).toBe(true);
    expect(liveServerCount()).toBe(before + 1);
    const info = await natsInfo(nats.port);
    expect(info.port).toBe(nats.port);
    expect(info.host).toBe('127.0.0.1');
    const pid = nats.pid!;
    await nats.stop();
    expect(nats.running).toBe(false);
    expect(alive(pid)).toBe(false);
    expect(existsSync(nats.dir)).toBe(false);
    expect(await tryConnect(nats.port)).toBe('ECONNREFUSED');
    expect(liveServerCount()).toBe(before);
    await nats.stop(); // idempotent
  });

  it('gives concurrent servers distinct ports', async () => {
    const servers = await Promise.all([track(startNatsServer()), track(startNatsServer()), track(startNatsServer())]);
    expect(new Set(servers.map((s) => s.port)).size).toBe(3);
  });

  it('restarts on the same port after SIGKILL', async () => {
    const nats = await track(startNatsServer());
    const first = await natsInfo(nats.port);
    const pid = nats.pid!;
    await nats.kill('SIGKILL');
    expect(nats.running).toBe(false);
    expect(alive(pid)).toBe(false);
    expect(await tryConnect(nats.port)).toBe('ECONNREFUSED');
    await nats.restart();
    expect(nats.running).toBe(true);
    expect(nats.pid).not.toBe(pid);
    const second = await natsInfo(nats.port);
    expect(second.port).toBe(nats.port);
    expect(second.server_id).not.toBe(first.server_id);
  });

  it('restarts a running server in place', async () => {
    const nats = await track(startNatsServer());
    const pid = nats.pid!;
    await nats.restart();
    expect(nats.pid).not.toBe(pid);
    expect(alive(pid)).toBe(false);
    expect((await natsInfo(nats.port)).port).toBe(nats.port);
  });

  it('requires a token or user/password when asked', async () => {
    const tok = await track(startNatsServer({ auth: { token: 's3cret' } }));
    expect((await natsInfo(tok.port)).auth_required).toBe(true);
    const up = await track(startNatsServer({ auth: { user: 'raft', password: 'pw' } }));
    expect((await natsInfo(up.port)).auth_required).toBe(true);
    const connect = (creds: string) => readUntil(up.port, `CONNECT {${creds},"verbose":false}\r\nPING\r\n`, /^(PONG|-ERR.*)$/m);
    expect(await connect('"user":"raft","pass":"wrong"')).toMatch(/-ERR 'Authorization Violation'/);
    expect(await connect('"user":"raft","pass":"pw"')).toMatch(/PONG/);
    const tokReply = (t: string) => readUntil(tok.port, `CONNECT {"auth_token":"${t}","verbose":false}\r\nPING\r\n`, /^(PONG|-ERR.*)$/m);
    expect(await tokReply('nope')).toMatch(/Authorization Violation/);
    expect(await tokReply('s3cret')).toMatch(/PONG/);
  });

  it('applies a configuration file (max_payload)', async () => {
    const nats = await track(startNatsServer({ config: 'max_payload: 65536\n' }));
    expect((await natsInfo(nats.port)).max_payload).toBe(65536);
    await nats.restart();
    expect((await natsInfo(nats.port)).max_payload).toBe(65536);
  });

  it('rejects with the server output when the server cannot start', async () => {
    const before = liveServerCount();
    await expect(startNatsServer({ config: 'max_payload: {{{ not a config' })).rejects.toThrow(/nats-server: .*(exited|FTL|not ready)[\s\S]*output/);
    expect(liveServerCount()).toBe(before);
  });

  it('refuses restart() after stop()', async () => {
    const nats = await startNatsServer();
    await nats.stop();
    await expect(nats.restart()).rejects.toThrow(/after stop/);
  });
});

describe('startRedisServer', () => {
  it('answers PING and stops cleanly', async () => {
    const redis = await startRedisServer();
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect(await firstLine(redis.port, 'PING\r\n')).toBe('+PONG');
    const pid = redis.pid!;
    await redis.stop();
    expect(alive(pid)).toBe(false);
    expect(existsSync(redis.dir)).toBe(false);
    expect(await tryConnect(redis.port)).toBe('ECONNREFUSED');
  });

  it('gives concurrent servers distinct ports', async () => {
    const servers = await Promise.all([track(startRedisServer()), track(startRedisServer()), track(startRedisServer())]);
    expect(new Set(servers.map((s) => s.port)).size).toBe(3);
  });

  it('restarts on the same port after SIGKILL, with persistence off', async () => {
    const redis = await track(startRedisServer());
    expect(await firstLine(redis.port, 'SET k v\r\n')).toBe('+OK');
    await redis.kill('SIGKILL');
    expect(await tryConnect(redis.port)).toBe('ECONNREFUSED');
    await redis.restart();
    // Nothing was saved: the key is gone.
    expect(await firstLine(redis.port, 'GET k\r\n')).toBe('$-1');
  });

  it('requires the password when one is set', async () => {
    const redis = await track(startRedisServer({ password: 'pw' }));
    expect(await firstLine(redis.port, 'PING\r\n')).toMatch(/^-NOAUTH/);
    expect(await firstLine(redis.port, 'AUTH pw\r\n')).toBe('+OK');
  });
});

describe('exit safety net', () => {
  it('kills servers a process forgot to stop when it exits', async () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const dist = join(here, '..', 'dist', 'servers', 'index.js');
    expect(existsSync(dist), 'build @tessera/testing first').toBe(true);
    const script = `
      const { startNatsServer, startRedisServer } = await import(${JSON.stringify(dist)});
      const n = await startNatsServer();
      const r = await startRedisServer();
      console.log(JSON.stringify({ pids: [n.pid, r.pid], ports: [n.port, r.port], dirs: [n.dir, r.dir] }));
      process.exit(0);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).toBe(0);
    const { pids, ports, dirs } = JSON.parse(out) as { pids: number[]; ports: number[]; dirs: string[] };
    for (const port of ports) expect(await tryConnect(port)).toBe('ECONNREFUSED');
    for (const pid of pids) expect(alive(pid)).toBe(false);
    for (const dir of dirs) expect(existsSync(dir)).toBe(false);
  });
});
