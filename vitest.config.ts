import './scripts/polyfills.mjs';
import { defineConfig } from 'vitest/config';

// One vitest run over every package and example (each one's vitest.config.ts is a project), so CI gets
// one JSON report to count from.
export default defineConfig({
  test: {
    projects: ['packages/*', 'examples/*'],
  },
});
