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

/**
 * Latency histogram (ms) with log-spaced buckets (~1 % wide) from 1 microsecond to ~1 hour: constant
 * memory and O(1) recording, so measuring does not disturb what is measured.
 */
export class Latencies {
  private static readonly PER_DECADE = 230; // 10^(1/230) ~ 1.0101
  private readonly buckets = new Float64Array(Latencies.PER_DECADE * 10);
  private n = 0;
  add(ms: number): void {
    const us = Math.max(1, ms * 1000);
    const b = Math.min(this.buckets.length - 1, Math.floor(Math.log10(us) * Latencies.PER_DECADE));
    this.buckets[b]!++;
    this.n++;
  }
  get count(): number {
    return this.n;
  }
  percentile(p: number): number {
    if (this.n === 0) return 0;
    const target = Math.max(1, Math.ceil((p / 100) * this.n));
    let seen = 0;
    for (let b = 0; b < this.buckets.length; b++) {
      seen += this.buckets[b]!;
      if (seen >= target) return 10 ** ((b + 0.5) / Latencies.PER_DECADE) / 1000;
    }
    return Infinity;
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
