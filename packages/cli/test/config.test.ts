/**
 * Node configuration: the schema, environment overrides, file checks, the published JSON Schema,
 * and what the built binary does with good and bad configuration files (exit 2 naming the field).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { applyEnvOverrides, envPath } from '../src/config/env.js';
import { validateNodeConfig } from '../src/config/load.js';
import { nodeConfigSchema } from '../src/config/schema.js';
import { NodeConfigError } from '../src/errors.js';
import { background, run } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-cli-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const minimal = { id: 'n1', members: ['n1'], partitions: { count: 2, replicationFactor: 1 }, storage: { engine: 'memory' } };

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof NodeConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  throw new Error('expected a NodeConfigError');
}

describe('node configuration', () => {
  it('fills in defaults', () => {
    const { config } = validateNodeConfig(minimal, 'test', dir);
    expect(config.clusterId).toBe('tessera');
    expect(config.transport).toEqual({ kind: 'tcp', listen: { host: '127.0.0.1', port: 0 } });
    expect(config.discovery).toEqual({ kind: 'static' });
    expect(config.admin).toEqual({ listen: { host: '127.0.0.1', port: 0 } });
    expect(config.log.level).toBe('info');
  });

  it('names every invalid field', () => {
    const issues = issuesOf(() =>
      validateNodeConfig({ ...minimal, id: 'n9', partitions: { count: 0, replicationFactor: 1 }, transport: { kind: 'tcp', listn: {} }, storage: { engine: 'file' } }, 'test', dir),
    );
    expect(issues.some((i) => i.startsWith('partitions.count:'))).toBe(true);
    expect(issues.some((i) => i.startsWith('transport:') && i.includes('listn'))).toBe(true);
    const more = issuesOf(() => validateNodeConfig({ ...minimal, id: 'n9', members: ['n1', 'n1'], storage: { engine: 'file' }, partitions: { count: 2, replicationFactor: 3 } }, 'test', dir));
    expect(more).toContain('members[1]: duplicate member id "n1"');
    expect(more).toContain('id: "n9" is not one of members (n1, n1)');
    expect(more).toContain('partitions.replicationFactor: 3 replicas need at least as many members (there are 2)');
    expect(more).toContain('dataDir: required with file storage');
  });

  it('checks the files it names, relative to the configuration file', () => {
    const issues = issuesOf(() => validateNodeConfig({ ...minimal, transport: { kind: 'tcp', tls: { cert: './x.pem', key: './x.key' } } }, 'test', dir));
    expect(issues).toEqual(['transport.tls.cert: file not found: ./x.pem', 'transport.tls.key: file not found: ./x.key']);
    writeFileSync(join(dir, 'not-pem.pem'), 'hello');
    writeFileSync(join(dir, 'secret'), 'short\n');
    const more = issuesOf(() => validateNodeConfig({ ...minimal, transport: { kind: 'tcp', tls: { cert: 'not-pem.pem', key: 'not-pem.pem' }, secretFile: 'secret' } }, 'test', dir));
    expect(more).toContain('transport.tls.cert: not a PEM file: not-pem.pem');
    expect(more).toContain('transport.secretFile: the secret in secret must be at least 16 characters');
    writeFileSync(join(dir, 'secret'), 'a-long-enough-shared-secret\n');
    expect(validateNodeConfig({ ...minimal, transport: { kind: 'tcp', secretFile: 'secret' } }, 'test', dir).files.secret).toBe('a-long-enough-shared-secret');
  });

  it('takes TESSERA_* environment overrides, matched to the schema without regard to case', () => {
    expect(envPath(nodeConfigSchema, 'LOG__LEVEL')).toEqual(['log', 'level']);
    expect(envPath(nodeConfigSchema, 'CLUSTER_ID')).toEqual(['clusterId']);
    expect(envPath(nodeConfigSchema, 'TRANSPORT__LISTEN__PORT')).toEqual(['transport', 'listen', 'port']);
    expect(envPath(nodeConfigSchema, 'DISCOVERY__URL')).toEqual(['discovery', 'url']);
    expect(envPath(nodeConfigSchema, 'NOPE')).toBeUndefined();
    const env = { TESSERA_LOG__LEVEL: 'debug', TESSERA_PARTITIONS__COUNT: '16', TESSERA_ID: '7', TESSERA_MEMBERS: '["7","8"]', TESSERA_WHATEVER: 'x', PATH: '/bin' };
    const r = applyEnvOverrides(nodeConfigSchema, minimal, env);
    expect(r.unknown).toEqual(['TESSERA_WHATEVER']);
    expect(r.config).toMatchObject({ id: '7', members: ['7', '8'], log: { level: 'debug' }, partitions: { count: 16, replicationFactor: 1 } });
    const { config } = validateNodeConfig(minimal, 'test', dir, env);
    expect(config.id).toBe('7');
    expect(config.partitions.count).toBe(16);
    const bad = issuesOf(() => validateNodeConfig(minimal, 'test', dir, { TESSERA_PARTITIONS__COUNT: 'many' }));
    expect(bad[0]).toMatch(/^partitions\.count: .*\(set by TESSERA_PARTITIONS__COUNT\)$/);
  });
});

describe('tessera node start (built binary)', () => {
  it('refuses a bad configuration file with exit code 2, naming the field', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, ['id: n1', 'members: [n1]', 'partitions: { count: 2, replicationFactor: 1 }', 'storage: { engine: memory }', 'transport:', '  kind: tcp', '  tls: { cert: ./x.pem, key: ./x.key }', ''].join('\n'));
    const r = await run(['node', 'start', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('transport.tls.cert: file not found: ./x.pem');
    expect(r.stderr).toContain(file);

    const yaml = join(dir, 'broken.yaml');
    writeFileSync(yaml, 'id: [n1\n');
    const y = await run(['node', 'start', '--config', yaml]);
    expect(y.code).toBe(2);
    expect(y.stderr).toContain('not valid YAML');

    const missing = await run(['node', 'start', '--config', join(dir, 'nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('file not found');

    const peers = join(dir, 'peers.json');
    writeFileSync(peers, JSON.stringify({ id: 'n1', members: ['n1', 'n2', 'n3'], storage: { engine: 'memory' } }));
    const p = await run(['node', 'start', '--config', peers]);
    expect(p.code).toBe(2);
    expect(p.stderr).toContain('members[1]: the address of n2 is needed with static discovery');
  });

  it('runs a node from a JSON file until SIGTERM, serving /health, and stops with exit 0', async () => {
    const file = join(dir, 'one.json');
    writeFileSync(file, JSON.stringify({ ...minimal, storage: { engine: 'file' }, dataDir: './one-data', log: { level: 'warn' } }));
    // --log-level overrides log.level: the start-up line is logged at info.
    const node = background(['node', 'start', '--config', file, '--log-level', 'info']);
    try {
      const line = JSON.parse(await node.waitForLine((l) => l.includes('"node started"'), 30_000)) as { admin: string; client: string; node: string };
      expect(line.node).toBe('n1');
      const health = await fetch(`http://${line.admin}/health`);
      expect(health.status).toBe(200);
      expect(await run(['kv', 'put', 'k', 'v', '--cluster', line.client])).toMatchObject({ code: 0 });
      expect(await run(['kv', 'get', 'k', '--cluster', line.client])).toMatchObject({ code: 0, stdout: 'v\n' });
      expect(await node.stop()).toBe(0);
      expect(node.lines.some((l) => l.includes('"node stopped"'))).toBe(true);
    } finally {
      await node.stop(1_000);
    }
  }, 60_000);

  it('serves Raft over TLS with the PEM files the configuration names', async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'n1.key', '-out', 'n1.crt', '-days', '2', '-subj', '/CN=n1', '-addext', 'subjectAltName=DNS:n1,IP:127.0.0.1'], { cwd: dir, stdio: 'ignore' });
    const file = join(dir, 'tls.yaml');
    writeFileSync(file, ['id: n1', 'members: [n1]', 'partitions: { count: 1, replicationFactor: 1 }', 'storage: { engine: memory }', 'transport: { kind: tcp, tls: { cert: ./n1.crt, key: ./n1.key, ca: ./n1.crt } }', ''].join('\n'));
    const node = background(['node', 'start', '--config', file]);
    try {
      const listening = JSON.parse(await node.waitForLine((l) => l.includes('"tcp transport listening"'), 30_000)) as { tls: boolean };
      expect(listening.tls).toBe(true);
      await node.waitForLine((l) => l.includes('"node started"'), 30_000);
      expect(await node.stop()).toBe(0);
    } finally {
      await node.stop(1_000);
    }
  }, 60_000);

  it('publishes the JSON Schema it validates with', async () => {
    const r = await run(['node', 'schema']);
    expect(r.code).toBe(0);
    const committed = readFileSync(new URL('../schema/node-config.schema.json', import.meta.url), 'utf8');
    // Regenerate with: node packages/cli/dist/bin/tessera.js node schema > packages/cli/schema/node-config.schema.json
    expect(r.stdout).toBe(committed);
    const schema = JSON.parse(committed) as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['id', 'members', 'transport', 'storage', 'discovery', 'admin', 'log', 'networks']));
    expect(schema.required).toEqual(['id', 'members']);
  });
});

describe('tessera command line', () => {
  it('answers --help on every command with exit 0, and usage errors with exit 2', async () => {
    const commands = [[], ['node'], ['node', 'start'], ['node', 'schema'], ['cluster'], ['cluster', 'up'], ['status'], ['kv'], ['kv', 'put'], ['kv', 'get'], ['kv', 'del'], ['counter'], ['counter', 'incr'], ['counter', 'get'], ['bench'], ['demo']];
    const results = await Promise.all(commands.map((c) => run([...c, '--help'])));
    results.forEach((r, i) => {
      expect(r.code, commands[i]!.join(' ')).toBe(0);
      expect(r.stdout, commands[i]!.join(' ')).toContain(`Usage: tessera${commands[i]!.length ? ' ' + commands[i]!.join(' ') : ''}`);
    });
    expect((await run(['frobnicate'])).code).toBe(2);
    expect((await run(['kv', 'get'])).code).toBe(2);
    const bad = await run(['cluster', 'up', '--nodes', 'three']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--nodes');
    expect((await run(['kv', 'get', 'k', '--cluster', 'not-an-address'])).code).toBe(2);
  }, 60_000);
});
