import { STREAM_AGGREGATE, STREAM_CLASSIFY } from '@crank/capabilities';

/** The catalog capabilities this worker serves. */
export const SERVED_CAPABILITIES = [STREAM_AGGREGATE, STREAM_CLASSIFY] as const;
