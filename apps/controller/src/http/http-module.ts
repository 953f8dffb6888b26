import { Module, type DynamicModule } from '@nestjs/common';
import { CONTROLLER_CORE, type ControllerCore } from '../controller-core.js';
import { ApiController } from './api.controller.js';
import { StatusController } from './status.controller.js';

/** The controller's HTTP API, bound to an already running core. */
@Module({})
export class HttpModule {
  static forCore(core: ControllerCore): DynamicModule {
    return {
      module: HttpModule,
      controllers: [StatusController, ApiController],
      providers: [{ provide: CONTROLLER_CORE, useValue: core }],
    };
  }
}
