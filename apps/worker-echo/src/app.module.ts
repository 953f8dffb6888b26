import { Module } from '@nestjs/common';
import { DEBUG_ECHO_STREAM } from '@crank/capabilities';
import { ECHO } from './echo-capability.js';
import { CrankWorkerModule } from '@crank/worker-runtime/nest';
import { EchoHandlers } from './echo.handlers.js';

@Module({
  imports: [CrankWorkerModule.forRoot({ name: 'echo', capabilities: [ECHO, DEBUG_ECHO_STREAM] })],
  providers: [EchoHandlers],
})
export class AppModule {}
