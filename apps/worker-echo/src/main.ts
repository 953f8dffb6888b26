import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

// The worker needs no HTTP adapter of Nest's: the runtime serves gRPC and its own /health.
const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error', 'warn'] });
// Exit with status 0 once the shutdown hooks have run (the worker drained), logs flushed.
app.enableShutdownHooks(undefined, { useProcessExit: true });
