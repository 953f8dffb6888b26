import type { TlsIdentity } from '@crank/controller-client';
import type { Logger } from 'pino';
import { backoffDelayMs } from './backoff.js';

export interface CertificateRenewerOptions {
  /** Renew when this share of the certificate's lifetime is left. */
  renewAtRemainingFraction: number;
  maxBackoffMs: number;
  logger: Logger;
}

/**
 * Renews the worker's certificate before it expires, without a restart: at the configured share of
 * its remaining lifetime it asks for a new one (authenticated by the current one) and hands it to
 * `apply`, which swaps it into the server and the controller channel.
 */
export class CertificateRenewer {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private failures = 0;
  /** When the current certificate was received: its lifetime is measured from here. */
  private receivedAt = Date.now();

  constructor(
    private current: TlsIdentity,
    private readonly renew: (current: TlsIdentity) => Promise<TlsIdentity>,
    private readonly apply: (next: TlsIdentity) => void,
    private readonly options: CertificateRenewerOptions,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.scheduleFor(this.current);
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Milliseconds until the renewal of `identity`, received at `receivedAt`, is due: when
   * `renewAtRemainingFraction` of its lifetime is left. Measured from receipt, not from
   * notBefore, which the CA backdates to absorb clock skew.
   */
  dueInMs(identity: TlsIdentity, now = Date.now(), receivedAt = this.receivedAt): number {
    const lifetime = identity.notAfter.getTime() - receivedAt;
    return Math.max(0, receivedAt + lifetime * (1 - this.options.renewAtRemainingFraction) - now);
  }

  private scheduleFor(identity: TlsIdentity, delayMs = this.dueInMs(identity)): void {
    if (!this.running) return;
    // setTimeout overflows past 2^31-1 ms (about 24.8 days): wake up and re-check instead.
    this.timer = setTimeout(() => void this.run(), Math.min(delayMs, 2 ** 31 - 1));
    this.timer.unref();
  }

  private async run(): Promise<void> {
    if (this.dueInMs(this.current) > 0) {
      this.scheduleFor(this.current);
      return;
    }
    try {
      const next = await this.renew(this.current);
      this.current = next;
      this.receivedAt = Date.now();
      this.failures = 0;
      this.apply(next);
      this.options.logger.info(
        { event: 'certificate_renewed', notAfter: next.notAfter.toISOString() },
        'certificate renewed',
      );
      this.scheduleFor(next);
    } catch (error) {
      this.failures += 1;
      const delay = backoffDelayMs(this.failures, 500, this.options.maxBackoffMs * 6);
      this.options.logger.warn(
        {
          event: 'certificate_renewal_failed',
          attempt: this.failures,
          retryInMs: delay,
          err: (error as Error).message,
        },
        'certificate renewal failed; retrying',
      );
      this.scheduleFor(this.current, delay);
    }
  }
}
