/** closed: calls pass; open: none pass until the cooldown ends; half-open: one trial call passes. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * Per-worker circuit breaker. Opens after `failureThreshold` consecutive failures, lets one trial
 * call through after `cooldownMs`, and closes on its success (reopens on its failure).
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private trialInFlight = false;
  private state_: BreakerState = 'closed';

  constructor(
    private readonly failureThreshold: number,
    private readonly cooldownMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState {
    if (this.state_ === 'open' && this.now() - this.openedAt >= this.cooldownMs) this.state_ = 'half-open';
    return this.state_;
  }

  /** Whether a call may be sent now. In half-open state, only the first caller gets a yes. */
  tryPass(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'half-open' && !this.trialInFlight) {
      this.trialInFlight = true;
      return true;
    }
    return false;
  }

  /** Whether a call could pass, without claiming the half-open trial. */
  canPass(): boolean {
    const state = this.state;
    return state === 'closed' || (state === 'half-open' && !this.trialInFlight);
  }

  recordSuccess(): void {
    this.failures = 0;
    this.trialInFlight = false;
    this.state_ = 'closed';
  }

  /** A call that taught nothing (cancelled, timed out) ends a half-open trial without a verdict. */
  releaseTrial(): void {
    this.trialInFlight = false;
  }

  recordFailure(): void {
    this.failures += 1;
    this.trialInFlight = false;
    if (this.state_ === 'half-open' || this.failures >= this.failureThreshold) {
      this.state_ = 'open';
      this.openedAt = this.now();
    }
  }
}
