import { describe, expect, it } from 'vitest';
import { decodeGroupDirName, groupDirName, isHashedName } from '../src/group-dir.js';
import { autoChecksum, fileStorage } from '../src/index.js';

describe('fileStorage options', () => {
  it('rejects invalid options with a ConfigError naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{}, 'fileStorage.dir'],
      [{ dir: '' }, 'fileStorage.dir'],
      [{ dir: '/tmp/x', sync: 'sometimes' }, 'fileStorage.sync'],
      [{ dir: '/tmp/x', segmentBytes: 1000 }, 'fileStorage.segmentBytes'],
      [{ dir: '/tmp/x', syncIntervalMs: 0 }, 'fileStorage.syncIntervalMs'],
      [{ dir: '/tmp/x', logger: 'console' }, 'fileStorage.logger'],
      [{ dir: '/tmp/x', checksum: 'simd' }, 'fileStorage.checksum'],
      [{ dir: '/tmp/x', preallocateBytes: -1 }, 'fileStorage.preallocateBytes'],
      [{ dir: '/tmp/x', preallocateBytes: 1.5 }, 'fileStorage.preallocateBytes'],
      [{ dir: '/tmp/x', segmentSize: 1 }, 'fileStorage'],
    ];
    for (const [opts, path] of cases) {
      const err = await fileStorage(opts as never).then(
        () => undefined,
        (e: unknown) => e as { code: string; path: string; message: string },
      );
      expect(err?.code, JSON.stringify(opts)).toBe('CONFIG_INVALID');
      expect(err?.message.startsWith(path), `${err?.message} names ${path}`).toBe(true);
    }
  });
});

describe('checksum', () => {
  it('uses the native CRC32C by default where @node-rs/crc32 ships a binary (CI: linux x64)', () => {
    expect(autoChecksum).toBe('native');
  });
});

describe('group directory names', () => {
  it('round-trip every id and never produce path separators or dot names', () => {
    for (const id of ['a', 'A-b_c', '', '.', '..', 'a/b', 'a\\b', '%41', 'über', '组-1', 'a\u0000b', ' ']) {
      const name = groupDirName(id);
      expect(name).not.toMatch(/[/\\\u0000]/);
      expect(['.', '..']).not.toContain(name);
      expect(decodeGroupDirName(name), JSON.stringify(id)).toBe(id);
    }
    expect(groupDirName('a')).not.toBe(groupDirName('A'));
  });

  it('hashes ids too long for a file name', () => {
    const name = groupDirName('é'.repeat(100));
    expect(isHashedName(name)).toBe(true);
    expect(name.length).toBeLessThan(100);
    expect(groupDirName('é'.repeat(100))).toBe(name);
    expect(groupDirName('é'.repeat(101))).not.toBe(name);
  });
});
