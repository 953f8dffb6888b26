import type { Logger } from 'pino';

/** Settings of {@link OutlierDetector}. */
export interface OutlierDetectorOptions {
  /** Consecutive calls that ran out of time on one worker before it is ejected. */
  consecutiveTimeouts: number;
  /** First ejection length; each further ejection of the same worker doubles it, up to 10x. */
  baseEjectionMs: number;
  /** How often an ejected worker is probed (health check with a short deadline). */
  probeIntervalMs: number;
  logger: Logger;
  now?: () => number;
}

/** Answers whether a worker serves health checks right now (resolves false on any failure). */
export type WorkerProbe = (workerId: string) => Promise<boolean>;

interface WorkerTrack {
  timeouts: number;
  ejections: number;
  ejectedUntil: number;
  probing: boolean;
}

/**
 * Takes a hung worker out of rotation, as Envoy's outlier detection does. A caller's deadline
 * passing is not the worker's fault, so the circuit breaker ignores it; but a worker on which
 * `consecutiveTimeouts` calls in a row ran out of time, while another worker for the same work is
 * still in rotation, is ejected for a while. While ejected it is probed with a short health check;
 * the ejection ends when the time is up and the worker answers a probe. A call it completes resets
 * its count.
 */
export class OutlierDetector {
  private readonly tracks = new Map<string, WorkerTrack>();
  private readonly now: () => number;
  private probeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: OutlierDetectorOptions,
    private readonly probe: WorkerProbe,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Whether the worker is out of rotation now. */
  isEjected(workerId: string): boolean {
    const track = this.tracks.get(workerId);
    return track !== undefined && track.ejectedUntil > 0;
  }

  /** A call on the worker completed (with an answer, even an error it sent). */
  recordAnswer(workerId: string): void {
    const track = this.tracks.get(workerId);
    if (track) track.timeouts = 0;
  }

  /**
   * A call on the worker ran out of time while the worker held it.
   * @param othersInRotation - whether another worker could take the work if this one is ejected
   */
  recordTimeout(workerId: string, othersInRotation: boolean): void {
    const track = this.track(workerId);
    track.timeouts += 1;
    if (track.ejectedUntil > 0 || track.timeouts < this.options.consecutiveTimeouts || !othersInRotation)
      return;
    track.ejections += 1;
    const lengthMs = this.options.baseEjectionMs * Math.min(10, 2 ** (track.ejections - 1));
    track.ejectedUntil = this.now() + lengthMs;
    this.options.logger.warn(
      { event: 'worker_ejected', workerId, consecutiveTimeouts: track.timeouts, ejectionMs: lengthMs },
      'worker ejected: calls keep running out of time on it while others answer',
    );
    this.scheduleProbes();
  }

  /** Forgets a worker that left. */
  forget(workerId: string): void {
    this.tracks.delete(workerId);
  }

  stop(): void {
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
  }

  private track(workerId: string): WorkerTrack {
    let track = this.tracks.get(workerId);
    if (!track) {
      track = { timeouts: 0, ejections: 0, ejectedUntil: 0, probing: false };
      this.tracks.set(workerId, track);
    }
    return track;
  }

  private scheduleProbes(): void {
    if (this.probeTimer) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      this.probeEjected();
    }, this.options.probeIntervalMs);
    this.probeTimer.unref();
  }

  private probeEjected(): void {
    let anyEjected = false;
    for (const [workerId, track] of this.tracks) {
      if (track.ejectedUntil === 0) continue;
      anyEjected = true;
      if (track.probing) continue;
      track.probing = true;
      void this.probe(workerId)
        .catch(() => false)
        .then((serving) => {
          track.probing = false;
          if (!serving || this.now() < track.ejectedUntil || this.tracks.get(workerId) !== track) return;
          track.ejectedUntil = 0;
          track.timeouts = 0;
          this.options.logger.info(
            { event: 'worker_restored', workerId },
            'ejected worker answers health checks again; back in rotation',
          );
        });
    }
    if (anyEjected) this.scheduleProbes();
  }
}
