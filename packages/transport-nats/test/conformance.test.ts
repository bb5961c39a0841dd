import { startNatsServer } from '@tessera/testing/servers';
import { transportSuite } from '@tessera/testing/transport';
import { natsTransport } from '../src/index.js';

// Each test gets its own nats-server, so a test that restarts endpoints or leaves traffic in
// flight cannot leak into the next.
transportSuite('nats', async () => {
  const server = await startNatsServer();
  return {
    async create(nodeId, deliver) {
      const t = natsTransport({ servers: server.url, clusterId: 'conformance' })({ nodeId, deliver });
      await t.start();
      return t;
    },
    destroy: () => server.stop(),
  };
});

// The same suite when every message crosses a 64 KB max_payload: batches split, big messages fragment.
transportSuite(
  'nats (max_payload 64 KB, cluster secret)',
  async () => {
    const server = await startNatsServer({ config: 'max_payload: 65536\n' });
    return {
      async create(nodeId, deliver) {
        const t = natsTransport({ servers: server.url, clusterId: 'conformance', secret: 'conformance-suite-secret' })({ nodeId, deliver });
        await t.start();
        return t;
      },
      destroy: () => server.stop(),
    };
  },
);
