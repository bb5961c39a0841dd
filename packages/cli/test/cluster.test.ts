/**
 * `tessera cluster up`, then `kv`, `counter` and `status` against it, the admin endpoints
 * (`/metrics` parsed as Prometheus text, `/status` against its schema, `/health`), a clean stop,
 * and a restart on the same directory that finds the data again. All through the built binary.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeStatusSchema } from '../src/node/status.js';
import { alive, background, run, until, type Background } from './helpers.js';
import { parsePrometheus } from './prometheus.js';

interface UpJson {
  clusterId: string;
  dir: string;
  nodes: { id: string; pid: number; raftAddress: string; clientAddress: string; adminAddress: string; dataDir: string }[];
  endpoints: { client: string; admin: string };
}

describe('tessera cluster up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-cli-cluster-'));
  let up: Background | undefined;
  let info: UpJson;
  const pids = new Set<number>();

  const start = async () => {
    up = background(['cluster', 'up', '--dir', dir, '--nodes', '3', '--partitions', '4', '--replicas', '3', '--json']);
    info = JSON.parse(await up.waitForLine((l) => l.startsWith('{'), 60_000)) as UpJson;
    for (const n of info.nodes) pids.add(n.pid);
  };

  beforeAll(start, 90_000);

  afterAll(async () => {
    await up?.stop();
    // Whatever happened above, no node process may outlive the test.
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('prints its nodes as one JSON object', () => {
    expect(info.nodes.map((n) => n.id)).toEqual(['n1', 'n2', 'n3']);
    for (const n of info.nodes) {
      expect(n.clientAddress).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(n.adminAddress).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(n.raftAddress).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(alive(n.pid)).toBe(true);
    }
    expect(info.endpoints.client.split(',')).toHaveLength(3);
  });

  it('kv put/get/del and counter incr work against it (default --cluster from --dir)', async () => {
    expect(await run(['kv', 'put', 'greeting', 'hello world', '--dir', dir])).toMatchObject({ code: 0, stdout: 'OK\n' });
    expect(await run(['kv', 'get', 'greeting', '--dir', dir])).toMatchObject({ code: 0, stdout: 'hello world\n' });
    expect(await run(['kv', 'get', 'greeting', '--dir', dir, '--consistency', 'sequential'])).toMatchObject({ code: 0, stdout: 'hello world\n' });
    expect(await run(['kv', 'put', 'doc', '{"a":[1,2]}', '--json', '--cluster', info.endpoints.client])).toMatchObject({ code: 0 });
    expect(await run(['kv', 'get', 'doc', '--cluster', info.nodes[2]!.clientAddress])).toMatchObject({ code: 0, stdout: '{"a":[1,2]}\n' });
    expect(await run(['kv', 'del', 'doc', '--dir', dir])).toMatchObject({ code: 0, stdout: 'deleted\n' });
    const missing = await run(['kv', 'get', 'doc', '--dir', dir]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('key not found: doc');
    expect(await run(['counter', 'incr', 'visits', '--dir', dir])).toMatchObject({ code: 0, stdout: '1\n' });
    expect(await run(['counter', 'incr', 'visits', '--by', '41', '--dir', dir])).toMatchObject({ code: 0, stdout: '42\n' });
  }, 60_000);

  it('status shows every node and partition, as text and as JSON matching the schema', async () => {
    const text = await run(['status', '--dir', dir]);
    expect(text.code).toBe(0);
    for (const id of ['n1', 'n2', 'n3']) expect(text.stdout).toContain(`node ${id}`);
    expect(text.stdout).toContain('every partition has a leader');
    // One admin endpoint is enough: the others are found through it.
    const json = await run(['status', '--json', '--cluster', info.nodes[0]!.adminAddress]);
    expect(json.code).toBe(0);
    const st = JSON.parse(json.stdout) as { nodes: unknown[]; unreachable: unknown[] };
    expect(st.unreachable).toEqual([]);
    expect(st.nodes).toHaveLength(3);
    let leaders = 0;
    for (const n of st.nodes) {
      const s = nodeStatusSchema.parse(n);
      expect(s.partitions).toHaveLength(4);
      for (const p of s.partitions) {
        expect(p.leader).not.toBeNull();
        if (p.role === 'leader') {
          leaders++;
          expect(p.followers.map((f) => f.id).sort()).toEqual(['n1', 'n2', 'n3'].filter((x) => x !== s.nodeId));
        }
      }
    }
    expect(leaders).toBe(4);
  }, 60_000);

  it('serves /status (matching its schema), /health and /metrics (valid Prometheus text)', async () => {
    const admin = info.nodes[0]!.adminAddress;
    const status = nodeStatusSchema.parse(await (await fetch(`http://${admin}/status`)).json());
    expect(status.nodeId).toBe('n1');
    expect(status.addresses.admin).toBe(admin);
    expect(status.transport.kind).toBe('tcp');
    expect(status.transport.bytesSent).toBeGreaterThan(0);
    const health = await fetch(`http://${admin}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', nodeId: 'n1' });
    expect((await fetch(`http://${admin}/nope`)).status).toBe(404);

    // Some traffic, so latency histograms have observations.
    expect((await run(['counter', 'incr', 'metrics-test', '--dir', dir])).code).toBe(0);
    const res = await fetch(`http://${admin}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const families = parsePrometheus(await res.text());
    const expectFamily = (name: string, type: string) => {
      const f = families.get(name);
      expect(f, name).toBeDefined();
      expect(f!.type, name).toBe(type);
      return f!;
    };
    expectFamily('tessera_raft_proposals_total', 'counter');
    expectFamily('tessera_raft_commits_total', 'counter');
    expectFamily('tessera_raft_propose_to_commit_seconds', 'histogram');
    expectFamily('tessera_raft_commit_to_apply_seconds', 'histogram');
    expectFamily('tessera_storage_append_batch_entries', 'histogram');
    expectFamily('tessera_raft_elections_total', 'counter');
    expectFamily('tessera_raft_snapshot_seconds', 'histogram');
    const persist = expectFamily('tessera_storage_persist_seconds', 'histogram');
    expect(persist.samples.find((s) => s.name === 'tessera_storage_persist_seconds_count')!.value).toBeGreaterThan(0);
    const applied = expectFamily('tessera_raft_applied_index', 'gauge');
    expect(applied.samples.map((s) => s.labels.partition).sort()).toEqual(['0', '1', '2', '3']);
    expect(applied.samples.every((s) => s.labels.node === 'n1')).toBe(true);
    const lag = expectFamily('tessera_raft_follower_lag_entries', 'gauge');
    const led = status.partitions.filter((p) => p.role === 'leader').length;
    expect(lag.samples.length).toBe(led * 2);
    const bytes = expectFamily('tessera_transport_sent_bytes_total', 'counter');
    expect(bytes.samples[0]!.value).toBeGreaterThan(0);
    expectFamily('tessera_transport_dropped_messages_total', 'counter');
    expectFamily('tessera_process_resident_memory_bytes', 'gauge');
  }, 60_000);

  it('stops every node on SIGTERM and recovers the data when started again on the same --dir', async () => {
    expect(await up!.stop()).toBe(0);
    for (const n of info.nodes) await until(() => !alive(n.pid), 10_000, `node ${n.id} to exit`);
    const state = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as { running?: unknown };
    expect(state.running).toBeUndefined();
    const stopped = await run(['kv', 'get', 'greeting', '--dir', dir]);
    expect(stopped.code).toBe(2);
    expect(stopped.stderr).toContain('no cluster is running');

    // The ports the nodes bound are kept for the next start (a port taken meanwhile would be replaced).
    const kept = (JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as { nodes: { id: string; ports: { client: number } }[] }).nodes;
    expect(kept.map((n) => `127.0.0.1:${n.ports.client}`)).toEqual(info.nodes.map((n) => n.clientAddress));
    await start();
    expect(info.nodes.map((n) => n.id)).toEqual(['n1', 'n2', 'n3']);
    expect(await run(['kv', 'get', 'greeting', '--dir', dir])).toMatchObject({ code: 0, stdout: 'hello world\n' });
    expect(await run(['counter', 'incr', 'visits', '--dir', dir])).toMatchObject({ code: 0, stdout: '43\n' });
    const twice = await run(['cluster', 'up', '--dir', dir]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('already running');
    expect(await up!.stop()).toBe(0);
    // The shape of an existing cluster is part of its data layout.
    const clash = await run(['cluster', 'up', '--dir', dir, '--partitions', '8']);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toContain('--partitions 8: the cluster in');
  }, 120_000);
});
