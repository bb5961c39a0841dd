import { ConfigError } from '@tessera/raft';
import { describe, expect, it } from 'vitest';
import { startLocalCluster } from '../src/local/index.js';
import { wordCountNetwork } from './fixtures/networks.mjs';

describe('local cluster options', () => {
  it('are validated, naming the field', async () => {
    await expect(startLocalCluster({ networks: [] })).rejects.toThrow(ConfigError);
    await expect(startLocalCluster({ networks: [] })).rejects.toThrow(/localCluster\.networks/);
    await expect(startLocalCluster({ networks: [wordCountNetwork()], partitions: 0 })).rejects.toThrow(/localCluster\.partitions/);
    await expect(startLocalCluster({ networks: [wordCountNetwork()], nodes: ['a', 'b'], replicationFactor: 3 })).rejects.toThrow(/localCluster\.replicationFactor: 3 replicas need at least 3 nodes/);
    await expect(startLocalCluster({ networks: [wordCountNetwork()], colour: 'red' } as never)).rejects.toThrow(/localCluster/);
  });
});
