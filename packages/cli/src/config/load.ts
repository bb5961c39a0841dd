/**
 * Loads a node configuration: reads the file (JSON or YAML), lays the environment over it,
 * validates it with the schema, then checks and reads the files it names (TLS material, secrets).
 * Every problem becomes a {@link NodeConfigError} naming the field.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { NodeConfigError, type ConfigIssue } from '../errors.js';
import { applyEnvOverrides } from './env.js';
import { nodeConfigSchema, type NodeConfig } from './schema.js';

/** PEM material and secrets read from the files the configuration names. */
export interface LoadedFiles {
  readonly tls?: { cert: string; key: string; ca?: string };
  readonly secret?: string;
}

/** A loaded node configuration: the validated settings, with paths made absolute, and the files read. */
export interface LoadedConfig {
  readonly config: NodeConfig;
  readonly files: LoadedFiles;
  /** Directory relative paths in the file are resolved against. */
  readonly baseDir: string;
  /** Environment overrides applied (`NAME -> path`), and `TESSERA_*` variables that named no setting. */
  readonly env: { applied: string[]; unknown: string[] };
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
    .join('.')
    .replace(/\.\[/g, '[');
}

/** Parses the text of a configuration file; YAML is a superset of JSON, but `.json` files get JSON's error messages. */
export function parseConfigText(text: string, file: string): unknown {
  try {
    if (extname(file).toLowerCase() === '.json') return JSON.parse(text);
    return parseYaml(text, { prettyErrors: true });
  } catch (err) {
    throw new NodeConfigError(file, [{ path: '', message: `not valid ${extname(file).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}` }]);
  }
}

/** Reads and validates `file`. Throws NodeConfigError naming every invalid field. */
export function loadNodeConfig(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const path = resolve(file);
  if (!existsSync(path)) throw new NodeConfigError(file, [{ path: '', message: `file not found: ${file}` }]);
  const raw = parseConfigText(readFileSync(path, 'utf8'), file);
  return validateNodeConfig(raw, file, dirname(path), env);
}

/** Validates a configuration object (as read from `source`), resolving relative paths against `baseDir`. */
export function validateNodeConfig(raw: unknown, source: string, baseDir: string, env: NodeJS.ProcessEnv = {}): LoadedConfig {
  const over = applyEnvOverrides(nodeConfigSchema, raw, env);
  if (over.issues.length > 0) throw new NodeConfigError(source, over.issues);
  const r = nodeConfigSchema.safeParse(over.config);
  if (!r.success) {
    // Name the variable when the bad value came from the environment.
    const fromEnv = new Map(over.applied.map((a) => a.split(' -> ').reverse() as [string, string]));
    throw new NodeConfigError(
      source,
      r.error.issues.map((i) => {
        const path = formatPath(i.path);
        const env = fromEnv.get(i.path.join('.'));
        return { path, message: env ? `${i.message} (set by ${env})` : i.message };
      }),
    );
  }
  const config = r.data;
  const issues: ConfigIssue[] = [];
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const readFile = (field: string, p: string): string | undefined => {
    const full = abs(p);
    if (!existsSync(full)) {
      issues.push({ path: field, message: `file not found: ${p}` });
      return undefined;
    }
    if (!statSync(full).isFile()) {
      issues.push({ path: field, message: `not a file: ${p}` });
      return undefined;
    }
    try {
      return readFileSync(full, 'utf8');
    } catch (err) {
      issues.push({ path: field, message: `cannot read ${p}: ${(err as Error).message}` });
      return undefined;
    }
  };
  let tls: LoadedFiles['tls'];
  let secret: string | undefined;
  const t = config.transport;
  if (t.kind === 'tcp' && t.tls) {
    const cert = readFile('transport.tls.cert', t.tls.cert);
    const key = readFile('transport.tls.key', t.tls.key);
    const ca = t.tls.ca !== undefined ? readFile('transport.tls.ca', t.tls.ca) : undefined;
    if (cert !== undefined && !cert.includes('-----BEGIN')) issues.push({ path: 'transport.tls.cert', message: `not a PEM file: ${t.tls.cert}` });
    if (key !== undefined && !key.includes('-----BEGIN')) issues.push({ path: 'transport.tls.key', message: `not a PEM file: ${t.tls.key}` });
    if (cert !== undefined && key !== undefined) tls = { cert, key, ...(ca !== undefined ? { ca } : {}) };
  }
  if (t.secretFile !== undefined) {
    const s = readFile('transport.secretFile', t.secretFile)?.trimEnd();
    if (s !== undefined && s.length < 16) issues.push({ path: 'transport.secretFile', message: `the secret in ${t.secretFile} must be at least 16 characters` });
    else secret = s;
  } else secret = t.secret;
  const networks = config.networks.map((n, i) => {
    // A relative path is a file next to the config; anything else is a package specifier.
    if (!n.module.startsWith('.') && !isAbsolute(n.module)) return n;
    const full = abs(n.module);
    if (!existsSync(full)) issues.push({ path: `networks[${i}].module`, message: `file not found: ${n.module}` });
    return { ...n, module: full };
  });
  if (issues.length > 0) throw new NodeConfigError(source, issues);
  return {
    config: { ...config, ...(config.dataDir !== undefined ? { dataDir: abs(config.dataDir) } : {}), networks },
    files: { ...(tls ? { tls } : {}), ...(secret !== undefined ? { secret } : {}) },
    baseDir,
    env: { applied: over.applied, unknown: over.unknown },
  };
}
