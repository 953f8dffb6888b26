import { pino } from 'pino';
import { tuneHeapForRequests, withDeferredDateFormats } from '@crank/proto';
import type { ControllerApp } from './create-controller-app.js';

tuneHeapForRequests();
const { createControllerApp } = await withDeferredDateFormats(() => import('./create-controller-app.js'));

// Reads env (CRANK_*), starts, and stops within a bounded time on SIGTERM/SIGINT. The process
// exits on its own once close() is done: nothing the controller starts outlives it.
const logger = pino({ name: 'crank-controller', level: process.env['CRANK_LOG_LEVEL'] ?? 'info' });

let app: ControllerApp | undefined;
try {
  app = await createControllerApp({ logger });
} catch (error) {
  logger.fatal({ event: 'controller_start_failed', err: error }, (error as Error).message);
  process.exitCode = 1;
}

if (app) {
  const running = app;
  // Last resort, once serving: a failure no request handler caught is logged, and the controller
  // keeps serving everyone else rather than dropping every call and worker with it.
  process.on('uncaughtException', (error) => {
    logger.error({ event: 'uncaught_exception', err: error }, 'uncaught exception; still serving');
  });
  process.on('unhandledRejection', (reason) => {
    logger.error({ event: 'unhandled_rejection', err: reason }, 'unhandled rejection; still serving');
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      void running.close();
    });
  }
}
