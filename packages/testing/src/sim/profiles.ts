import { ALL_FAULTS, NO_FAULTS, type SimulationOptions } from './simulation.js';

/** Simulation presets: each stresses a different corner. Options other than the seed. */
export const PROFILES = {
  /** 3 voters, every fault on. */
  default: { nodes: 3, faults: ALL_FAULTS },
  /** 5 voters, every fault on: more overlapping minorities and majorities. */
  five: { nodes: 5, faults: ALL_FAULTS },
  /**
   * One entry per AppendEntries and one in flight, frequent faults: old-term entries reach a majority
   * one at a time, which is what Raft's Figure 8 needs.
   */
  narrow: { nodes: 5, raft: { maxInflightMsgs: 1, maxMsgBytes: 1 }, faults: { ...ALL_FAULTS, nemesisIntervalMs: 150, diskLatencyMs: 10 } },
  /** Slow disks and frequent crashes: long windows between "written" and "durable". */
  'slow-disk': { nodes: 3, faults: { ...ALL_FAULTS, nemesisIntervalMs: 150, diskLatencyMs: 60 } },
  /** Leaders killed soon after election, quick restarts, 5 voters, one entry per message. */
  churn: { nodes: 5, raft: { maxInflightMsgs: 1, maxMsgBytes: 1 }, faults: { ...ALL_FAULTS, churn: true, assassinateRate: 0.5, nemesisIntervalMs: 300, diskLatencyMs: 20 } },
  /** Check-quorum off: a partitioned leader keeps its role (legal), so any read it serves alone is stale. */
  'no-check-quorum': { nodes: 3, raft: { checkQuorum: false }, faults: { ...ALL_FAULTS, nemesisIntervalMs: 200 } },
  /** Membership changes (learners joining, promotions, removals) and leadership transfers, every fault on. */
  membership: { nodes: 3, membershipChanges: { spares: 2 }, raft: { learners: { promotion: 'manual', maxLagEntries: 20, stableMs: 0 } }, faults: ALL_FAULTS },
  /** The same with automatic learner promotion. */
  'membership-auto': { nodes: 3, membershipChanges: { spares: 2 }, raft: { learners: { promotion: 'auto', maxLagEntries: 20, stableMs: 50 } }, faults: ALL_FAULTS },
  /** No faults: a baseline. */
  calm: { nodes: 3, faults: NO_FAULTS },
} satisfies Record<string, Omit<SimulationOptions, 'seed'>>;

export type ProfileName = keyof typeof PROFILES | 'mixed';

/** The profiles `mixed` rotates through, by seed. */
const MIXED: (keyof typeof PROFILES)[] = ['default', 'five', 'narrow', 'slow-disk', 'churn', 'membership', 'membership-auto'];

/** The options for `seed` under `profile` (`mixed` picks a faulty profile from the seed). */
export function profileOptions(profile: ProfileName, seed: number): { name: keyof typeof PROFILES; options: Omit<SimulationOptions, 'seed'> } {
  const name = profile === 'mixed' ? MIXED[seed % MIXED.length]! : profile;
  const options = PROFILES[name];
  if (!options) throw new Error(`unknown simulation profile ${profile}`);
  return { name, options };
}
