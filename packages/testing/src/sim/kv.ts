import type { SnapshotSource, StateMachine } from '@tessera/raft';

/** Commands of the simulation's key/value state machine. */
export type KvCommand =
  | { op: 'put'; key: string; value: string }
  | { op: 'get'; key: string }
  | { op: 'del'; key: string }
  | { op: 'cas'; key: string; expected: string | null; next: string };

export type KvResult = string | null | boolean;

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeKv(cmd: KvCommand): Uint8Array {
  return enc.encode(JSON.stringify(cmd));
}

export function decodeKv(data: Uint8Array): KvCommand {
  return JSON.parse(dec.decode(data)) as KvCommand;
}

/**
 * A deterministic key/value map: put and del return the previous value, get the current one, cas
 * whether it swapped. Supports snapshots (a JSON image, captured by copy).
 */
export class KvStateMachine implements StateMachine<KvResult> {
  readonly data = new Map<string, string>();
  /** Index of every command applied, in order (for the checker). */
  lastApplied = 0;
  /** Called after each apply, for invariant checks. */
  onApply: ((index: number, command: Uint8Array, previousIndex: number) => void) | undefined;
  /**
   * Called after a restore with the restored state, the index of the last command it includes, and
   * the index of the last command applied before it (0 on a fresh instance).
   */
  onRestore: ((data: ReadonlyMap<string, string>, lastApplied: number, previouslyApplied: number) => void) | undefined;

  apply(command: Uint8Array, index: number): KvResult {
    const prev = this.lastApplied;
    this.lastApplied = index;
    this.onApply?.(index, command, prev);
    return applyKv(this.data, decodeKv(command));
  }

  get(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  snapshot(): SnapshotSource {
    const image = enc.encode(JSON.stringify({ applied: this.lastApplied, data: [...this.data] }));
    return {
      async *chunks() {
        // Small chunks so multi-chunk transfer is exercised even for tiny states.
        for (let off = 0; off < image.byteLength; off += 64) yield image.subarray(off, off + 64);
      },
    };
  }

  async restore(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const parts: Uint8Array[] = [];
    for await (const c of chunks) parts.push(c);
    const all = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let off = 0;
    for (const p of parts) {
      all.set(p, off);
      off += p.byteLength;
    }
    const img = JSON.parse(dec.decode(all)) as { applied: number; data: [string, string][] };
    const before = this.lastApplied;
    this.data.clear();
    for (const [k, v] of img.data) this.data.set(k, v);
    this.lastApplied = img.applied;
    this.onRestore?.(this.data, img.applied, before);
  }
}

/** The model semantics, shared by the state machine and the checker's expectations. */
export function applyKv(data: Map<string, string>, c: KvCommand): KvResult {
  switch (c.op) {
    case 'put': {
      const prev = data.get(c.key) ?? null;
      data.set(c.key, c.value);
      return prev;
    }
    case 'get':
      return data.get(c.key) ?? null;
    case 'del': {
      const prev = data.get(c.key) ?? null;
      data.delete(c.key);
      return prev;
    }
    case 'cas': {
      const cur = data.get(c.key) ?? null;
      if (cur !== c.expected) return false;
      data.set(c.key, c.next);
      return true;
    }
  }
}
