import type { Clock, Logger } from '@tessera/raft';

/**
 * Rate-limited reporting of a connection outage. A client reconnecting with backoff fails many
 * times while Redis is away; the log should say so once, then remind at growing intervals
 * (1 s, 2 s, 4 s, ... up to a minute), and say when it is over.
 */
export class OutageLog {
  private since: number | undefined;
  private failures = 0;
  private nextAt = 0;
  private gapMs: number;

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly what: string,
    private readonly firstGapMs = 1_000,
    private readonly maxGapMs = 60_000,
  ) {
    this.gapMs = firstGapMs;
  }

  /** True while failures have been seen since the last recovery. */
  get failing(): boolean {
    return this.since !== undefined;
  }

  /** Records one failure, logging it if the previous report is old enough. */
  failure(err: unknown): void {
    const now = this.clock.now();
    this.failures++;
    const error = err instanceof Error ? err.message : String(err);
    if (this.since === undefined) {
      this.since = now;
      this.gapMs = this.firstGapMs;
      this.nextAt = now + this.gapMs;
      this.logger.warn({ error }, `${this.what}: unreachable; retrying with backoff`);
      return;
    }
    if (now < this.nextAt) return;
    this.logger.warn({ error, failures: this.failures, downForMs: Math.round(now - this.since) }, `${this.what}: still unreachable`);
    this.gapMs = Math.min(this.gapMs * 2, this.maxGapMs);
    this.nextAt = now + this.gapMs;
  }

  /** Ends the outage (if any), logging how long it lasted. */
  recovered(): void {
    if (this.since === undefined) return;
    this.logger.info({ failures: this.failures, downForMs: Math.round(this.clock.now() - this.since) }, `${this.what}: reachable again`);
    this.since = undefined;
    this.failures = 0;
  }
}
