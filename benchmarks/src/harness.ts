import { cpus, totalmem, platform, release } from 'node:os';

/** Facts about the machine, attached to every result row. */
export interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly os: string;
}

export function machine(): Machine {
  const c = cpus();
  return {
    cpuModel: c[0]?.model ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    os: `${platform()} ${release()}`,
  };
}

/**
 * One result row. `benchmark`, `params`, `opsPerSec`, `p50Ms` and `p99Ms` are required by the bench
 * contract; anything else (MB/s, CPU seconds, ratios) goes in `extra`.
 */
export interface Row {
  readonly benchmark: string;
  readonly params: Record<string, string | number | boolean>;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly extra?: Record<string, string | number | boolean>;
}

/** What a benchmark module receives. */
export interface BenchContext {
  /** `--quick`: the whole benchmark must finish in under 30 s. */
  readonly quick: boolean;
  /** Flags after the benchmark name other than --quick/--json, e.g. `--storage file`. */
  readonly flags: Readonly<Record<string, string | boolean>>;
  /** Records a row (printed at once as JSON in --json mode, tabulated at the end otherwise). */
  report(row: Row): void;
  /** Progress notes for humans (stderr, so --json stdout stays clean). */
  log(msg: string): void;
}

/** A benchmark module's default export. */
export type Benchmark = (ctx: BenchContext) => Promise<void>;

/** Collects latency samples (ms) and reports percentiles. */
export class Latencies {
  private samples: number[] = [];
  add(ms: number): void {
    this.samples.push(ms);
  }
  get count(): number {
    return this.samples.length;
  }
  percentile(p: number): number {
    if (this.samples.length === 0) return 0;
    const s = this.samples.slice().sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
  }
}

/** Rounds for display: 3 significant digits. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  return Number(n.toPrecision(3)).toString();
}

export function table(rows: readonly Row[]): string {
  const paramKeys = [...new Set(rows.flatMap((r) => Object.keys(r.params)))];
  const extraKeys = [...new Set(rows.flatMap((r) => Object.keys(r.extra ?? {})))];
  const head = ['benchmark', ...paramKeys, 'ops/s', 'p50 ms', 'p99 ms', ...extraKeys];
  const body = rows.map((r) => [
    r.benchmark,
    ...paramKeys.map((k) => String(r.params[k] ?? '')),
    fmt(r.opsPerSec),
    fmt(r.p50Ms),
    fmt(r.p99Ms),
    ...extraKeys.map((k) => {
      const v = r.extra?.[k];
      return typeof v === 'number' ? fmt(v) : String(v ?? '');
    }),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  return [line(head), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...body.map(line)].join('\n');
}
