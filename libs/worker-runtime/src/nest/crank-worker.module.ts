import {
  Inject,
  Injectable,
  Module,
  type BeforeApplicationShutdown,
  type DynamicModule,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { DiscoveryModule, DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import type { Capability } from '@crank/capabilities';
import { CrankWorker } from '../crank-worker.js';
import { serve, type Handler, type ServedCapability } from '../handler.js';
import type { WorkerOptions } from '../worker-options.js';
import { CAPABILITY_HANDLER, type CapabilityHandlerMetadata } from './capability-handler.decorator.js';

/** Options of {@link CrankWorkerModule.forRoot}: the worker options minus the handlers, which are discovered. */
export type CrankWorkerModuleOptions = Omit<WorkerOptions, 'capabilities'> & {
  /** Capabilities served by methods marked with `@CapabilityHandler`; each needs exactly one handler. */
  capabilities?: readonly Capability[];
  /** Handlers given directly, beside (or instead of) decorated methods. */
  serve?: readonly ServedCapability[];
};

const OPTIONS = Symbol('crank:worker-module-options');

/**
 * Runs the worker inside the Nest application: on bootstrap it collects `@CapabilityHandler`
 * methods and starts the worker; on shutdown (enable Nest's shutdown hooks) it drains and stops.
 */
@Injectable()
export class CrankWorkerHost implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private worker_: CrankWorker | undefined;

  constructor(
    @Inject(OPTIONS) private readonly options: CrankWorkerModuleOptions,
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(MetadataScanner) private readonly scanner: MetadataScanner,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {}

  /** The running worker (after bootstrap). */
  get worker(): CrankWorker {
    if (!this.worker_) throw new Error('worker: not started yet (available after application bootstrap)');
    return this.worker_;
  }

  async onApplicationBootstrap(): Promise<void> {
    const { capabilities = [], serve: served = [], ...rest } = this.options;
    const found = new Map<string, ServedCapability>();
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object') continue;
      for (const method of this.scanner.getAllMethodNames(Object.getPrototypeOf(instance) as object)) {
        const fn = instance[method];
        if (typeof fn !== 'function') continue;
        const marked = this.reflector.get<CapabilityHandlerMetadata | undefined>(
          CAPABILITY_HANDLER,
          fn as () => unknown,
        );
        if (!marked) continue;
        const { capability, options } = marked;
        if (found.has(capability.key))
          throw new Error(`@CapabilityHandler: ${capability.key} has two handlers`);
        found.set(capability.key, serve(capability, (fn as Handler).bind(instance) as never, options));
      }
    }
    for (const capability of capabilities) {
      if (!found.has(capability.key))
        throw new Error(`capabilities: ${capability.key} has no @CapabilityHandler method`);
    }
    this.worker_ = await CrankWorker.create({ ...rest, capabilities: [...found.values(), ...served] });
    await this.worker_.start();
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    await this.worker_?.stop(signal ?? 'shutdown');
  }
}

/** Nest module that turns an application into a Crank worker. */
@Module({})
export class CrankWorkerModule {
  static forRoot(options: CrankWorkerModuleOptions): DynamicModule {
    return {
      module: CrankWorkerModule,
      imports: [DiscoveryModule],
      providers: [{ provide: OPTIONS, useValue: options }, CrankWorkerHost],
      exports: [CrankWorkerHost],
    };
  }
}
