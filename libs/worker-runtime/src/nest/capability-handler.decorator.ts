import { SetMetadata } from '@nestjs/common';
import type { Capability } from '@crank/capabilities';

/** Metadata key under which {@link CapabilityHandler} stores its capability. */
export const CAPABILITY_HANDLER = Symbol('crank:capability-handler');

/**
 * Marks a provider method as the handler of a capability. The method receives `(input, ctx)` as
 * described by `Handler`, and is called with the provider as `this`.
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
export const CapabilityHandler = (capability: Capability): MethodDecorator =>
  SetMetadata(CAPABILITY_HANDLER, capability);
