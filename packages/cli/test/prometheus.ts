/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for tests: every line
 * must be a HELP, TYPE, other comment or a well-formed sample, and samples must belong to a
 * declared family of a known type.
 */
export interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  type: string;
  help: string;
  readonly samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SUFFIXES = ['_bucket', '_sum', '_count', '_total', '_created'];

function parseLabels(s: string, line: number): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < s.length) {
    const m = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(s.slice(i));
    if (!m) throw new Error(`line ${line}: bad label at ${JSON.stringify(s.slice(i))}`);
    i += m[0].length;
    let v = '';
    for (;;) {
      if (i >= s.length) throw new Error(`line ${line}: unterminated label value`);
      const c = s[i]!;
      if (c === '\\') {
        const n = s[i + 1];
        if (n === 'n') v += '\n';
        else if (n === '\\' || n === '"') v += n;
        else throw new Error(`line ${line}: bad escape \\${n}`);
        i += 2;
      } else if (c === '"') {
        i++;
        break;
      } else {
        v += c;
        i++;
      }
    }
    if (m[1]! in out) throw new Error(`line ${line}: duplicate label ${m[1]}`);
    out[m[1]!] = v;
    if (s[i] === ',') i++;
    else if (i < s.length) throw new Error(`line ${line}: expected , between labels`);
  }
  return out;
}

function parseValue(v: string, line: number): number {
  // Prometheus parses values with Go's ParseFloat, which takes NaN and Inf in any case (prom-client writes "Nan").
  const lower = v.toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  if (lower === 'nan') return NaN;
  const n = Number(v);
  if (v === '' || Number.isNaN(n)) throw new Error(`line ${line}: bad value ${JSON.stringify(v)}`);
  return n;
}

export function parsePrometheus(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, type: 'untyped', help: '', samples: [] }));
    return f;
  };
  text.split('\n').forEach((raw, idx) => {
    const line = idx + 1;
    if (raw === '') return;
    if (raw.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
      if (!m) return; // other comments are allowed
      if (!NAME.test(m[2]!)) throw new Error(`line ${line}: bad metric name ${m[2]}`);
      if (m[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3]!)) throw new Error(`line ${line}: bad type ${m[3]}`);
        family(m[2]!).type = m[3]!;
      } else family(m[2]!).help = m[3]!;
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(raw);
    if (!m) throw new Error(`line ${line}: not a sample: ${JSON.stringify(raw)}`);
    const name = m[1]!;
    const base = families.has(name) ? name : (SUFFIXES.map((s) => (name.endsWith(s) ? name.slice(0, -s.length) : '')).find((b) => b && families.has(b)) ?? name);
    const f = families.get(base);
    if (!f) throw new Error(`line ${line}: sample ${name} has no # TYPE`);
    f.samples.push({ name, labels: m[2] ? parseLabels(m[2], line) : {}, value: parseValue(m[3]!, line) });
  });
  return families;
}
