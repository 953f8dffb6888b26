import { PARSE_EMAIL, PARSE_MBOX } from '@crank/capabilities';

/** The catalog capabilities this worker serves, as the catalog defines them. */
export const SERVED_CAPABILITIES = [PARSE_EMAIL, PARSE_MBOX] as const;
