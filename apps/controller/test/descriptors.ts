import type { Capability } from '@crank/capabilities';
import { CapabilityDescriptor, StreamingMode } from '@crank/proto';

const STREAMING = {
  none: StreamingMode.STREAMING_MODE_NONE,
  input: StreamingMode.STREAMING_MODE_INPUT,
  output: StreamingMode.STREAMING_MODE_OUTPUT,
  bidi: StreamingMode.STREAMING_MODE_BIDI,
} as const;

/** The descriptor a worker would send for `capability` (as the runtime builds it), with overrides. */
export function descriptorOf(
  capability: Capability,
  overrides: Partial<CapabilityDescriptor> = {},
): CapabilityDescriptor {
  const d = capability.definition;
  return CapabilityDescriptor.fromPartial({
    id: d.id,
    version: d.version,
    description: d.description,
    inputSchemaJson: JSON.stringify(d.inputSchema),
    outputSchemaJson: JSON.stringify(d.outputSchema),
    errorCodes: [...d.errorCodes],
    streaming: STREAMING[d.streaming],
    resources: {
      gpu: d.resources.gpu,
      maxConcurrency: d.resources.maxConcurrency,
      memoryMb: d.resources.memoryMb ?? 0,
    },
    idempotent: d.idempotent,
    ...overrides,
  });
}
