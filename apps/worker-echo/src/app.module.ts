import { Module } from '@nestjs/common';
import { ECHO } from './echo-capability.js';
import { CrankWorkerModule } from '@crank/worker-runtime/nest';
import { EchoHandlers } from './echo.handlers.js';

@Module({
  imports: [CrankWorkerModule.forRoot({ name: 'echo', capabilities: [ECHO] })],
  providers: [EchoHandlers],
})
export class AppModule {}
