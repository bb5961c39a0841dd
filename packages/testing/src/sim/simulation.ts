import { RaftHost, TesseraError, type NodeId, type RaftConfigInput, type RaftGroup, type UnsafeFlags } from '@tessera/raft';
import { SimClock } from './clock.js';
import { applyKv, decodeKv, encodeKv, KvStateMachine, type KvCommand, type KvResult } from './kv.js';
import { CALM_NETWORK, SimNetwork, type NetworkFaults } from './network.js';
import { Rng } from './rng.js';
import { SafetyChecker } from './safety.js';
import { Scheduler, type Owner } from './scheduler.js';
import { SimDisk, SimGroupStorage } from './storage.js';
import { Trace } from './trace.js';

/** Which faults the nemesis injects. */
export interface FaultOptions {
  /** Message drop/duplicate/delay settings while faults are on (the nemesis varies them). */
  readonly network: NetworkFaults;
  readonly partitions: boolean;
  readonly crashes: boolean;
  /** Per-node clock rate spread, e.g. 0.01 = +-1 % (must stay within the lease drift bound). */
  readonly clockDrift: number;
  /** Max storage write latency (ms of virtual time). */
  readonly diskLatencyMs: number;
  /** Mean time between nemesis actions (ms). */
  readonly nemesisIntervalMs: number;
  /**
   * Leader churn: most actions kill the current leader soon after it took over and restart nodes
   * quickly, producing the partially replicated terms that Raft's Figure 8 is about.
   */
  readonly churn?: boolean;
  /** Chance that a newly elected leader is killed a few milliseconds after taking over. */
  readonly assassinateRate?: number;
}

export const ALL_FAULTS: FaultOptions = {
  network: { dropRate: 0.05, duplicateRate: 0.03, minDelayMs: 1, maxDelayMs: 15, longDelayRate: 0.01, longDelayMs: 300 },
  partitions: true,
  crashes: true,
  clockDrift: 0.01,
  diskLatencyMs: 5,
  nemesisIntervalMs: 400,
};

export const NO_FAULTS: FaultOptions = {
  network: CALM_NETWORK,
  partitions: false,
  crashes: false,
  clockDrift: 0,
  diskLatencyMs: 1,
  nemesisIntervalMs: 1_000_000,
};

export interface SimulationOptions {
  readonly seed: number;
  /** Number of voters (3 or 5 are typical). */
  readonly nodes?: number;
  /** Virtual duration of the faulty workload phase. */
  readonly durationMs?: number;
  readonly clients?: number;
  readonly keys?: number;
  readonly faults?: FaultOptions;
  readonly raft?: RaftConfigInput;
  readonly unsafe?: UnsafeFlags;
  /** Share of reads served with lease reads instead of ReadIndex. */
  readonly leaseReadShare?: number;
  /** Run the wire codec on every message (default true). */
  readonly encode?: boolean;
  /**
   * Membership changes and leadership transfers: `spares` extra nodes start outside the group and
   * the nemesis adds learners, promotes, removes members and transfers leadership at random.
   */
  readonly membershipChanges?: { readonly spares: number };
  /** Random aggressive snapshot policies (default true when the profile does not set one). */
  readonly snapshots?: boolean;
  /** Check linearizability of the client history at the end (default true). */
  readonly checkHistory?: HistoryChecker;
  readonly traceSize?: number;
  /** Event budget for the whole run (default 600,000). */
  readonly maxSteps?: number;
}

/** One client operation as recorded for the linearizability check. `ret` is Infinity when the outcome is unknown. */
export interface KvOperation {
  readonly clientId: number;
  readonly input: KvCommand;
  output: KvResult | undefined;
  readonly call: number;
  ret: number;
}

export type HistoryChecker = (history: KvOperation[]) => { result: 'ok' | 'illegal' | 'unknown'; info?: string };

export interface SimulationResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly violations: string[];
  readonly linearizability: 'ok' | 'illegal' | 'unknown' | 'skipped';
  readonly trace: string[];
  readonly stats: {
    readonly steps: number;
    readonly virtualMs: number;
    readonly ops: number;
    readonly okOps: number;
    readonly unknownOps: number;
    readonly crashes: number;
    readonly partitions: number;
    readonly maxTerm: number;
    readonly commitIndex: number;
    readonly messagesDelivered: number;
    readonly messagesDropped: number;
    readonly snapshotsTaken: number;
    readonly snapshotsInstalled: number;
  };
}

const GROUP = 'sim';

class SimNode {
  readonly owner: Owner = { epoch: 0 };
  readonly disk = new SimDisk();
  alive = false;
  group: RaftGroup<KvResult> | undefined;
  sm: KvStateMachine | undefined;
  host: RaftHost | undefined;
  /** Client operations in flight here, settled as unknown if the node dies. */
  readonly inflight = new Set<(kind: 'crash') => void>();
  constructor(
    readonly id: NodeId,
    readonly clockRate: number,
  ) {}
}

/**
 * Runs one seeded simulation: a Raft group of `nodes` replicas on virtual time, clients issuing
 * reads and writes, and a nemesis injecting network faults, partitions and crash-restarts. Safety
 * is checked after every event; at the end the network heals, the group must make progress again,
 * and the client history is checked for linearizability.
 */
export async function runSimulation(opts: SimulationOptions): Promise<SimulationResult> {
  const seed = opts.seed;
  const rng = new Rng(seed);
  const sched = new Scheduler();
  // Far above any healthy run (~20-80k events); an event storm ends the seed as a violation.
  sched.maxSteps = opts.maxSteps ?? 600_000;
  const trace = new Trace(opts.traceSize ?? 300);
  const faults = opts.faults ?? ALL_FAULTS;
  const net = new SimNetwork(sched, rng.fork(), trace, faults.network, opts.encode ?? true);
  const safety = new SafetyChecker();
  const nNodes = opts.nodes ?? 3;
  const spares = opts.membershipChanges?.spares ?? 0;
  const voterIds = Array.from({ length: nNodes }, (_, i) => `n${i + 1}`);
  const ids = Array.from({ length: nNodes + spares }, (_, i) => `n${i + 1}`);
  const membership = { voters: voterIds, learners: [] };
  const duration = opts.durationMs ?? 6_000;
  const nodeRng = rng.fork();
  const nodes = ids.map((id) => new SimNode(id, 1 + (nodeRng.next() * 2 - 1) * faults.clockDrift));
  const isSpare = (id: NodeId) => !voterIds.includes(id);
  const snapRng = rng.fork();
  const raftConfig: RaftConfigInput = {
    // Tiny thresholds and chunks: snapshots, compaction, InstallSnapshot and multi-chunk transfers
    // happen many times per run.
    ...(opts.snapshots === false
      ? { snapshot: { entries: 0, bytes: 0 } }
      : { snapshot: { entries: snapRng.int(15, 80), bytes: 0, trailingEntries: snapRng.int(0, 10), chunkBytes: snapRng.pick([16, 64, 256, 4096]), keep: snapRng.int(1, 3) } }),
    tickMs: 10,
    electionTicks: 10,
    heartbeatTicks: 1,
    requestTimeoutMs: 1_000,
    commitPersistMs: 100,
    maxInflightMsgs: 8,
    maxMsgBytes: 4 * 1024,
    ...opts.raft,
  };
  const history: KvOperation[] = [];
  let crashes = 0;
  let partitions = 0;
  let stopWorkload = false;
  const nodeRandom = rng.fork();
  // Half the seeds tick every group from one host timer; some bootstrap with a preferred leader.
  const sharedTicker = snapRng.chance(0.5);
  const preferred = snapRng.chance(0.3) ? voterIds[0] : undefined;

  const startNode = async (n: SimNode): Promise<void> => {
    n.owner.epoch++;
    const storage = new SimGroupStorage(n.disk, sched, nodeRandom.fork(), n.owner, faults.diskLatencyMs);
    const sm = new KvStateMachine();
    sm.onApply = (index, cmd, prev) => safety.onApply(n.id, index, cmd, prev);
    sm.onRestore = (data, lastApplied, before) =>
      safety.checkRestoredState(n.id, data, lastApplied, before, (cmds) => {
        const m = new Map<string, string>();
        for (const c of cmds) applyKv(m, decodeKv(c));
        return m;
      });
    const clock = new SimClock(sched, n.owner, n.clockRate);
    const host = new RaftHost({ nodeId: n.id, transport: net.transport(n.owner), clock, tickMs: sharedTicker ? 10 : undefined });
    await host.start();
    const coreRng = nodeRandom.fork();
    n.group = await host.addGroup<KvResult>({
      group: GROUP,
      storage,
      stateMachine: sm,
      // Spares join an existing group: they start without a membership and learn it from the leader.
      membership: isSpare(n.id) ? undefined : membership,
      config: raftConfig,
      random: () => coreRng.next(),
      unsafe: opts.unsafe,
      campaignOnStart: n.id === preferred,
    });
    n.sm = sm;
    n.host = host;
    n.alive = true;
    trace.add(`t=${sched.now} start ${n.id}`);
  };

  const snapTotals = { taken: 0, sent: 0, installed: 0 };
  const tallySnapshots = (n: SimNode) => {
    const st = n.group?.snapshots.stats;
    if (!st) return;
    snapTotals.taken += st.taken;
    snapTotals.sent += st.sent;
    snapTotals.installed += st.installed;
  };
  const crashNode = (n: SimNode): void => {
    if (!n.alive) return;
    tallySnapshots(n);
    n.alive = false;
    n.owner.epoch++;
    n.disk.crash(nodeRandom);
    n.group = undefined;
    n.host = undefined;
    n.sm = undefined;
    crashes++;
    for (const settle of n.inflight) settle('crash');
    n.inflight.clear();
    trace.add(`t=${sched.now} crash ${n.id}`);
  };

  const sleep = (ms: number) => new Promise<void>((r) => sched.schedule(ms, r));

  // ---------------------------------------------------------------- clients
  const keys = Array.from({ length: opts.keys ?? 4 }, (_, i) => `k${i}`);
  const clientRng = rng.fork();
  let valueSeq = 0;
  const leaseShare = opts.leaseReadShare ?? 0.2;

  const runOp = async (clientId: number, n: SimNode, cmd: KvCommand, mode: 'log' | 'read' | 'lease'): Promise<void> => {
    const group = n.group!;
    const sm = n.sm!;
    // Recorded at invocation: an operation still in flight when the run ends has an unknown outcome.
    const op: KvOperation = { clientId, input: cmd, output: undefined, call: sched.now, ret: Infinity };
    history.push(op);
    type Outcome = { kind: 'ok'; value: KvResult } | { kind: 'failed'; code: string } | { kind: 'unknown' };
    const outcome = await new Promise<Outcome>((resolve) => {
      let done = false;
      const settle = (o: Outcome) => {
        if (done) return;
        done = true;
        n.inflight.delete(onCrash);
        timer.cancel();
        resolve(o);
      };
      const onCrash = () => settle({ kind: 'unknown' });
      n.inflight.add(onCrash);
      const timer = sched.schedule(3_000, () => settle({ kind: 'unknown' }));
      const p =
        mode === 'log'
          ? group.propose(encodeKv(cmd))
          : group.read(() => sm.get(cmd.key), { consistency: mode === 'lease' ? 'lease' : 'linearizable' });
      p.then(
        (value) => settle({ kind: 'ok', value: value as KvResult }),
        (err: unknown) => {
          const code = TesseraError.isInstance(err) ? err.code : 'UNKNOWN';
          // Errors that guarantee the command was not applied; anything else leaves the outcome open.
          const definite = code === 'NOT_LEADER' || code === 'PROPOSAL_DROPPED' || code === 'BACKPRESSURE';
          settle(definite ? { kind: 'failed', code } : { kind: 'unknown' });
        },
      );
    });
    if (outcome.kind === 'ok') {
      op.output = outcome.value;
      op.ret = sched.now;
      trace.add(`t=${sched.now} client${clientId} ${describe(cmd)} -> ${JSON.stringify(outcome.value)} via ${n.id}`);
    } else if (outcome.kind === 'failed' || cmd.op === 'get') {
      // Definitely not applied (or a read, which has no effect): not part of the history.
      history.splice(history.lastIndexOf(op), 1);
      trace.add(`t=${sched.now} client${clientId} ${describe(cmd)} -> ${outcome.kind === 'failed' ? `failed ${outcome.code}` : 'unknown'} via ${n.id}`);
    } else {
      trace.add(`t=${sched.now} client${clientId} ${describe(cmd)} -> unknown via ${n.id}`);
    }
  };

  const client = async (clientId: number): Promise<void> => {
    const r = clientRng.fork();
    let preferred: NodeId | undefined;
    while (!stopWorkload) {
      await sleep(r.int(1, 30));
      if (stopWorkload) break;
      const alive = nodes.filter((n) => n.alive);
      if (alive.length === 0) continue;
      let n = alive.find((x) => x.id === preferred) ?? r.pick(alive);
      if (r.chance(0.2)) n = r.pick(alive);
      preferred = n.group?.leader ?? preferred;
      const key = r.pick(keys);
      const roll = r.next();
      let cmd: KvCommand;
      let mode: 'log' | 'read' | 'lease' = 'log';
      if (roll < 0.35) {
        cmd = { op: 'get', key };
        const m = r.next();
        mode = m < leaseShare ? 'lease' : m < 0.8 ? 'read' : 'log';
      } else if (roll < 0.75) cmd = { op: 'put', key, value: `v${++valueSeq}` };
      else if (roll < 0.85) cmd = { op: 'del', key };
      else cmd = { op: 'cas', key, expected: r.chance(0.5) ? null : `v${r.int(Math.max(1, valueSeq - 5), valueSeq + 1)}`, next: `v${++valueSeq}` };
      await runOp(clientId, n, cmd, mode);
    }
  };

  // ---------------------------------------------------------------- nemesis
  const nemesisRng = rng.fork();
  /** Every node loses power at once: only what each disk made durable survives. */
  const powerFailure = async (): Promise<void> => {
    trace.add(`t=${sched.now} power failure`);
    for (const n of nodes) crashNode(n);
    await sleep(nemesisRng.int(10, 100));
    for (const n of nodes) await startNode(n);
  };
  const nemesis = async (): Promise<void> => {
    const maxDown = Math.floor((nNodes - 1) / 2) + (nemesisRng.chance(0.3) ? 1 : 0);
    let changes = 0;
    while (!stopWorkload) {
      await sleep(nemesisRng.int(faults.nemesisIntervalMs / 4, faults.nemesisIntervalMs * 2));
      if (stopWorkload) break;
      const roll = nemesisRng.next();
      const down = nodes.filter((n) => !n.alive);
      if (opts.membershipChanges && nemesisRng.chance(0.4)) {
        const leader = nodes.find((n) => n.alive && n.group?.role === 'leader');
        if (leader?.group) {
          const g = leader.group;
          const m = g.membership();
          const pick = nemesisRng.next();
          const outsiders = ids.filter((x) => !m.voters.includes(x) && !m.learners.includes(x));
          let change: Promise<unknown> | undefined;
          let what = '';
          if (pick < 0.3 && outsiders.length > 0) {
            const id = nemesisRng.pick(outsiders);
            what = `add learner ${id}`;
            change = g.addLearner(id);
          } else if (pick < 0.55 && m.learners.length > 0) {
            const id = nemesisRng.pick(m.learners);
            what = `promote ${id}`;
            change = g.promote(id);
          } else if (pick < 0.8 && m.voters.length + m.learners.length > 3) {
            // Keep at least 3 voters so the group still tolerates a crash.
            const candidates = m.voters.length > 3 ? [...m.voters, ...m.learners] : m.learners;
            if (candidates.length > 0) {
              const id = nemesisRng.pick(candidates);
              what = `remove ${id}`;
              change = g.removeMember(id);
            }
          } else {
            const to = nemesisRng.pick(m.voters.filter((x) => x !== leader.id).concat(['']));
            what = `transfer leadership${to ? ` to ${to}` : ''}`;
            change = g.transferLeadership(to || undefined);
          }
          if (change) {
            changes++;
            trace.add(`t=${sched.now} ${what} (via ${leader.id})`);
            change.then(
              () => trace.add(`t=${sched.now} ${what}: done`),
              (err: unknown) => trace.add(`t=${sched.now} ${what}: ${(err as Error).message}`),
            );
          }
        }
        continue;
      }
      if (faults.churn) {
        const leader = nodes.find((n) => n.alive && n.group?.role === 'leader');
        const up = nodes.filter((n) => n.alive);
        if (roll < 0.35 && leader && down.length < maxDown) crashNode(leader);
        else if (roll < 0.5 && up.length > 0 && down.length < maxDown) crashNode(nemesisRng.pick(up));
        else if (roll < 0.55) await powerFailure();
        else if (roll < 0.9 && down.length > 0) await startNode(nemesisRng.pick(down));
        else if (roll < 0.95) {
          const shuffled = [...ids].sort(() => nemesisRng.next() - 0.5);
          net.partition([shuffled.slice(0, 1), shuffled.slice(1)]);
          partitions++;
        } else net.heal();
        continue;
      }
      if (faults.crashes && roll < 0.3) {
        const up = nodes.filter((n) => n.alive);
        if (down.length < maxDown && up.length > 0) {
          // Prefer crashing the leader: that is where the interesting bugs are.
          const leader = up.find((n) => n.group?.role === 'leader');
          crashNode(leader && nemesisRng.chance(0.6) ? leader : nemesisRng.pick(up));
        }
      } else if (faults.crashes && roll < 0.55) {
        if (down.length > 0) await startNode(nemesisRng.pick(down));
      } else if (faults.partitions && roll < 0.7) {
        const shuffled = [...ids].sort(() => nemesisRng.next() - 0.5);
        const cut = nemesisRng.int(1, ids.length - 1);
        net.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
        partitions++;
      } else if (faults.partitions && roll < 0.78) {
        const a = nemesisRng.pick(ids);
        const b = nemesisRng.pick(ids.filter((x) => x !== a));
        net.cutOneWay(a, b);
        partitions++;
      } else if (faults.crashes && roll < 0.8) {
        if (nemesisRng.chance(0.1)) await powerFailure();
      } else if (roll < 0.92) {
        net.heal();
      } else {
        // Vary the network: calm spells and bursts of loss.
        const f = faults.network;
        net.faults = nemesisRng.chance(0.5) ? CALM_NETWORK : { ...f, dropRate: Math.min(0.5, f.dropRate * nemesisRng.int(1, 6)) };
        trace.add(`t=${sched.now} network drop=${net.faults.dropRate}`);
      }
    }
  };

  // ---------------------------------------------------------------- run
  let lastLeaderTerm = 0;
  const check = () => {
    for (const n of nodes) {
      if (!n.alive || !n.group) continue;
      const core = n.group.debugCore;
      safety.observe(n.id, core);
      if (!stopWorkload && faults.assassinateRate && core.role === 'leader' && core.term > lastLeaderTerm) {
        lastLeaderTerm = core.term;
        if (nemesisRng.chance(faults.assassinateRate)) {
          const victim = n;
          const epoch = victim.owner.epoch;
          const isolate = nemesisRng.chance(0.5);
          sched.schedule(nemesisRng.int(1, 25), () => {
            if (victim.owner.epoch !== epoch) return;
            // Isolating keeps the leader's unreplicated tail (clients still reach it); a crash loses what was not yet durable.
            if (isolate) {
              net.partition([[victim.id], ids.filter((x) => x !== victim.id)]);
              partitions++;
            } else if (nodes.filter((x) => !x.alive).length < nNodes - 1) crashNode(victim);
          });
        }
      }
    }
  };

  // Start every node (inside the scheduler, so all async start-up work runs on virtual time).
  sched.schedule(0, () => {
    for (const n of nodes) void startNode(n);
  });
  const nClients = opts.clients ?? 4;
  sched.schedule(1, () => {
    for (let c = 0; c < nClients; c++) void client(c);
    void nemesis();
  });
  await sched.run(duration, check);

  // Heal: restart everyone, calm network, and require progress.
  stopWorkload = true;
  net.heal();
  net.faults = CALM_NETWORK;
  sched.schedule(0, () => {
    for (const n of nodes) if (!n.alive) void startNode(n);
  });
  await sched.run(sched.now + 500, check);
  let progressed = false;
  const livenessDeadline = sched.now + 20_000;
  sched.schedule(0, () => {
    void (async () => {
      while (!progressed && sched.now < livenessDeadline) {
        const leader = nodes.find((n) => n.alive && n.group?.role === 'leader');
        if (leader) {
          try {
            await leader.group!.propose(encodeKv({ op: 'put', key: '__final', value: 'x' }));
            progressed = true;
            break;
          } catch {
            // retry below
          }
        }
        await sleep(50);
      }
    })();
  });
  await sched.run(livenessDeadline, check, () => progressed);
  // Let followers catch up before the end-state checks.
  await sched.run(sched.now + 1_000, check);
  if (sched.exhausted) safety.violations.push(`event storm: the run exceeded ${sched.maxSteps} events (at virtual time ${Math.round(sched.now)} ms)`);
  else if (!progressed) safety.violations.push('liveness: no leader could commit within 20 s after the network healed and every node restarted');

  // Every replica should converge to the same state once the group is healthy.
  const live = nodes.filter((n) => n.alive && n.group);
  const maxApplied = Math.max(...live.map((n) => n.group!.status().appliedIndex));
  for (const n of live) {
    const st = n.group!.status();
    if (progressed && st.appliedIndex === maxApplied) {
      const ref = live.find((x) => x.group!.status().appliedIndex === maxApplied)!;
      const a = JSON.stringify([...n.sm!.data].sort());
      const b = JSON.stringify([...ref.sm!.data].sort());
      if (a !== b) safety.violations.push(`convergence: ${n.id} and ${ref.id} applied ${maxApplied} entries but hold different states`);
    }
  }

  let lin: SimulationResult['linearizability'] = 'skipped';
  let linInfo: string | undefined;
  if (opts.checkHistory) {
    const r = opts.checkHistory(history);
    lin = r.result;
    linInfo = r.info;
    if (lin === 'illegal') safety.violations.push(`linearizability: client history is not linearizable${linInfo ? `\n${linInfo}` : ''}`);
  }

  for (const n of nodes) if (n.alive) tallySnapshots(n);
  for (const n of nodes) if (n.alive) n.owner.epoch++; // stop everything still scheduled
  const maxTerm = Math.max(0, ...live.map((n) => n.group!.status().term));
  const commitIndex = Math.max(0, ...live.map((n) => n.group!.status().commitIndex));
  return {
    seed,
    ok: safety.ok,
    violations: safety.violations,
    linearizability: lin,
    trace: trace.last(),
    stats: {
      steps: sched.steps,
      virtualMs: sched.now,
      ops: history.length,
      okOps: history.filter((o) => o.ret !== Infinity).length,
      unknownOps: history.filter((o) => o.ret === Infinity).length,
      crashes,
      partitions,
      maxTerm,
      commitIndex,
      messagesDelivered: net.delivered,
      messagesDropped: net.dropped,
      snapshotsTaken: snapTotals.taken,
      snapshotsInstalled: snapTotals.installed,
    },
  };
}

function describe(c: KvCommand): string {
  switch (c.op) {
    case 'put':
      return `put ${c.key}=${c.value}`;
    case 'get':
      return `get ${c.key}`;
    case 'del':
      return `del ${c.key}`;
    case 'cas':
      return `cas ${c.key} ${c.expected}->${c.next}`;
  }
}
