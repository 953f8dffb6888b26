/** How a capability exchanges data: one message each way, or a stream on either or both sides. */
export type StreamingMode = 'none' | 'input' | 'output' | 'bidi';

/** Every {@link StreamingMode}, in wire order. */
export const STREAMING_MODES: readonly StreamingMode[] = Object.freeze(['none', 'input', 'output', 'bidi']);
