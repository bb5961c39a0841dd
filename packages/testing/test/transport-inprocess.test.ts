import { InProcessNetwork } from '@tessera/raft';
import { transportSuite } from '../src/conformance/transport.js';

// The reference implementation: one network per harness, so tests are isolated.
transportSuite('InProcessNetwork', () => {
  const net = new InProcessNetwork();
  return {
    async create(nodeId, deliver) {
      const t = net.transport({ nodeId, deliver });
      await t.start();
      return t;
    },
    async destroy() {},
  };
});
