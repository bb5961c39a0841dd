// Writes the boilerplate package.json/tsconfig for a workspace package (idempotent; keeps existing deps).
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
const [dir, name, description, ...deps] = process.argv.slice(2);
mkdirSync(`${dir}/src`, { recursive: true });
mkdirSync(`${dir}/test`, { recursive: true });
const pj = existsSync(`${dir}/package.json`) ? JSON.parse(readFileSync(`${dir}/package.json`, 'utf8')) : {};
const out = {
  name, version: '0.1.0', description, license: 'Apache-2.0', type: 'module',
  exports: pj.exports ?? { '.': { types: './dist/index.d.ts', default: './dist/index.js' } },
  files: ['dist', 'README.md'],
  scripts: { build: 'tsc -p tsconfig.json', test: 'vitest run', ...(pj.scripts ?? {}) },
  dependencies: { ...(pj.dependencies ?? {}) },
  devDependencies: { ...(pj.devDependencies ?? {}) },
  ...pj,
};
for (const d of deps) { const [n, v] = d.split('='); out.dependencies[n] = v ?? 'workspace:*'; }
out.scripts.build = 'tsc -p tsconfig.json';
writeFileSync(`${dir}/package.json`, JSON.stringify(out, null, 2) + '\n');
if (!existsSync(`${dir}/tsconfig.json`)) writeFileSync(`${dir}/tsconfig.json`, JSON.stringify({ extends: '../../tsconfig.base.json', compilerOptions: { rootDir: 'src', outDir: 'dist' }, include: ['src'] }, null, 2) + '\n');
