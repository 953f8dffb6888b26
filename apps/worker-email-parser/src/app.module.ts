import { Module } from '@nestjs/common';
import { CrankWorkerModule } from '@crank/worker-runtime/nest';
import { SERVED_CAPABILITIES } from './capabilities.js';
import { EmailParserHandlers } from './email-parser.handlers.js';

@Module({
  imports: [CrankWorkerModule.forRoot({ name: 'email-parser', capabilities: [...SERVED_CAPABILITIES] })],
  providers: [EmailParserHandlers],
})
export class AppModule {}
