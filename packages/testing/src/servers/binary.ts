import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Directories searched after `PATH`: Debian puts nats-server in /usr/sbin, which users' PATH often lacks. */
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/**
 * Finds an executable by name on `PATH` (then the usual system directories). Throws with an
 * install hint when it is missing, so a test fails with the reason rather than a spawn ENOENT.
 */
export function findBinary(name: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  throw new Error(`${name} not found on PATH or in ${EXTRA_DIRS.join(', ')}; run \`node scripts/ensure-servers.mjs\` (or \`pnpm test\`, which installs it)`);
}
