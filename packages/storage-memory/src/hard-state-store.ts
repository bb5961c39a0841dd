import { EMPTY_HARD_STATE, type HardState, type HardStateStore } from '@tessera/raft';

/** An in-memory {@link HardStateStore}. */
export class MemoryHardStateStore implements HardStateStore {
  private state: HardState = EMPTY_HARD_STATE;

  load(): Promise<HardState> {
    return Promise.resolve(this.state);
  }

  save(state: HardState): Promise<void> {
    this.state = { term: state.term, vote: state.vote, commit: state.commit };
    return Promise.resolve();
  }
}
