import { CrankError } from '@crank/capabilities';

/**
 * A cap on the payload bytes the controller holds for calls in flight (`CRANK_MAX_INFLIGHT_BYTES`).
 * Each call takes its input's size when it arrives and gives it back when it ends; a call that
 * would pass the cap is refused with RESOURCE_EXHAUSTED instead of growing the process without
 * bound. A single payload larger than the whole budget is still let through when nothing else is
 * held, so that the cap never makes a legal payload impossible.
 */
export class ByteBudget {
  private held = 0;

  constructor(readonly limitBytes: number) {}

  /** Bytes held now. */
  get inUse(): number {
    return this.held;
  }

  /** Whether `bytes` more would fit now. */
  fits(bytes: number): boolean {
    return this.held === 0 || this.held + bytes <= this.limitBytes;
  }

  /**
   * Refuses `bytes` that would not fit now, without taking them (a check at the edge, before a
   * body is read).
   * @throws CrankError RESOURCE_EXHAUSTED
   */
  check(bytes: number): void {
    if (this.fits(bytes)) return;
    throw new CrankError(
      'RESOURCE_EXHAUSTED',
      `payloads in flight would pass the controller's limit of ${this.limitBytes} bytes; try again shortly`,
      { details: { limitBytes: this.limitBytes, retryAfterSeconds: 1 } },
    );
  }

  /**
   * Takes `bytes`; the returned function gives them back (once, however often it is called).
   * @throws CrankError RESOURCE_EXHAUSTED when they do not fit
   */
  take(bytes: number): () => void {
    this.check(bytes);
    this.held += bytes;
    let returned = false;
    return () => {
      if (returned) return;
      returned = true;
      this.held -= bytes;
    };
  }
}
