#!/usr/bin/env node
// `pnpm test`: make sure the external servers tests spawn exist, build, run every package's tests
// in one vitest run, and print `tests: N passed, N failed` from vitest's JSON report.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { ensureServers } from './ensure-servers.mjs';

const args = process.argv.slice(2);
ensureServers();
const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' };
const run = (cmd, argv) => spawnSync(cmd, argv, { stdio: 'inherit', env });

if (!args.includes('--no-build')) {
  const b = run('pnpm', ['exec', 'turbo', 'run', 'build', '--output-logs=errors-only']);
  if (b.status !== 0) {
    console.log('tests: 0 passed, 1 failed');
    process.exit(1);
  }
}
const report = '.vitest-results.json';
rmSync(report, { force: true });
const passthrough = args.filter((a) => a !== '--no-build');
const t = run('pnpm', ['exec', 'vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...passthrough]);
let passed = 0;
let failed = 0;
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed = r.numPassedTests ?? 0;
  failed = (r.numFailedTests ?? 0) + (r.numRuntimeErrorTestSuites ?? 0);
  // A test file that fails to load has no tests but must still count as a failure.
  for (const f of r.testResults ?? []) if (f.status === 'failed' && (f.assertionResults ?? []).length === 0) failed++;
} else {
  failed = 1;
}
if (t.status !== 0 && failed === 0) failed = 1;
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
