#!/usr/bin/env node
// `pnpm bench <name> [--quick] [--json] [--flag value ...]`: runs benchmarks/dist/<name>.js.
// Prints a table (or one JSON object per line with --json) and writes benchmarks/results/<name>-<time>.json.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const [name, ...rest] = process.argv.slice(2);
const available = existsSync(dist) ? readdirSync(dist).filter((f) => f.endsWith('.js') && f !== 'harness.js' && !f.startsWith('_')).map((f) => f.slice(0, -3)) : [];
if (!name || name === '--help' || !available.includes(name)) {
  console.error(`usage: pnpm bench <name> [--quick] [--json] [options]\nbenchmarks: ${available.join(', ') || '(none built: run pnpm build)'}`);
  process.exit(name && name !== '--help' ? 2 : 0);
}
const flags = {};
for (let i = 0; i < rest.length; i++) {
  const a = rest[i];
  if (!a.startsWith('--')) continue;
  const key = a.slice(2);
  const next = rest[i + 1];
  if (next !== undefined && !next.startsWith('--')) {
    flags[key] = next;
    i++;
  } else flags[key] = true;
}
const quick = flags.quick === true;
const json = flags.json === true;
delete flags.quick;
delete flags.json;
const { machine, table } = await import(pathToFileURL(join(dist, 'harness.js')).href);
const m = machine();
const rows = [];
const mod = await import(pathToFileURL(join(dist, `${name}.js`)).href);
const started = new Date().toISOString();
await mod.default({
  quick,
  flags,
  report(row) {
    const full = { ...row, machine: m };
    rows.push(full);
    if (json) process.stdout.write(JSON.stringify(full) + '\n');
  },
  log(msg) {
    process.stderr.write(msg + '\n');
  },
});
if (!json) console.log(table(rows));
mkdirSync(join(here, 'results'), { recursive: true });
const file = join(here, 'results', `${name}-${started.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ benchmark: name, started, quick, flags, machine: m, rows }, null, 2));
if (!json) console.error(`results written to ${file}`);
