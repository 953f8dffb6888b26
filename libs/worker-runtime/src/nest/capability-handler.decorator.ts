import { SetMetadata } from '@nestjs/common';
import type { Capability } from '@crank/capabilities';
import type { ServeOptions } from '../handler.js';

/** Metadata key under which {@link CapabilityHandler} stores its capability. */
export const CAPABILITY_HANDLER = Symbol('crank:capability-handler');

/**
 * Marks a provider method as the handler of a capability. The method receives `(input, ctx)` as
 * described by `HandlerFor`, and is called with the provider as `this`. `options.ready: false`
 * keeps the capability answering MODEL_NOT_READY until `CrankWorkerHost.worker.setReady(id, true)`.
 *
 * @example
 * ```ts
 * @Injectable()
 * export class EchoHandlers {
 *   @CapabilityHandler(DEBUG_ECHO)
 *   echo(input: DebugEchoInput, ctx: HandlerContext): DebugEchoOutput { ... }
 * }
 * ```
 */
export const CapabilityHandler = (
  capability: Capability<never, never, never> | Capability,
  options: ServeOptions = {},
): MethodDecorator => SetMetadata(CAPABILITY_HANDLER, { capability, options });

/** What {@link CapabilityHandler} stores. */
export interface CapabilityHandlerMetadata {
  capability: Capability;
  options: ServeOptions;
}
