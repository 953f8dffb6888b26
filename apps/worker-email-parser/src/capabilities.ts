import { PARSE_EMAIL, PARSE_MBOX } from '@crank/capabilities';

/** The catalog capabilities this worker serves. Its handlers and `main.ts` land with its own issue. */
export const SERVED_CAPABILITIES = [PARSE_EMAIL, PARSE_MBOX] as const;
