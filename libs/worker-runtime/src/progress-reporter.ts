import { Metadata } from '@grpc/grpc-js';
import { ReportProgressRequest } from '@crank/proto';
import type { Logger } from 'pino';

/** Sends one progress report of a job to the controller. */
export type ProgressSink = (report: ReportProgressRequest) => Promise<void>;

/** Shortest gap between two reports of one call; the newest of a burst is sent at its end. */
export const PROGRESS_INTERVAL_MS = 250;

/**
 * `ctx.progress` of one call that runs an attempt of a job: reports at most one every 250 ms
 * (the newest wins), never blocks the handler, and stops when the call ends. A failed report is
 * logged at debug level and dropped: progress is advice, the outcome is what counts.
 */
export class ProgressReporter {
  private lastSentAt = 0;
  private pending: ReportProgressRequest | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(
    private readonly jobId: string,
    private readonly sink: ProgressSink,
    private readonly logger: () => Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * @param fraction - 0 to 1 (clamped)
   * @throws TypeError when `fraction` is not a number
   */
  report(fraction: number, message = ''): void {
    if (typeof fraction !== 'number' || Number.isNaN(fraction)) {
      throw new TypeError(`progress: fraction must be a number from 0 to 1 (got ${String(fraction)})`);
    }
    if (this.ended) return;
    this.pending = ReportProgressRequest.fromPartial({
      jobId: this.jobId,
      fraction: Math.min(1, Math.max(0, fraction)),
      message: message.slice(0, 500),
    });
    const wait = this.lastSentAt + PROGRESS_INTERVAL_MS - this.now();
    if (wait <= 0) {
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, wait);
      this.timer.unref();
    }
  }

  /** The call ended: nothing more is sent. */
  end(): void {
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = undefined;
  }

  private flush(): void {
    const report = this.pending;
    if (!report || this.ended) return;
    this.pending = undefined;
    this.lastSentAt = this.now();
    this.sink(report).catch((error: unknown) =>
      this.logger().debug(
        { event: 'progress_not_sent', err: (error as Error).message },
        'progress report dropped',
      ),
    );
  }
}

/** A sink over the controller client's ReportProgress call, with a short deadline. */
export function controllerProgressSink(
  reportProgress: (
    request: ReportProgressRequest,
    metadata: Metadata,
    options: { deadline: number },
    callback: (error: Error | null) => void,
  ) => unknown,
): ProgressSink {
  return (report) =>
    new Promise<void>((resolve, reject) => {
      reportProgress(report, new Metadata(), { deadline: Date.now() + 5_000 }, (error) =>
        error ? reject(error) : resolve(),
      );
    });
}
