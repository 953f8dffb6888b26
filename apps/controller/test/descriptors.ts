import type { Capability } from '@crank/capabilities';
import { descriptorFromDefinition, type CapabilityDescriptor } from '@crank/proto';

/** The descriptor a worker would send for `capability` (as the runtime builds it), with overrides. */
export function descriptorOf(
  capability: Capability,
  overrides: Partial<CapabilityDescriptor> = {},
): CapabilityDescriptor {
  return { ...descriptorFromDefinition(capability.definition), ...overrides };
}
