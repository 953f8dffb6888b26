/** Calls and failed calls that ended in one bucket of time. */
export interface RateBucket {
  /** Start of the bucket, epoch ms. */
  at: number;
  requests: number;
  errors: number;
}

/**
 * Calls per bucket over a sliding window (default 15 minutes of 5-second buckets), for the
 * dashboard's rate chart. A fixed ring: recording is two increments, and memory does not grow
 * with traffic. Prometheus keeps the exact counters; this only answers "what happened lately"
 * without a Prometheus server.
 */
export class RequestRates {
  private readonly requests: Uint32Array;
  private readonly errors: Uint32Array;
  /** Bucket number (time / bucketMs) each slot holds; a stale slot counts as empty. */
  private readonly slotOf: Float64Array;

  constructor(
    readonly bucketMs = 5_000,
    readonly windowMs = 15 * 60_000,
    private readonly now: () => number = Date.now,
  ) {
    const slots = Math.ceil(windowMs / bucketMs);
    this.requests = new Uint32Array(slots);
    this.errors = new Uint32Array(slots);
    this.slotOf = new Float64Array(slots).fill(-1);
  }

  /** Counts one call that ended now; `failed` when it ended with an error. */
  record(failed: boolean): void {
    const bucket = Math.floor(this.now() / this.bucketMs);
    const slot = bucket % this.slotOf.length;
    if (this.slotOf[slot] !== bucket) {
      this.slotOf[slot] = bucket;
      this.requests[slot] = 0;
      this.errors[slot] = 0;
    }
    this.requests[slot] = (this.requests[slot] ?? 0) + 1;
    if (failed) this.errors[slot] = (this.errors[slot] ?? 0) + 1;
  }

  /** Every bucket of the window, oldest first, the current (still filling) one last. */
  buckets(): RateBucket[] {
    const current = Math.floor(this.now() / this.bucketMs);
    const slots = this.slotOf.length;
    const out: RateBucket[] = [];
    for (let bucket = current - slots + 1; bucket <= current; bucket++) {
      const slot = bucket % slots;
      const live = this.slotOf[slot] === bucket;
      out.push({
        at: bucket * this.bucketMs,
        requests: live ? (this.requests[slot] ?? 0) : 0,
        errors: live ? (this.errors[slot] ?? 0) : 0,
      });
    }
    return out;
  }
}
