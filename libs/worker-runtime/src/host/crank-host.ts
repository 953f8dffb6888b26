import { pino, type Logger } from 'pino';
import { CrankWorker } from '../crank-worker.js';
import { serve } from '../handler.js';
import type { WorkerOptions } from '../worker-options.js';
import type { HostConfig, HostWorkerConfig } from './host-config.js';
import { PerTaskRunner } from './per-task-runner.js';
import { ProcessPool } from './process-pool.js';
import { subprocessHandler } from './subprocess-handler.js';
import type { TaskRunner } from './task-runner.js';

/** Lifecycle of a host; an illegal transition throws. */
export type HostState = 'idle' | 'starting' | 'serving' | 'stopping' | 'stopped';

/** Options of {@link CrankHost.create} besides the config. */
export interface CrankHostOptions {
  /**
   * Settings every worker of the host shares (controller location, heartbeat, drain), as
   * {@link WorkerOptions} less what the config says per worker.
   * @default read from `env` as any worker does (`CRANK_CONTROLLER_URL`, `CRANK_DATA_DIR`, ...)
   */
  worker?: Omit<WorkerOptions, 'name' | 'capabilities' | 'workerId' | 'grpcPort' | 'httpPort' | 'logger'>;
  /** @default a pino logger named `crank-host` at `CRANK_LOG_LEVEL` (info) */
  logger?: Logger;
}

/**
 * Serves capabilities whose logic runs in processes of any language, speaking JSON lines over
 * stdio (see `stdio-protocol.ts`). Each worker of the config becomes a {@link CrankWorker} of its
 * own, registered with the controller like any other: routing, health, metrics, jobs and drain
 * are the runtime's.
 *
 * ```ts
 * const host = await CrankHost.create(loadHostConfig('crank-host.yaml'));
 * process.once('SIGTERM', () => void host.stop());
 * await host.run();
 * ```
 */
export class CrankHost {
  private state_: HostState = 'idle';
  private stopping: Promise<void> | undefined;
  // Started workers, in start order; stopped in reverse.
  private readonly started: CrankWorker[] = [];
  private markStopped!: () => void;
  /** Resolves once the host has stopped (after {@link stop}, or a failed start). */
  readonly stopped = new Promise<void>((resolve) => {
    this.markStopped = resolve;
  });

  protected constructor(
    private readonly workers_: readonly {
      config: HostWorkerConfig;
      worker: CrankWorker;
      runner: TaskRunner;
    }[],
    private readonly logger: Logger,
  ) {}

  /**
   * Builds a worker per configured worker; does no I/O (no process starts before {@link start}).
   * @throws TypeError naming a worker option at fault
   */
  static async create(
    config: HostConfig,
    options: CrankHostOptions = {},
    env: NodeJS.ProcessEnv = process.env,
  ): Promise<CrankHost> {
    const logger = options.logger ?? pino({ name: 'crank-host', level: env['CRANK_LOG_LEVEL'] ?? 'info' });
    // One id and one pair of fixed ports cannot serve several workers: those come from the config.
    const shared =
      config.workers.length > 1
        ? Object.fromEntries(
            Object.entries(env).filter(
              ([key]) =>
                !['CRANK_WORKER_ID', 'CRANK_WORKER_GRPC_PORT', 'CRANK_WORKER_HTTP_PORT'].includes(key),
            ),
          )
        : env;
    const workers = await Promise.all(
      config.workers.map(async (entry) => {
        const workerLogger = logger.child({ worker: entry.name });
        const settings = {
          worker: entry.name,
          timeoutMs: entry.timeoutMs,
          concurrency: entry.concurrency,
          logger: workerLogger,
        };
        const spec = {
          command: entry.command,
          args: entry.args,
          cwd: entry.cwd,
          env: entry.env,
          maxOutputBytes: entry.maxOutputBytes,
        };
        const runner: TaskRunner =
          entry.mode === 'pool' ? new ProcessPool(spec, settings) : new PerTaskRunner(spec, settings);
        const worker = await CrankWorker.create(
          {
            ...options.worker,
            name: entry.name,
            ...(entry.workerId ? { workerId: entry.workerId } : {}),
            ...(entry.grpcPort !== undefined ? { grpcPort: entry.grpcPort } : {}),
            ...(entry.httpPort !== undefined ? { httpPort: entry.httpPort } : {}),
            labels: { host: 'crank-host', mode: entry.mode, ...options.worker?.labels },
            logger: workerLogger,
            capabilities: entry.capabilities.map((capability) =>
              serve(
                capability,
                subprocessHandler(capability, runner, { worker: entry.name, maxRetries: entry.maxRetries }),
              ),
            ),
          },
          shared,
        );
        return { config: entry, worker, runner };
      }),
    );
    return new CrankHost(workers, logger);
  }

  get state(): HostState {
    return this.state_;
  }

  /** The Crank workers, one per configured worker, in config order. */
  get workers(): readonly CrankWorker[] {
    return this.workers_.map((w) => w.worker);
  }

  /**
   * Starts each worker's processes (a pool's), then the worker itself (enrolls, serves,
   * registers), in config order. When one fails, those started are stopped and the error thrown.
   */
  async start(): Promise<void> {
    this.transition('starting');
    try {
      for (const { config, worker, runner } of this.workers_) {
        if (this.stopping) return;
        runner.start();
        this.started.push(worker);
        await worker.start();
        this.logger.info(
          { event: 'host_worker_started', worker: config.name, workerId: worker.id, mode: config.mode },
          `${config.name}: ${config.capabilities.map((c) => c.key).join(', ')} (${config.mode})`,
        );
      }
    } catch (error) {
      await this.stop('start failed');
      throw error;
    }
    if (this.stopping) return;
    this.transition('serving');
    this.logger.info(
      { event: 'host_started', workers: this.workers_.map(({ worker }) => worker.id) },
      'crank-host serving',
    );
  }

  /** Starts, then resolves once every worker has stopped (call {@link stop} on a signal). */
  async run(): Promise<void> {
    await this.start();
    await this.stopped;
  }

  /**
   * Stops the workers in reverse start order, all at once: each drains its calls, deregisters and
   * closes its processes (pool processes get their stdin closed, then SIGKILL after 2 s). Idempotent.
   */
  stop(reason = 'shutdown'): Promise<void> {
    this.stopping ??= (async () => {
      this.state_ = 'stopping';
      await Promise.allSettled([...this.started].reverse().map((worker) => worker.stop(reason)));
      // Runners of workers that never started hold nothing, but close them anyway.
      await Promise.allSettled(this.workers_.map(({ runner }) => runner.close()));
      this.state_ = 'stopped';
      this.logger.info({ event: 'host_stopped', reason }, 'crank-host stopped');
      this.markStopped();
    })();
    return this.stopping;
  }

  private transition(next: HostState): void {
    const allowed: Record<HostState, HostState[]> = {
      idle: ['starting'],
      starting: ['serving'],
      serving: [],
      stopping: [],
      stopped: [],
    };
    if (!allowed[this.state_].includes(next)) {
      throw new Error(`host state: cannot go from ${this.state_} to ${next}`);
    }
    this.state_ = next;
  }
}
