import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { Metadata, Server, status, type ServiceError } from '@grpc/grpc-js';
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
  PeerDirectory,
  RegisterRequest,
  StreamingMode,
  WorkerPhase,
  WorkerService,
} from '@crank/proto';
import { backoffDelayMs, sleep } from './backoff.js';
import { CapabilitySlots } from './capability-slots.js';
import { CertificateRenewer } from './certificate-renewer.js';
import { createExecuteService } from './execute-service.js';
import { HealthService } from './health-service.js';
import { HeartbeatLoop } from './heartbeat-loop.js';
import { httpPort, startHttpEndpoints } from './http-endpoints.js';
import { compileWorkerOptions, type CompiledWorkerOptions, type WorkerOptions } from './worker-options.js';
import { WorkerMetrics } from './worker-metrics.js';

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

const STREAMING: Record<string, StreamingMode> = {
  none: StreamingMode.STREAMING_MODE_NONE,
  input: StreamingMode.STREAMING_MODE_INPUT,
  output: StreamingMode.STREAMING_MODE_OUTPUT,
  bidi: StreamingMode.STREAMING_MODE_BIDI,
};

/**
 * A running worker: enrolled with the controller's CA, serving its capabilities over mTLS,
 * registered and heartbeating. Create it with {@link startWorker}.
 */
export class CrankWorker {
  private state_: WorkerState = 'idle';
  private identity!: TlsIdentity;
  private client_: CrankClient | undefined;
  private grpcServer: Server | undefined;
  private httpServer: HttpServer | undefined;
  private heartbeat: HeartbeatLoop | undefined;
  private renewer: CertificateRenewer | undefined;
  private listener: MtlsListener | undefined;
  private readonly slots: CapabilitySlots;
  private readonly metrics: WorkerMetrics;
  private readonly health = new HealthService();
  private readonly drainAbort = new AbortController();
  private readonly startAbort = new AbortController();
  private stopping: Promise<void> | undefined;
  private grpcPort_ = 0;

  protected constructor(private readonly options: CompiledWorkerOptions) {
    // Every running call listens on the drain signal; there may be thousands.
    setMaxListeners(0, this.drainAbort.signal);
    this.slots = new CapabilitySlots(options.capabilities);
    this.metrics = new WorkerMetrics(this.slots, { worker: options.name });
  }

  /** Enrolls, starts serving and registers. Resolves once the worker can take calls. */
  static async start(options: WorkerOptions, env: NodeJS.ProcessEnv = process.env): Promise<CrankWorker> {
    const worker = new CrankWorker(compileWorkerOptions(options, env));
    await worker.run();
    return worker;
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
   * Stops the worker. Phases: (1) health NOT_SERVING and a draining heartbeat, (2) Deregister, so
   * the controller routes no new call here, (3) wait for in-flight calls up to `drainTimeoutMs`,
   * then abort what is left, (4) close gRPC and HTTP servers and the controller channel. Each
   * phase's failure is logged and the next still runs. Idempotent: later calls get the same promise.
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

  private async run(): Promise<void> {
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
        { intervalMs: this.options.heartbeatIntervalMs, maxBackoffMs: this.options.maxBackoffMs, logger },
      );
      this.heartbeat.start(await this.registerFirst());
      this.renewer = new CertificateRenewer(
        this.identity,
        (current) =>
          enroll({
            address: this.options.location.address,
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
      throw error;
    }
  }

  private async enrollWithRetry(): Promise<TlsIdentity> {
    const { location, logger } = this.options;
    for (let attempt = 0; ; attempt++) {
      try {
        const trust = await readTrust(location);
        return await enroll({
          address: location.address,
          caPem: trust.caPem,
          bootstrapToken: trust.bootstrapToken,
          identity: this.id,
          kind: 'worker',
        });
      } catch (error) {
        const missingFile = (error as NodeJS.ErrnoException).code === 'ENOENT';
        if (!missingFile && !isTransient(error)) throw error;
        const delay = backoffDelayMs(attempt, 200, this.options.maxBackoffMs);
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
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.max_send_message_length': 64 * 1024 * 1024,
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
    previous?.close();
  }

  /**
   * The controller channel reconnects no slower than the heartbeat interval (grpc-js would back
   * off up to two minutes), so a restarted controller hears from this worker within one beat.
   */
  private controllerClient(identity: TlsIdentity): CrankClient {
    const intervalMs = this.options.heartbeatIntervalMs;
    return CrankClient.create(this.options.location.address, identity, {
      'grpc.initial_reconnect_backoff_ms': Math.min(100, intervalMs),
      'grpc.max_reconnect_backoff_ms': Math.max(100, intervalMs),
    });
  }

  private describe(): RegisterRequest {
    return RegisterRequest.fromPartial({
      workerId: this.id,
      address: this.grpcAddress,
      capabilities: this.options.capabilities.map(({ capability: { definition: d } }) => ({
        id: d.id,
        version: d.version,
        description: d.description ?? '',
        inputSchemaJson: JSON.stringify(d.inputSchema),
        outputSchemaJson: JSON.stringify(d.outputSchema),
        errorCodes: [...d.errorCodes],
        streaming: STREAMING[d.streaming],
        resources: {
          gpu: d.resources.gpu,
          maxConcurrency: d.resources.maxConcurrency,
          memoryMb: d.resources.memoryMb ?? 0,
        },
        idempotent: d.idempotent,
      })),
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
      const res = await this.controllerCall<{ heartbeatIntervalMs: number }>(
        (metadata, options, done) => this.client.raw.heartbeat(request, metadata, options, done),
        signal,
      );
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
    await step('heartbeat', () => this.heartbeat?.stop());
    await step('deregister', () => this.deregister(reason));
    await step('drain', async () => {
      const timer = sleep(this.options.drainTimeoutMs).then(() => 'timeout' as const);
      const outcome = await Promise.race([this.slots.idle().then(() => 'idle' as const), timer]);
      if (outcome === 'timeout') {
        logger.warn(
          { event: 'drain_timeout', inFlight: this.slots.inFlight },
          'drain deadline passed; aborting calls',
        );
        this.drainAbort.abort();
        await Promise.race([this.slots.idle(), sleep(1_000)]);
      }
    });
    this.transition('stopped');
    await this.closeTransports();
    logger.info({ event: 'worker_stopped', completed: this.slots.completed }, 'worker stopped');
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
    await this.heartbeat?.stop();
    this.health.close();
    await this.listener?.close();
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
    const http = this.httpServer;
    if (http) await new Promise<void>((resolve) => http.close(() => resolve()));
    this.client_?.close();
  }
}

/**
 * Starts a worker: enrollment, gRPC server, HTTP endpoints, registration and heartbeats. Call
 * `stop()` on shutdown; the library installs no signal handlers.
 */
export function startWorker(
  options: WorkerOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CrankWorker> {
  return CrankWorker.start(options, env);
}
