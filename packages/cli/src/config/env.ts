/**
 * Environment overrides of the node configuration: `TESSERA_<PATH>` where the path's segments are
 * joined by a double underscore and matched to the schema's keys without regard to case or single
 * underscores: `TESSERA_LOG__LEVEL=debug`, `TESSERA_CLUSTER_ID=prod`,
 * `TESSERA_ADMIN__LISTEN__PORT=9100`, `TESSERA_PARTITIONS__COUNT=16`. A value that parses as JSON
 * is taken as JSON (numbers, booleans, arrays), anything else as a string.
 */
import type { z } from 'zod';
import type { ConfigIssue } from '../errors.js';

export const ENV_PREFIX = 'TESSERA_';

/** Environment variables with this prefix that are not configuration (read by other tools). */
const NOT_CONFIG = new Set(['TESSERA_BENCH_NODE', 'TESSERA_CONFIG', 'TESSERA_SUPERVISED']);

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  options?: z.ZodType[];
}

const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The object shapes a schema may take at this level (through optional, default, pipe, union). */
function shapesOf(schema: z.ZodType): Record<string, z.ZodType>[] {
  const d = defOf(schema);
  switch (d.type) {
    case 'object':
      return [d.shape!];
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
      return shapesOf(d.innerType!);
    case 'pipe':
      return shapesOf(d.in!);
    case 'union':
      return d.options!.flatMap(shapesOf);
    default:
      return [];
  }
}

const norm = (s: string) => s.toLowerCase().replace(/_/g, '');

/** Resolves `LOG__LEVEL` to `['log', 'level']` against the schema, or undefined if some segment names no key. */
export function envPath(schema: z.ZodType, name: string): string[] | undefined {
  return resolveEnv(schema, name)?.path;
}

function baseType(s: z.ZodType): string {
  const d = defOf(s);
  if (d.innerType) return baseType(d.innerType);
  if (d.type === 'pipe') return baseType(d.in!);
  return d.type;
}

function resolveEnv(schema: z.ZodType, name: string): { path: string[]; stringOnly: boolean } | undefined {
  const segments = name.split('__');
  const path: string[] = [];
  let current: z.ZodType[] = [schema];
  for (const seg of segments) {
    const want = norm(seg);
    let found: string | undefined;
    const next: z.ZodType[] = [];
    for (const s of current) {
      for (const shape of shapesOf(s)) {
        for (const key of Object.keys(shape)) {
          if (norm(key) !== want) continue;
          found = key;
          next.push(shape[key]!);
        }
      }
    }
    if (found === undefined) return undefined;
    path.push(found);
    current = next;
  }
  return { path, stringOnly: current.length > 0 && current.every((s) => baseType(s) === 'string') };
}

function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/**
 * Lays `TESSERA_*` variables over `config` (a copy is returned). Variables that name no setting
 * are returned in `unknown` (the caller logs them: other tools share the prefix).
 */
export function applyEnvOverrides(schema: z.ZodType, config: unknown, env: NodeJS.ProcessEnv): { config: unknown; applied: string[]; unknown: string[]; issues: ConfigIssue[] } {
  const out = structuredClone(config ?? {}) as Record<string, unknown>;
  const applied: string[] = [];
  const unknown: string[] = [];
  const issues: ConfigIssue[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(ENV_PREFIX) || NOT_CONFIG.has(name)) continue;
    const resolved = resolveEnv(schema, name.slice(ENV_PREFIX.length));
    if (!resolved) {
      unknown.push(name);
      continue;
    }
    const path = resolved.path;
    let obj: Record<string, unknown> = out;
    let ok = true;
    for (let i = 0; i < path.length - 1; i++) {
      const k = path[i]!;
      const v = obj[k];
      if (v === undefined || v === false) obj[k] = {};
      else if (typeof v !== 'object' || v === null || Array.isArray(v)) {
        issues.push({ path: path.slice(0, i + 1).join('.'), message: `env ${name} sets a field inside it, but it is ${JSON.stringify(v)}` });
        ok = false;
        break;
      }
      obj = obj[k] as Record<string, unknown>;
    }
    if (!ok) continue;
    obj[path[path.length - 1]!] = resolved.stringOnly ? env[name]! : parseValue(env[name]!);
    applied.push(`${name} -> ${path.join('.')}`);
  }
  return { config: out, applied, unknown, issues };
}
