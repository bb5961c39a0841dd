import { describe, expect, it } from 'vitest';
import { freezeRecord, type DiscoveryEvent, type NodeRecord } from '@tessera/raft';
import { NodeView } from '../src/view.js';
import type { RegistrySnapshot } from '../src/messages.js';

const r = (id: string, port = 7000): NodeRecord => freezeRecord({ id, raftAddress: `127.0.0.1:${port}` });
const snap = (epoch: string, rev: number, entries: [NodeRecord, number, string?][]): RegistrySnapshot => ({
  epoch,
  rev,
  entries: entries.map(([record, entryRev, token]) => ({ id: record.id, token: token ?? 't', rev: entryRev, record })),
  invalid: [],
});
function view() {
  const events: DiscoveryEvent[] = [];
  const v = new NodeView((e) => events.push(e));
  return { v, events, log: () => events.map((e) => `${e.type} ${e.node.id}:${e.node.raftAddress.split(':')[1]}`) };
}
const never = () => false;

describe('NodeView: notifications and snapshots in any order', () => {
  it('applies newer information and ignores older', () => {
    const { v, log } = view();
    v.up('E', 5, 't', r('a', 1));
    v.up('E', 3, 't', r('a', 2)); // older than what we have
    v.up('E', 7, 't', r('a', 3));
    v.up('E', 7, 't', r('a', 3)); // duplicate
    expect(log()).toEqual(['join a:1', 'change a:3']);
    expect(v.get('a')?.raftAddress).toBe('127.0.0.1:3');
  });

  it('a snapshot older than a notification does not undo it', () => {
    const { v, log } = view();
    v.apply(snap('E', 4, []), never);
    v.up('E', 5, 't', r('a')); // a registers at rev 5 ...
    v.apply(snap('E', 4, []), never); // ... and a snapshot taken at rev 4 arrives late
    expect(v.get('a')).toBeDefined();
    v.apply(snap('E', 5, [[r('a'), 5]]), never);
    expect(log()).toEqual(['join a:7000']);
  });

  it('a deregistration beats a late snapshot that still lists the node', () => {
    const { v, log } = view();
    v.up('E', 2, 't', r('a'));
    v.down('E', 3, 'a');
    v.apply(snap('E', 2, [[r('a'), 2]]), never); // read before the deregistration
    expect(v.get('a')).toBeUndefined();
    v.apply(snap('E', 3, []), never); // prunes the tombstone
    v.up('E', 4, 't', r('a', 8000)); // comes back
    expect(log()).toEqual(['join a:7000', 'leave a:7000', 'join a:8000']);
  });

  it('a deregistration older than the current record is ignored', () => {
    const { v, log } = view();
    v.up('E', 6, 't2', r('a'));
    v.down('E', 4, 'a');
    expect(v.get('a')).toBeDefined();
    expect(log()).toEqual(['join a:7000']);
  });

  it('a node missing from a snapshot leaves, unless it is newer or kept', () => {
    const { v, log } = view();
    v.apply(snap('E', 3, [[r('a'), 1], [r('b'), 2], [r('c'), 3]]), never);
    v.up('E', 9, 't', r('d'));
    v.apply(snap('E', 8, [[r('a'), 1]]), (id) => id === 'c');
    expect(log()).toEqual(['join a:7000', 'join b:7000', 'join c:7000', 'join d:7000', 'leave b:7000']);
    expect(v.records().map((n) => n.id)).toEqual(['a', 'c', 'd']);
  });

  it('a new epoch (Redis lost its data) wins over higher revisions of the old one', () => {
    const { v, log } = view();
    v.apply(snap('OLD', 50, [[r('a'), 40], [r('b'), 50]]), never);
    v.apply(snap('NEW', 2, [[r('a', 7001), 1], [r('b'), 2]]), never);
    expect(log()).toEqual(['join a:7000', 'join b:7000', 'change a:7001']);
    // A late notification from the old epoch cannot bring it back.
    v.up('OLD', 51, 't', r('a', 7999));
    v.down('OLD', 52, 'b');
    expect(v.get('a')?.raftAddress).toBe('127.0.0.1:7001');
    expect(v.get('b')).toBeDefined();
    // Nodes not yet re-registered in the new epoch are dropped unless kept.
    v.up('NEW', 3, 't', r('c'));
    v.apply(snap('NEW', 3, [[r('c'), 3]]), (id) => id === 'a');
    expect(v.records().map((n) => n.id)).toEqual(['a', 'c']);
    expect(log().slice(3)).toEqual(['join c:7000', 'leave b:7000']);
  });

  it('a token change with the same record is silent', () => {
    const { v, events } = view();
    v.up('E', 1, 't1', r('a'));
    v.up('E', 2, 't2', r('a'));
    expect(events).toHaveLength(1);
    expect(v.tokenOf('a')).toBe('t2');
  });
});
