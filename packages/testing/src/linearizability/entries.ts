/**
 * The history as one doubly-linked list of call and return entries in time order (Lowe's
 * "just-in-time linearization" list, as in porcupine). Linearizing an operation lifts its call and
 * return entries out of the list; backtracking unlifts them in O(1), dancing-links style.
 *
 * The list invariant the search relies on: the operations that may be linearized next are exactly
 * the call entries before the first return entry.
 */
export interface Entry {
  /** Operation id within the partition. */
  readonly id: number;
  /** For a call entry, its return entry; null for a return entry. */
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

/**
 * Builds the list for operations `0..n-1` and returns its head sentinel. Events are ordered by time;
 * at equal times calls come before returns, so operations that touch at an instant count as
 * concurrent (the permissive reading). Ties are otherwise broken by id, so the order is
 * deterministic.
 */
export function buildEntryList(calls: readonly number[], rets: readonly number[]): Entry {
  const n = calls.length;
  // Event k < n is the call of operation k, k >= n the return of operation k - n.
  const order = Array.from({ length: 2 * n }, (_, k) => k);
  const time = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    time[i] = calls[i]!;
    time[n + i] = rets[i]!;
  }
  order.sort((a, b) => {
    const ta = time[a]!;
    const tb = time[b]!;
    if (ta !== tb) return ta < tb ? -1 : 1;
    const ra = a >= n ? 1 : 0;
    const rb = b >= n ? 1 : 0;
    if (ra !== rb) return ra - rb;
    return a - b;
  });
  const returns: Entry[] = [];
  for (let i = 0; i < n; i++) returns.push({ id: i, match: null, prev: null, next: null });
  const head: Entry = { id: -1, match: null, prev: null, next: null };
  let last = head;
  for (const k of order) {
    const e: Entry = k < n ? { id: k, match: returns[k]!, prev: null, next: null } : returns[k - n]!;
    e.prev = last;
    last.next = e;
    last = e;
  }
  return head;
}

/** Removes a call entry and its return entry from the list. */
export function lift(call: Entry): void {
  // A call entry always has a successor: at the latest, its own return.
  call.prev!.next = call.next;
  call.next!.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next !== null) ret.next.prev = ret.prev;
}

/** Puts back what {@link lift} removed; must undo lifts in reverse order. */
export function unlift(call: Entry): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next !== null) ret.next.prev = ret;
  call.prev!.next = call;
  call.next!.prev = call;
}
