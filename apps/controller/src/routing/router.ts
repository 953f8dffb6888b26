import {
  CrankError,
  describeVersions,
  pickHighest,
  satisfiesRange,
  type Capability,
} from '@crank/capabilities';
import { CircuitBreaker } from './circuit-breaker.js';
import type { OfferedCapability, WorkerRecord } from '../registry/worker-record.js';
import type { RemovalReason, WorkerRegistry } from '../registry/worker-registry.js';

/** A reserved slot on one worker. Release it exactly once with the call's outcome. */
export interface Lease {
  readonly worker: WorkerRecord;
  readonly capability: Capability;
  /**
   * @param outcome `success`: the call completed (even with a caller error); `failure`: the worker
   *   or the transport failed; the breaker and latency estimate learn from both.
   */
  release(outcome: 'success' | 'failure', latencyMs?: number): void;
}

export interface AcquireOptions {
  /** Absolute deadline (epoch ms); when unset the router's queue timeout applies. */
  deadlineMs?: number;
  signal?: AbortSignal;
  /** Workers already tried for this call. */
  exclude?: ReadonlySet<string>;
}

export interface RouterOptions {
  queueLimit: number;
  queueTimeoutMs: number;
  breakerFailureThreshold: number;
  breakerCooldownMs: number;
}

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
  /** resolve() answers by `id|range`, valid while the registry's generation is unchanged. */
  private readonly resolved = new Map<string, Capability>();
  private resolvedGeneration = -1;

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
        }
      },
    });
  }

  /**
   * Resolves the versions a range selects, or throws NOT_FOUND naming what exists.
   * @returns the highest offered version in range (its schemas validate the input up front)
   */
  resolve(capabilityId: string, range: string): Capability {
    if (this.resolvedGeneration !== this.registry.generation) {
      this.resolved.clear();
      this.resolvedGeneration = this.registry.generation;
    }
    const key = `${capabilityId}|${range}`;
    const cached = this.resolved.get(key);
    if (cached) return cached;
    const capability = this.resolveUncached(capabilityId, range);
    if (this.resolved.size >= 1_000) this.resolved.clear();
    this.resolved.set(key, capability);
    return capability;
  }

  private resolveUncached(capabilityId: string, range: string): Capability {
    const offered = this.registry.offeredVersions(capabilityId);
    if (offered.length === 0) {
      throw new CrankError('NOT_FOUND', `capability "${capabilityId}" is not offered by any worker`, {
        details: { capability: capabilityId },
      });
    }
    const versions = offered.map((c) => c.version);
    const best = pickHighest(versions, range);
    if (best === undefined) {
      throw new CrankError(
        'NOT_FOUND',
        `capability "${capabilityId}" has no version matching "${range}"; available: ${describeVersions(versions)}`,
        { details: { capability: capabilityId, range, available: versions } },
      );
    }
    return offered.find((c) => c.version === best) as Capability;
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
    if (queue.length >= this.options.queueLimit) {
      return Promise.reject(
        new CrankError(
          'RESOURCE_EXHAUSTED',
          `capability "${capabilityId}": all workers busy and ${queue.length} calls already waiting`,
          { details: { capability: capabilityId, queued: queue.length } },
        ),
      );
    }
    this.queues.set(capabilityId, queue);
    return new Promise<Lease>((resolve, reject) => {
      const waitMs = Math.max(
        0,
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

  /** Number of calls waiting per capability (for metrics). */
  queueDepths(): Map<string, number> {
    return new Map([...this.queues].map(([id, q]) => [id, q.length]));
  }

  breakerOpen(workerId: string): boolean {
    const breaker = this.breakers.get(workerId);
    return breaker !== undefined && !breaker.canPass();
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
    const candidates: {
      worker: WorkerRecord;
      offer: OfferedCapability;
      inFlight: number;
      latency: number;
    }[] = [];
    for (const worker of this.registry.list()) {
      if (worker.draining || worker.stuck || exclude?.has(worker.id)) continue;
      if (!this.breaker(worker.id).canPass()) continue;
      const offer = bestOffer(worker, capabilityId, range);
      if (!offer || offer.inFlight >= offer.capability.definition.resources.maxConcurrency) continue;
      candidates.push({
        worker,
        offer,
        inFlight: offer.inFlight,
        latency: this.latencyMs.get(worker.id) ?? 0,
      });
    }
    if (candidates.length === 0) return undefined;

    // Rotate the starting point so that equal candidates take turns.
    const start = this.turn++ % candidates.length;
    const rotated = [...candidates.slice(start), ...candidates.slice(0, start)];
    let best = rotated[0] as (typeof rotated)[number];
    for (const c of rotated.slice(1)) {
      if (c.worker.gpu !== best.worker.gpu) {
        if (c.worker.gpu) best = c;
        continue;
      }
      if (c.inFlight !== best.inFlight) {
        if (c.inFlight < best.inFlight) best = c;
        continue;
      }
      if (c.latency * LATENCY_TOLERANCE < best.latency) best = c;
    }
    if (!this.breaker(best.worker.id).tryPass()) return undefined;
    return this.lease(best.worker, best.offer);
  }

  private lease(worker: WorkerRecord, offer: OfferedCapability): Lease {
    offer.inFlight += 1;
    let released = false;
    return {
      worker,
      capability: offer.capability,
      release: (outcome, latencyMs) => {
        if (released) return;
        released = true;
        offer.inFlight = Math.max(0, offer.inFlight - 1);
        const breaker = this.breaker(worker.id);
        if (outcome === 'success') breaker.recordSuccess();
        else breaker.recordFailure();
        if (latencyMs !== undefined) {
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
      .some(
        (w) =>
          !w.draining &&
          !w.stuck &&
          !exclude?.has(w.id) &&
          this.breaker(w.id).canPass() &&
          bestOffer(w, capabilityId, range),
      );
  }

  /**
   * Serves waiters in arrival order. A waiter that cannot be served does not block the ones
   * behind it (they may accept other workers or versions); waiters asking exactly what an earlier
   * one failed to get are skipped without another look, so a long queue costs one pass per kind.
   */
  private drainQueues(): void {
    for (const queue of this.queues.values()) {
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
