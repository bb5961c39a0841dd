import { describe, expect, it } from 'vitest';
import { InProcessNetwork, RaftHost, type StateMachine } from '@tessera/raft';
import { memoryStorage } from '@tessera/storage-memory';

class Counter implements StateMachine<number> {
  value = 0;
  apply(cmd: Uint8Array): number {
    this.value += cmd[0]!;
    return this.value;
  }
}

describe('three replicas in one process', () => {
  it('elects a leader, commits and reads', async () => {
    const net = new InProcessNetwork();
    const ids = ['a', 'b', 'c'];
    const hosts = ids.map((id) => new RaftHost({ nodeId: id, transport: net.transport }));
    await Promise.all(hosts.map((h) => h.start()));
    const sms = ids.map(() => new Counter());
    const groups = await Promise.all(
      hosts.map(async (h, i) =>
        h.addGroup({ group: 'g1', storage: await memoryStorage().openGroup('g1'), stateMachine: sms[i]!, membership: { voters: ids, learners: [] }, config: { tickMs: 10 } }),
      ),
    );
    const leader = await groups[0]!.waitForLeader(5000);
    const lg = groups[ids.indexOf(leader)]!;
    const results = await Promise.all(Array.from({ length: 100 }, () => lg.propose(new Uint8Array([1]))));
    expect(Math.max(...results)).toBe(100);
    expect(await lg.read(() => sms[ids.indexOf(leader)]!.value)).toBe(100);
    // A follower forwards proposals and reads.
    const f = groups.find((g) => g !== lg)!;
    expect(await f.propose(new Uint8Array([5]))).toBe(105);
    const fi = groups.indexOf(f);
    expect(await f.read(() => sms[fi]!.value)).toBe(105);
    await Promise.all(hosts.map((h) => h.close()));
  });
});
