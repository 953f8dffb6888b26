import 'reflect-metadata';
import { withDeferredDateFormats } from '@crank/worker-runtime';

// Nest's logger modules build a date formatter when loaded (8 to 10 MB of RSS); loaded this way,
// they build it when Nest first logs.
const { NestFactory, AppModule } = await withDeferredDateFormats(async () => ({
  ...(await import('@nestjs/core')),
  ...(await import('./app.module.js')),
}));

// The worker needs no HTTP adapter of Nest's: the runtime serves gRPC and its own /health.
const app = NestFactory.createApplicationContext(AppModule, { logger: ['error', 'warn'] });

// On SIGTERM or SIGINT, close the app: the runtime drains and deregisters, then the model is
// freed, so the process ends by itself with status 0. Installed before the app starts, so that a
// signal while the model loads is not the default death.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void app.then((started) => started.close());
  });
}
await app;
