/**
 * Everything a Crank worker needs except its business logic: enrollment with the controller's CA,
 * an mTLS gRPC server, registration, heartbeats, certificate renewal, drain on shutdown, input and
 * output validation, concurrency limits, gRPC health, and HTTP /health /metrics /version /docs.
 *
 * @example Plain Node
 * ```ts
 * import { builtinCatalog } from '@crank/capabilities';
 * import { serve, startWorker } from '@crank/worker-runtime';
 *
 * const echo = builtinCatalog().get('debug.echo', '^1');
 * const worker = await startWorker({
 *   name: 'echo',
 *   capabilities: [serve(echo, (input, ctx) => ({ ...input, workerId: ctx.workerId }))],
 * });
 * process.on('SIGTERM', () => void worker.stop());
 * ```
 *
 * Workers in other languages: `crank-host <config.yaml>` (the bin of this package, {@link CrankHost})
 * serves capabilities whose tasks run in processes speaking JSON lines over stdio.
 *
 * This entry point needs no NestJS; the NestJS integration is the separate entry point
 * `@crank/worker-runtime/nest`.
 *
 * @example NestJS (entry point `@crank/worker-runtime/nest`)
 * ```ts
 * @Module({ imports: [CrankWorkerModule.forRoot({ name: 'echo', capabilities: [echo] })], providers: [EchoHandlers] })
 * class AppModule {}
 * // EchoHandlers has a method marked @CapabilityHandler(echo); call app.enableShutdownHooks().
 * ```
 */
export { CrankWorker, startWorker, type WorkerState } from './crank-worker.js';
export {
  binary,
  serve,
  type BinaryOutput,
  type Handler,
  type HandlerContext,
  type HandlerFor,
  type HandlerOutput,
  type ServeOptions,
  type ServedCapability,
} from './handler.js';
export {
  compileWorkerOptions,
  type CompiledWorkerOptions,
  type WorkerHttpRoute,
  type WorkerOptions,
} from './worker-options.js';
export {
  closeHandlers,
  inThreads,
  type ThreadedHandler,
  type ThreadCallContext,
  type ThreadPoolOptions,
  type ThreadTaskInfo,
} from './thread-pool.js';
export { CrankHost, type CrankHostOptions, type HostState } from './host/crank-host.js';
export {
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_TASK_TIMEOUT_MS,
  loadHostConfig,
  parseHostConfig,
  type HostConfig,
  type HostConfigContext,
  type HostMode,
  type HostWorkerConfig,
} from './host/host-config.js';
export { HostConfigError, type ConfigIssue } from './host/config-source.js';
export {
  EXIT_PERMANENT,
  EXIT_RETRIABLE,
  EXIT_SUCCESS,
  encodeTask,
  parseTaskAnswer,
  type TaskAnswer,
  type TaskErrorInfo,
  type TaskRequest,
} from './host/stdio-protocol.js';
export { CapabilityError, CrankError } from '@crank/capabilities';
/** The protobuf event of event-stream capabilities (proto/crank/v1/events.proto), for workers that read its frames. */
export { StreamEvent } from '@crank/proto';
/** For a worker's main: loads Nest without the date formatter its logger builds at load. */
export { withDeferredDateFormats } from '@crank/proto';
