import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ControllerApp, CreateControllerOptions, createControllerApp } from '@crank/controller';
import {
  callerIdentity,
  connectClient,
  controllerLocation,
  type CrankClient,
  type TlsIdentity,
} from '@crank/controller-client';
import { CrankWorker, type ServedCapability, type WorkerOptions } from '@crank/worker-runtime';
import { pino, type Logger } from 'pino';
import { eventually } from './eventually.js';
import { HandlerRunLog, type HandlerRun } from './handler-runs.js';

/** A worker for {@link startTestCluster}: {@link WorkerOptions} less where the controller is. */
export type TestWorkerOptions = Omit<
  WorkerOptions,
  'controllerUrl' | 'dataDir' | 'caFile' | 'bootstrapToken'
>;

/** Options of {@link startTestCluster}. Every field is optional. */
export interface TestClusterOptions {
  /**
   * The worker under test, started in-process against the cluster's controller. Its heartbeat
   * interval, drain timeout and logger default to the cluster's; its ports to free ones.
   */
  worker?: TestWorkerOptions;
  /** Shorthand for `worker: { name: 'test-worker', capabilities }`; give this or `worker`. */
  capabilities?: readonly ServedCapability[];
  /** Heartbeat interval the controller asks of workers. @default 200 */
  heartbeatIntervalMs?: number;
  /**
   * Controller settings besides its addresses, data dir and logger (e.g. `queueLimit`). Its
   * `missedHeartbeats` defaults to 10 here (2 s at the default interval) rather than 3.
   */
  controller?: Omit<CreateControllerOptions, 'grpcAddr' | 'httpAddr' | 'dataDir' | 'logger'>;
  /** Caller name of `client` (its certificate's CN). @default 'testkit-client' */
  clientName?: string;
  /** Logger of the controller and the workers. @default a pino logger at level 'silent' */
  logger?: Logger;
}

/** A controller (and workers) running in this process; see {@link startTestCluster}. */
export interface TestCluster {
  /** The embedded controller: `grpcAddress`, `httpUrl`, `config`. */
  readonly controller: ControllerApp;
  /**
   * The worker under test.
   * @throws Error when the cluster was started without `worker` or `capabilities`
   */
  readonly worker: CrankWorker;
  /** A client of the controller, enrolled with a caller certificate kept under `dataDir`. */
  readonly client: CrankClient;
  /** The caller certificate of `client`: reaches a worker's own gRPC health service too. */
  readonly identity: TlsIdentity;
  /** The controller's data dir (CA, `ca.crt`, `bootstrap-token`, the client's keys); removed by `close()`. */
  readonly dataDir: string;
  /** Base URL of the controller's HTTP API (`/v1/workers`, `POST /v1/invoke/:capability`). */
  readonly httpUrl: string;
  /** The controller's gRPC address, `127.0.0.1:<port>`. */
  readonly grpcAddress: string;
  /** Every handler run of the cluster's workers so far, oldest first: to see one that ignores `ctx.signal`. */
  readonly handlerRuns: readonly HandlerRun[];
  /** Starts one more worker against this controller; `close()` stops it too. */
  startWorker(options: TestWorkerOptions): Promise<CrankWorker>;
  /**
   * Stops everything, in reverse start order: the client, the workers (they drain and
   * deregister), the controller; then removes `dataDir`. Each step runs even when an earlier one
   * failed; no timer or socket of the cluster outlives it. Idempotent.
   * @throws AggregateError of the steps that failed, after all ran
   */
  close(): Promise<void>;
}

/**
 * Starts a controller in this process (free ports on 127.0.0.1, a fresh temp data dir with its
 * own CA, real mTLS, a 200 ms heartbeat), a client of it, and, when given `worker` or
 * `capabilities`, the worker under test, registered before this resolves. For tests with jest,
 * node:test or anything else; call `close()` when done (in `afterAll` / `after`).
 *
 * Needs `@crank/controller`, an optional peer dependency of this package: install it next to
 * `@crank/testkit` (`npm install --save-dev @crank/controller`).
 *
 * None of the `CRANK_*` env of this process applies: the cluster is the same on every machine.
 *
 * @example
 * ```ts
 * const cluster = await startTestCluster({ capabilities: [serve(reverse, reverseText)] });
 * const { output, workerId } = await cluster.client.invoke(reverse, { text: 'abc' });
 * await cluster.close();
 * ```
 */
export async function startTestCluster(options: TestClusterOptions = {}): Promise<TestCluster> {
  if (options.worker && options.capabilities) {
    throw new TypeError('worker, capabilities: give one of them, not both');
  }
  const { createControllerApp } = await loadController();
  const dataDir = await mkdtemp(join(tmpdir(), 'crank-testkit-'));
  const cluster = new EmbeddedCluster(
    dataDir,
    options.logger ?? pino({ level: 'silent' }),
    options.heartbeatIntervalMs ?? 200,
  );
  try {
    const controller = await createControllerApp(
      {
        shutdownGraceMs: 1_000,
        docsUi: false,
        // Workers and controller share one busy test process: a 600 ms stall (3 heartbeats) on a
        // loaded CI machine would evict a healthy worker and fail the next call with NOT_FOUND.
        missedHeartbeats: 10,
        ...options.controller,
        grpcAddr: '127.0.0.1:0',
        httpAddr: '127.0.0.1:0',
        dataDir,
        heartbeatIntervalMs: cluster.heartbeatIntervalMs,
        logger: cluster.logger,
      },
      {},
    );
    cluster.controllerApp = controller;
    const location = controllerLocation(
      {
        address: controller.grpcAddress,
        dataDir,
        caFile: join(dataDir, 'ca.crt'),
        bootstrapToken: await cluster.bootstrapToken(),
      },
      {},
    );
    cluster.identityInstance = await callerIdentity(location, options.clientName ?? 'testkit-client', {
      home: join(dataDir, 'caller-home'),
    });
    cluster.clientInstance = await connectClient({ ...location, identity: cluster.identityInstance });
    const worker =
      options.worker ??
      (options.capabilities ? { name: 'test-worker', capabilities: options.capabilities } : undefined);
    if (worker) cluster.underTest = await cluster.startWorker(worker);
  } catch (error) {
    await cluster.close().catch(() => undefined);
    throw error;
  }
  return cluster;
}

/** Imported on first use, so that the rest of the testkit works without the controller installed. */
async function loadController(): Promise<{ createControllerApp: typeof createControllerApp }> {
  try {
    return await import('@crank/controller');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes("'@crank/controller'")) {
      throw new Error(
        'startTestCluster: @crank/controller is not installed; add it to the dev dependencies ' +
          '(npm install --save-dev @crank/controller)',
        { cause: error },
      );
    }
    throw error;
  }
}

class EmbeddedCluster implements TestCluster {
  controllerApp: ControllerApp | undefined;
  clientInstance: CrankClient | undefined;
  identityInstance: TlsIdentity | undefined;
  underTest: CrankWorker | undefined;
  // Started workers, in start order; stopped in reverse.
  private readonly workers: CrankWorker[] = [];
  private readonly runs = new HandlerRunLog();
  private token: string | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    readonly dataDir: string,
    readonly logger: Logger,
    readonly heartbeatIntervalMs: number,
  ) {}

  get controller(): ControllerApp {
    if (!this.controllerApp) throw new Error('controller: the cluster has not started');
    return this.controllerApp;
  }

  get client(): CrankClient {
    if (!this.clientInstance) throw new Error('client: the cluster has not started');
    return this.clientInstance;
  }

  get identity(): TlsIdentity {
    if (!this.identityInstance) throw new Error('identity: the cluster has not started');
    return this.identityInstance;
  }

  get worker(): CrankWorker {
    if (!this.underTest) {
      throw new Error('worker: this cluster was started without `worker` or `capabilities`');
    }
    return this.underTest;
  }

  get httpUrl(): string {
    return this.controller.httpUrl;
  }

  get grpcAddress(): string {
    return this.controller.grpcAddress;
  }

  get handlerRuns(): readonly HandlerRun[] {
    return this.runs.all;
  }

  /** The run log, for the conformance checks of this package. */
  get runLog(): HandlerRunLog {
    return this.runs;
  }

  async bootstrapToken(): Promise<string> {
    this.token ??= (await readFile(join(this.dataDir, 'bootstrap-token'), 'utf8')).trim();
    return this.token;
  }

  async startWorker(options: TestWorkerOptions): Promise<CrankWorker> {
    if (this.closing) throw new Error('startWorker: the cluster is closed');
    const worker = await CrankWorker.create(
      {
        heartbeatIntervalMs: this.heartbeatIntervalMs,
        drainTimeoutMs: 1_000,
        logger: this.logger,
        ...options,
        capabilities: options.capabilities.map((served) => this.runs.wrap(served)),
        controllerUrl: this.controller.grpcAddress,
        dataDir: this.dataDir,
        caFile: join(this.dataDir, 'ca.crt'),
        bootstrapToken: await this.bootstrapToken(),
      },
      {},
    );
    this.workers.push(worker);
    await worker.start();
    // start() resolves before registering when the first Register failed for a passing reason.
    await eventually(() => worker.registered, 10_000, `worker "${worker.id}" registered`);
    return worker;
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const failures: unknown[] = [];
    const step = async (fn: () => Promise<unknown> | void): Promise<void> => {
      try {
        await fn();
      } catch (error) {
        failures.push(error);
      }
    };
    await step(() => this.clientInstance?.close());
    await step(() =>
      Promise.all([...this.workers].reverse().map((worker) => worker.stop('test cluster closed'))),
    );
    await step(() => this.controllerApp?.close());
    await step(() => rm(this.dataDir, { recursive: true, force: true }));
    if (failures.length > 0) {
      throw new AggregateError(failures, `TestCluster.close: ${failures.length} step(s) failed`);
    }
  }
}

/** The run log of a cluster made by {@link startTestCluster}; undefined for any other object. */
export function handlerRunLogOf(cluster: TestCluster): HandlerRunLog | undefined {
  return cluster instanceof EmbeddedCluster ? cluster.runLog : undefined;
}
