import { STREAM_AGGREGATE } from '@crank/capabilities';

/** The catalog capabilities this worker serves. Its handlers and `main.ts` land with its own issue. */
export const SERVED_CAPABILITIES = [STREAM_AGGREGATE] as const;
