import type { Message } from '@tessera/raft';
import { tcpTransport, type TcpTransport, type TcpTransportOptions } from '../../src/index.js';
import { baseOptions } from './harness.js';
import { recordingLogger } from './raw-peer.js';

export interface TestNode {
  readonly id: string;
  readonly t: TcpTransport;
  readonly port: number;
  readonly log: ReturnType<typeof recordingLogger>;
  readonly received: { from: string; messages: Message[] }[];
  count(from: string): number;
}

/** Transports on loopback that find each other through a shared address map; all closed by `closeAll`. */
export class TestNodes {
  readonly addresses = new Map<string, string>();
  private readonly nodes: TestNode[] = [];

  async add(id: string, overrides: Partial<TcpTransportOptions> = {}): Promise<TestNode> {
    const log = recordingLogger();
    const received: TestNode['received'] = [];
    const t = tcpTransport(baseOptions({ peers: (p) => this.addresses.get(p), logger: log, ...overrides }))({
      nodeId: id,
      deliver: (messages, from) => received.push({ from, messages }),
    });
    await t.start();
    const port = t.address!.port;
    this.addresses.set(id, `127.0.0.1:${port}`);
    const node: TestNode = {
      id,
      t,
      port,
      log,
      received,
      count: (from) => received.filter((r) => r.from === from).reduce((n, r) => n + r.messages.length, 0),
    };
    this.nodes.push(node);
    return node;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.t.close()));
    this.nodes.length = 0;
  }
}

/** Polls `cond` every 10 ms until true; throws `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean, what: string | (() => string), timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Keeps sending from `from` to `to` until `to` received something from `from`. */
export async function link(from: TestNode, to: TestNode, group = 'link'): Promise<void> {
  const { seqMessage } = await import('@tessera/testing/transport');
  let i = 0;
  const before = to.count(from.id);
  await waitFor(() => {
    if (to.count(from.id) > before) return true;
    from.t.send(to.id, [seqMessage(from.id, to.id, group, i++)]);
    return false;
  }, `${from.id} cannot reach ${to.id}`);
}
