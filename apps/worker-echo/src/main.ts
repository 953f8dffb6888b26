import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

// The worker needs no HTTP adapter of Nest's: the runtime serves gRPC and its own /health.
const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error', 'warn'] });
// process.exit(0) after the hooks, so that a drained worker exits 0 with its logs flushed.
app.enableShutdownHooks(undefined, { useProcessExit: true });
