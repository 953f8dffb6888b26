import { Module } from '@nestjs/common';
import { CrankWorkerModule } from '@crank/worker-runtime/nest';
import { SERVED_CAPABILITIES } from './capabilities.js';
import { LiveStreams } from './live/live-streams.js';
import { StreamHandlers } from './stream.handlers.js';

/** One registry of running aggregations: the handlers publish to it, the live view reads it. */
const live = new LiveStreams();

@Module({
  imports: [
    CrankWorkerModule.forRoot({
      name: 'streaming',
      capabilities: [...SERVED_CAPABILITIES],
      httpRoutes: [live.route],
    }),
  ],
  providers: [StreamHandlers, { provide: LiveStreams, useValue: live }],
})
export class AppModule {}
