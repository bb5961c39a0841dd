/**
 * `discovery: { kind: redis }` in the node configuration: three `tessera node start` processes
 * that know only each other's ids find each other's addresses through a real redis-server,
 * elect leaders and serve clients.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedisServer, type RedisServer } from '@tessera/testing/servers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForLeaders } from '../src/cluster/wait.js';
import { nodeStatusSchema } from '../src/node/status.js';
import { background, run, type Background } from './helpers.js';

describe('tessera node start with Redis discovery', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-cli-redis-'));
  let redis: RedisServer;
  const nodes: Background[] = [];
  const started: { node: string; client: string; admin: string; raft: string }[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    for (const id of ['n1', 'n2', 'n3']) {
      const file = join(dir, `${id}.yaml`);
      writeFileSync(
        file,
        [`id: ${id}`, 'clusterId: redis-test', 'members: [n1, n2, n3]', 'partitions: { count: 2, replicationFactor: 3 }', 'storage: { engine: memory }', `discovery: { kind: redis, url: "${redis.url}", ttlMs: 3000 }`, ''].join('\n'),
      );
      nodes.push(background(['node', 'start', '--config', file]));
    }
    for (const n of nodes) started.push(JSON.parse(await n.waitForLine((l) => l.includes('"node started"'), 30_000)));
  }, 90_000);

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('finds its peers through Redis, elects leaders and serves clients', async () => {
    await waitForLeaders(started.map((s) => s.admin), 30_000);
    const client = started.map((s) => s.client).join(',');
    expect(await run(['kv', 'put', 'found', 'through redis', '--cluster', client])).toMatchObject({ code: 0 });
    expect(await run(['kv', 'get', 'found', '--cluster', started[2]!.client])).toMatchObject({ code: 0, stdout: 'through redis\n' });
    const st = nodeStatusSchema.parse(await (await fetch(`http://${started[0]!.admin}/status`)).json());
    // Addresses n1 learned from the registry, not from its configuration.
    expect(st.members.find((m) => m.id === 'n2')).toMatchObject({ raftAddress: started[1]!.raft, clientAddress: started[1]!.client, adminAddress: started[1]!.admin });
    const status = await run(['status', '--json', '--cluster', started[0]!.admin]);
    expect(status.code).toBe(0);
    expect((JSON.parse(status.stdout) as { nodes: unknown[] }).nodes).toHaveLength(3);
  }, 60_000);

  it('stops each node cleanly on SIGTERM', async () => {
    for (const n of nodes) expect(await n.stop()).toBe(0);
  }, 60_000);
});
