import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Server } from '@grpc/grpc-js';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { builtinCatalog } from '@crank/capabilities';
import { ControllerService, MtlsListener, PeerDirectory, WIRE_LIMITS } from '@crank/proto';
import { pino, type Logger } from 'pino';
import {
  compileControllerConfig,
  splitHostPort,
  type ControllerConfigInit,
  type ControllerConfig,
} from './config/controller-config.js';
import type { ControllerCore } from './controller-core.js';
import { createControllerService } from './grpc/controller-service.js';
import { longDeadlineGuard } from './grpc/long-deadline-guard.js';
import { HttpAccess } from './http/http-access.js';
import { clientErrorHandler, installInvokeEdge } from './http/invoke-edge.js';
import { HttpErrorFilter } from './http/http-error-filter.js';
import { installDashboard } from './http/dashboard.js';
import { HttpModule } from './http/http-module.js';
import { ByteBudget } from './invoke/byte-budget.js';
import { openJobDatabase } from './jobs/job-database.js';
import { JobDispatcher } from './jobs/job-dispatcher.js';
import { JobService } from './jobs/job-service.js';
import { SqlJobStore } from './jobs/sql-job-store.js';
import { InvocationService } from './invoke/invocation-service.js';
import { StreamRelay } from './invoke/stream-relay.js';
import { ControllerMetrics } from './metrics/controller-metrics.js';
import { CertificateAuthority } from './pki/certificate-authority.js';
import { WorkerRegistry } from './registry/worker-registry.js';
import { ClusterDirectory } from './cluster/cluster-directory.js';
import { ControllerForwarder } from './cluster/controller-forwarder.js';
import { OutlierDetector } from './routing/outlier-detector.js';
import { Router } from './routing/router.js';
import { WorkerConnections } from './routing/worker-connections.js';

const VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export interface CreateControllerOptions extends ControllerConfigInit {
  logger?: Logger;
  /**
   * Whether `/docs` serves the Swagger UI page and `/ui/` the dashboard (static files, through
   * `@fastify/static`); `/docs/json` is served either way. Embedded controllers in tests turn it off: jest's module
   * loader on Node 20 cannot load the UI's ESM-only dependencies from CommonJS. @default true
   */
  docsUi?: boolean;
}

/** A started controller. */
export interface ControllerApp {
  readonly config: ControllerConfig;
  /** Bound gRPC address (`host:port`), with the real port when 0 was asked. */
  readonly grpcAddress: string;
  /** Bound HTTP base URL. */
  readonly httpUrl: string;
  readonly core: ControllerCore;
  /**
   * Stops within a bounded time, in reverse start order: (1) stop accepting HTTP and gRPC
   * connections; (2) GOAWAY on every gRPC connection and let calls in flight, HTTP or gRPC, run
   * for up to `graceMs` (default `config.shutdownGraceMs`); (3) cancel what is left and close every
   * connection, so that workers and callers see the controller gone at once and reconnect to its
   * replacement; (4) registry sweep, outlier probes and worker connections. Idempotent.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * Creates and starts a controller: loads or creates the CA under the data dir, issues its own
 * serving certificate, serves gRPC over mTLS and the HTTP API. `main.ts` only reads env and calls
 * this; tests call it in-process with port 0.
 */
export async function createControllerApp(
  options: CreateControllerOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<ControllerApp> {
  const config = compileControllerConfig(options, env);
  const logger =
    options.logger ?? pino({ name: 'crank-controller', level: env['CRANK_LOG_LEVEL'] ?? 'info' });

  const ca = await CertificateAuthority.loadOrCreate(config.dataDir);
  if (ca.created) {
    logger.info(
      {
        event: 'ca_created',
        caCert: ca.files.caCert,
        caKey: ca.files.caKey,
        bootstrapToken: ca.files.bootstrapToken,
      },
      'created a new certificate authority and bootstrap token',
    );
  } else {
    logger.info({ event: 'ca_loaded', caCert: ca.files.caCert }, 'loaded certificate authority');
  }
  const grpcAt = splitHostPort(config.grpcAddr, 'grpcAddr');
  const own = await ca.issueControllerCertificate(config.certTtlMs, [grpcAt.host]);
  const identity = { caPem: ca.certPem, certPem: own.certPem, keyPem: own.keyPem };
  const httpAccess = await HttpAccess.create({ config, identity, logger });

  const registry = new WorkerRegistry({
    catalog: builtinCatalog(),
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    missedHeartbeats: config.missedHeartbeats,
    stuckAfterMs: config.stuckAfterMs,
    logger,
  });
  const connections = new WorkerConnections(identity);
  const outliers = new OutlierDetector(
    {
      consecutiveTimeouts: config.outlierConsecutiveTimeouts,
      baseEjectionMs: config.outlierEjectionMs,
      probeIntervalMs: 1_000,
      logger,
    },
    (workerId) => {
      const worker = registry.get(workerId);
      return worker ? connections.probe(worker) : Promise.resolve(false);
    },
  );
  const router = new Router(registry, { ...config, outliers });
  registry.addListener({
    onRegistered: (worker) => connections.warm(worker),
    onRemoved: (worker, reason) => {
      if (reason !== 'replaced') connections.retire(worker.id);
    },
  });
  const jobDatabase = await openJobDatabase({
    url: config.dbUrl,
    dataDir: config.dataDir,
    sync: config.dbSync,
    schema: config.dbSchema,
  });
  // Controllers sharing a PostgreSQL store see each other's workers and forward calls (one hop).
  const cluster =
    jobDatabase.dialect === 'postgres'
      ? new ClusterDirectory({ db: jobDatabase.db, registry, logger })
      : undefined;
  const forwarder = cluster ? new ControllerForwarder(cluster, identity, logger) : undefined;
  const budget = new ByteBudget(config.maxInflightBytes);
  const metrics = new ControllerMetrics(registry, router, budget);
  const invocations = new InvocationService({
    router,
    connections,
    metrics,
    budget,
    maxRetries: config.maxRetries,
    logger,
    ...(forwarder ? { forwarder } : {}),
  });
  const streams = new StreamRelay({ router, connections, metrics, logger });

  const jobStore = new SqlJobStore(jobDatabase);
  const dispatcher = new JobDispatcher({
    store: jobStore,
    invocations,
    router,
    logger,
    leaseGraceMs: config.jobLeaseGraceMs,
    pollIntervalMs: 1_000,
    retentionMs: config.jobRetentionMs,
    // Declared below; the dispatcher reports no change before start().
    onChange: () => jobs.notify(),
    onFinished: (job, outcome, processingMs) => metrics.jobFinished(job, outcome.state, processingMs),
  });
  const jobs = new JobService({
    store: jobStore,
    dispatcher,
    router,
    catalog: registry.catalog,
    maxInputBytes: config.jobMaxInputBytes,
    logger,
    ...(cluster
      ? {
          remoteVersions: async (id: string) =>
            (await cluster.remoteOffers(id)).map((offer) => offer.version),
        }
      : {}),
  });
  metrics.watchJobs(jobs);
  // A freed slot may let a waiting job run.
  registry.addListener({ onCapacity: () => dispatcher.wake() });
  logger.info(
    { event: 'job_store_opened', store: jobDatabase.dialect, ...(config.dbUrl ? {} : { file: 'jobs.db' }) },
    'job store ready',
  );

  const core: ControllerCore = {
    config,
    ca,
    registry,
    router,
    invocations,
    streams,
    jobs,
    budget,
    metrics,
    logger,
    startedAt: Date.now(),
    version: VERSION,
  };

  const peers = new PeerDirectory();
  const grpcServer = new Server({
    'grpc.max_receive_message_length': WIRE_LIMITS.maxMessageBytes,
    'grpc.max_send_message_length': WIRE_LIMITS.maxMessageBytes,
    interceptors: [longDeadlineGuard],
  });
  grpcServer.addService(
    ControllerService,
    createControllerService({
      ca,
      registry,
      router,
      invocations,
      streams,
      peers,
      certTtlMs: config.certTtlMs,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      logger,
      probe: (worker) => connections.probe(worker),
      jobs,
    }),
  );
  const listener = await MtlsListener.listen(grpcServer, {
    host: grpcAt.host,
    port: grpcAt.port,
    ...identity,
    allowAnonymous: true,
    peers,
    onRefused: (remote, reason) =>
      logger.warn({ event: 'tls_refused', remote, reason }, 'refused a TLS connection'),
  });
  registry.start();
  await dispatcher.start();

  // The controller's own certificate has the same lifetime as the ones it issues; renew it at two
  // thirds of that, for new connections in both directions.
  let renewTimer: NodeJS.Timeout | undefined;
  const scheduleRenewal = (notAfter: Date): void => {
    const delayMs = Math.max(1_000, ((notAfter.getTime() - Date.now()) * 2) / 3);
    renewTimer = setTimeout(
      () => {
        ca.issueControllerCertificate(config.certTtlMs, [grpcAt.host]).then(
          (next) => {
            const renewed = { caPem: ca.certPem, certPem: next.certPem, keyPem: next.keyPem };
            listener.updateIdentity(renewed);
            connections.updateIdentity(renewed);
            forwarder?.updateIdentity(renewed);
            httpAccess.updateIdentity(renewed);
            logger.info(
              { event: 'controller_certificate_renewed', notAfter: next.notAfter.toISOString() },
              'renewed own certificate',
            );
            scheduleRenewal(next.notAfter);
          },
          (error: unknown) => {
            logger.error(
              { event: 'controller_certificate_renewal_failed', err: error },
              'could not renew own certificate',
            );
            scheduleRenewal(new Date(Date.now() + 30_000));
          },
        );
      },
      Math.min(delayMs, 2 ** 31 - 1),
    );
    renewTimer.unref();
  };
  scheduleRenewal(own.notAfter);

  const httpAt = splitHostPort(config.httpAddr, 'httpAddr');
  const http = await NestFactory.create<NestFastifyApplication>(
    HttpModule.forCore(core),
    new FastifyAdapter({
      bodyLimit: WIRE_LIMITS.maxMessageBytes,
      clientErrorHandler,
      ...httpAccess.serverOptions,
    }),
    { logger: false, abortOnError: false, bodyParser: false },
  );
  http.useGlobalFilters(new HttpErrorFilter(logger));
  httpAccess.install(http.getHttpAdapter().getInstance());
  installInvokeEdge(http.getHttpAdapter().getInstance(), core);
  const document = SwaggerModule.createDocument(
    http,
    new DocumentBuilder()
      .setTitle('Crank controller')
      .setDescription(
        'Registry, routing and capability calls. Errors: { "error": { "code", "message", "details" } }.',
      )
      .setVersion(VERSION)
      .build(),
  );
  SwaggerModule.setup('docs', http, document, {
    jsonDocumentUrl: 'docs/json',
    ui: options.docsUi ?? true,
  });
  if (options.docsUi ?? true) await installDashboard(http);
  await http.listen(httpAt.port, httpAt.host);
  const httpAddress = http.getHttpServer().address();
  const httpPort = typeof httpAddress === 'object' && httpAddress ? httpAddress.port : httpAt.port;

  const grpcAddress = `${grpcAt.host.includes(':') ? `[${grpcAt.host}]` : grpcAt.host}:${listener.address.port}`;
  if (cluster) {
    const wildcard = grpcAt.host === '0.0.0.0' || grpcAt.host === '::';
    const advertised =
      config.advertiseAddr || (wildcard ? `${hostname()}:${listener.address.port}` : grpcAddress);
    await cluster.start({ controllerId: advertised, address: advertised });
  }
  const httpUrl = `${httpAccess.scheme}://${httpAt.host.includes(':') ? `[${httpAt.host}]` : httpAt.host}:${httpPort}`;
  logger.info(
    { event: 'controller_started', grpc: grpcAddress, http: httpUrl, dataDir: config.dataDir },
    'controller started',
  );

  let closing: Promise<void> | undefined;
  const close = (graceMs = config.shutdownGraceMs): Promise<void> => {
    closing ??= (async () => {
      const started = Date.now();
      logger.info(
        { event: 'controller_stopping', connections: listener.connections, graceMs },
        'controller stopping',
      );
      const step = async (name: string, fn: () => Promise<void> | void): Promise<void> => {
        try {
          await fn();
        } catch (error) {
          logger.warn({ event: 'shutdown_step_failed', step: name, err: error }, 'shutdown step failed');
        }
      };
      /** Resolves when `done` does or the grace period ends, whichever is first. */
      const withinGrace = (done: Promise<void>): Promise<boolean> =>
        new Promise((resolve) => {
          const timer = setTimeout(() => resolve(false), Math.max(0, graceMs - (Date.now() - started)));
          timer.unref();
          void done.then(() => {
            clearTimeout(timer);
            resolve(true);
          });
        });
      clearTimeout(renewTimer);
      await step('listeners', () => {
        listener.close();
        http.getHttpServer().close();
      });
      // Other controllers stop routing here; then no new job attempts; running ones get the same
      // grace as calls.
      await step('cluster', () => cluster?.stop());
      const jobsDone = dispatcher.stop(graceMs);
      const grpcDone = new Promise<void>((resolve) => grpcServer.tryShutdown(() => resolve()));
      const httpDone = http.close().catch(() => undefined);
      const [grpcClean, httpClean] = await Promise.all([withinGrace(grpcDone), withinGrace(httpDone)]);
      await step('force', () => {
        if (!grpcClean) grpcServer.forceShutdown();
        listener.destroyConnections();
        if (!httpClean) http.getHttpServer().closeAllConnections();
      });
      await step('jobs', () => jobsDone);
      await step('registry', () => registry.stop());
      await step('outliers', () => outliers.stop());
      await step('connections', () => connections.closeAll());
      await step('forwarder', () => forwarder?.closeAll());
      await step('job-store', () => jobStore.close());
      logger.info(
        { event: 'controller_stopped', tookMs: Date.now() - started, forced: !grpcClean || !httpClean },
        'controller stopped',
      );
    })();
    return closing;
  };

  return { config, grpcAddress, httpUrl, core, close };
}
