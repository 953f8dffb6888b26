import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { Metadata, Server, status, type Channel, type ServiceError } from '@grpc/grpc-js';
import { CrankError } from '@crank/capabilities';
import {
  CrankClient,
  enroll,
  errorFromServiceError,
  isTransient,
  readTrust,
  type TlsIdentity,
} from '@crank/controller-client';
import {
  DeregisterRequest,
  HealthService as HealthServiceDefinition,
  HeartbeatRequest,
  MtlsListener,
  tuneHeapForRequests,
  PeerDirectory,
  RegisterRequest,
  WIRE_LIMITS,
  WorkerPhase,
  WorkerService,
  descriptorFromDefinition,
} from '@crank/proto';
import { backoffDelayMs, sleep } from './backoff.js';
import { CapabilitySlots } from './capability-slots.js';
import { ChannelWatch } from './channel-watch.js';
import { controllerProgressSink } from './progress-reporter.js';
import { CertificateRenewer } from './certificate-renewer.js';
import { createExecuteService } from './execute-service.js';
import { HealthService } from './health-service.js';
import { HeartbeatLoop } from './heartbeat-loop.js';
import { httpPort, startHttpEndpoints } from './http-endpoints.js';
import { compileWorkerOptions, type CompiledWorkerOptions, type WorkerOptions } from './worker-options.js';
import { WorkerMetrics } from './worker-metrics.js';
import { closeHandlers } from './thread-pool.js';

/** Failed controller calls in a row before a worker with several controllers moves to the next. */
const FAILOVER_AFTER_FAILURES = 3;

const RUNTIME_VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Lifecycle of a worker; an illegal transition throws. */
export type WorkerState = 'idle' | 'starting' | 'serving' | 'draining' | 'stopped';

const TRANSITIONS: Record<WorkerState, readonly WorkerState[]> = {
  idle: ['starting'],
  starting: ['serving', 'stopped'],
  serving: ['draining'],
  draining: ['stopped'],
  stopped: [],
};

/**
 * A worker: enrolled with the controller's CA, serving its capabilities over mTLS, registered and
 * heartbeating. Creating and running are separate steps, so that an app can load its models
 * between them or while it serves (capabilities served with `{ ready: false }` answer
 * MODEL_NOT_READY until `setReady`):
 *
 * ```ts
 * const worker = await CrankWorker.create({ name: 'classifier', capabilities: [serve(cap, fn, { ready: false })] });
 * await worker.start();                       // enrolled, serving, registered
 * await loadModel(); worker.setReady(cap.id, true);
 * process.once('SIGTERM', () => void worker.stop());
 * await worker.stopped;                       // or: await worker.run() to start and wait in one
 * ```
 */
export class CrankWorker {
  private state_: WorkerState = 'idle';
  private identity!: TlsIdentity;
  private client_: CrankClient | undefined;
  private grpcServer: Server | undefined;
  private httpServer: HttpServer | undefined;
  private heartbeat: HeartbeatLoop | undefined;
  private channelWatch: ChannelWatch | undefined;
  private renewer: CertificateRenewer | undefined;
  private listener: MtlsListener | undefined;
  private readonly slots: CapabilitySlots;
  private readonly metrics: WorkerMetrics;
  private readonly health = new HealthService();
  private readonly drainAbort = new AbortController();
  private readonly startAbort = new AbortController();
  private stopping: Promise<void> | undefined;
  private grpcPort_ = 0;
  private markStopped!: () => void;
  /** Which of `controllerUrls` this worker talks to now. */
  private controllerIndex = 0;
  /** Resolves once the worker has stopped (after {@link stop}, or a failed start). */
  readonly stopped = new Promise<void>((resolve) => {
    this.markStopped = resolve;
  });

  protected constructor(private readonly options: CompiledWorkerOptions) {
    // Every running call listens on the drain signal; there may be thousands.
    setMaxListeners(0, this.drainAbort.signal);
    this.slots = new CapabilitySlots(options.capabilities);
    this.metrics = new WorkerMetrics(this.slots, { worker: options.name });
  }

  /**
   * Checks the options and builds the worker; does no I/O. Resolves (rather than returns) so that
   * later versions may prepare resources here without an API change.
   * @throws TypeError naming the option at fault
   */
  static async create(options: WorkerOptions, env: NodeJS.ProcessEnv = process.env): Promise<CrankWorker> {
    return new CrankWorker(compileWorkerOptions(options, env));
  }

  /**
   * Enrolls, starts serving and registers. Resolves once the worker can take calls (or, when the
   * controller is unreachable, once it serves and keeps trying to register in the background).
   * @throws the registration's error when the controller refuses the declaration for good
   */
  async start(): Promise<void> {
    // A worker process serves requests: its heap is tuned for objects that live for one call.
    tuneHeapForRequests();
    await this.startServing();
  }

  /** Starts, then resolves once the worker has stopped (call {@link stop} on a signal). */
  async run(): Promise<void> {
    await this.start();
    await this.stopped;
  }

  get id(): string {
    return this.options.workerId;
  }

  get state(): WorkerState {
    return this.state_;
  }

  /** `host:port` the controller dials. */
  get grpcAddress(): string {
    return `${this.options.advertiseHost}:${this.grpcPort_}`;
  }

  /** Base URL of /health, /metrics, /version, /docs. */
  get httpUrl(): string {
    return this.httpServer ? `http://${this.options.host}:${httpPort(this.httpServer)}` : '';
  }

  /** Whether the controller has this worker registered right now (as far as the worker knows). */
  get registered(): boolean {
    return this.heartbeat?.isRegistered ?? false;
  }

  /** A client that calls other capabilities through the controller with this worker's certificate. */
  get client(): CrankClient {
    if (!this.client_) throw new Error('client: the worker has not enrolled yet');
    return this.client_;
  }

  /**
   * Marks a capability ready or not (e.g. while its model loads). The controller stops routing
   * it at the next heartbeat, which is sent at once; other capabilities stay routable.
   */
  setReady(capabilityId: string, ready: boolean, reason = ''): void {
    this.slots.setReady(capabilityId, ready, reason);
    this.health.set(capabilityId, ready && this.state_ === 'serving');
    void this.heartbeat?.beatNow().catch(() => undefined);
  }

  /**
   * Stops the worker. Phases: (1) health NOT_SERVING and one heartbeat in the draining phase (at
   * most 1 s), (2) Deregister, so the controller routes no new call here, (3) wait for in-flight
   * calls up to `drainTimeoutMs`, then abort what is left (their slots free at once), (4) close
   * gRPC and HTTP servers, the controller channel and thread pools. Each phase's failure is logged
   * and the next still runs; no timer outlives it, so an idle process exits as soon as it returns.
   * Idempotent: later calls get the same promise.
   */
  stop(reason = 'shutdown'): Promise<void> {
    this.stopping ??= this.shutdown(reason);
    return this.stopping;
  }

  private transition(next: WorkerState): void {
    if (!TRANSITIONS[this.state_].includes(next)) {
      throw new Error(`worker state: cannot go from ${this.state_} to ${next}`);
    }
    this.state_ = next;
  }

  private async startServing(): Promise<void> {
    this.transition('starting');
    const { logger } = this.options;
    try {
      this.identity = await this.enrollWithRetry();
      this.client_ = this.controllerClient(this.identity);
      await this.startGrpc();
      this.httpServer = await startHttpEndpoints(
        {
          workerId: this.id,
          name: this.options.name,
          state: () => this.state_,
          registered: () => this.registered,
          slots: this.slots,
          metrics: this.metrics,
          runtimeVersion: RUNTIME_VERSION,
          routes: this.options.httpRoutes,
        },
        this.options.host,
        this.options.httpPort,
      );
      this.transition('serving');
      this.health.set('', true);
      for (const entry of this.slots.entries.values())
        this.health.set(entry.served.capability.id, entry.ready);

      this.heartbeat = new HeartbeatLoop(
        { register: (signal) => this.register(signal), heartbeat: (signal) => this.sendHeartbeat(signal) },
        {
          intervalMs: this.options.heartbeatIntervalMs,
          maxBackoffMs: this.options.maxBackoffMs,
          logger,
          onFailure: (failures) => this.failOverAfter(failures),
        },
      );
      this.heartbeat.start(await this.registerFirst());
      this.watchControllerChannel();
      this.renewer = new CertificateRenewer(
        this.identity,
        (current) =>
          enroll({
            address: this.controllerAddress,
            caPem: current.caPem,
            identity: this.id,
            kind: 'worker',
            current,
          }),
        (next) => this.applyIdentity(next),
        {
          renewAtRemainingFraction: this.options.renewAtRemainingFraction,
          maxBackoffMs: this.options.maxBackoffMs,
          logger,
        },
      );
      this.renewer.start();
      logger.info(
        {
          event: 'worker_started',
          grpc: this.grpcAddress,
          http: this.httpUrl,
          capabilities: this.options.capabilities.map((c) => c.capability.key),
        },
        'worker started',
      );
    } catch (error) {
      this.state_ = 'stopped';
      await this.closeTransports();
      this.markStopped();
      throw error;
    }
  }

  /** The controller this worker talks to now. */
  get controllerAddress(): string {
    return this.options.controllerUrls[this.controllerIndex] ?? this.options.location.address;
  }

  /**
   * After 3 failed calls in a row to the current controller, moves to the next of
   * `controllerUrls` and registers there (the controllers share a CA, so the certificate holds).
   */
  private failOverAfter(failures: number): void {
    const urls = this.options.controllerUrls;
    if (failures < FAILOVER_AFTER_FAILURES || urls.length < 2 || !this.client_) return;
    const from = this.controllerAddress;
    this.controllerIndex = (this.controllerIndex + 1) % urls.length;
    const previous = this.client_;
    this.client_ = this.controllerClient(this.identity);
    this.watchControllerChannel();
    previous.close();
    this.heartbeat?.registerAgain();
    this.options.logger.warn(
      { event: 'controller_failover', from, to: this.controllerAddress, failures },
      'controller unreachable; registering with the next one',
    );
  }

  /** Heartbeats at once whenever the controller channel comes back (see {@link ChannelWatch}). */
  private watchControllerChannel(): void {
    this.channelWatch?.stop();
    if (!this.client_ || this.state_ !== 'serving') return;
    this.channelWatch = new ChannelWatch(this.client_.raw.getChannel() as Channel, () => {
      void this.heartbeat?.beatNow().catch(() => undefined);
    });
    this.channelWatch.start();
  }

  private async enrollWithRetry(): Promise<TlsIdentity> {
    const { location, logger } = this.options;
    for (let attempt = 0; ; attempt++) {
      try {
        const trust = await readTrust(location);
        return await enroll({
          address: this.controllerAddress,
          caPem: trust.caPem,
          bootstrapToken: trust.bootstrapToken,
          identity: this.id,
          kind: 'worker',
        });
      } catch (error) {
        const missingFile = (error as NodeJS.ErrnoException).code === 'ENOENT';
        if (!missingFile && !isTransient(error)) throw error;
        const delay = backoffDelayMs(attempt, 200, this.options.maxBackoffMs);
        // Another controller of the cluster may answer where this one does not.
        if (!missingFile)
          this.controllerIndex = (this.controllerIndex + 1) % this.options.controllerUrls.length;
        logger.warn(
          { event: 'enroll_retry', attempt, retryInMs: delay, reason: (error as Error).message },
          missingFile
            ? 'controller CA not found yet; waiting'
            : 'controller unreachable; retrying enrollment',
        );
        await sleep(delay, this.startAbort.signal);
      }
    }
  }

  private async startGrpc(): Promise<void> {
    const server = new Server({
      'grpc.max_receive_message_length': WIRE_LIMITS.maxMessageBytes,
      'grpc.max_send_message_length': WIRE_LIMITS.maxMessageBytes,
    });
    const peers = new PeerDirectory();
    server.addService(
      WorkerService,
      createExecuteService({
        workerId: this.id,
        slots: this.slots,
        metrics: this.metrics,
        logger: this.options.logger,
        accepting: () => this.state_ === 'serving',
        // Any holder of a certificate from the CA may connect (health checks); only the
        // controller may run handlers.
        fromController: (call) => peers.lookup(call)?.kind === 'controller',
        drainSignal: this.drainAbort.signal,
        client: () => this.client,
        progressSink: (report) =>
          controllerProgressSink((request, metadata, options, callback) =>
            this.client.raw.reportProgress(request, metadata, options, callback),
          )(report),
      }),
    );
    server.addService(HealthServiceDefinition, this.health.implementation());
    this.listener = await MtlsListener.listen(server, {
      host: this.options.host,
      port: this.options.grpcPort,
      caPem: this.identity.caPem,
      certPem: this.identity.certPem,
      keyPem: this.identity.keyPem,
      peers,
      onRefused: (remote, reason) =>
        this.options.logger.warn({ event: 'tls_refused', remote, reason }, 'refused a TLS connection'),
    });
    this.grpcPort_ = this.listener.address.port;
    this.grpcServer = server;
  }

  private applyIdentity(next: TlsIdentity): void {
    this.identity = next;
    this.listener?.updateIdentity(next);
    const previous = this.client_;
    this.client_ = this.controllerClient(next);
    this.watchControllerChannel();
    previous?.close();
  }

  /**
   * The controller channel reconnects at least every 2 s (grpc-js would back off up to two
   * minutes), so a restarted controller hears from this worker within moments.
   */
  private controllerClient(identity: TlsIdentity): CrankClient {
    const intervalMs = this.options.heartbeatIntervalMs;
    return CrankClient.create(this.controllerAddress, identity, {
      'grpc.initial_reconnect_backoff_ms': Math.min(100, intervalMs),
      'grpc.max_reconnect_backoff_ms': Math.max(100, Math.min(intervalMs, 2_000)),
    });
  }

  private describe(): RegisterRequest {
    return RegisterRequest.fromPartial({
      workerId: this.id,
      address: this.grpcAddress,
      capabilities: this.options.capabilities.map(({ capability }) =>
        descriptorFromDefinition(capability.definition),
      ),
      status: this.capabilityStatus(),
      labels: this.options.labels,
      runtimeVersion: RUNTIME_VERSION,
      gpu: this.options.gpu,
    });
  }

  private capabilityStatus(): {
    id: string;
    version: string;
    ready: boolean;
    inFlight: number;
    reason: string;
  }[] {
    return [...this.slots.entries.values()].map((e) => ({
      id: e.served.capability.id,
      version: e.served.capability.version,
      ready: e.ready,
      inFlight: e.inFlight,
      reason: e.reason,
    }));
  }

  /**
   * The first registration, awaited so that a declaration the controller refuses for good (a
   * contract that contradicts the catalog) fails the start. Undefined when the controller is
   * unreachable: the heartbeat loop keeps trying while the worker serves.
   */
  private async registerFirst(): Promise<number | undefined> {
    try {
      const intervalMs = await this.register();
      this.options.logger.info(
        { event: 'registered', heartbeatIntervalMs: intervalMs },
        'registered with controller',
      );
      return intervalMs;
    } catch (error) {
      const crank = errorFromServiceError(error as ServiceError);
      if (crank.retryable || crank.code === 'DEADLINE_EXCEEDED') return undefined;
      if (crank.code === 'ALREADY_EXISTS') {
        // The id is still held by an earlier process of this worker (it crashed and has not been
        // evicted yet): keep serving and keep trying; the controller gives the id back soon.
        this.options.logger.warn(
          { event: 'worker_id_held', reason: crank.message },
          'worker id still held by another live worker; registering again in the background',
        );
        return undefined;
      }
      throw crank;
    }
  }

  /**
   * Register and Heartbeat calls from the loop (`signal` given) wait for the controller channel to
   * be ready instead of failing at once: a returning controller then hears from this worker as soon
   * as the channel reconnects, not at the next retry.
   */
  private controllerCall<T>(
    start: (
      metadata: Metadata,
      options: { deadline: number },
      done: (error: ServiceError | null, res: T) => void,
    ) => {
      cancel(): void;
    },
    signal?: AbortSignal,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      const call = start(
        new Metadata({ waitForReady: signal !== undefined }),
        { deadline: Date.now() + Math.min(10_000, Math.max(1_000, this.options.heartbeatIntervalMs)) },
        (error, res) => {
          signal?.removeEventListener('abort', onAbort);
          if (error) reject(error);
          else resolve(res);
        },
      );
      const onAbort = (): void => call.cancel();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private async register(signal?: AbortSignal): Promise<number> {
    const res = await this.controllerCall<{ heartbeatIntervalMs: number }>(
      (metadata, options, done) => this.client.raw.register(this.describe(), metadata, options, done),
      signal,
    );
    return res.heartbeatIntervalMs || this.options.heartbeatIntervalMs;
  }

  private async sendHeartbeat(signal?: AbortSignal): Promise<number | 'not-found'> {
    const request = HeartbeatRequest.fromPartial({
      workerId: this.id,
      inFlight: this.slots.inFlight,
      completed: this.slots.completed,
      load: this.slots.load,
      status: this.capabilityStatus(),
      phase:
        this.state_ === 'draining' ? WorkerPhase.WORKER_PHASE_DRAINING : WorkerPhase.WORKER_PHASE_SERVING,
    });
    try {
      const res = await this.controllerCall<{ heartbeatIntervalMs: number; drain: boolean }>(
        (metadata, options, done) => this.client.raw.heartbeat(request, metadata, options, done),
        signal,
      );
      if (res.drain && this.stopping === undefined) {
        this.options.logger.info(
          { event: 'drain_requested' },
          'the controller asks this worker to drain: finishing its calls, then exiting',
        );
        // Not awaited: stop() waits for the heartbeat loop, and this runs inside it.
        setImmediate(() => void this.stop('drain requested by the controller'));
      }
      return res.heartbeatIntervalMs || this.options.heartbeatIntervalMs;
    } catch (error) {
      if ((error as ServiceError).code === status.NOT_FOUND) return 'not-found';
      throw error;
    }
  }

  private async shutdown(reason: string): Promise<void> {
    const { logger } = this.options;
    this.startAbort.abort(new CrankError('CANCELLED', 'worker stopped while starting'));
    if (this.state_ !== 'serving') {
      this.state_ = 'stopped';
      await this.closeTransports();
      this.markStopped();
      return;
    }
    this.transition('draining');
    logger.info({ event: 'worker_draining', inFlight: this.slots.inFlight, reason }, 'draining');
    const step = async (name: string, fn: () => Promise<unknown> | void): Promise<void> => {
      try {
        await fn();
      } catch (error) {
        logger.warn(
          { event: 'shutdown_step_failed', step: name, err: (error as Error).message },
          'shutdown step failed',
        );
      }
    };
    await step('health', () => {
      this.health.set('', false);
      for (const entry of this.slots.entries.values()) this.health.set(entry.served.capability.id, false);
    });
    await step('heartbeat', async () => {
      // One beat in the draining phase, so the controller stops routing here even before the
      // Deregister lands; bounded, since the controller may be the reason for the shutdown.
      await waitAtMost(this.heartbeat?.beatNow() ?? Promise.resolve(), 1_000);
      await this.heartbeat?.stop();
    });
    await step('deregister', () => this.deregister(reason));
    await step('drain', async () => {
      if (await waitAtMost(this.slots.idle(), this.options.drainTimeoutMs)) return;
      logger.warn(
        { event: 'drain_timeout', inFlight: this.slots.inFlight },
        'drain deadline passed; aborting calls',
      );
      // Aborting frees every slot at once (see execute-service.ts), whatever the handlers do.
      this.drainAbort.abort();
      await waitAtMost(this.slots.idle(), 1_000);
    });
    this.transition('stopped');
    await this.closeTransports();
    logger.info({ event: 'worker_stopped', completed: this.slots.completed }, 'worker stopped');
    this.markStopped();
  }

  private deregister(reason: string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.client.raw.deregister(
        DeregisterRequest.fromPartial({ workerId: this.id, reason }),
        new Metadata(),
        { deadline: Date.now() + 5_000 },
        (error: ServiceError | null) => (error ? reject(error) : resolve()),
      ),
    );
  }

  private async closeTransports(): Promise<void> {
    this.renewer?.stop();
    this.channelWatch?.stop();
    await this.heartbeat?.stop();
    this.health.close();
    this.listener?.close();
    const grpc = this.grpcServer;
    if (grpc) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          grpc.forceShutdown();
          resolve();
        }, 2_000);
        grpc.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.listener?.destroyConnections();
    const http = this.httpServer;
    if (http) {
      // Calls are over by now; what is left open is a probe or a long-lived response of the
      // worker's own routes (an event stream), which would hold close() for ever.
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
    this.client_?.close();
    await closeHandlers(this.options.capabilities).catch(() => undefined);
  }
}

/** Whether `promise` settled within `ms`; the timer is cleared either way, so none outlives it. */
async function waitAtMost(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => true as const,
        () => true as const,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Starts a worker: enrollment, gRPC server, HTTP endpoints, registration and heartbeats. Call
 * `stop()` on shutdown; the library installs no signal handlers.
 */
export async function startWorker(
  options: WorkerOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CrankWorker> {
  const worker = await CrankWorker.create(options, env);
  await worker.start();
  return worker;
}
