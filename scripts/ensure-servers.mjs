// Installs nats-server and redis-server from Debian packages when missing (tests spawn their own).
import { spawnSync } from 'node:child_process';

const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;

export function ensureServers() {
  const missing = ['nats-server', 'redis-server'].filter((b) => !has(b));
  if (missing.length === 0) return;
  const pkgs = missing.map((b) => (b === 'nats-server' ? 'nats-server' : 'redis-server'));
  console.log(`installing ${pkgs.join(', ')} (needed by the tests)`);
  const sudo = process.getuid && process.getuid() === 0 ? [] : ['sudo'];
  const sh = (cmd) => spawnSync('sh', ['-c', `${sudo.join(' ')} ${cmd}`], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  sh('apt-get update -qq');
  sh(`apt-get install -y -qq ${pkgs.join(' ')}`);
  const still = missing.filter((b) => !has(b));
  if (still.length > 0) {
    console.error(`could not install ${still.join(', ')}; tests that need them will fail`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) ensureServers();
