import {
  CrankError,
  describeVersions,
  pickHighest,
  satisfiesRange,
  type Capability,
} from '@crank/capabilities';
import { echo, timerDelayMs } from '@crank/proto';
import { CircuitBreaker } from './circuit-breaker.js';
import type { CallSignal } from '../invoke/call-signal.js';
import type { OutlierDetector } from './outlier-detector.js';
import {
  offerInFlight,
  recordRecentCall,
  type OfferedCapability,
  type WorkerRecord,
} from '../registry/worker-record.js';
import type { RemovalReason, WorkerRegistry } from '../registry/worker-registry.js';

/**
 * How a routed call ended, as far as the worker's health goes. The one classification every
 * path (unary, stream, HTTP) reports, so that the breaker and the outlier detector count the same
 * way everywhere:
 * - `answered`: the worker answered, with its output or an error it sent on purpose;
 * - `fault`: the worker or the transport failed (connection lost, broken output, undeclared
 *   error): the circuit breaker counts it;
 * - `timeout`: the caller's deadline passed while the worker held the call: outlier detection
 *   counts it (a hung worker), the breaker does not (short deadlines are the caller's choice);
 * - `abandoned`: the caller cancelled, or the call never reached the worker: nothing is learned.
 */
export type LeaseOutcome = 'answered' | 'fault' | 'timeout' | 'abandoned';

/** The code a worker's recent call shows when its releaser named none. */
const OUTCOME_CODE: Readonly<Record<LeaseOutcome, string>> = {
  answered: 'ok',
  fault: 'INTERNAL',
  timeout: 'DEADLINE_EXCEEDED',
  abandoned: 'CANCELLED',
};

/** A reserved slot on one worker. Release it exactly once with the call's outcome. */
export interface Lease {
  readonly worker: WorkerRecord;
  readonly capability: Capability;
  /** Records that the call moved (a stream frame): stuck detection counts progress, not only ends. */
  progress(): void;
  /**
   * Frees the slot; the breaker, outlier detection and latency estimate learn from `outcome`.
   * `code` is what the caller got (`ok` or the error code), for the worker's recent calls; by
   * default the code its outcome implies.
   */
  release(outcome: LeaseOutcome, latencyMs?: number, code?: string): void;
}

export interface AcquireOptions {
  /** Absolute deadline (epoch ms); when unset the router's queue timeout applies. */
  deadlineMs?: number;
  signal?: CallSignal;
  /** Workers already tried for this call. */
  exclude?: ReadonlySet<string>;
}

export interface RouterOptions {
  queueLimit: number;
  queueTimeoutMs: number;
  breakerFailureThreshold: number;
  breakerCooldownMs: number;
  /** Takes hung workers out of rotation; none in unit tests that do not need it. */
  outliers?: OutlierDetector;
}

/** Seconds a caller is told to wait (`Retry-After`) before trying a capability again. */
export const RETRY_AFTER_SECONDS = 1;

interface Waiter {
  capabilityId: string;
  range: string;
  exclude: ReadonlySet<string> | undefined;
  resolve(lease: Lease): void;
  reject(error: Error): void;
}

/** Weight of the newest sample in the latency average. */
const EWMA_ALPHA = 0.2;
/** Latencies within this factor of each other count as equal, so that equals take turns. */
const LATENCY_TOLERANCE = 1.25;

/**
 * Chooses a worker for each call (DESIGN.md section 4). Candidates are live workers offering the
 * capability at a version in the caller's range with a free slot. A GPU worker with a free slot
 * comes before any CPU worker (it batches: filling it is cheaper than spreading); among workers of
 * the same kind, least in-flight first, then lowest recent latency (EWMA); equals take turns. When
 * no slot is free, calls wait in a bounded per-capability queue; past its bound they get
 * RESOURCE_EXHAUSTED.
 */
export class Router {
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly latencyMs = new Map<string, number>();
  private readonly queues = new Map<string, Waiter[]>();
  private turn = 0;
  /** resolve() answers by id, then range, valid while the registry's generation is unchanged. */
  private readonly resolved = new Map<string, Map<string, Capability>>();
  private resolvedCount = 0;
  private resolvedGeneration = -1;
  /** Scratch space of {@link tryLease}: the candidates of one choice, emptied after it. */
  private readonly scratchWorkers: WorkerRecord[] = [];
  private readonly scratchOffers: OfferedCapability[] = [];

  constructor(
    private readonly registry: WorkerRegistry,
    private readonly options: RouterOptions,
  ) {
    registry.addListener({
      onCapacity: () => this.drainQueues(),
      onRemoved: (worker: WorkerRecord, reason: RemovalReason) => {
        if (reason !== 'replaced') {
          this.breakers.delete(worker.id);
          this.latencyMs.delete(worker.id);
          options.outliers?.forget(worker.id);
        }
      },
    });
  }

  /**
   * Resolves the versions a range selects, or throws NOT_FOUND naming what exists.
   * @returns the highest offered version in range (its schemas validate the input up front)
   */
  resolve(capabilityId: string, range: string): Capability {
    if (this.resolvedGeneration !== this.registry.generation || this.resolvedCount >= 1_000) {
      this.resolved.clear();
      this.resolvedCount = 0;
      this.resolvedGeneration = this.registry.generation;
    }
    const cached = this.resolved.get(capabilityId)?.get(range);
    if (cached) return cached;
    const capability = this.resolveUncached(capabilityId, range);
    let byRange = this.resolved.get(capabilityId);
    if (!byRange) {
      byRange = new Map();
      this.resolved.set(capabilityId, byRange);
    }
    byRange.set(range, capability);
    this.resolvedCount += 1;
    return capability;
  }

  private resolveUncached(capabilityId: string, range: string): Capability {
    const offered = this.registry.offeredVersions(capabilityId);
    if (offered.length === 0) {
      // A catalog capability with no worker yet is a matter of time (workers starting, a
      // controller that just restarted): tell callers to come back, not that it does not exist.
      if (this.registry.catalog.find(capabilityId) !== undefined) {
        throw new CrankError(
          'UNAVAILABLE',
          `capability "${capabilityId}" has no worker yet; try again shortly`,
          {
            details: { capability: capabilityId, retryAfterSeconds: RETRY_AFTER_SECONDS },
          },
        );
      }
      throw new CrankError('NOT_FOUND', `capability "${echo(capabilityId)}" is not offered by any worker`, {
        details: { capability: echo(capabilityId) },
      });
    }
    const versions = offered.map((c) => c.version);
    const best = pickHighest(versions, range);
    if (best === undefined) {
      throw new CrankError(
        'NOT_FOUND',
        `capability "${capabilityId}" has no version matching "${echo(range)}"; available: ${describeVersions(versions)}`,
        { details: { capability: capabilityId, range: echo(range), available: versions } },
      );
    }
    return offered.find((c) => c.version === best) as Capability;
  }

  /**
   * Refuses at once a call that would find every slot busy and the queue full, before anything
   * of it is parsed: under overload, refusing must cost less than serving.
   *
   * @throws CrankError NOT_FOUND / UNAVAILABLE as {@link resolve}, RESOURCE_EXHAUSTED
   */
  admit(capabilityId: string, range: string): void {
    this.resolve(capabilityId, range);
    const queued = this.queues.get(capabilityId)?.length ?? 0;
    if (queued >= this.options.queueLimit && !this.hasFreeSlot(capabilityId, range)) {
      throw this.queueFull(capabilityId, queued);
    }
  }

  /** Reserves a slot, waiting in the capability's queue when none is free. */
  acquire(capabilityId: string, range: string, options: AcquireOptions = {}): Promise<Lease> {
    if (options.signal?.aborted) {
      return Promise.reject(new CrankError('CANCELLED', 'the caller cancelled the call'));
    }
    this.resolve(capabilityId, range);
    const lease = this.tryLease(capabilityId, range, options.exclude);
    if (lease) return Promise.resolve(lease);

    const queue = this.queues.get(capabilityId) ?? [];
    if (queue.length >= this.options.queueLimit)
      return Promise.reject(this.queueFull(capabilityId, queue.length));
    this.queues.set(capabilityId, queue);
    return new Promise<Lease>((resolve, reject) => {
      const waitMs = timerDelayMs(
        (options.deadlineMs ?? Date.now() + this.options.queueTimeoutMs) - Date.now(),
      );
      const cleanup = (): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        const index = queue.indexOf(waiter);
        if (index >= 0) queue.splice(index, 1);
      };
      const waiter: Waiter = {
        capabilityId,
        range,
        exclude: options.exclude,
        resolve: (lease) => {
          cleanup();
          resolve(lease);
        },
        reject: (error) => {
          cleanup();
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        const live = this.hasLiveWorker(capabilityId, range, options.exclude);
        waiter.reject(
          live
            ? new CrankError(
                'DEADLINE_EXCEEDED',
                `capability "${capabilityId}": no worker slot freed within ${waitMs} ms`,
              )
            : new CrankError(
                'UNAVAILABLE',
                `capability "${capabilityId}": no healthy worker within ${waitMs} ms`,
              ),
        );
      }, waitMs);
      const onAbort = (): void => waiter.reject(new CrankError('CANCELLED', 'the caller cancelled the call'));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      queue.push(waiter);
    });
  }

  /**
   * Free slots per capability id now, over the workers in rotation: how many more calls could
   * start at once without queueing (the job dispatcher claims no more jobs than this).
   */
  freeSlots(): Map<string, number> {
    const free = new Map<string, number>();
    for (const worker of this.registry.list()) {
      if (!this.inRotation(worker)) continue;
      for (const offer of worker.offers.values()) {
        if (!offer.ready) continue;
        const left = offer.capability.definition.resources.maxConcurrency - offerInFlight(worker, offer);
        if (left > 0) free.set(offer.capability.id, (free.get(offer.capability.id) ?? 0) + left);
      }
    }
    for (const [id, queue] of this.queues) {
      const left = (free.get(id) ?? 0) - queue.length;
      if (left > 0) free.set(id, left);
      else free.delete(id);
    }
    return free;
  }

  /** Number of calls waiting per capability (for metrics). */
  queueDepths(): Map<string, number> {
    return new Map([...this.queues].map(([id, q]) => [id, q.length]));
  }

  /** Whether the worker is out of rotation: breaker open or ejected as an outlier. */
  outOfRotation(workerId: string): boolean {
    const breaker = this.breakers.get(workerId);
    return (
      (breaker !== undefined && !breaker.canPass()) || (this.options.outliers?.isEjected(workerId) ?? false)
    );
  }

  /** Recent latency estimate of a worker (EWMA, ms), if it has served calls. */
  latencyOf(workerId: string): number | undefined {
    return this.latencyMs.get(workerId);
  }

  private queueFull(capabilityId: string, queued: number): CrankError {
    return new CrankError(
      'RESOURCE_EXHAUSTED',
      `capability "${capabilityId}": all workers busy and ${queued} calls already waiting`,
      { details: { capability: capabilityId, queued, retryAfterSeconds: RETRY_AFTER_SECONDS } },
    );
  }

  /** Whether a worker could take the call: in rotation and offering a matching ready version. */
  private inRotation(worker: WorkerRecord, exclude?: ReadonlySet<string>): boolean {
    return (
      !worker.draining &&
      !worker.stuck &&
      !exclude?.has(worker.id) &&
      !(this.options.outliers?.isEjected(worker.id) ?? false) &&
      this.breaker(worker.id).canPass()
    );
  }

  private hasFreeSlot(capabilityId: string, range: string): boolean {
    for (const worker of this.registry.list()) {
      if (!this.inRotation(worker)) continue;
      const offer = bestOffer(worker, capabilityId, range);
      if (offer && offerInFlight(worker, offer) < offer.capability.definition.resources.maxConcurrency)
        return true;
    }
    return false;
  }

  private breaker(workerId: string): CircuitBreaker {
    let breaker = this.breakers.get(workerId);
    if (!breaker) {
      breaker = new CircuitBreaker(this.options.breakerFailureThreshold, this.options.breakerCooldownMs);
      this.breakers.set(workerId, breaker);
    }
    return breaker;
  }

  private tryLease(capabilityId: string, range: string, exclude?: ReadonlySet<string>): Lease | undefined {
    const workers = this.scratchWorkers;
    const offers = this.scratchOffers;
    for (const worker of this.registry.live()) {
      if (!this.inRotation(worker, exclude)) continue;
      const offer = bestOffer(worker, capabilityId, range);
      if (!offer) continue;
      if (offerInFlight(worker, offer) >= offer.capability.definition.resources.maxConcurrency) continue;
      workers.push(worker);
      offers.push(offer);
    }
    const count = workers.length;
    if (count === 0) return undefined;

    // Start from a rotating point so that equal candidates take turns.
    const start = this.turn++ % count;
    let best = start;
    let bestInFlight = offerInFlight(workers[start] as WorkerRecord, offers[start] as OfferedCapability);
    let bestLatency = this.latencyMs.get((workers[start] as WorkerRecord).id) ?? 0;
    for (let step = 1; step < count; step++) {
      const i = (start + step) % count;
      const worker = workers[i] as WorkerRecord;
      if (worker.gpu !== (workers[best] as WorkerRecord).gpu) {
        if (worker.gpu) {
          best = i;
          bestInFlight = offerInFlight(worker, offers[i] as OfferedCapability);
          bestLatency = this.latencyMs.get(worker.id) ?? 0;
        }
        continue;
      }
      const inFlight = offerInFlight(worker, offers[i] as OfferedCapability);
      if (inFlight !== bestInFlight) {
        if (inFlight < bestInFlight) {
          best = i;
          bestInFlight = inFlight;
          bestLatency = this.latencyMs.get(worker.id) ?? 0;
        }
        continue;
      }
      const latency = this.latencyMs.get(worker.id) ?? 0;
      if (latency * LATENCY_TOLERANCE < bestLatency) {
        best = i;
        bestLatency = latency;
      }
    }
    const worker = workers[best] as WorkerRecord;
    const offer = offers[best] as OfferedCapability;
    // Emptied at once: the scratch arrays must not keep a worker that leaves alive.
    workers.length = 0;
    offers.length = 0;
    if (!this.breaker(worker.id).tryPass()) return undefined;
    return this.lease(worker, offer);
  }

  private lease(worker: WorkerRecord, offer: OfferedCapability): Lease {
    // The ledger, not the offer, owns the count: a re-registration replaces offers, not ledgers.
    const { ledger } = worker;
    const key = offer.capability.key;
    ledger.inFlight.set(key, (ledger.inFlight.get(key) ?? 0) + 1);
    let released = false;
    return {
      worker,
      capability: offer.capability,
      progress: () => {
        if (!released) this.registry.progressed(worker);
      },
      release: (outcome, latencyMs, code) => {
        if (released) return;
        released = true;
        const left = (ledger.inFlight.get(key) ?? 1) - 1;
        if (left > 0) ledger.inFlight.set(key, left);
        else ledger.inFlight.delete(key);
        ledger.completed += 1;
        if (outcome === 'fault') ledger.failed += 1;
        recordRecentCall(ledger, {
          at: Date.now(),
          capability: key,
          code: code ?? OUTCOME_CODE[outcome],
          ...(latencyMs !== undefined ? { latencyMs } : {}),
        });
        this.registry.progressed(worker);
        const breaker = this.breaker(worker.id);
        const outliers = this.options.outliers;
        if (outcome === 'answered') {
          breaker.recordSuccess();
          outliers?.recordAnswer(worker.id);
        } else if (outcome === 'fault') {
          breaker.recordFailure();
        } else if (outcome === 'timeout') {
          breaker.releaseTrial();
          outliers?.recordTimeout(worker.id, this.othersInRotation(worker.id, offer.capability.id));
        } else {
          breaker.releaseTrial();
        }
        if (outcome === 'answered' && latencyMs !== undefined) {
          const previous = this.latencyMs.get(worker.id);
          this.latencyMs.set(
            worker.id,
            previous === undefined ? latencyMs : previous + EWMA_ALPHA * (latencyMs - previous),
          );
        }
        this.drainQueues();
      },
    };
  }

  private hasLiveWorker(capabilityId: string, range: string, exclude?: ReadonlySet<string>): boolean {
    return this.registry
      .list()
      .some((w) => this.inRotation(w, exclude) && bestOffer(w, capabilityId, range) !== undefined);
  }

  private othersInRotation(workerId: string, capabilityId: string): boolean {
    return this.registry
      .list()
      .some((w) => w.id !== workerId && this.inRotation(w) && bestOffer(w, capabilityId, '') !== undefined);
  }

  /**
   * Serves waiters in arrival order. A waiter that cannot be served does not block the ones
   * behind it (they may accept other workers or versions); waiters asking exactly what an earlier
   * one failed to get are skipped without another look, so a long queue costs one pass per kind.
   */
  private drainQueues(): void {
    for (const queue of this.queues.values()) {
      if (queue.length === 0) continue;
      const failed = new Set<string>();
      for (const waiter of [...queue]) {
        const kind = `${waiter.range}|${[...(waiter.exclude ?? [])].sort().join(',')}`;
        if (failed.has(kind)) continue;
        const lease = this.tryLease(waiter.capabilityId, waiter.range, waiter.exclude);
        if (lease) waiter.resolve(lease);
        else failed.add(kind);
      }
    }
  }
}

/** The highest ready version of the capability in range on this worker. */
function bestOffer(worker: WorkerRecord, capabilityId: string, range: string): OfferedCapability | undefined {
  let best: OfferedCapability | undefined;
  for (const offer of worker.offers.values()) {
    if (offer.capability.id !== capabilityId || !offer.ready) continue;
    if (!satisfiesRange(offer.capability.version, range)) continue;
    if (
      !best ||
      pickHighest([best.capability.version, offer.capability.version], '*') === offer.capability.version
    ) {
      best = offer;
    }
  }
  return best;
}
