import 'reflect-metadata';
import { withDeferredDateFormats } from '@crank/worker-runtime';
import pino from 'pino';
import { DEFAULT_MODEL_DIR } from './classifier-config.js';

// Nest's logger modules build a date formatter when loaded (8 to 10 MB of RSS); loaded this way,
// they build it when Nest first logs.
const { NestFactory, AppModule } = await withDeferredDateFormats(async () => ({
  ...(await import('@nestjs/core')),
  ...(await import('./app.module.js')),
}));

const logger = pino({ name: 'crank-worker', level: process.env['CRANK_LOG_LEVEL'] ?? 'info' });
const modelDir = process.env['CRANK_EMAIL_MODEL_DIR'] || DEFAULT_MODEL_DIR;

// The worker needs no HTTP adapter of Nest's: the runtime serves gRPC and its own /health.
const app = NestFactory.createApplicationContext(AppModule.forRoot({ modelDir, logger }), {
  logger: ['error', 'warn'],
});

// On SIGTERM or SIGINT, close the app: the runtime drains, deregisters and closes everything it
// opened, so the process then ends by itself with status 0. Installed before the app starts, so
// that a signal during start-up is not the default death.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void app.then((started) => started.close());
  });
}
await app;
