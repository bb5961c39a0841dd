/**
 * Peer systems for `pnpm bench partitions --peers etcd,jetstream`: a 3-member etcd cluster and a
 * 3-server JetStream cluster on loopback, each in temp dirs, started and stopped by the benchmark.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@tessera/testing/servers';

export interface PeerCluster {
  readonly name: string;
  /** What the workload child needs to reach the cluster. */
  readonly endpoints: string[];
  readonly pids: number[];
  stop(): Promise<void>;
}

function which(bin: string, extra: string[]): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), ...extra]) {
    const p = join(dir, bin);
    if (existsSync(p)) return p;
  }
  return undefined;
}

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not become ready in ${timeoutMs} ms`);
}

function stopAll(procs: ChildProcess[], dir: string): () => Promise<void> {
  return async () => {
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            p.once('exit', () => resolve());
            p.kill('SIGTERM');
            setTimeout(() => p.kill('SIGKILL'), 5_000).unref();
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
}

/** Three etcd members (default durability: the WAL is fsynced before a put is acknowledged). */
export async function startEtcd(): Promise<PeerCluster | undefined> {
  const bin = which('etcd', ['/usr/bin', '/usr/local/bin']);
  if (!bin) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-etcd-'));
  const names = ['e1', 'e2', 'e3'];
  const peerPorts = await Promise.all(names.map(() => freePort()));
  const clientPorts = await Promise.all(names.map(() => freePort()));
  const initial = names.map((n, i) => `${n}=http://127.0.0.1:${peerPorts[i]}`).join(',');
  const procs = names.map((n, i) =>
    spawn(
      bin,
      [
        '--name', n,
        '--data-dir', join(dir, n),
        '--listen-peer-urls', `http://127.0.0.1:${peerPorts[i]}`,
        '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPorts[i]}`,
        '--listen-client-urls', `http://127.0.0.1:${clientPorts[i]}`,
        '--advertise-client-urls', `http://127.0.0.1:${clientPorts[i]}`,
        '--initial-cluster', initial,
        '--initial-cluster-state', 'new',
        '--initial-cluster-token', 'tessera-bench',
        '--quota-backend-bytes', String(8 * 1024 ** 3),
        '--log-level', 'error',
      ],
      { stdio: 'ignore' },
    ),
  );
  const endpoints = clientPorts.map((p) => `http://127.0.0.1:${p}`);
  const stop = stopAll(procs, dir);
  try {
    await waitFor('etcd cluster', async () => {
      const r = await fetch(`${endpoints[0]}/v3/kv/put`, { method: 'POST', body: JSON.stringify({ key: Buffer.from('ready').toString('base64'), value: '' }) });
      return r.ok;
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { name: 'etcd', endpoints, pids: procs.map((p) => p.pid!), stop };
}

/** Three clustered nats-servers with JetStream; the workload creates an R3 file stream. */
export async function startJetStream(): Promise<PeerCluster | undefined> {
  const bin = which('nats-server', ['/usr/sbin', '/usr/local/bin']);
  if (!bin) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-js-'));
  const names = ['j1', 'j2', 'j3'];
  const clientPorts = await Promise.all(names.map(() => freePort()));
  const routePorts = await Promise.all(names.map(() => freePort()));
  const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`);
  const procs = names.map((n, i) => {
    const conf = join(dir, `${n}.conf`);
    writeFileSync(
      conf,
      [
        `server_name: ${n}`,
        `listen: 127.0.0.1:${clientPorts[i]}`,
        `jetstream { store_dir: "${join(dir, n)}" }`,
        `cluster { name: bench, listen: 127.0.0.1:${routePorts[i]}, routes: [${routes.join(', ')}] }`,
      ].join('\n'),
    );
    return spawn(bin, ['-c', conf], { stdio: 'ignore' });
  });
  const endpoints = clientPorts.map((p) => `nats://127.0.0.1:${p}`);
  const stop = stopAll(procs, dir);
  try {
    const { connect } = await import('@nats-io/transport-node');
    const { jetstreamManager } = await import('@nats-io/jetstream');
    await waitFor('JetStream cluster', async () => {
      const nc = await connect({ servers: endpoints });
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2_000 });
        await jsm.getAccountInfo();
        return true;
      } finally {
        await nc.close();
      }
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { name: 'jetstream', endpoints, pids: procs.map((p) => p.pid!), stop };
}
