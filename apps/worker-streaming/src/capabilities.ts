import { STREAM_AGGREGATE } from '@crank/capabilities';

/** The catalog capabilities this worker serves. */
export const SERVED_CAPABILITIES = [STREAM_AGGREGATE] as const;
