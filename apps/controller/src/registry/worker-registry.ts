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
  type CapabilityStatus,
  type HeartbeatRequest,
  type RegisterRequest,
} from '@crank/proto';
import type { Logger } from 'pino';
import type { OfferedCapability, WorkerRecord } from './worker-record.js';

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
 * The live set of workers: Register / Heartbeat / Deregister, eviction after missed heartbeats,
 * and stuck detection. Holds no connections; the router and the worker pool listen for changes.
 */
export class WorkerRegistry {
  private readonly workers = new Map<string, WorkerRecord>();
  private readonly listeners: RegistryListener[] = [];
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private generation_ = 0;
  /**
   * Workers that left (deregistered or evicted), newest last, shown as `gone` for a while so that
   * an operator sees what happened to them. Bounded in count and age.
   */
  private readonly departed = new Map<string, { worker: WorkerRecord; reason: RemovalReason; at: number }>();

  constructor(private readonly options: WorkerRegistryOptions) {
    this.now = options.now ?? Date.now;
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
   * @throws InvalidCapabilityError, CapabilityMismatchError, CrankError INVALID_INPUT
   */
  register(request: RegisterRequest): WorkerRecord {
    if (!request.address)
      throw new CrankError('INVALID_INPUT', 'address: is required (host:port of the worker)');
    if (request.capabilities.length === 0) {
      throw new CrankError('INVALID_INPUT', 'capabilities: a worker must declare at least one capability');
    }
    const offers = new Map<string, OfferedCapability>();
    const contradictions: string[] = [];
    for (const [index, descriptor] of request.capabilities.entries()) {
      const capability = parseDeclared(
        {
          id: descriptor.id,
          version: descriptor.version,
          description: descriptor.description || undefined,
          inputSchema: parseSchema(descriptor.inputSchemaJson, `capabilities[${index}].inputSchema`),
          outputSchema: parseSchema(descriptor.outputSchemaJson, `capabilities[${index}].outputSchema`),
          errorCodes: descriptor.errorCodes,
          streaming: streamingName(descriptor.streaming),
          resources: {
            gpu: descriptor.resources?.gpu ?? false,
            maxConcurrency: descriptor.resources?.maxConcurrency || undefined,
            memoryMb: descriptor.resources?.memoryMb || undefined,
          },
          idempotent: descriptor.idempotent,
        },
        `capabilities[${index}] (${descriptor.id}@${descriptor.version})`,
      );
      try {
        checkAgainstCatalog(capability.definition, this.options.catalog);
      } catch (error) {
        if (error instanceof CapabilityMismatchError) contradictions.push(error.message);
        else throw error;
      }
      offers.set(capability.key, { capability, ready: true, reason: '', inFlight: 0 });
    }
    if (contradictions.length > 0) {
      throw new CapabilityMismatchError(contradictions.join('; '), contradictions);
    }
    applyStatus(offers, request.status);

    const previous = this.workers.get(request.workerId);
    if (previous) {
      // A re-register (controller restart on the worker's side, or a NOT_FOUND heartbeat) keeps
      // the routed in-flight counts of calls still running.
      for (const [key, offer] of offers) offer.inFlight = previous.offers.get(key)?.inFlight ?? 0;
      this.notifyRemoved(previous, 'replaced');
    }
    const now = this.now();
    const record: WorkerRecord = {
      id: request.workerId,
      address: request.address,
      gpu: request.gpu || [...offers.values()].some((o) => o.capability.definition.resources.gpu),
      labels: { ...request.labels },
      runtimeVersion: request.runtimeVersion,
      registeredAt: now,
      offers,
      draining: false,
      stuck: false,
      lastHeartbeatAt: now,
      reportedInFlight: 0,
      reportedCompleted: 0,
      load: 0,
      lastProgressAt: now,
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
   * Records a heartbeat. A worker whose in-flight count stays above zero with no completion for
   * `stuckAfterMs` is marked unhealthy until it completes work again.
   *
   * @throws CrankError NOT_FOUND for an unknown id: the worker must register again.
   */
  heartbeat(request: HeartbeatRequest): WorkerRecord {
    const worker = this.workers.get(request.workerId);
    if (!worker) {
      throw new CrankError('NOT_FOUND', `worker "${request.workerId}" is not registered; register again`);
    }
    const now = this.now();
    if (request.completed !== worker.reportedCompleted || request.inFlight === 0) worker.lastProgressAt = now;
    worker.lastHeartbeatAt = now;
    worker.reportedInFlight = request.inFlight;
    worker.reportedCompleted = request.completed;
    worker.load = request.load;
    worker.draining = request.phase === WorkerPhase.WORKER_PHASE_DRAINING;
    applyStatus(worker.offers, request.status);
    const stuck = request.inFlight > 0 && now - worker.lastProgressAt > this.options.stuckAfterMs;
    if (stuck !== worker.stuck) {
      worker.stuck = stuck;
      this.options.logger.warn(
        {
          event: stuck ? 'worker_stuck' : 'worker_recovered',
          workerId: worker.id,
          inFlight: request.inFlight,
        },
        stuck ? 'worker made no progress; routing stopped' : 'worker made progress again',
      );
    }
    this.notifyCapacity();
    return worker;
  }

  /** Removes a worker at its own request. Unknown ids are ignored (deregister is idempotent). */
  deregister(workerId: string, reason: string): void {
    const worker = this.workers.get(workerId);
    if (!worker) return;
    this.workers.delete(workerId);
    this.options.logger.info({ event: 'worker_deregistered', workerId, reason }, 'worker deregistered');
    this.notifyRemoved(worker, 'deregistered');
  }

  get(workerId: string): WorkerRecord | undefined {
    return this.workers.get(workerId);
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

  /** Evicts workers silent for more than `missedHeartbeats` intervals. */
  sweep(): void {
    const limit = this.options.heartbeatIntervalMs * this.options.missedHeartbeats;
    const now = this.now();
    for (const worker of this.workers.values()) {
      if (now - worker.lastHeartbeatAt > limit) {
        this.workers.delete(worker.id);
        this.options.logger.warn(
          { event: 'worker_evicted', workerId: worker.id, silentMs: now - worker.lastHeartbeatAt },
          'worker evicted after missed heartbeats',
        );
        this.notifyRemoved(worker, 'evicted');
      }
    }
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

function parseSchema(json: string, field: string): unknown {
  if (!json) return undefined;
  try {
    return JSON.parse(json) as unknown;
  } catch {
    throw new CrankError('INVALID_INPUT', `${field}: is not valid JSON`);
  }
}

function streamingName(mode: number): 'none' | 'input' | 'output' | 'bidi' {
  return (['none', 'none', 'input', 'output', 'bidi'] as const)[mode] ?? 'none';
}

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
