/**
 * `tessera demo` to completion through the built binary: a leader SIGKILLed part way through the
 * stream and restarted, and every word counted exactly once. A short text keeps it quick.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from './helpers.js';

describe('tessera demo', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-cli-demo-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('counts every word exactly once across a SIGKILL of a counter leader', async () => {
    const r = await run(['demo', '--lines', '900', '--kill-at', '0.3', '--json', '--dir', join(dir, 'cluster')], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      lines: number;
      words: number;
      lost: number;
      doubleCounted: number;
      pushFailures: number;
      verified: boolean;
      eventsPerSecond: number;
      failover: { killed: string; newLeader: string; failoverMs: number } | null;
    };
    expect(summary.lines).toBe(900);
    expect(summary.words).toBeGreaterThan(5_000);
    expect(summary.lost).toBe(0);
    expect(summary.doubleCounted).toBe(0);
    expect(summary.pushFailures).toBe(0);
    expect(summary.verified).toBe(true);
    expect(summary.eventsPerSecond).toBeGreaterThan(0);
    expect(summary.failover).not.toBeNull();
    expect(summary.failover!.newLeader).not.toBe(summary.failover!.killed);
    // The narration went to stderr (stdout holds the JSON), saying what was killed.
    expect(r.stderr).toContain(`SIGKILL ${summary.failover!.killed}`);
    expect(r.stderr).toMatch(/messages lost {4}0/);
    expect(r.stderr).toMatch(/double-counted {3}0/);
  }, 150_000);

  it('streams a given text and refuses a directory that holds another cluster', async () => {
    const text = join(dir, 'tiny.txt');
    writeFileSync(text, 'the cat and the hat\nthe end\n');
    const r = await run(['demo', '--text', text, '--no-kill', '--json'], { timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as { words: number; verified: boolean; failover: unknown; dir: string };
    expect(summary).toMatchObject({ words: 7, verified: true, failover: null });
    // The temporary cluster directory is removed afterwards.
    expect(readdirSync(tmpdir()).includes(summary.dir.split('/').pop()!)).toBe(false);
    const other = join(dir, 'other');
    mkdirSync(other);
    const state = { version: 1, clusterId: 'local', storage: 'memory', transport: 'tcp', partitions: 1, replicas: 1, nodes: [{ id: 'n1', ports: { raft: 0, client: 0, admin: 0 } }] };
    writeFileSync(join(other, 'cluster.json'), JSON.stringify(state));
    const refused = await run(['demo', '--dir', other]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('holds another cluster (local)');
  }, 120_000);
});
