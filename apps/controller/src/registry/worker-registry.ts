import {
  CapabilityMismatchError,
  CrankError,
  InvalidCapabilityError,
  checkAgainstCatalog,
  parseCapabilityDefinition,
  type Capability,
  type CapabilityCatalog,
} from '@crank/capabilities';
import {
  WorkerPhase,
  definitionFromDescriptor,
  echo,
  type CapabilityStatus,
  type HeartbeatRequest,
  type RegisterRequest,
} from '@crank/proto';
import type { Logger } from 'pino';
import { newLedger, workerInFlight, type OfferedCapability, type WorkerRecord } from './worker-record.js';

/** Why a worker left the registry. */
export type RemovalReason = 'deregistered' | 'evicted' | 'replaced';

/** Hooks the router and metrics listen on. */
export interface RegistryListener {
  /** A worker appeared, changed readiness, or freed capacity: queued calls may proceed. */
  onCapacity?(): void;
  /** A worker registered (or registered again). */
  onRegistered?(worker: WorkerRecord): void;
  onRemoved?(worker: WorkerRecord, reason: RemovalReason): void;
}

export interface WorkerRegistryOptions {
  catalog: CapabilityCatalog;
  heartbeatIntervalMs: number;
  missedHeartbeats: number;
  stuckAfterMs: number;
  logger: Logger;
  now?: () => number;
}

/**
 * Thrown by {@link WorkerRegistry.register} when a live worker id is claimed with another key
 * (`ALREADY_EXISTS`): the id belongs to the key that registered it until that worker leaves.
 */
export class WorkerIdTakenError extends CrankError {
  constructor(readonly holder: WorkerRecord) {
    super(
      'ALREADY_EXISTS',
      `worker_id: "${holder.id}" is registered by a live worker with another key; ` +
        'it can be claimed once that worker deregisters or is evicted',
      { details: { workerId: holder.id } },
    );
  }
}

/**
 * The live set of workers: Register / Heartbeat / Deregister, eviction after missed heartbeats,
 * and stuck detection. Holds no connections; the router and the worker pool listen for changes.
 */
export class WorkerRegistry {
  private readonly workers = new Map<string, WorkerRecord>();
  private readonly listeners: RegistryListener[] = [];
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private generation_ = 0;
  private offeredIds = new Set<string>();
  private offeredIdsGeneration = -1;
  /**
   * Workers that left (deregistered or evicted), newest last, shown as `gone` for a while so that
   * an operator sees what happened to them. Bounded in count and age.
   */
  private readonly departed = new Map<string, { worker: WorkerRecord; reason: RemovalReason; at: number }>();

  constructor(private readonly options: WorkerRegistryOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The catalog declarations are checked against. */
  get catalog(): CapabilityCatalog {
    return this.options.catalog;
  }

  /** Changes whenever a worker joins or leaves: caches of what is offered key on it. */
  get generation(): number {
    return this.generation_;
  }

  addListener(listener: RegistryListener): void {
    this.listeners.push(listener);
  }

  /** Starts the eviction sweep, twice per heartbeat interval. */
  start(): void {
    const tick = (): void => {
      this.sweep();
      this.sweepTimer = setTimeout(tick, Math.max(5, this.options.heartbeatIntervalMs / 2));
      this.sweepTimer.unref();
    };
    tick();
  }

  stop(): void {
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /**
   * Adds or replaces a worker. Every declared capability must be a valid definition and agree with
   * the catalog entry of the same id and major version.
   *
   * A live id belongs to the key that registered it (`keyFingerprint`); a claim with another key
   * is refused and logged. `certNotAfter` is when the certificate it called with expires.
   *
   * @throws InvalidCapabilityError, CapabilityMismatchError, CrankError INVALID_INPUT,
   *   WorkerIdTakenError
   */
  register(request: RegisterRequest, keyFingerprint: string, certNotAfter?: number): WorkerRecord {
    if (!request.address)
      throw new CrankError('INVALID_INPUT', 'address: is required (host:port of the worker)');
    if (request.address.length > 300)
      throw new CrankError('INVALID_INPUT', `address: must be host:port (got ${echo(request.address)})`);
    const holder = this.workers.get(request.workerId);
    if (holder && holder.keyFingerprint !== keyFingerprint) {
      this.options.logger.warn(
        {
          event: 'worker_id_conflict',
          workerId: holder.id,
          address: request.address,
          holderAddress: holder.address,
        },
        'refused a registration: the worker id is held by a live worker with another key',
      );
      throw new WorkerIdTakenError(holder);
    }
    if (request.capabilities.length === 0) {
      throw new CrankError('INVALID_INPUT', 'capabilities: a worker must declare at least one capability');
    }
    const offers = new Map<string, OfferedCapability>();
    const contradictions: string[] = [];
    for (const [index, descriptor] of request.capabilities.entries()) {
      const where = `capabilities[${index}]`;
      let definition: Record<string, unknown>;
      try {
        definition = definitionFromDescriptor(descriptor, where);
      } catch (error) {
        throw new CrankError('INVALID_INPUT', (error as Error).message);
      }
      const capability = parseDeclared(
        definition,
        `${where} (${echo(descriptor.id)}@${echo(descriptor.version)})`,
      );
      try {
        checkAgainstCatalog(capability.definition, this.options.catalog);
      } catch (error) {
        if (error instanceof CapabilityMismatchError) contradictions.push(error.message);
        else throw error;
      }
      offers.set(capability.key, { capability, ready: true, reason: '' });
    }
    if (contradictions.length > 0) {
      throw new CapabilityMismatchError(contradictions.join('; '), contradictions);
    }
    applyStatus(offers, request.status);

    const previous = holder;
    if (previous) this.notifyRemoved(previous, 'replaced');
    const now = this.now();
    const record: WorkerRecord = {
      id: request.workerId,
      address: request.address,
      gpu: request.gpu || [...offers.values()].some((o) => o.capability.definition.resources.gpu),
      labels: { ...request.labels },
      runtimeVersion: request.runtimeVersion,
      registeredAt: now,
      offers,
      // A re-registration keeps the ledger: calls leased before it are released into it.
      ledger: previous?.ledger ?? newLedger(now),
      keyFingerprint,
      certNotAfter,
      draining: false,
      drainRequested: false,
      stuck: false,
      lastHeartbeatAt: now,
      reportedInFlight: 0,
      reportedCompleted: 0,
      load: 0,
    };
    this.workers.set(record.id, record);
    this.departed.delete(record.id);
    this.generation_ += 1;
    this.options.logger.info(
      {
        event: 'worker_registered',
        workerId: record.id,
        address: record.address,
        capabilities: [...offers.keys()],
      },
      'worker registered',
    );
    for (const listener of this.listeners) listener.onRegistered?.(record);
    this.notifyCapacity();
    return record;
  }

  /**
   * Records a heartbeat from the key that registered the worker.
   *
   * @throws CrankError NOT_FOUND for an unknown id (the worker must register again),
   *   PERMISSION_DENIED when the id is held by another key.
   */
  heartbeat(request: HeartbeatRequest, keyFingerprint: string, certNotAfter?: number): WorkerRecord {
    const worker = this.owned(request.workerId, keyFingerprint);
    const now = this.now();
    worker.lastHeartbeatAt = now;
    worker.reportedInFlight = request.inFlight;
    worker.reportedCompleted = request.completed;
    worker.load = request.load;
    // A renewed certificate shows here first: the worker reconnects with it and heartbeats.
    if (certNotAfter !== undefined) worker.certNotAfter = certNotAfter;
    worker.draining = worker.drainRequested || request.phase === WorkerPhase.WORKER_PHASE_DRAINING;
    applyStatus(worker.offers, request.status);
    this.checkStuck(worker, now);
    this.notifyCapacity();
    return worker;
  }

  /**
   * Moves a live worker to the renewed key of its identity. Renewal is authenticated by the
   * current certificate, so the id stays with the same holder.
   */
  rebindKey(workerId: string, previousFingerprint: string, nextFingerprint: string): void {
    const worker = this.workers.get(workerId);
    if (worker && worker.keyFingerprint === previousFingerprint) worker.keyFingerprint = nextFingerprint;
  }

  /**
   * Records that a call routed to the worker finished or moved a frame: stuck detection measures
   * from the last progress the controller saw.
   */
  progressed(worker: WorkerRecord): void {
    worker.ledger.lastProgressAt = this.now();
    if (worker.stuck) this.checkStuck(worker, worker.ledger.lastProgressAt);
  }

  /** Removes a worker at its own request. Unknown ids are ignored (deregister is idempotent). */
  deregister(workerId: string, reason: string, keyFingerprint: string): void {
    const worker = this.workers.get(workerId);
    if (!worker) return;
    this.owned(workerId, keyFingerprint);
    this.workers.delete(workerId);
    this.options.logger.info({ event: 'worker_deregistered', workerId, reason }, 'worker deregistered');
    this.notifyRemoved(worker, 'deregistered');
  }

  get(workerId: string): WorkerRecord | undefined {
    return this.workers.get(workerId);
  }

  /**
   * An operator's drain: the worker takes no new calls from now on (calls in flight finish), and
   * its next heartbeat answer tells it to drain, deregister and exit. `by` names who asked.
   *
   * @throws CrankError NOT_FOUND when no live worker has the id (on this controller)
   */
  requestDrain(workerId: string, by: string): WorkerRecord {
    const worker = this.workers.get(workerId);
    if (!worker) {
      throw new CrankError('NOT_FOUND', `worker "${echo(workerId)}" is not registered with this controller`, {
        details: { workerId: echo(workerId) },
      });
    }
    if (!worker.drainRequested) {
      worker.drainRequested = true;
      worker.draining = true;
      this.options.logger.info({ event: 'worker_drain_requested', workerId, by }, 'drain requested');
      this.notifyCapacity();
    }
    return worker;
  }

  /** Workers that left within the last ten minutes (at most 100), newest last. */
  departedWorkers(): { worker: WorkerRecord; reason: RemovalReason; at: number }[] {
    const cutoff = this.now() - DEPARTED_KEEP_MS;
    for (const [id, entry] of this.departed) if (entry.at < cutoff) this.departed.delete(id);
    return [...this.departed.values()];
  }

  list(): WorkerRecord[] {
    return [...this.workers.values()];
  }

  /** The live workers without a copy, for the routing hot path; do not change the registry while iterating. */
  live(): IterableIterator<WorkerRecord> {
    return this.workers.values();
  }

  /**
   * Whether any live worker offers capability `id` (any version). Cheap: answered from a set
   * rebuilt when the registry's generation changes.
   */
  offers(id: string): boolean {
    if (this.offeredIdsGeneration !== this.generation_) {
      this.offeredIds = new Set();
      for (const worker of this.workers.values())
        for (const offer of worker.offers.values()) this.offeredIds.add(offer.capability.id);
      this.offeredIdsGeneration = this.generation_;
    }
    return this.offeredIds.has(id);
  }

  /** Every capability offered by any worker, by id, each version once. */
  offeredVersions(capabilityId: string): Capability[] {
    const byVersion = new Map<string, Capability>();
    for (const worker of this.workers.values()) {
      for (const offer of worker.offers.values()) {
        if (offer.capability.id === capabilityId) byVersion.set(offer.capability.version, offer.capability);
      }
    }
    return [...byVersion.values()];
  }

  /**
   * Evicts workers silent for more than `missedHeartbeats` intervals, and marks stuck those with
   * calls in flight and no progress for `stuckAfterMs`.
   */
  sweep(): void {
    const limit = this.options.heartbeatIntervalMs * this.options.missedHeartbeats;
    const now = this.now();
    for (const worker of this.workers.values()) {
      if (now - worker.lastHeartbeatAt > limit) {
        this.evict(worker, `silent for ${now - worker.lastHeartbeatAt} ms`);
      } else {
        this.checkStuck(worker, now);
      }
    }
  }

  /**
   * Removes a live worker the controller has given up on (missed heartbeats, or an active probe
   * that found it dead).
   */
  evict(worker: WorkerRecord, reason: string): void {
    if (this.workers.get(worker.id) !== worker) return;
    this.workers.delete(worker.id);
    this.options.logger.warn({ event: 'worker_evicted', workerId: worker.id, reason }, 'worker evicted');
    this.notifyRemoved(worker, 'evicted');
  }

  /** The live worker `workerId` if `keyFingerprint` holds it. */
  private owned(workerId: string, keyFingerprint: string): WorkerRecord {
    const worker = this.workers.get(workerId);
    if (!worker) {
      throw new CrankError('NOT_FOUND', `worker "${echo(workerId)}" is not registered; register again`);
    }
    if (worker.keyFingerprint !== keyFingerprint) {
      this.options.logger.warn(
        { event: 'worker_id_conflict', workerId },
        'refused a call for a worker id held by another key',
      );
      throw new CrankError(
        'PERMISSION_DENIED',
        `worker_id: "${workerId}" is registered by another key; only its holder may act for it`,
      );
    }
    return worker;
  }

  /**
   * Stuck: calls in flight and no progress (a finished call, a stream frame) for `stuckAfterMs`.
   * A worker with nothing in flight counts as progressing.
   */
  private checkStuck(worker: WorkerRecord, now: number): void {
    const inFlight = workerInFlight(worker);
    if (inFlight === 0) worker.ledger.lastProgressAt = now;
    const stuck = inFlight > 0 && now - worker.ledger.lastProgressAt > this.options.stuckAfterMs;
    if (stuck === worker.stuck) return;
    worker.stuck = stuck;
    this.options.logger.warn(
      { event: stuck ? 'worker_stuck' : 'worker_recovered', workerId: worker.id, inFlight },
      stuck ? 'worker made no progress; routing stopped' : 'worker made progress again',
    );
    if (!stuck) this.notifyCapacity();
  }

  /** Tells listeners that capacity may have changed (a slot was freed). */
  notifyCapacity(): void {
    for (const listener of this.listeners) listener.onCapacity?.();
  }

  private notifyRemoved(worker: WorkerRecord, reason: RemovalReason): void {
    this.generation_ += 1;
    if (reason !== 'replaced') {
      this.departed.delete(worker.id);
      this.departed.set(worker.id, { worker, reason, at: this.now() });
      if (this.departed.size > DEPARTED_MAX)
        this.departed.delete(this.departed.keys().next().value as string);
    } else {
      this.departed.delete(worker.id);
    }
    for (const listener of this.listeners) listener.onRemoved?.(worker, reason);
    this.notifyCapacity();
  }
}

/** Parses one declared capability; errors name its place in the request. */
function parseDeclared(definition: Record<string, unknown>, where: string): Capability {
  try {
    return parseCapabilityDefinition(definition);
  } catch (error) {
    if (error instanceof InvalidCapabilityError)
      throw new InvalidCapabilityError(`${where}: ${error.message}`, error.issues);
    throw error;
  }
}

const DEPARTED_KEEP_MS = 10 * 60_000;
const DEPARTED_MAX = 100;

function applyStatus(offers: Map<string, OfferedCapability>, status: readonly CapabilityStatus[]): void {
  for (const entry of status) {
    for (const offer of offers.values()) {
      if (
        offer.capability.id === entry.id &&
        (!entry.version || offer.capability.version === entry.version)
      ) {
        offer.ready = entry.ready;
        offer.reason = entry.reason;
      }
    }
  }
}
