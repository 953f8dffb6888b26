import { Module } from '@nestjs/common';
import { CrankWorkerModule } from '@crank/worker-runtime/nest';
import { SERVED_CAPABILITIES } from './capabilities.js';
import { StreamHandlers } from './stream.handlers.js';

@Module({
  imports: [CrankWorkerModule.forRoot({ name: 'streaming', capabilities: [...SERVED_CAPABILITIES] })],
  providers: [StreamHandlers],
})
export class AppModule {}
