import type { Logger } from 'pino';
import { backoffDelayMs } from './backoff.js';

/** What the loop needs from the controller connection: nothing more. */
export interface RegistrationPort {
  /**
   * Registers this worker; resolves with the heartbeat interval the controller asks for. `signal`
   * aborts when the loop stops: the call should be cancelled then.
   */
  register(signal: AbortSignal): Promise<number>;
  /** Sends one heartbeat; resolves with the interval, or `'not-found'` if the controller forgot us. */
  heartbeat(signal: AbortSignal): Promise<number | 'not-found'>;
}

export interface HeartbeatLoopOptions {
  intervalMs: number;
  maxBackoffMs: number;
  logger: Logger;
  /** Called on each change of registration state (for /health). */
  onRegistered?: (registered: boolean) => void;
  /**
   * Called after each failed call with the count of failures in a row; the worker may switch to
   * another controller then (see {@link HeartbeatLoop.registerAgain}).
   */
  onFailure?: (consecutiveFailures: number) => void;
}

/**
 * Keeps the worker registered: Register, then a heartbeat every interval. A heartbeat answered
 * NOT_FOUND (controller restarted or evicted us) registers again at once; while the controller is
 * unreachable, retries back off (capped at the interval, so a returning controller sees us within
 * one beat). One timer, never overlapping, unref'd: it never keeps the process alive.
 */
export class HeartbeatLoop {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private registered = false;
  private failures = 0;
  private intervalMs: number;
  private current: Promise<void> | undefined;
  /** Cancels a call in progress when the loop stops (it may be waiting for the controller). */
  private readonly stopping = new AbortController();

  constructor(
    private readonly port: RegistrationPort,
    private readonly options: HeartbeatLoopOptions,
  ) {
    this.intervalMs = options.intervalMs;
  }

  get isRegistered(): boolean {
    return this.registered;
  }

  /**
   * Keeps beating until {@link stop}. Registers first unless `registeredIntervalMs` says the
   * caller already did (with the interval the controller answered).
   */
  start(registeredIntervalMs?: number): void {
    if (this.running) return;
    this.running = true;
    if (registeredIntervalMs === undefined) {
      this.schedule(0);
      return;
    }
    this.intervalMs = registeredIntervalMs;
    this.setRegistered(true);
    this.schedule(this.jittered(this.intervalMs));
  }

  /**
   * Sends a beat now (e.g. to report readiness or draining at once) instead of at the next tick;
   * the schedule restarts from it, so there is still one chain of beats.
   */
  async beatNow(): Promise<void> {
    await this.current;
    if (!this.running || !this.registered) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.current = this.tick().finally(() => {
      this.current = undefined;
    });
    await this.current;
  }

  /** Stops the loop and waits for a beat in progress. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.stopping.abort();
    await this.current;
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.current = this.tick().finally(() => {
        this.current = undefined;
      });
    }, delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      if (!this.registered) {
        this.intervalMs = await this.port.register(this.stopping.signal);
        this.setRegistered(true);
        this.options.logger.info(
          { event: 'registered', heartbeatIntervalMs: this.intervalMs },
          'registered with controller',
        );
      } else {
        const result = await this.port.heartbeat(this.stopping.signal);
        if (result === 'not-found') {
          this.options.logger.warn(
            { event: 'heartbeat_not_found' },
            'controller does not know this worker; registering again',
          );
          this.setRegistered(false);
          if (this.running) {
            this.schedule(0);
            return;
          }
        } else {
          this.intervalMs = result;
        }
      }
      this.failures = 0;
      this.schedule(this.jittered(this.intervalMs));
    } catch (error) {
      this.failures += 1;
      const delay = Math.min(
        this.intervalMs,
        backoffDelayMs(this.failures - 1, 100, this.options.maxBackoffMs),
      );
      this.options.logger.warn(
        {
          event: this.registered ? 'heartbeat_failed' : 'register_failed',
          attempt: this.failures,
          retryInMs: delay,
          err: errorSummary(error),
        },
        'controller call failed; retrying',
      );
      this.schedule(delay);
      this.options.onFailure?.(this.failures);
    }
  }

  /**
   * Forgets the registration: the next beat registers (with a controller that may be another
   * one). Failures start counting again.
   */
  registerAgain(): void {
    this.failures = 0;
    this.setRegistered(false);
  }

  private setRegistered(registered: boolean): void {
    if (this.registered === registered) return;
    this.registered = registered;
    this.options.onRegistered?.(registered);
  }

  /** Up to 10% early so that a fleet started together does not beat in lockstep. */
  private jittered(ms: number): number {
    return Math.round(ms * (0.9 + Math.random() * 0.1));
  }
}

function errorSummary(error: unknown): { code?: unknown; message: string } {
  return { code: (error as { code?: unknown }).code, message: (error as Error).message };
}
