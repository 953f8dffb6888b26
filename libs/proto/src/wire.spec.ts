import { describe, expect, it } from '@jest/globals';
import { StreamingMode } from './generated/crank/v1/common.js';
import {
  definitionFromDescriptor,
  descriptorFromDefinition,
  echo,
  streamingModeFromWire,
  streamingModeToWire,
  timerDelayMs,
  type DescribedCapability,
} from './wire.js';

const DEFINITION: DescribedCapability = {
  id: 'parse.mbox',
  version: '1.2.0',
  description: 'mailboxes',
  inputSchema: { type: 'object' },
  outputSchema: true,
  errorCodes: ['UNSUPPORTED_FORMAT'],
  streaming: 'bidi',
  resources: { gpu: false, maxConcurrency: 2 },
  idempotent: true,
  inputMediaTypes: ['application/mbox'],
};

describe('wire adapter', () => {
  it('maps every streaming mode both ways, unspecified as none', () => {
    for (const name of ['none', 'input', 'output', 'bidi'] as const) {
      expect(streamingModeFromWire(streamingModeToWire(name))).toBe(name);
    }
    expect(streamingModeFromWire(StreamingMode.STREAMING_MODE_UNSPECIFIED)).toBe('none');
    expect(streamingModeFromWire(99)).toBe('none');
  });

  it('round-trips a definition through a descriptor', () => {
    const back = definitionFromDescriptor(descriptorFromDefinition(DEFINITION));
    expect(back).toEqual({
      ...DEFINITION,
      resources: { gpu: false, maxConcurrency: 2, memoryMb: undefined },
    });
  });

  it('names the schema that is not JSON', () => {
    const descriptor = descriptorFromDefinition(DEFINITION);
    descriptor.inputSchemaJson = '{';
    expect(() => definitionFromDescriptor(descriptor, 'capabilities[1]')).toThrow(
      'capabilities[1].inputSchema: is not valid JSON',
    );
  });

  it('cuts echoed text and keeps timers inside what setTimeout can do', () => {
    expect(echo('abc')).toBe('abc');
    expect(echo('x'.repeat(40_000))).toBe(`${'x'.repeat(128)}... (40000 chars)`);
    expect(timerDelayMs(2.2e9)).toBe(2 ** 31 - 1);
    expect(timerDelayMs(-5)).toBe(0);
  });
});
