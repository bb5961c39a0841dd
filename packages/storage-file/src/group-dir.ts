/**
 * Group ids are arbitrary strings; directory names are not. A group's directory name keeps ASCII
 * letters, digits, `-` and `_` and writes every other UTF-8 byte as `%XX` (so `.`, `..` and `/`
 * cannot escape), which decodes back exactly. Names that would exceed file-name limits become
 * `~` + SHA-256 of the id, with the id itself stored in the directory's `group-id` file.
 */
import { createHash } from 'node:crypto';

const KEEP = /^[A-Za-z0-9_-]$/;
/** Well below the 255-byte file-name limit, leaving room for temporary suffixes. */
const MAX_NAME = 200;
export const GROUP_ID_FILE = 'group-id';

export function groupDirName(group: string): string {
  let out = '';
  for (const ch of group) {
    if (KEEP.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    if (out.length > MAX_NAME) return hashedName(group);
  }
  return out === '' ? '%' : out;
}

/** Whether `groupDirName` had to hash the id (then the id lives in {@link GROUP_ID_FILE}). */
export function isHashedName(name: string): boolean {
  return name.startsWith('~');
}

/** The group id of a non-hashed directory name, or undefined if the name is not one of ours. */
export function decodeGroupDirName(name: string): string | undefined {
  if (name === '%') return '';
  if (!/^(?:[A-Za-z0-9_-]|%[0-9A-F]{2})+$/.test(name)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < name.length; i++) {
    if (name[i] === '%') {
      bytes.push(parseInt(name.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(name.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}

function hashedName(group: string): string {
  return `~${createHash('sha256').update(group, 'utf8').digest('hex')}`;
}
