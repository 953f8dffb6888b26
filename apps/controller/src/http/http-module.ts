import { Module, type DynamicModule } from '@nestjs/common';
import { CONTROLLER_CORE, type ControllerCore } from '../controller-core.js';
import { ApiController } from './api.controller.js';
import { JobEventStreams } from './job-events-sse.js';
import { JobsController } from './jobs.controller.js';
import { MetricsController } from './metrics.controller.js';
import { StatusController } from './status.controller.js';
import { StreamController } from './stream.controller.js';

/** The controller's HTTP API, bound to an already running core. */
@Module({})
export class HttpModule {
  static forCore(core: ControllerCore): DynamicModule {
    return {
      module: HttpModule,
      controllers: [StatusController, ApiController, JobsController, MetricsController, StreamController],
      providers: [{ provide: CONTROLLER_CORE, useValue: core }, JobEventStreams],
    };
  }
}
