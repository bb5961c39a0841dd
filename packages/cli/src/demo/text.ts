/**
 * The text the demo streams and the counts it must produce. The bundled text is the Book of
 * Genesis in the King James Version (1611; public domain).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import { wordsOf } from './word-count.js';

/** Path of the bundled text. */
export const BUNDLED_TEXT = fileURLToPath(new URL('../../texts/genesis.txt', import.meta.url));

/** The lines to stream (blank ones dropped) and the expected count of every word. */
export interface DemoText {
  readonly file: string;
  readonly lines: readonly string[];
  readonly words: number;
  readonly expected: ReadonlyMap<string, number>;
}

/** Reads `file` (default: the bundled text), keeping the first `limit` non-blank lines. */
export function loadText(file: string | undefined, limit?: number): DemoText {
  const path = file ?? BUNDLED_TEXT;
  if (!existsSync(path)) throw new UsageError(`--text: file not found: ${path}`);
  let lines = readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '');
  if (limit !== undefined) lines = lines.slice(0, limit);
  const expected = new Map<string, number>();
  let words = 0;
  for (const l of lines) {
    if (l.length > 100_000) throw new UsageError(`--text: a line of ${path} is longer than 100000 characters`);
    for (const w of wordsOf(l)) {
      expected.set(w, (expected.get(w) ?? 0) + 1);
      words++;
    }
  }
  if (words === 0) throw new UsageError(`--text: ${path} has no words`);
  return { file: path, lines, words, expected };
}

/** Compares counts read from the cluster with the expected ones. */
export function compareCounts(expected: ReadonlyMap<string, number>, actual: ReadonlyMap<string, number>): { lost: number; doubled: number; wrongWords: string[] } {
  let lost = 0;
  let doubled = 0;
  const wrong: string[] = [];
  for (const [w, n] of expected) {
    const got = actual.get(w) ?? 0;
    if (got < n) lost += n - got;
    if (got > n) doubled += got - n;
    if (got !== n) wrong.push(w);
  }
  for (const [w, got] of actual) {
    if (!expected.has(w)) {
      doubled += got;
      wrong.push(w);
    }
  }
  return { lost, doubled, wrongWords: wrong };
}
