import { CLASSIFY_EMAIL, CLASSIFY_SENTIMENT } from '@crank/capabilities';

/** The catalog capabilities this worker serves, as the catalog defines them. */
export const SERVED_CAPABILITIES = [CLASSIFY_EMAIL, CLASSIFY_SENTIMENT] as const;
