/**
 * NestJS integration of `@crank/worker-runtime`, a separate entry point so that plain-Node workers
 * need no NestJS installed.
 *
 * @example
 * ```ts
 * import { CrankWorkerModule, CapabilityHandler } from '@crank/worker-runtime/nest';
 *
 * @Module({ imports: [CrankWorkerModule.forRoot({ name: 'echo', capabilities: [DEBUG_ECHO] })], providers: [EchoHandlers] })
 * class AppModule {}
 * ```
 */
export { CapabilityHandler } from './capability-handler.decorator.js';
export { CrankWorkerHost, CrankWorkerModule, type CrankWorkerModuleOptions } from './crank-worker.module.js';
