import { Module } from '@nestjs/common';
import { DEBUG_ECHO } from '@crank/capabilities';
import { CrankWorkerModule } from '@crank/worker-runtime/nest';
import { EchoHandlers } from './echo.handlers.js';

@Module({
  imports: [CrankWorkerModule.forRoot({ name: 'echo', capabilities: [DEBUG_ECHO] })],
  providers: [EchoHandlers],
})
export class AppModule {}
