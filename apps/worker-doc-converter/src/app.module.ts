import { Module } from '@nestjs/common';
import { CrankWorkerModule } from '@crank/worker-runtime/nest';
import { CONVERT, CONVERTER_OPTIONS as OPTIONS } from './convert-capability.js';
import { CONVERSION_RUNNER, CONVERTER_OPTIONS, ConvertHandlers } from './convert.handlers.js';
import { threadRunner } from './conversion-runner.js';

@Module({
  imports: [CrankWorkerModule.forRoot({ name: 'doc-converter', capabilities: [CONVERT] })],
  providers: [
    { provide: CONVERTER_OPTIONS, useValue: OPTIONS },
    { provide: CONVERSION_RUNNER, useFactory: () => threadRunner(OPTIONS.threads) },
    ConvertHandlers,
  ],
})
export class AppModule {}
