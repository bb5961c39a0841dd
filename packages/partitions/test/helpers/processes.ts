/** Partition nodes as child processes (file storage, TCP transport) that tests SIGKILL and restart. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processCluster as start, type ProcessCluster } from '@tessera/testing/processes';

export type { NodeProcess, PartitionStatus as NodeStatus, ProcessCluster } from '@tessera/testing/processes';

const here = dirname(fileURLToPath(import.meta.url));

/** Starts three partition nodes (test/fixtures/node.mjs) on ephemeral loopback ports and temp dirs. */
export function processCluster(opts: { partitions: number; snapshotEntries?: number }): Promise<ProcessCluster> {
  return start({
    ...opts,
    script: join(here, '..', 'fixtures', 'node.mjs'),
    requires: { file: join(here, '..', '..', 'dist', 'index.js'), hint: 'the node processes import the built package (pnpm exec turbo run build --filter=@tessera/partitions...)' },
    tmpPrefix: 'tessera-partitions-crash-',
  });
}
