import { Controller, Get, Header, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CONTROLLER_CORE, type ControllerCore } from '../controller-core.js';

/** Health, metrics and version of the controller process. */
@ApiTags('status')
@Controller()
export class StatusController {
  constructor(@Inject(CONTROLLER_CORE) private readonly core: ControllerCore) {}

  @Get('health')
  @ApiOperation({ summary: 'Liveness and a count of registered workers' })
  @ApiOkResponse({ description: '{ status, uptimeSeconds, workers }' })
  health(): { status: string; uptimeSeconds: number; workers: number } {
    return {
      status: 'ok',
      uptimeSeconds: Math.round((Date.now() - this.core.startedAt) / 1000),
      workers: this.core.registry.list().length,
    };
  }

  @Get('metrics')
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({ summary: 'Prometheus metrics (text exposition format)' })
  metrics(): Promise<string> {
    return this.core.metrics.registry.metrics();
  }

  @Get('version')
  @ApiOperation({ summary: 'Controller and runtime versions' })
  version(): { name: string; version: string; node: string } {
    return { name: '@crank/controller', version: this.core.version, node: process.version };
  }
}
