import { CLASSIFY_EMAIL } from '@crank/capabilities';

/** The catalog capabilities this worker serves. Its handlers and `main.ts` land with its own issue. */
export const SERVED_CAPABILITIES = [CLASSIFY_EMAIL] as const;
